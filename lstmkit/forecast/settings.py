"""A forecaster's settings: their defaults, chosen on training data only,
and the check every one goes through before anything trains."""

from ..errors import InputError
from .network import BASES
from .scaling import SCALERS, WINDOW_LEVELS

MAX_MEMBERS = 64

# Chosen by inner validation on the training parts only (each series' last
# horizon of its training part held out); see benchmarks/forecasting.py.
DEFAULTS = {
    "lookbacks": (1.5, 3.0),   # input lengths, as multiples of the horizon
    "seeds": 2,                # members per input length
    "units": 32, "layers": 1, "dropout": 0.0,
    "level": "mean", "base": "none", "log": "auto", "difference": False, "scaler": "standard",
    "calendar": True,
    "quantiles": (0.1, 0.5, 0.9),
    "calibrate": True,
    "refit": True,
    "batch_size": 64, "batches_per_epoch": 20, "max_epochs": 40, "patience": 5,
    "learning_rate": 3e-3, "clip_grad_norm": 1.0,
    "recursive": False,
}


def check_settings(s):
    """Every setting checked (naming the setting and the value); the
    quantiles and lookbacks normalised to tuples of floats, in place."""
    for key, choices in (("level", WINDOW_LEVELS), ("base", BASES), ("scaler", SCALERS),
                         ("log", ("auto", True, False))):
        if s[key] not in choices:
            raise InputError(f"{key} must be one of {', '.join(map(repr, choices))}, got "
                             f"{s[key]!r}")
    for key in ("difference", "calendar", "calibrate", "refit", "recursive"):
        if not isinstance(s[key], bool):
            raise InputError(f"{key} must be True or False, got {s[key]!r}")
    q = tuple(float(v) for v in s["quantiles"])
    if 0.5 not in q or any(not 0 < v < 1 for v in q) or list(q) != sorted(set(q)):
        raise InputError(f"quantiles must be increasing, between 0 and 1, and hold 0.5, got "
                         f"{s['quantiles']!r}")
    s["quantiles"] = q
    s["lookbacks"] = tuple(float(v) for v in s["lookbacks"])
    if not s["lookbacks"] or any(v <= 0 for v in s["lookbacks"]):
        raise InputError(f"lookbacks must be positive multiples of the horizon, got "
                         f"{s['lookbacks']!r}")
    for key in ("seeds", "units", "layers", "batch_size", "batches_per_epoch", "max_epochs"):
        if isinstance(s[key], bool) or not isinstance(s[key], int) or s[key] < 1:
            raise InputError(f"{key} must be a positive int, got {s[key]!r}")
    if len(s["lookbacks"]) * s["seeds"] > MAX_MEMBERS:
        raise InputError(f"at most {MAX_MEMBERS} members (lookbacks x seeds)")
