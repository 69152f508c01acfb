"""How lstmkit.keras answers for the parts of Keras it does not offer.

Each module of lstmkit.keras ends with `__getattr__ = refusals(...)`: a name
Keras has there but lstmkit does not raises `NotSupportedError` saying so
and what to use instead (never a bare AttributeError); a name Keras does not
have either is an AttributeError, as it would be in Keras, and Python's own
probes (dunder names) are left alone.
"""

from ..errors import LstmkitError


class NotSupportedError(LstmkitError, NotImplementedError):
    """A part of Keras that lstmkit does not offer; the message says what to
    use instead."""


class NotSupportedAttribute(NotSupportedError, AttributeError):
    """A Keras method or attribute a model or layer lacks: an AttributeError
    too, so hasattr() and getattr(obj, name, default) work as on any object."""


def refuse(path, hint):
    """Raise NotSupportedError for Keras' `path` (such as 'layers.Conv2D')."""
    raise NotSupportedError(f"keras.{path} is not supported by lstmkit: {hint}")


def refusals(module, keras_names, hints, fallback, available=()):
    """A module `__getattr__` for lstmkit.keras.<module>.

    Args:
        module: the module's path under keras ('layers', 'optimizers.schedules').
        keras_names: every public name Keras has in that module.
        hints: {name: what to use instead} for names with their own advice.
        fallback: the advice for Keras' other names.
        available: the names the module offers, listed when a name is
            unknown to Keras too.
    """
    prefix = f"{module}." if module else ""

    def __getattr__(name):
        if name.startswith("_"):
            raise AttributeError(f"module 'lstmkit.keras{'.' + module if module else ''}' has "
                                 f"no attribute {name!r}")
        if name in hints:
            refuse(prefix + name, hints[name])
        if name in keras_names:
            refuse(prefix + name, fallback)
        offered = ", ".join(sorted(available() if callable(available) else available))
        raise AttributeError(f"keras.{prefix}{name}: Keras has no such name, nor has lstmkit"
                             + (f"; lstmkit.keras.{prefix.rstrip('.') or ''} offers: {offered}"
                                if offered else ""))

    return __getattr__


def keyword_defaults(cls_name, given, defaults):
    """Refuse Keras arguments whose value lstmkit cannot honour.

    `given` maps argument names to values; `defaults` maps the ones lstmkit
    takes only at one value to (that value, the advice)."""
    for name, (value, advice) in defaults.items():
        if name in given and given[name] != value:
            raise NotSupportedError(f"{cls_name}({name}={given[name]!r}) is not supported by "
                                    f"lstmkit: {advice}")
