"""Streaming inference: a model run one step (or one chunk of steps) at a
time from an explicit state, the contract the exported ONNX graph keeps too.

    y, state = model.step(x_t)              # state=None: a fresh start
    y, state = model.step(x_next, state)    # feeding a sequence step by step
                                            # gives the outputs of the whole

The state is the model's explicit recurrent state (README, "One engine under
every task"): {layer index: (h, c)} for an LSTM, (h,) for a GRU, each
(layers, N, size). `lengths` marks, per sample, how many of the chunk's
steps are real (the rest are padding, over which the state is carried, as
over the steps the model's own mask marks); `reset` starts some sample slots
afresh while the others go on.
"""

import numpy as np
import torch

from .data.batching import check_finite, to_tensor
from .errors import InputError, InputTypeError
from .layers import (GRU, LSTM, Activation, Bidirectional, Dense, Dropout, Embedding,
                     LockedDropout, Masking, TimeDistributed)
from .rnn import gru_cell, layer_weights, lstm_cell


def state_layout(model):
    """{layer index: [(name, (layers x directions, size)), ...]} of each
    recurrent layer's states, in the order the layer takes them: names 'h'
    and 'c' for an LSTM, 'h' for a GRU."""
    layout = {}
    for i, layer in enumerate(model.layers):
        if layer.recurrent:
            inner = layer.layer if isinstance(layer, Bidirectional) else layer
            stacked = inner.num_layers * inner.directions
            layout[i] = [(name, (stacked, size))
                         for name, size in zip("hc", inner.state_sizes())]
    return layout


def zero_state(model, batch_size, dtype=None, device=None):
    """The state a fresh sequence starts from: zeros, for `batch_size` samples."""
    dtype = dtype or model.parameter_dtype() or torch.float32
    return {i: tuple(torch.zeros(stacked, batch_size, size, dtype=dtype, device=device)
                     for _, (stacked, size) in states)
            for i, states in state_layout(model).items()}


# the layers whose output at a step depends on that step (and, for the
# recurrent ones, the state) alone: what a model must be made of to stream
STEPWISE = (Embedding, Dense, Activation, Dropout, LockedDropout, Masking, TimeDistributed, LSTM,
            GRU)

# Which kernel a recurrent layer takes in `step` with impl='auto': the cell
# (lstmkit.rnn.lstm_cell, a handful of tensor operations) for a single step on
# the CPU, where one call of the fused oneDNN kernel costs several times more
# than its arithmetic; the fused kernel otherwise. Measured by
# benchmarks/onnx_speed.py (see its results and README).
CELL_FOR_ONE_STEP = {"cpu": True}


def uses_cell(layer, x, impl):
    """Whether `run` steps `layer` with its cell rather than the fused kernel."""
    if impl == "fused" or isinstance(layer, Bidirectional):
        return False
    return impl == "cell" or (x.shape[1] == 1 and CELL_FOR_ONE_STEP.get(x.device.type, False))


def run(model, x, state, lengths=None, impl="fused"):
    """The layers in order from `state` (every recurrent layer's entry
    given), as `model(x, state=state, return_state=True)`; with `lengths`
    (N,), the steps of each row past its length are padding too, on top of
    those the model's own mask marks (Embedding(mask_zero=True), Masking).
    impl: 'fused' runs each recurrent layer as the model does; 'cell' steps
    one-directional layers with their cell (`cell_run`); 'auto' by the rule
    in `uses_cell`.

    Returns (y, new state). No checks: `step` and `export` check first.
    """
    mask = kept = None
    if lengths is not None:
        mask = kept = torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None]  # (N, T)
    new_state = {}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, (Dropout, LockedDropout)) and not layer.training:
            continue  # nothing at inference; skipping the call keeps a step cheap
        if layer.recurrent and uses_cell(layer, x, impl):
            out, new_state[i] = cell_run(layer, x, mask, state[i])
        elif layer.recurrent:
            out, new_state[i] = layer.run(x, mask, state[i], return_final=True)
        else:
            out = layer(x, mask=mask)
        produced = layer.compute_mask(x, mask)
        if produced is None:  # a layer that drops the mask drops the lengths too: its steps,
            kept = None       # if any (RepeatVector, MaxPooling1D), are all real, as in lstmkit
        elif kept is not None and produced.shape != kept.shape:
            kept = produced  # fewer steps (MaxPooling1D(keep_mask=True)), the lengths in its mask
        elif kept is not None and produced is not mask:
            produced = produced & kept  # a layer's own padding, and the steps past each length
        mask, x = produced, out
    return x, new_state


