"""Model files that cannot run code: safetensors weights plus JSON, written atomically.

A saved model is a folder (or, for a path ending in .keras, .lstmkit or
.safetensors, one safetensors file holding the same config in its metadata):
    config.json          format name and version, architecture, compile
                         settings, user metadata, and the SHA-256 of the weights
    model.safetensors    the state dict (safetensors: a JSON header and raw bytes)
Nothing is ever unpickled. Each file is written to a temporary name in the
same folder, fsynced, and renamed over the old one; the weights go first and
config.json last, and the checksum ties the two together, so a crash or a
half-copied folder is detected on load instead of loading garbage.
"""

import contextlib
import hashlib
import io
import json
import math
import os
import re
import shutil
import tempfile
from itertools import accumulate

import safetensors.torch
from safetensors.torch import load as load_safetensors  # from bytes; never unpickles
from safetensors import SafetensorError

from .errors import InputError, ModelFileError

FORMAT = "lstmkit.model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
# a config carries its preprocessing: a text model's vocabulary of 400,000 n-grams and
# subwords is about 12 MB of JSON; the cap only keeps a stray file from filling memory
MAX_CONFIG_BYTES = 64 << 20
# how deeply arrays and objects may nest in config.json (the document itself is
# depth 1; a saved model needs under 12): Python's JSON parser, and every walk
# over the parsed document, recurse, so a deep file would end in RecursionError
MAX_NESTING = 64
MAX_INT_DIGITS = 100  # no number in a model config comes near; Python refuses over 4300

# format_version -> function(config) -> config of the next version, for files
# written by older releases; each step is small and tested with a stored fixture.
MIGRATIONS = {}


