"""The exceptions lstmkit raises: user mistakes, and its own bugs.

Every error caused by what a user passed in (arguments, arrays, files) or
their setup (a missing optional package) is a `LstmkitError`, so callers and
the command line can tell a user mistake from a bug. Each subclass also
derives from the built-in type a Python user would expect, so existing
`except ValueError` code works: ValueError (InputError, DataFileError,
ModelFileError), TypeError (InputTypeError), RuntimeError (NotCompiledError),
FloatingPointError (NonFiniteLossError), ImportError (MissingDependencyError).

`InternalError` is the opposite: lstmkit found itself inconsistent. It is
deliberately not a `LstmkitError`, so it is never reported as a usage error.
"""


class LstmkitError(Exception):
    """Root of every error lstmkit raises on purpose."""


class InputError(LstmkitError, ValueError):
    """Data or an argument has the wrong value or shape."""


class InputTypeError(LstmkitError, TypeError):
    """An argument has the wrong type."""


class DataFileError(InputError):
    """A data file cannot be read; the message names the file, line and column."""

    def __init__(self, message, path=None, line=None, column=None):
        where = ""
        if path is not None:
            where = str(path)
            if line is not None:
                where += f", line {line}"
                if column is not None:
                    where += f", column {column}"
            where += ": "
        super().__init__(where + message)
        self.path, self.line, self.column = path, line, column


class ModelFileError(LstmkitError, ValueError):
    """A saved model is missing, damaged, or not one lstmkit wrote."""


class NotCompiledError(LstmkitError, RuntimeError):
    """fit or evaluate was called before compile."""


class NonFiniteLossError(LstmkitError, FloatingPointError):
    """The training loss became NaN or infinite; the message names the step."""


class MissingDependencyError(LstmkitError, ImportError):
    """An optional package (an extra such as 'plot') is not installed; the
    message says what to install."""


class InternalError(RuntimeError):
    """A bug in lstmkit, please report it: an internal check failed (for
    example the reference cell and the fused kernel disagree). Not a
    `LstmkitError`, because nothing the user passed in is wrong."""
