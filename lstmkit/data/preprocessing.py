"""What turns a user's raw input into model input, saved with the model.

A task's preprocessing (a text encoder's vocabulary, maxlen and label names;
a forecaster's scaling) is one object that the model file carries beside the
architecture, so `load_model` gives back a model that reads raw input again.
In config.json it is `{"kind": KIND, "version": VERSION, "data": to_json()}`,
versioned like the model file itself: reading an older version runs the
class's MIGRATIONS, a newer one is refused.
"""

from ..errors import InputError, InputTypeError, ModelFileError

KINDS = {}  # kind -> class, filled as subclasses are defined


class Preprocessing:
    """Base of the objects saved as a model's preprocessing.

    Subclasses set KIND (the name saved in the file) and VERSION, implement
    `to_json()` (JSON values) and the classmethod `from_json(data)`, which
    checks every field and raises InputError or InputTypeError for what it
    cannot read, and list in MIGRATIONS {version: function(data) -> data of
    version + 1} the steps from each older version.
    """

    KIND = None
    VERSION = 1
    MIGRATIONS = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.KIND is not None:
            KINDS[cls.KIND] = cls

    def to_json(self):
        raise NotImplementedError

    @classmethod
    def from_json(cls, data):
        raise NotImplementedError

    def document(self):
        """The form config.json holds."""
        return {"kind": self.KIND, "version": self.VERSION, "data": self.to_json()}


def read_preprocessing(document, where):
    """The Preprocessing object of a config.json's 'preprocessing' entry
    (None for none); ModelFileError for an unknown kind, a newer version or
    data its class cannot read."""
    if document is None:
        return None
    kind, version, data = document["kind"], document["version"], document["data"]
    if kind not in KINDS:
        raise ModelFileError(f"{where}: preprocessing kind {kind!r} is not one this lstmkit "
                             f"knows ({', '.join(sorted(KINDS))})")
    cls = KINDS[kind]
    if version > cls.VERSION:
        raise ModelFileError(f"{where}: preprocessing {kind!r} version {version} is newer than "
                             f"this lstmkit reads ({cls.VERSION}); upgrade lstmkit")
    while version < cls.VERSION:
        if version not in cls.MIGRATIONS:
            raise ModelFileError(f"{where}: preprocessing {kind!r} version {version} is no "
                                 "longer readable")
        data, version = cls.MIGRATIONS[version](data), version + 1
    try:
        return cls.from_json(data)
    except (InputError, InputTypeError) as e:
        raise ModelFileError(f"{where}: preprocessing {kind!r}: {e}") from None