def cell_run(layer, x, mask, states):
    """A one-directional LSTM or GRU layer over x (N, T, F) step by step with
    its cell (lstmkit.rnn.lstm_cell, gru_cell) on the layer's own weights,
    in place of the fused kernel: the same outputs to float rounding. A
    padded step (mask False) carries every level's state and outputs zeros,
    as lstmkit's masked runs do. Returns what Recurrent.run returns."""
    module, lstm, L = layer.rnn, isinstance(layer, LSTM), layer.num_layers
    weights = [layer_weights(module, level, 0) for level in range(L)]
    levels = [tuple(s[level] for s in states) for level in range(L)]  # each (h, c), (N, ·)
    outputs = []
    for t in range(x.shape[1]):
        inp, real = x[:, t], None if mask is None else mask[:, t, None]  # (N, F), (N, 1)
        for level in range(L):
            if lstm:
                new = lstm_cell(inp, *levels[level], *weights[level])
            else:
                new = (gru_cell(inp, levels[level][0], *weights[level]),)
            if real is not None:
                new = tuple(torch.where(real, a, b) for a, b in zip(new, levels[level]))
            levels[level], inp = new, new[0]
        outputs.append(inp if real is None else inp * real)
    final = tuple(levels[0][k][None] if L == 1 else torch.stack([lv[k] for lv in levels])
                  for k in range(len(states)))  # each (L, N, ·)
    y = torch.stack(outputs, 1) if layer.return_sequences else final[0][-1]  # (N, T, P) or (N, P)
    if layer.return_state:
        y = (y, *[s[-1] for s in final])
    return y, final


def check_streamable(model, why="step"):
    """Refuse what cannot run a step at a time, naming the layer and why."""
    if not model.built:
        raise InputError(f"the model is not built yet: train it or call build() before {why}")
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Bidirectional):
            raise InputError(
                f"layer {i} (Bidirectional) cannot stream: its backward direction starts at the "
                "end of the sequence, which a step-by-step caller has not seen yet; run the "
                "whole sequence with model(x) or predict, or use a one-directional layer")
        if not isinstance(layer, STEPWISE):
            raise InputError(
                f"layer {i} ({type(layer).__name__}) cannot stream: it reads other steps than "
                "the current one (a convolution its neighbours, a pooling the whole sequence), "
                "so steps fed one by one would not give the whole sequence's result; step runs "
                "layers that act step by step (Embedding, Dense, Activation, the dropouts, "
                "Masking, TimeDistributed) and one-directional LSTM and GRU")


def as_batch(model, x, dtype, device):
    """x as a chunk (N, T, ...) in the model's dtype and on its device, and
    whether it was a single step (N, ...) without the steps axis. Checked as
    predict checks its input (ids in range, no NaN or inf)."""
    per_step = tuple(model.input_shape[1:])  # a sample's shape without its steps
    ids = isinstance(model.layers[0], Embedding)
    x = to_tensor(x, "x", integer=ids)
    if x.dim() == len(per_step) + 1:
        single, x = True, x[:, None]  # (N, 1, ...)
    elif x.dim() == len(per_step) + 2:
        single = False
    else:
        raise InputError(
            f"step takes one step (samples, {', '.join(map(str, per_step)) or 'an id'}) or a "
            f"chunk (samples, steps, ...), got shape {tuple(x.shape)}")
    if tuple(x.shape[2:]) != per_step:
        raise InputError(f"x has steps of shape {tuple(x.shape[2:])}, the model was built for "
                         f"{per_step}")
    check_finite(x, "x")
    model.layers[0].check_input(x, "x")
    if x.is_floating_point():
        x = x.to(dtype)  # a model cast with .double() reads its own precision
    return x.to(device), single


