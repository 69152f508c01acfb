"""One module per use of an LSTM: its defaults, model, evaluation and reports."""
