"""keras.preprocessing.text (Keras 2): not offered, as in Keras 3."""

from .._support import refuse

refuse("preprocessing.text", "Keras 3 dropped it too; use lstmkit.data.text "
       "(tokenize, Vocabulary, TextEncoder)")
