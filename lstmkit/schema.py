"""What a saved config.json may hold: every field's type checked before use.

`check_config` runs on the parsed document before anything is built, so a
hostile or damaged file (a list where a name belongs, a dict for a number)
gives a ModelFileError naming the field, never a TypeError from deep inside.
"""

from .errors import ModelFileError


def check_config(config, where):
    """Check the sections of a model's config.json: 'model', 'compile',
    'metadata' and 'preprocessing'. Raises ModelFileError naming the field."""
    if not isinstance(config.get("model"), dict):
        raise ModelFileError(f"{where}: 'model' must be an object")
    compiled = config.get("compile")
    if compiled is not None:
        if not isinstance(compiled, dict):
            raise ModelFileError(f"{where}: 'compile' must be an object or null")
        for key in ("loss", "optimizer"):
            if compiled.get(key) is not None and not isinstance(compiled[key], str):
                raise ModelFileError(f"{where}: compile.{key} must be a name or null, "
                                     f"got {type(compiled[key]).__name__}")
        metrics = compiled.get("metrics")
        if metrics is not None and not (isinstance(metrics, list)
                                        and all(isinstance(m, str) for m in metrics)):
            raise ModelFileError(f"{where}: compile.metrics must be a list of names")
    if config.get("metadata") is not None and not isinstance(config["metadata"], dict):
        raise ModelFileError(f"{where}: 'metadata' must be an object")
    preprocessing = config.get("preprocessing")
    if preprocessing is not None:
        if not (isinstance(preprocessing, dict) and isinstance(preprocessing.get("kind"), str)
                and type(preprocessing.get("version")) is int
                and isinstance(preprocessing.get("data"), dict)):
            raise ModelFileError(f"{where}: 'preprocessing' must be "
                                 "{'kind': name, 'version': int, 'data': {...}} or null")
