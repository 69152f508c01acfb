"""Mixed precision: the forward pass in a 16-bit float, the weights and the
update in float32.

Keras names these policies 'mixed_bfloat16' and 'mixed_float16'; here they
are a training setting (`TrainConfig.precision`) rather than a global
policy, so two models in one process may differ. Under either, matrix
products and the LSTM run in the lower precision through `torch.autocast`
(on recent CPUs bfloat16 reaches their bf16 matrix units, AMX or
AVX512-BF16; on a GPU its tensor cores), while the outputs are cast back to
float32 before the loss, the metrics and everything the host reads, and the
state carried between windows of a stream stays float32. float16's narrow
range needs the loss scaled so that small gradients survive
(`torch.amp.GradScaler`); bfloat16 has float32's range and needs none.
"""

import contextlib

import torch

from .errors import InputError

POLICIES = {"float32": None, "mixed_bfloat16": torch.bfloat16, "mixed_float16": torch.float16}
ALIASES = {"fp32": "float32", "32": "float32", "bf16": "mixed_bfloat16",
           "bfloat16": "mixed_bfloat16", "fp16": "mixed_float16", "float16": "mixed_float16",
           "16": "mixed_float16"}


def policy_name(precision):
    """The Keras name of a precision given by it or a short alias ('bf16',
    'fp16', ...); InputError for anything else."""
    name = ALIASES.get(precision, precision) if isinstance(precision, str) else precision
    if name not in POLICIES:
        raise InputError(f"precision must be one of {', '.join(POLICIES)} (or bf16, fp16), "
                         f"got {precision!r}")
    return name


def autocast(precision, device):
    """The context a forward pass runs in under `precision` on `device`."""
    dtype = POLICIES[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def full(tensor):
    """A 16-bit float tensor as float32; anything else as it is."""
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def grad_scaler(precision, device):
    """A GradScaler for float16, None for the other precisions. float16 is
    refused off a GPU: the CPU's LSTM kernels (oneDNN) have no float16 form."""
    if POLICIES[precision] is not torch.float16:
        return None
    kind = torch.device(device).type
    if kind != "cuda":
        raise InputError(f"precision mixed_float16 needs a CUDA GPU (training is on {kind}); "
                         "on the CPU use mixed_bfloat16")
    return torch.amp.GradScaler(kind)
