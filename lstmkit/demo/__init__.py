"""The UCI Sentiment Labelled Sentences (Kotzias et al., KDD 2015), shipped for `lstmkit demo`.

Source: UCI Machine Learning Repository, licensed CC BY 4.0. Cite:
D. Kotzias, M. Denil, N. de Freitas, P. Smyth. From Group to Individual
Labels using Deep Features. KDD 2015.
"""