def numbers(value, argument):
    """`value` (an array, tensor or nested list) as a tensor of real numbers;
    InputTypeError naming `argument` for anything else."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError, RuntimeError) as e:
            raise InputTypeError(f"{argument} cannot be read as an array of numbers: "
                                 f"{e}") from None
    if t.is_complex():
        raise InputTypeError(f"{argument} must hold real numbers, got dtype {t.dtype}")
    return t


def layer_name(model, i):
    return type(model.layers[i]).__name__


def check_state(model, state, batch_size, dtype, device):
    """The state as {layer index: tuple of tensors}, each shaped as the
    layer needs for `batch_size` samples; InputError naming the layer otherwise."""
    layout = state_layout(model)
    if not isinstance(state, dict):
        raise InputTypeError(f"state must be a dict {{layer index: (h, c)}} as step returns it, "
                             f"got {type(state).__name__}")
    unknown = sorted(set(state) - set(layout), key=str)
    if unknown:
        raise InputError(f"state names layer(s) {unknown}, which are not recurrent; the "
                         f"recurrent layers are {sorted(layout)}")
    checked = {}
    for i, names in layout.items():
        expected = [(stacked, batch_size, size) for _, (stacked, size) in names]
        if i not in state:
            raise InputError(f"state has no entry for layer {i} ({layer_name(model, i)}): give "
                             "every recurrent layer's state, or state=None to start afresh")
        value = state[i]
        value = (value,) if isinstance(value, torch.Tensor) else value
        if not isinstance(value, (tuple, list)):
            raise InputTypeError(f"state[{i}] ({layer_name(model, i)}) must be a tuple of "
                                 f"tensors, got {type(value).__name__}")
        tensors = tuple(s if isinstance(s, torch.Tensor) and s.dtype == dtype
                        and s.device == device  # as step returned it: nothing to convert
                        else numbers(s, f"state[{i}]").to(dtype=dtype, device=device)
                        for s in value)
        got = [tuple(s.shape) for s in tensors]
        if got != expected:
            raise InputError(f"state[{i}] ({layer_name(model, i)}) must be {len(expected)} "
                             f"tensor(s) ({'/'.join(n for n, _ in names)}) shaped {expected} "
                             f"(layers x directions, samples, units), got {got}")
        finite = torch.isfinite(tensors[0]).all()
        for s in tensors[1:]:
            finite = finite & torch.isfinite(s).all()
        if not bool(finite):  # one host read for the layer; the message names the value
            for s in tensors:
                check_finite(s, f"state[{i}]")
        checked[i] = tensors
    return checked


def check_lengths(lengths, batch_size, steps, device):
    lengths = numbers(lengths, "lengths").to(device)
    if lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise InputTypeError(f"lengths must be integers, got dtype {lengths.dtype}")
    if tuple(lengths.shape) != (batch_size,):
        raise InputError(f"lengths must be shaped ({batch_size},), one per sample, got "
                         f"{tuple(lengths.shape)}")
    if bool((lengths < 0).any() | (lengths > steps).any()):
        raise InputError(f"lengths must lie in [0, {steps}] (the chunk's steps), got "
                         f"{lengths.tolist()}")
    return lengths.to(torch.int64)


def check_reset(reset, batch_size, device):
    reset = numbers(reset, "reset").to(device)
    if reset.dtype != torch.bool or tuple(reset.shape) != (batch_size,):
        raise InputError(f"reset must be ({batch_size},) booleans, True where a sample starts "
                         f"a new sequence, got dtype {reset.dtype} shape {tuple(reset.shape)}")
    return reset


def step(model, x, state=None, lengths=None, reset=None, impl="auto"):
    """Run `model` over one step or a chunk of steps from `state`.

    Args:
        x: one step, (N, F) floats or (N,) ids for an Embedding, or a chunk
            of steps, (N, T, F) or (N, T).
        state: {layer index: (h, c)} (GRU: (h,)), each (layers x
            directions, N, units), as the previous call returned it; None
            (default) starts every sample afresh, from zeros.
        lengths: (N,) ints, the real steps at the front of each row of the
            chunk; the steps after are padding, over which the state is
            carried and whose outputs are zeros (default: every step is
            real, unless the model's own mask marks it).
        reset: (N,) bools, True where a sample slot starts a new sequence:
            its state is zeroed first while the others go on.
        impl: how the recurrent layers run: 'fused' (the model's kernel, as
            in predict), 'cell' (their one-step cell, a step at a time), or
            'auto' (default): the cell for a single step on the CPU, where
            it costs a fraction of a fused call, else the kernel (the rule
            in `uses_cell`, measured by benchmarks/onnx_speed.py).

    Returns (y, new_state): y is what the model gives for the chunk, the
    step's axis left out when x was one step (N, ...); new_state goes into
    the next call. Torch tensors on the model's device, without gradients.
    Fed step by step, the outputs equal those of the whole sequence
    (tests/test_streaming.py). A Bidirectional layer cannot stream and is
    refused with the reason. The model runs in evaluation mode (no
    dropout); its training flag and any state stateful layers carry are
    left as they were.
    """
    if impl not in ("auto", "fused", "cell"):
        raise InputError(f"step impl must be 'auto', 'fused' or 'cell', got {impl!r}")
    check_streamable(model)
    weight = first_weight(model)
    dtype, device = weight.dtype, weight.device
    x, single = as_batch(model, x, dtype, device)
    N, T = x.shape[:2]
    if state is None:
        state = zero_state(model, N, dtype, device)
    else:
        state = check_state(model, state, N, dtype, device)
    if reset is not None:
        keep = ~check_reset(reset, N, device)[None, :, None]  # (1, N, 1)
        state = {i: tuple(s * keep for s in states) for i, states in state.items()}
    if lengths is not None:
        lengths = check_lengths(lengths, N, T, device)
    training = model.training
    carried = [(layer, layer.states) for layer in model.layers
               if layer.recurrent and layer.stateful]
    try:
        if training:
            model.eval()
        with torch.no_grad():
            y, new_state = run(model, x, state, lengths, impl)
    finally:
        if training:
            model.train()
        for layer, states in carried:  # a stateful layer's carried state stays its own
            layer.states = states
    if single and isinstance(y, torch.Tensor) and per_step_output(model):
        y = y[:, 0]  # (N, 1, ...) -> (N, ...)
    return y, new_state


def first_weight(model):
    """The model's first parameter, found without walking every module."""
    for layer in model.layers:
        for weight in layer.parameters():
            return weight
    raise InputError("the model has no weights: nothing to step")


def per_step_output(model):
    """Whether the model gives an output per step (its last recurrent layer
    returns sequences, or it has none)."""
    return model.output_shape((None,) + tuple(model.input_shape[1:]))[:1] == (None,)
