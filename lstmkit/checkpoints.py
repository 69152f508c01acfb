"""Training checkpoints: everything a run needs to continue exactly, in one safe file.

A checkpoint is one safetensors file, `ckpt-<epoch>-<step>.safetensors`:
its tensors are the model weights, the optimizer's state, the random number
generators' states and callback tensors; everything else (epoch, step,
History, optimizer hyper-parameters, callback state, the model's
configuration) is JSON in the file's metadata. Nothing is pickled. The file
is written atomically (temporary name, fsync, rename, fsync of the folder),
so a run killed at any moment leaves the previous checkpoint intact.
"""

import json
import os
import random
import re

import numpy as np
import safetensors.torch
from safetensors.torch import load as load_safetensors  # from bytes; never unpickles
import torch
from safetensors import SafetensorError

from .errors import ModelFileError
from .files import atomic_write

FORMAT = "lstmkit.checkpoint"
# 2: the training configuration, the batch source's state and signature, and
# the random generators and carried states of each process are recorded
FORMAT_VERSION = 2
NAME = re.compile(r"ckpt-(\d+)-(\d+)\.safetensors$")


def split_tensors(obj, tensors, prefix):
    """A JSON-able copy of obj with each tensor moved into `tensors` under a
    key starting with `prefix` and replaced by {"__tensor__": key}. Tensors
    that share memory (tied weights) are copied apart: safetensors refuses
    shared storage."""
    if isinstance(obj, torch.Tensor):
        tensor = obj.detach().cpu().contiguous()
        if any(t.untyped_storage().data_ptr() == tensor.untyped_storage().data_ptr()
               for t in tensors.values()):
            tensor = tensor.clone()
        tensors[prefix] = tensor
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[split_tensors(k, tensors, f"{prefix}.k{i}"),
                              split_tensors(v, tensors, f"{prefix}.{i}")]
                             for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        items = [split_tensors(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, np.ndarray):
        return split_tensors(torch.from_numpy(obj.astype(np.int64) if obj.dtype == np.uint32 else obj),
                             tensors, prefix)
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint")


def join_tensors(obj, tensors):
    """The inverse of split_tensors."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {join_tensors(k, tensors): join_tensors(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(join_tensors(v, tensors) for v in obj["__tuple__"])
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


def rng_states():
    """The states of every generator a training step draws from."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_states(states):
    random.setstate(states["python"])
    name, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def checkpoint_path(folder, epoch, step):
    return os.path.join(folder, f"ckpt-{epoch:05d}-{step:09d}.safetensors")


def write_checkpoint(path, state):
    """Write `state` (a dict of JSON-able values and tensors) atomically."""
    tensors = {}
    document = split_tensors(state, tensors, "s")
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
                "state": json.dumps(document, allow_nan=True)}
    atomic_write(path, safetensors.torch.save(tensors, metadata=metadata))


def read_checkpoint(path, any_version=False):
    """The state dict written by write_checkpoint; our error for anything
    else. any_version=True returns the state of an older format as it is."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read checkpoint ({e.strerror})") from None
    try:
        tensors = load_safetensors(data)
        n = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
    except (SafetensorError, ValueError, RuntimeError) as e:  # RecursionError too: deep JSON
        raise ModelFileError(f"{path}: not a valid checkpoint file ({e})") from None
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an lstmkit checkpoint")
    try:
        state = join_tensors(json.loads(metadata["state"]), tensors)
    except (KeyError, ValueError, TypeError, RecursionError) as e:
        raise ModelFileError(f"{path}: damaged checkpoint state ({e})") from None
    if metadata.get("format_version") != str(FORMAT_VERSION) and not any_version:
        raise ModelFileError(
            f"{path}: checkpoint format {metadata.get('format_version')} is not the one this "
            f"lstmkit resumes ({FORMAT_VERSION}): format 1 did not record the training settings "
            "needed to continue exactly. Its weights are not lost: "
            "read_checkpoint(path, any_version=True)['model'] gives them")
    return state


def list_checkpoints(folder):
    """Checkpoint files in `folder`, oldest first."""
    if not os.path.isdir(folder):
        return []
    found = [(tuple(map(int, m.groups())), name) for name in os.listdir(folder)
             if (m := NAME.fullmatch(name))]
    return [os.path.join(folder, name) for _, name in sorted(found)]


def resolve_resume(path):
    """A checkpoint file from a file path or a folder (its newest checkpoint)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        found = list_checkpoints(path)
        if not found:
            raise ModelFileError(f"{path}: no checkpoint (ckpt-*.safetensors) to resume from")
        return found[-1]
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such checkpoint file or folder")
    return path


def prune(folder, keep):
    """Delete all but the newest `keep` checkpoints."""
    for path in list_checkpoints(folder)[:-keep]:
        os.unlink(path)


def describe_difference(saved, current, where="model"):
    """The first place where two configurations differ, in words."""
    if isinstance(saved, dict) and isinstance(current, dict):
        for key in sorted(set(saved) | set(current), key=str):
            if saved.get(key) != current.get(key):
                return describe_difference(saved.get(key), current.get(key), f"{where}.{key}")
    if isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current):
        for i, (a, b) in enumerate(zip(saved, current)):
            if a != b:
                return describe_difference(a, b, f"{where}[{i}]")
    return f"{where}: checkpoint has {saved!r}, this run has {current!r}"