def atomic_write(path, data):
    """Write bytes to `path` so that it holds either the old or the new content."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_folder(tmp, path):
    """Put the complete folder `tmp` at `path`, replacing what is there: the
    old folder is renamed aside first and removed last, so `path` holds the
    old content or the new, never a part (a staged output folder)."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise InputError(f"--out {path} exists and is not a folder")
    old = None
    if os.path.exists(path):
        old = tempfile.mkdtemp(dir=os.path.dirname(path),
                               prefix=f".{os.path.basename(path)}.old-")
        os.rmdir(old)
        os.rename(path, old)
    os.rename(tmp, path)
    fsync_dir(os.path.dirname(path))
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(path, argument="--out"):
    """Write a folder whole or not at all: yields a fresh temporary sibling
    of `path` to write into; when the block ends without an error it
    replaces `path` (replace_folder), and on any error it is removed,
    leaving what `path` held before. Missing folders above `path` are made.

        with staged_folder(out) as tmp:
            ...write files into tmp...
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.lexists(path) and not os.path.isdir(path):
        raise InputError(f"{argument} {path} exists and is not a folder")
    parent = make_folder_for(path, argument)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(path)}.tmp-")
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700
        replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_folder_for(path, argument="--out"):
    """The folder that is to hold `path`, checked before any work: refused
    (by the option's name) where a file stands in its way or it cannot be
    written; folders that do not exist yet are made when it is written
    (make_folder_for), as `mkdir -p` makes them."""
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    existing = folder
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise InputError(f"{argument} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{argument} {path}: the folder {existing} is not writable")
    return folder


def make_folder_for(path, argument="--out"):
    """check_folder_for, then the folder made with any missing above it."""
    folder = check_folder_for(path, argument)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise InputError(f"{argument} {path}: the folder {folder} cannot be made "
                         f"({e.strerror or e})") from None
    return folder


def write_output(path, text, argument="--out"):
    """Write a command's text output (a report, a CSV) to `path` atomically,
    making its folder where it does not exist yet."""
    make_folder_for(path, argument)
    atomic_write(path, text.encode())


def write_figure(figure, path, argument="--out"):
    """A matplotlib figure as a PNG at `path`, written atomically, its
    folder made where it does not exist yet."""
    make_folder_for(path, argument)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    atomic_write(os.fspath(path), buffer.getvalue())


def csv_field(text):
    """`text` as one CSV field: quoted, its quotes doubled, where it holds a
    comma, a quote or a line break."""
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n\r') else text


MAX_MANIFEST_BYTES = 1 << 22


def read_manifest(folder, name, format, format_version, what, max_members=64):
    """The JSON manifest `name` of an ensemble folder (a text or series
    classifier's, a forecaster's), checked: its format, a format_version this
    lstmkit reads, and `members`, a list of 1 to max_members sub-folder
    names member-<n>. `what` names the kind in errors ("a text classifier").
    Returns (the manifest dict, the members' folder paths)."""
    path = os.path.join(folder, name)
    if os.path.getsize(path) > MAX_MANIFEST_BYTES:
        raise ModelFileError(f"{path}: larger than a manifest can be")
    with open(path, "rb") as f:
        manifest = parse_json(f.read(), path)
    if not isinstance(manifest, dict) or manifest.get("format") != format:
        raise ModelFileError(f"{path}: not {what} (no format '{format}')")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > format_version:
        raise ModelFileError(f"{path}: format_version {version!r} is not one this lstmkit "
                             f"reads ({format_version})")
    names = manifest.get("members")
    if not isinstance(names, list) or not 1 <= len(names) <= max_members or not all(
            isinstance(n, str) and n.startswith("member-") and n[7:].isdigit() for n in names):
        raise ModelFileError(f"{path}: members must be a list of 1 to {max_members} names "
                             "member-<n>")
    return manifest, [os.path.join(folder, n) for n in names]


def fsync_dir(folder):
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_model(path, config, state_dict):
    """Write config (a JSON-able dict) and state_dict to folder `path`."""
    os.makedirs(path, exist_ok=True)
    weights = safetensors.torch.save(_tensors(state_dict))
    text = _document_text(config, weights_sha256=hashlib.sha256(weights).hexdigest())
    atomic_write(os.path.join(path, WEIGHTS_FILE), weights)
    atomic_write(os.path.join(path, CONFIG_FILE), text.encode())


# a path with one of these endings is saved as one file (as Keras'
# `model.save('model.keras')`): a safetensors file whose metadata holds the
# config document; the folder form adds a checksum of the weights
SINGLE_FILE_SUFFIXES = (".keras", ".lstmkit", ".safetensors")
CONFIG_KEY = "lstmkit.config"


def is_single_file(path):
    return os.fspath(path).endswith(SINGLE_FILE_SUFFIXES)


def write_model_file(path, config, state_dict):
    """Write config and state_dict as the one safetensors file `path`; the
    checksum is of the weights as write_model would write them alone."""
    tensors = _tensors(state_dict)
    sha = hashlib.sha256(safetensors.torch.save(tensors)).hexdigest()
    text = _document_text(config, weights_sha256=sha)
    atomic_write(os.fspath(path), safetensors.torch.save(tensors, metadata={CONFIG_KEY: text}))


def read_model_file(path):
    """(config, tensors) of a file written by write_model_file, the config
    checked as read_config checks config.json."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
        tensors = load_safetensors(data)
        header = parse_json(data[8 : 8 + int.from_bytes(data[:8], "little")], path)
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read ({e.strerror})") from None
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{path}: not a valid safetensors file ({e})") from None
    text = (header.get("__metadata__") or {}).get(CONFIG_KEY) if isinstance(header, dict) else None
    if not isinstance(text, str):
        raise ModelFileError(f"{path}: a safetensors file, but not an lstmkit model (no config)")
    config = check_document(parse_json(text.encode(), path), path)
    if hashlib.sha256(safetensors.torch.save(tensors)).hexdigest() != config.get("weights_sha256"):
        raise ModelFileError(f"{path}: the weights' checksum does not match (damaged or altered)")
    return config, tensors


def _tensors(state_dict):
    return {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}


def _document_text(config, **extra):
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, **config, **extra}
    try:
        return json.dumps(document, indent=2, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ModelFileError(
            f"the model's configuration cannot be saved as JSON ({e}); "
            "callables (custom initialisers, losses) are not saved: use names"
        ) from None


def read_config(path):
    """The validated, migrated config.json of the model folder `path`."""
    config_path = os.path.join(path, CONFIG_FILE)
    if not os.path.isdir(path):
        raise ModelFileError(f"{path}: no such model folder")
    if not os.path.isfile(config_path):
        raise ModelFileError(f"{config_path}: missing; is {path} a folder written by model.save?")
    size = os.path.getsize(config_path)
    if size > MAX_CONFIG_BYTES:
        raise ModelFileError(f"{config_path}: {size} bytes, more than a model config can be")
    with open(config_path, "rb") as f:
        raw = f.read()
    return check_document(parse_json(raw, config_path), config_path)


def check_document(config, config_path):
    """The config document, its format and version checked and migrated."""
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{config_path}: not an lstmkit model (no format '{FORMAT}')")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{config_path}: format_version must be an int, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{config_path}: format version {version} is newer than this lstmkit reads "
            f"({FORMAT_VERSION}); upgrade lstmkit"
        )
    while version < FORMAT_VERSION:
        if version not in MIGRATIONS:
            raise ModelFileError(f"{config_path}: format version {version} is no longer readable")
        config = MIGRATIONS[version](config)
        version = config["format_version"]
    return config


def parse_json(raw, where):
    """The JSON document in bytes `raw`, refusing what json.loads would let
    through or fail on other than with JSONDecodeError: nesting deeper than
    MAX_NESTING, NaN and infinities (write_model never writes them), and
    integers longer than MAX_INT_DIGITS."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    depth = nesting_depth(text)
    if depth > MAX_NESTING:
        raise ModelFileError(f"{where}: arrays and objects nest {depth} deep, more than a "
                             f"model config can ({MAX_NESTING})")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                          parse_int=_short_int)
    except json.JSONDecodeError as e:
        raise ModelFileError(
            f"{where}, line {e.lineno}, column {e.colno}: invalid JSON ({e.msg})"
        ) from None
    except _NotAModelNumber as e:
        raise ModelFileError(f"{where}: {e}") from None


# a JSON string (its closing quote optional, so that an unterminated one is
# consumed once instead of rescanned from every quote), or a run of text
# holding no bracket or quote: what is left after removing both is brackets
_NOT_A_BRACKET = re.compile(r'"(?:[^"\\]+|\\.)*"?|[^"\[\]{}]+', re.DOTALL)


def nesting_depth(text):
    """How deeply arrays and objects nest in JSON `text` (0 for a scalar),
    counted without parsing it. For text that is not JSON the count may be
    off, but then the parser refuses it."""
    brackets = _NOT_A_BRACKET.sub("", text)
    return max(accumulate(1 if b in "[{" else -1 for b in brackets), default=0)


class _NotAModelNumber(ValueError):
    """A number json.loads would accept that no model file holds."""


def _refuse_constant(name):
    raise _NotAModelNumber(f"{name} is not a number JSON allows")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf
        raise _NotAModelNumber(f"{text[:40]} is too large a number")
    return value


def _short_int(text):
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _NotAModelNumber(f"an integer of {digits} digits is too large")
    return int(text)


def read_weights(path, config, expected):
    """The tensors of model.safetensors in folder `path`, checked against the
    checksum in `config` and against `expected` {name: (shape, dtype)} before
    they are used."""
    weights_path = os.path.join(path, WEIGHTS_FILE)
    if not os.path.isfile(weights_path):
        raise ModelFileError(f"{weights_path}: missing")
    with open(weights_path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != config.get("weights_sha256"):
        raise ModelFileError(
            f"{weights_path}: checksum does not match config.json (damaged, truncated, "
            "or from another save)"
        )
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{weights_path}: not a valid safetensors file ({e})") from None
    return check_weights(tensors, expected, weights_path)


def check_weights(tensors, expected, weights_path, against="the architecture in config.json"):
    """The tensors, if their names, shapes and dtypes are `expected`'s."""
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ModelFileError(
            f"{weights_path}: weights do not fit {against} "
            f"(missing: {missing or 'none'}; unexpected: {extra or 'none'})"
        )
    for name, (shape, dtype) in expected.items():
        t = tensors[name]
        if tuple(t.shape) != tuple(shape) or t.dtype != dtype:
            raise ModelFileError(
                f"{weights_path}: {name} is {t.dtype} {tuple(t.shape)}, {against} "
                f"needs {dtype} {tuple(shape)}"
            )
    return tensors


def write_weights_file(path, state_dict):
    """The weights alone as one safetensors file (save_weights, ModelCheckpoint's
    save_weights_only), written atomically."""
    atomic_write(os.fspath(path), safetensors.torch.save(_tensors(state_dict)))


def read_weights_file(path):
    """The tensors of a safetensors file written by write_weights_file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            return load_safetensors(f.read())
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read ({e.strerror})") from None
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{path}: not a valid safetensors file ({e})") from None


def refuse_hdf5(path, method, instead):
    """Keras 2's .h5 / .hdf5 paths: lstmkit writes and reads no HDF5."""
    if os.fspath(path).lower().endswith((".h5", ".hdf5")):
        raise InputError(f"{method}({os.fspath(path)!r}): lstmkit writes and reads no HDF5 "
                         f"(Keras 2's format); name {instead}")
