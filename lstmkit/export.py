"""ONNX export: a model as a graph that onnxruntime (or any ONNX runtime)
runs without torch or lstmkit, with the contract of `model.step`.

    model.export("model.onnx")        # lstmkit export MODEL --format onnx

The graph is built node by node with `onnx.helper` from the state dict,
rather than traced by torch.onnx, whose exporter cannot express lstmkit's
masks, states and projected LSTMs without hand-written wrappers
(pytorch/pytorch#62240, #41774). Its inputs and outputs:

    x          (N, T) int64 ids for an Embedding, or (N, T, F...) float32
    lengths    (N,) int64: the real steps at the front of each row; the
               steps after are padding (state carried over them, outputs
               zero), on top of those the model's own mask marks
               (Embedding(mask_zero=True), Masking), wherever they are, as
               in lstmkit. For lstmkit's padding before the sequence, pass T.
    state_<i>_h, state_<i>_c
               (layers x directions, N, units) float32, the state of
               recurrent layer i to start from (zeros for a fresh start;
               GRU: h only), as `model.step(x, state)` takes it
    ->
    output     what the model returns for the chunk (for a last layer with
               return_state=True, its output alone: the states are below)
    new_state_<i>_h, new_state_<i>_c
               the state after the chunk, to feed back in

N and T are dynamic. Per layer: Embedding is a Gather; Dense a MatMul and
its activation; Dropout and LockedDropout vanish (inference); Masking
computes its mask in the graph; LSTM and GRU become ONNX's LSTM and GRU
operators (gate order i, o, f, c and z, r, h; torch's GRU is
linear_before_reset=1) with `sequence_lens`, stacked and bidirectional
included; a projected LSTM (proj_size), which ONNX's LSTM cannot express,
is a Scan over the cell's equations; Conv1D is ONNX's Conv ('same'
padding, padded steps zeroed as lstmkit does), BatchNormalization a
factor and an offset per feature from its moving statistics, Parallel its
branches one after the other, concatenated; the global mean, max,
concatenated and attention poolings reduce over the real steps;
DimensionShuffle pads or cuts the steps in place and swaps the axes; a Dense
tied to the Embedding (tie_weights) reads the table; Activation, Flatten,
RepeatVector and MaxPooling1D are their ONNX ops (the last three read the
steps where they stand and, as in lstmkit, end the mask: every step after
them is real, whatever `lengths` said), but MaxPooling1D(keep_mask=True),
whose windows of the real steps carry the mask on. Where a mask arises (mask_zero,
Masking), each row's real steps are moved to the front, as lstmkit's
recurrent layers read them, and per-step outputs are put back in place at
the end. Computation is in
float32 whatever the model's precision.
"""

import json
import os

import numpy as np
import torch

from . import __version__
from .errors import InputError, InternalError, MissingDependencyError
from .files import atomic_write, check_folder_for, make_folder_for, staged_folder
from .layers import (GRU, LSTM, Activation, AttentionPooling1D, BatchNormalization,
                     Bidirectional, ConcatPooling1D, Conv1D, Dense, DimensionShuffle, Dropout,
                     Embedding, Flatten, GlobalAveragePooling1D, GlobalMaxPooling1D,
                     LockedDropout, Masking, MaxPooling1D, Parallel, RepeatVector,
                     TimeDistributed)
from .rnn import layer_weights
from .streaming import run, state_layout

OPSET = 17  # onnxruntime 1.14 and later run it; ONNX's LSTM, GRU and Scan as used here are older
TOLERANCE = 1e-4  # max abs difference between onnxruntime and lstmkit that verify accepts
PREPROCESSING_SUFFIX = ".preprocessing.json"


def require_onnx():
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(
            "ONNX export needs the onnx package: pip install 'lstmkit[onnx]' (onnx and "
            "onnxruntime)") from None
    return onnx


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError(
            "checking the exported graph needs onnxruntime: pip install 'lstmkit[onnx]', or "
            "pass verify=False") from None
    return onnxruntime


def input_names(model):
    """The graph's inputs in order: x, lengths, then each state."""
    return ["x", "lengths", *state_names(model, "state")]


def state_names(model, prefix):
    return [f"{prefix}_{i}_{name}" for i, states in state_layout(model).items()
            for name, _ in states]


def preprocessing_path(path):
    """Where the preprocessing document of a model exported to `path` goes:
    model.onnx -> model.preprocessing.json beside it."""
    stem = path[:-5] if path.endswith(".onnx") else path
    return stem + PREPROCESSING_SUFFIX


# ----- the graph builder ------------------------------------------------------------

class Graph:
    """Nodes and constants of one ONNX graph; a Scan body is a Graph whose
    constants go to its parent's initialisers (outer scope), which ONNX
    subgraphs may read."""

    def __init__(self, onnx, parent=None):
        self.onnx, self.parent = onnx, parent
        self.nodes, self.initializers = [], []
        self.names = parent.names if parent else {}
        self.small = {}  # small constants by value, shared
        # masks whose real steps come first in each row (that of `lengths`, and
        # each after `align`), and where each original step is now (N, T)
        # (None: in place), for putting per-step outputs back at the end
        self.front_masks, self.order = set(), None
        self.length_mask = None  # the steps `lengths` keeps, (N, T) bool, in the current order

    def fresh(self, hint):
        count = self.names.get(hint, 0)
        self.names[hint] = count + 1
        return f"{hint}_{count}"

    def const(self, value, hint="const", dtype=np.float32):
        if self.parent is not None:
            return self.parent.const(value, hint, dtype)
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 16 else None
        if key in self.small:  # axes, shapes, 0 and 1: one initialiser each
            return self.small[key]
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        if key is not None:
            self.small[key] = name
        return name

    def weight(self, tensor, hint):
        return self.const(tensor.detach().cpu().double().numpy(), hint)

    def ints(self, values, hint="shape"):
        return self.const(values, hint, np.int64)

    def op(self, op_type, *inputs, outputs=1, hint=None, **attributes):
        names = [self.fresh(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), names, **attributes))
        return names[0] if outputs == 1 else names


class NotExportable(InputError):
    """A layer the graph cannot express; the message names it and why."""


# ----- layers -------------------------------------------------------------------------

def export_layer(g, index, layer, x, mask, states):
    """Add `layer`'s nodes reading x (and its mask, (N, T) bool); returns
    (output, mask out, {name: final state} or {})."""
    where = f"layer {index} ({type(layer).__name__})"
    if isinstance(layer, (Dropout, LockedDropout)):
        return x, mask, {}
    if isinstance(layer, Embedding):
        if layer.mask_zero:  # id 0 is padding, as well as the steps past each length
            mask = g.op("And", g.length_mask, g.op("Not", g.op("Equal", x, g.ints(0, "zero"))))
            x, mask = align(g, x, mask, x_rank=2)  # the ids, cheaper than their vectors
        out = g.op("Gather", g.weight(layer.table(), f"embedding{index}"), x, axis=0)
        return out, mask, {}
    if isinstance(layer, Dense):
        return dense(g, index, layer, x), mask, {}
    if isinstance(layer, Masking):
        equal = g.op("Equal", x, g.const(layer.mask_value, "mask_value"))
        differs = g.op("Cast", g.op("Not", equal), to=1)  # (N, T, F) float
        real = g.op("ReduceMax", differs, axes=[-1], keepdims=0)  # (N, T)
        out = g.op("Mul", x, g.op("Unsqueeze", real, g.ints([-1], "axes")))
        out, mask = align(g, out, g.op("And", g.length_mask, g.op("Cast", real, to=9)), x_rank=3)
        return out, mask, {}
    if isinstance(layer, TimeDistributed):
        inner = layer.layer
        if isinstance(inner, (Dense, Dropout, LockedDropout)):  # they act on the last axis alone
            return export_layer(g, index, inner, x, mask, states)[0], mask, {}
        if isinstance(inner, Embedding):
            out = g.op("Gather", g.weight(inner.table(), f"embedding{index}"), x, axis=0)
            return out, mask, {}
        raise NotExportable(f"{where}: TimeDistributed({type(inner).__name__}) cannot be "
                            "exported: only Dense, Embedding and the dropouts inside it can")
    if isinstance(layer, Bidirectional):
        if layer.merge_mode is None:
            raise NotExportable(f"{where}: merge_mode=None gives a pair of outputs, which the "
                                "exported graph's single output cannot hold; use 'concat', "
                                "'sum', 'mul' or 'ave'")
        out, mask_out, finals = recurrent(g, index, layer.layer, x, mask, states)
        if layer.merge_mode != "concat":
            forward, backward = g.op("Split", out, g.ints([layer.layer.output_size // 2] * 2),
                                     axis=-1, outputs=2)
            merged = {"sum": "Add", "mul": "Mul", "ave": "Add"}[layer.merge_mode]
            out = g.op(merged, forward, backward)
            if layer.merge_mode == "ave":
                out = g.op("Mul", out, g.const(0.5, "half"))
        return out, mask_out, finals
    if isinstance(layer, (LSTM, GRU)):
        return recurrent(g, index, layer, x, mask, states)
    if isinstance(layer, Conv1D):
        return conv1d(g, index, layer, x, mask), mask, {}
    if isinstance(layer, BatchNormalization):
        return batch_norm(g, index, layer, x, mask), mask, {}
    if isinstance(layer, Parallel):
        return parallel(g, index, layer, x, mask), layer.compute_mask(x, mask), {}
    if isinstance(layer, Activation):
        return activate(g, layer.activation, x), mask, {}
    if isinstance(layer, MaxPooling1D) and layer.keep_mask:
        return windows_kept(g, index, layer, x, mask), g.length_mask, {}
    if isinstance(layer, (Flatten, RepeatVector, MaxPooling1D)):
        # they read the steps where they stand and drop the mask, as lstmkit's do
        x = in_place(g, x)
        if isinstance(layer, Flatten):
            return g.op("Flatten", x, axis=1), None, {}
        if isinstance(layer, RepeatVector):
            out = g.op("Expand", g.op("Unsqueeze", x, g.ints([1], "axes")),
                       g.ints([1, layer.n, 1]))  # (N, 1, F) broadcast to (N, n, F)
            return out, all_real(g, out), {}
        pads = {"auto_pad": "SAME_UPPER"} if layer.padding == "same" else {}
        out = g.op("MaxPool", g.op("Transpose", x, perm=[0, 2, 1]), kernel_shape=[layer.pool_size],
                   strides=[layer.stride], **pads)
        out = g.op("Transpose", out, perm=[0, 2, 1])  # (N, T', F)
        return out, all_real(g, out), {}
    if isinstance(layer, DimensionShuffle):
        out = dimension_shuffle(g, layer, x, mask)
        return out, all_real(g, out), {}
    if isinstance(layer, (GlobalAveragePooling1D, GlobalMaxPooling1D, AttentionPooling1D)):
        g.order = None  # no steps axis any more
        return pooling(g, index, layer, x, mask), None, {}
    if isinstance(layer, ConcatPooling1D):
        g.order = None
        parts = [pooling(g, index, layer.POOLINGS[name](), x, mask) for name in layer.poolings]
        return g.op("Concat", *parts, axis=-1), None, {}  # (N, k * F)
    raise NotExportable(f"{where}: this lstmkit has no ONNX form for it yet; the layers that "
                        "export are Embedding, Dense, Activation, the dropouts, Masking, "
                        "TimeDistributed(Dense or Embedding), Conv1D, BatchNormalization, "
                        "Parallel, MaxPooling1D, Flatten, DimensionShuffle, "
                        "RepeatVector, the global, concatenated and attention poolings, LSTM, "
                        "GRU and Bidirectional")


def activate(g, name, x):
    op = ACTIVATION_OPS[name]
    if op is None:
        return x
    return g.op(op, x, axis=-1) if op == "Softmax" else g.op(op, x)


def in_place(g, x):
    """x (N, T, ...) with each step back where it came from, undoing `align`."""
    if g.order is None:
        return x
    x = g.op("GatherElements", x, along_features(g, g.order, x), axis=1)
    g.order = None
    return x


def all_real(g, x):
    """A mask (N, T) of x (N, T, F) marking every step real, as lstmkit runs
    the steps after a layer that drops the mask; `lengths` no longer applies."""
    shape = g.op("Slice", g.op("Shape", x), g.ints([0]), g.ints([2]), g.ints([0]))
    mask = g.op("ConstantOfShape", shape,
                value=g.onnx.helper.make_tensor("true", g.onnx.TensorProto.BOOL, [1], [True]))
    g.front_masks.add(mask)
    g.length_mask = mask
    return mask


def as_float(g, mask):
    """A bool mask (N, T) as float (N, T, 1), to multiply features by."""
    return g.op("Unsqueeze", g.op("Cast", mask, to=1), g.ints([-1], "axes"))


def conv1d(g, index, layer, x, mask):
    """Conv1D with 'same' padding on x (N, T, F) whose real steps come first:
    padded steps zeroed before, as lstmkit zeroes them, and after."""
    if mask not in g.front_masks:
        raise InternalError(f"layer {index}: its input's real steps are not at the front")
    options = {"padding": getattr(layer, "padding", "same"),
               "strides": getattr(layer, "strides", 1)}
    if options != {"padding": "same", "strides": 1}:  # what this export knows of Conv1D
        raise NotExportable(f"layer {index} (Conv1D): only padding='same' and strides=1 export "
                            f"so far, got padding={options['padding']!r}, "
                            f"strides={options['strides']!r}")
    real = as_float(g, mask)  # (N, T, 1)
    total = layer.dilation_rate * (layer.kernel_size - 1)
    weights = [g.weight(layer.conv.weight, f"conv{index}_kernel")]
    if layer.conv.bias is not None:
        weights.append(g.weight(layer.conv.bias, f"conv{index}_bias"))
    y = g.op("Conv", g.op("Transpose", g.op("Mul", x, real), perm=[0, 2, 1]), *weights,
             dilations=[layer.dilation_rate], pads=[total // 2, total - total // 2])  # (N, C, T)
    y = activate(g, layer.activation_name, g.op("Transpose", y, perm=[0, 2, 1]))  # (N, T, filters)
    return g.op("Mul", y, real)


def windows_kept(g, index, layer, x, mask):
    """MaxPooling1D(keep_mask=True) on x (N, T, F) whose real steps come
    first: padded steps set to -inf, windows of pool_size side by side (ONNX
    MaxPool's ceil_mode: the last one cut short), zero where a window holds
    no real step; its mask, the first ceil(length / pool_size) windows of
    each row, becomes the graph's mask from here (the steps are new ones,
    at the front: nothing to put back in place)."""
    if mask not in g.front_masks:
        raise InternalError(f"layer {index}: its input's real steps are not at the front")
    size = layer.pool_size
    real = g.op("Unsqueeze", mask, g.ints([-1], "axes"))  # (N, T, 1)
    x = g.op("Where", real, x, g.const(-np.inf, "minus_infinity"))
    pooled = g.op("MaxPool", g.op("Transpose", x, perm=[0, 2, 1]), kernel_shape=[size],
                  strides=[size], ceil_mode=1)
    pooled = g.op("Transpose", pooled, perm=[0, 2, 1])  # (N, T', F)
    lengths = lengths_of(g, mask)
    windows = g.op("Div", g.op("Add", lengths, g.ints(size - 1, "window_less_one")),
                   g.ints(size, "window"))  # (N,): ceil(length / size)
    kept = mask_front(g, windows, pooled)
    g.front_masks.add(kept)
    g.length_mask, g.order = kept, None
    return g.op("Where", g.op("Unsqueeze", kept, g.ints([-1], "axes")), pooled,
                g.const(0.0, "zero_float"))


def batch_norm(g, index, layer, x, mask):
    """BatchNormalization at inference, x * factor + offset per feature from
    its moving statistics; padded steps of (N, T, F) zeroed, as lstmkit does."""
    factor = torch.rsqrt(layer.running_var.double() + layer.epsilon)  # (F,)
    if layer.weight is not None:
        factor = factor * layer.weight.double()
    offset = -layer.running_mean.double() * factor
    if layer.bias is not None:
        offset = offset + layer.bias.double()
    y = g.op("Add", g.op("Mul", x, g.weight(factor, f"norm{index}_factor")),
             g.weight(offset, f"norm{index}_offset"))
    steps = len(layer.input_shape) == 2  # (T, F) per sample, not (F,)
    return g.op("Mul", y, as_float(g, mask)) if steps and mask is not None else y


def parallel(g, index, layer, x, mask):
    """Each branch's layers on x and its mask, one after the other, from the
    same order of the steps; their outputs concatenated. Their recurrent
    layers start from zeros (a branch carries no state)."""
    order, length_mask = g.order, g.length_mask
    per_step = len(layer.output_shape(layer.input_shape)) == 2
    batch = g.op("Slice", g.op("Shape", x), g.ints([0]), g.ints([1]), g.ints([0]))  # [N]
    outputs = []
    for b, branch in enumerate(layer.branches):
        g.order, g.length_mask = order, length_mask
        h, m = x, mask
        for j, inner in enumerate(branch):
            h, m, _ = export_layer(g, f"{index}.{b}.{j}", inner, h, m, zero_states(g, inner, batch))
        if per_step and g.order != order:
            raise NotExportable(f"layer {index} (Parallel): branch {b} moves the steps "
                                "(Flatten, MaxPooling1D, RepeatVector), which the export of "
                                "per-step branches cannot follow")
        outputs.append(h)
    g.order, g.length_mask = (order if per_step else None), length_mask
    return g.op("Concat", *outputs, axis=-1)  # (..., F_1 + F_2 + ...)


def dimension_shuffle(g, layer, x, mask):
    """x (N, T, F) with its steps in place and the padded ones zeroed, padded
    with zeros or cut to layer.length steps, as (N, F, length)."""
    if mask is not None:  # zeroed where the mask is in the order it has
        x = g.op("Mul", x, as_float(g, mask))
    x = in_place(g, x)
    T = g.op("Slice", g.op("Shape", x), g.ints([1]), g.ints([2]), g.ints([0]))  # [T]
    short = g.op("Max", g.op("Sub", g.ints([layer.length], "shuffle_length"), T),
                 g.ints([0], "no_steps"))  # [max(length - T, 0)]
    pads = g.op("Concat", g.ints([0, 0, 0, 0], "no_pads"), short, g.ints([0], "no_pad"), axis=0)
    x = g.op("Pad", x, pads)  # (N, max(T, length), F)
    x = g.op("Slice", x, g.ints([0]), g.ints([layer.length], "shuffle_length"), g.ints([1]))
    return g.op("Transpose", x, perm=[0, 2, 1])  # (N, F, length)


def zero_states(g, layer, batch):
    """{name: zeros (layers x directions, N, size)} for a recurrent layer, {} otherwise."""
    if not layer.recurrent:
        return {}
    inner = layer.layer if isinstance(layer, Bidirectional) else layer
    stacked = inner.num_layers * inner.directions
    zero = g.onnx.helper.make_tensor("zero", g.onnx.TensorProto.FLOAT, [1], [0.0])
    return {name: g.op("ConstantOfShape", g.op("Concat", g.ints([stacked]), batch,
                                               g.ints([size]), axis=0), value=zero)
            for name, size in zip("hc", inner.state_sizes())}


def pooling(g, index, layer, x, mask):
    """The global mean, max or attention pooling over the real steps of x
    (N, T, F) -> (N, F); a row of no real step gives zeros, as in lstmkit."""
    real = as_float(g, mask)  # (N, T, 1)
    axis = g.ints([1], "axes")
    count = g.op("ReduceSum", real, axis, keepdims=0)  # (N, 1)
    if isinstance(layer, GlobalAveragePooling1D):
        total = g.op("ReduceSum", g.op("Mul", x, real), axis, keepdims=0)  # (N, F)
        return g.op("Div", total, g.op("Max", count, g.const(1.0, "one_float")))
    real_bool = g.op("Unsqueeze", mask, g.ints([-1], "axes"))  # (N, T, 1)
    some = g.op("Greater", count, g.const(0.0, "zero_float"))  # (N, 1): a real step at all
    if isinstance(layer, GlobalMaxPooling1D):
        top = g.op("ReduceMax", g.op("Where", real_bool, x, g.const(-np.inf, "minus_inf")),
                   axes=[1], keepdims=0)  # (N, F)
        return g.op("Where", some, top, g.const(0.0, "zero_float"))
    # attention: e = v . tanh(W x + b), a softmax over the real steps
    e = g.op("MatMul", g.op("Tanh", g.op("Add", g.op(
        "MatMul", x, g.weight(layer.score.weight.T, f"attention{index}_w")),
        g.weight(layer.score.bias, f"attention{index}_b"))),
        g.weight(layer.vector.weight.T, f"attention{index}_v"))  # (N, T, 1)
    e = g.op("Where", real_bool, e, g.const(-np.inf, "minus_inf"))
    e = g.op("Where", g.op("Unsqueeze", some, g.ints([-1], "axes")), e,
             g.const(0.0, "zero_float"))  # a row of no real step: no -inf everywhere
    a = g.op("Mul", g.op("Softmax", e, axis=1), real)  # (N, T, 1)
    return g.op("ReduceSum", g.op("Mul", a, g.op("Mul", x, real)), axis, keepdims=0)


ACTIVATION_OPS = {"linear": None, "sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
                  "softmax": "Softmax"}


def dense(g, index, layer, x):
    """x @ kernel.T + bias; a tied kernel (tie_weights) is the Embedding's
    table, written into the graph a second time (ONNX has no shared tensors)."""
    kernel, bias = (layer.kernel, layer.bias) if layer.tie_weights else (layer.linear.weight,
                                                                         layer.linear.bias)
    y = g.op("MatMul", x, g.weight(kernel.T, f"dense{index}_kernel"))
    if bias is not None:  # use_bias=False has none
        y = g.op("Add", y, g.weight(bias, f"dense{index}_bias"))
    return activate(g, layer.activation, y)


def front_alignment(g, mask):
    """For mask (N, T): where each step goes when the real steps of its row
    are moved to the front in order, (N, T) int64, and the lengths (N,)
    int64 (lstmkit.rnn.front_align without a sort)."""
    real = g.op("Cast", mask, to=7)  # (N, T) int64
    pad = g.op("Sub", g.ints(1, "one"), real)
    axis = g.ints(1, "axis")
    lengths = g.op("ReduceSum", real, g.ints([1], "axes"), keepdims=1)  # (N, 1)
    at_real = g.op("Sub", g.op("CumSum", real, axis), g.ints(1, "one"))
    at_pad = g.op("Add", lengths, g.op("Sub", g.op("CumSum", pad, axis), g.ints(1, "one")))
    dest = g.op("Where", mask, at_real, at_pad)  # (N, T)
    return dest, g.op("Squeeze", lengths, g.ints([1], "axes"))


def along_features(g, index, like):
    """index (N, T) expanded over the feature axis of `like` (N, T, F)."""
    return g.op("Expand", g.op("Unsqueeze", index, g.ints([-1], "axes")), g.op("Shape", like))


def align(g, x, mask, x_rank):
    """x (N, T) or (N, T, F) with the real steps of each row (mask) moved to
    the front in order, as lstmkit's recurrent layers read them
    (lstmkit.rnn.front_align); returns (x, mask) in that order. Done where a
    mask arises, once: the layers in between act step by step and do not
    mind the order, and g.order puts per-step outputs back in place at the
    end, as lstmkit's scatter_back does."""
    dest, lengths = front_alignment(g, mask)
    index = dest if x_rank == 2 else along_features(g, dest, x)
    x = g.op("ScatterElements", x, index, x, axis=1)
    kept = g.op("Cast", g.length_mask, to=7)
    g.length_mask = g.op("Cast", g.op("ScatterElements", kept, dest, kept, axis=1), to=9)
    mask = mask_front(g, lengths, x)
    g.front_masks.add(mask)
    # an earlier alignment moved original step t to order[t]; this one moves
    # that position on to dest[order[t]]
    g.order = dest if g.order is None else g.op("GatherElements", dest, g.order, axis=1)
    return x, mask


def recurrent(g, index, layer, x, mask, states):
    """An LSTM or GRU (D directions, L stacked levels) on x (N, T, F) with
    its mask; returns (output, mask out, {name: final (L*D, N, ·)})."""
    module, D, L = layer.rnn, layer.directions, layer.num_layers
    lstm = isinstance(layer, LSTM)
    if mask not in g.front_masks:
        raise InternalError(f"layer {index}: its input's real steps are not at the front")
    lengths = lengths_of(g, mask)
    seq = g.op("Transpose", x, perm=[1, 0, 2])  # (T, N, F)
    seq_mask = g.op("Unsqueeze", g.op("Transpose", mask, perm=[1, 0]),
                    g.ints([-1], "axes"))  # (T, N, 1) bool, real steps first
    empty = g.op("Unsqueeze", g.op("Equal", lengths, g.ints(0, "zero")),
                 g.ints([0, 2], "axes"))  # (1, N, 1): rows with no real step keep their state
    finals = {name: [] for name in ("h", "c")[: 2 if lstm else 1]}
    for level in range(L):
        start = [s for s in (states[name] for name in finals)]
        initial = [g.op("Slice", s, g.ints([level * D]), g.ints([(level + 1) * D]),
                        g.ints([0])) for s in start]  # each (D, N, ·)
        if lstm and layer.proj_size:
            seq, level_finals = projected_level(g, index, module, level, D, seq, seq_mask,
                                                initial)
        else:
            seq, level_finals = fused_level(g, index, module, level, D, lstm, seq, lengths,
                                            initial)
        for name, initial_s, final in zip(finals, initial, level_finals):
            finals[name].append(g.op("Where", empty, initial_s, final))
    finals = {name: (values[0] if len(values) == 1 else g.op("Concat", *values, axis=0))
              for name, values in finals.items()}  # (L*D, N, ·)
    if layer.return_sequences:
        out = g.op("Transpose", seq, perm=[1, 0, 2])  # (N, T, D*P)
        out = g.op("Mul", out, g.op("Unsqueeze", g.op("Cast", mask, to=1), g.ints([-1], "axes")))
        return out, mask, finals
    top = g.op("Slice", finals["h"], g.ints([(L - 1) * D]), g.ints([L * D]), g.ints([0]))
    out = g.op("Reshape", g.op("Transpose", top, perm=[1, 0, 2]), g.ints([0, -1]))  # (N, D*P)
    g.order = None  # no steps axis any more
    return out, None, finals


def lengths_of(g, mask):
    """(N,) int64: the real steps of each row of a front mask (N, T)."""
    return g.op("ReduceSum", g.op("Cast", mask, to=7), g.ints([1], "axes"), keepdims=0)


def mask_front(g, lengths, x):
    """(N, T) bool: the first `lengths` steps of each row of x (N, T, ...)."""
    T = g.op("Gather", g.op("Shape", x), g.ints(1, "index"), axis=0)
    steps = g.op("Range", g.ints(0, "zero"), T, g.ints(1, "one"))  # (T,)
    return g.op("Less", g.op("Unsqueeze", steps, g.ints([0], "axes")),
                g.op("Unsqueeze", lengths, g.ints([1], "axes")))


# ONNX's gate order from torch's: LSTM i, f, g, o -> i, o, f, c; GRU r, z, n -> z, r, h
LSTM_GATES, GRU_GATES = [0, 3, 1, 2], [1, 0, 2]


def reorder(weight, order):
    return torch.cat([weight.chunk(len(order))[k] for k in order])


def fused_level(g, index, module, level, D, lstm, seq, lengths, initial):
    """One stacked level of an nn.LSTM / nn.GRU as ONNX's LSTM or GRU node;
    returns (output (T, N, D*H), finals [(D, N, H), ...])."""
    order = LSTM_GATES if lstm else GRU_GATES
    W, R, B = [], [], []
    for direction in range(D):
        w_ih, w_hh, b_ih, b_hh = layer_weights(module, level, direction)
        W.append(reorder(w_ih, order))
        R.append(reorder(w_hh, order))
        B.append(torch.cat([reorder(b_ih, order), reorder(b_hh, order)]))
    hint = f"rnn{index}_l{level}"
    weights = [g.weight(torch.stack(t), f"{hint}_{n}") for t, n in ((W, "W"), (R, "R"), (B, "B"))]
    # onnxruntime refuses a sequence length of 0; such rows run one step and
    # get their initial state back in `recurrent`, as lstmkit's fused_rnn does
    lens = g.op("Cast", g.op("Max", lengths, g.ints(1, "one")), to=6)  # int32
    attributes = {"hidden_size": module.hidden_size,
                  "direction": "bidirectional" if D == 2 else "forward"}
    if lstm:
        y, h, c = g.op("LSTM", seq, *weights, lens, initial[0], initial[1], outputs=3,
                       hint=f"lstm{index}", **attributes)
        finals = [h, c]
    else:
        y, h = g.op("GRU", seq, *weights, lens, initial[0], outputs=2, hint=f"gru{index}",
                    linear_before_reset=1, **attributes)
        finals = [h]
    y = g.op("Transpose", y, perm=[0, 2, 1, 3])  # (T, D, N, H) -> (T, N, D, H)
    return g.op("Reshape", y, g.ints([0, 0, -1])), finals  # (T, N, D*H)


def projected_level(g, index, module, level, D, seq, seq_mask, initial):
    """One stacked level of a projected nn.LSTM (proj_size), which ONNX's
    LSTM has no form for: a Scan per direction over the cell's equations
    (lstmkit.rnn.lstm_cell), carrying the state over padding; the backward
    direction scans in reverse, so it meets each row's padding first and
    starts at its last real step. Returns (output (T, N, D*P), [h, c])."""
    onnx = g.onnx
    outputs, hs, cs = [], [], []
    H = module.hidden_size
    for direction in range(D):
        w_ih, w_hh, b_ih, b_hh, w_hr = layer_weights(module, level, direction)
        hint = f"lstmp{index}_l{level}_d{direction}"
        w_ih_t, w_hh_t = g.weight(w_ih.T, f"{hint}_w_ih"), g.weight(w_hh.T, f"{hint}_w_hh")
        w_hr_t, bias = g.weight(w_hr.T, f"{hint}_w_hr"), g.weight(b_ih + b_hh, f"{hint}_b")
        body = Graph(onnx, parent=g)
        h, c, x_t, m_t = (body.fresh(f"{hint}_{n}") for n in ("h", "c", "x", "m"))
        gates = body.op("Add", body.op("Add", body.op("MatMul", x_t, w_ih_t),
                                       body.op("MatMul", h, w_hh_t)), bias)  # (N, 4H)
        i, f, gc, o = body.op("Split", gates, body.ints([H] * 4), axis=1, outputs=4)
        i, f, o = (body.op("Sigmoid", v) for v in (i, f, o))
        c_new = body.op("Add", body.op("Mul", f, c), body.op("Mul", i, body.op("Tanh", gc)))
        h_new = body.op("MatMul", body.op("Mul", o, body.op("Tanh", c_new)), w_hr_t)  # (N, P)
        h_out, c_out = body.op("Where", m_t, h_new, h), body.op("Where", m_t, c_new, c)
        y_t = body.op("Mul", h_new, body.op("Cast", m_t, to=1))
        body_outputs = [body.op("Identity", v) for v in (h_out, c_out, y_t)]
        value = onnx.helper.make_tensor_value_info
        graph = onnx.helper.make_graph(
            body.nodes, f"{hint}_body",
            [value(h, 1, None), value(c, 1, None), value(x_t, 1, None), value(m_t, 9, None)],
            [value(v, 1, None) for v in body_outputs])
        h0, c0 = (g.op("Squeeze", s, g.ints([0], "axes")) if D == 1 else
                  g.op("Gather", s, g.ints(direction, "index"), axis=0) for s in initial)
        h_n, c_n, y = g.op("Scan", h0, c0, seq, seq_mask, outputs=3, hint=f"scan{index}",
                           body=graph, num_scan_inputs=2,
                           scan_input_directions=[direction, direction],
                           scan_output_directions=[direction])
        outputs.append(y)  # (T, N, P)
        hs.append(g.op("Unsqueeze", h_n, g.ints([0], "axes")))
        cs.append(g.op("Unsqueeze", c_n, g.ints([0], "axes")))
    join = (lambda values, axis: values[0] if D == 1 else g.op("Concat", *values, axis=axis))
    return join(outputs, -1), [join(hs, 0), join(cs, 0)]


# ----- the model ------------------------------------------------------------------------

def build_graph(model):
    """The ONNX ModelProto of `model`, with the contract in its metadata."""
    onnx = require_onnx()
    helper = onnx.helper
    g = Graph(onnx)
    per_step = list(model.input_shape[1:])
    first = model.layers[0]
    ids = isinstance(first, Embedding) or (
        isinstance(first, TimeDistributed) and isinstance(first.layer, Embedding))
    x_type = onnx.TensorProto.INT64 if ids else onnx.TensorProto.FLOAT
    layout = state_layout(model)
    time = model.input_shape[0] or "time"  # a model built for a number of steps takes that
    inputs = [helper.make_tensor_value_info("x", x_type, ["batch", time, *per_step]),
              helper.make_tensor_value_info("lengths", onnx.TensorProto.INT64, ["batch"])]
    for i, names in layout.items():
        for name, (stacked, size) in names:
            inputs.append(helper.make_tensor_value_info(f"state_{i}_{name}", onnx.TensorProto.FLOAT,
                                                        [stacked, "batch", size]))
    x = "x"
    mask = mask_front(g, "lengths", "x")  # (N, T) bool
    g.front_masks.add(mask)
    g.length_mask = mask
    outputs = []
    for i, layer in enumerate(model.layers):
        states = {name: f"state_{i}_{name}" for name, _ in layout.get(i, [])}
        x, mask, finals = export_layer(g, i, layer, x, mask, states)
        for name, value in finals.items():
            g.nodes.append(helper.make_node("Identity", [value], [f"new_state_{i}_{name}"]))
            stacked, size = dict(layout[i])[name]
            outputs.append(helper.make_tensor_value_info(
                f"new_state_{i}_{name}", onnx.TensorProto.FLOAT, [stacked, "batch", size]))
    if g.order is not None:  # per-step outputs: each step back in its place
        x = g.op("GatherElements", x, along_features(g, g.order, x), axis=1)
    out_shape = ["batch", *("time" if d is None else d
                            for d in model.output_shape((None, *per_step)))]
    g.nodes.append(helper.make_node("Identity", [x], ["output"]))
    outputs.insert(0, helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, out_shape))
    graph = helper.make_graph(g.nodes, "lstmkit_model", inputs, outputs, g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="lstmkit", producer_version=__version__)
    proto.ir_version = 8  # what opset 17 came with; onnxruntime 1.14 and later read it
    contract = {"inputs": input_names(model),
                "outputs": ["output", *state_names(model, "new_state")],
                "states": {str(i): [[n, list(s)] for n, s in v] for i, v in layout.items()},
                "lengths": "real steps at the front of each row; the model's own mask as well",
                "output_activation": model.layers[-1].activation}
    for key, value in (("lstmkit_version", __version__), ("lstmkit_contract", json.dumps(contract)),
                       ("lstmkit_model", json.dumps(model.get_config(), default=callable_name)),
                       ("lstmkit_task", str((model.metadata or {}).get("task")))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    return proto


def callable_name(value):
    """How the graph's metadata names what JSON cannot hold (an initialiser
    given as a function)."""
    return getattr(value, "__name__", type(value).__name__)


def check_exportable(model):
    if not model.built:
        raise InputError("the model is not built yet: train it or call build() before export")
    if model.parameter_dtype() not in (torch.float32, torch.float64):
        raise InputError(f"the model's weights are {model.parameter_dtype()}: export reads "
                         "float32 or float64 weights; cast a copy with .float() first")


def fewest_steps(model):
    """The steps a check's input needs: the model's own number when it was
    built for one (a Flatten needs it), else the fewest every layer can take
    (a MaxPooling1D's window)."""
    if model.input_shape[0] is not None:
        return model.input_shape[0]
    for steps in range(1, 4097):
        shape = (steps, *model.input_shape[1:])
        for layer in model.layers:
            shape = layer.output_shape(shape)
            if shape and shape[0] is not None and shape[0] < 1:
                break
        else:
            return steps
    raise InputError("no input of up to 4096 steps gives every layer a step to read")


def sample_inputs(model, rng, batch_size=3, steps=5):
    """Inputs for a check: random x (ids, some 0; floats, some steps equal to
    a Masking value), lengths from full to 0, and random states. `steps` is
    raised to what the model needs (`fewest_steps`), or set to the number it
    was built for."""
    steps = model.input_shape[0] or max(steps, fewest_steps(model))
    per_step = list(model.input_shape[1:])
    first = model.layers[0]
    inner = first.layer if isinstance(first, TimeDistributed) else first
    if isinstance(inner, Embedding):
        x = rng.integers(0, inner.input_dim, size=(batch_size, steps, *per_step))
    else:
        x = rng.standard_normal((batch_size, steps, *per_step)).astype(np.float32)
        if isinstance(first, Masking):
            x[0, steps // 2] = first.mask_value  # a padded step inside the row
    lengths = np.linspace(steps, 0, batch_size).round().astype(np.int64)
    feeds = {"x": x, "lengths": lengths}
    for i, names in state_layout(model).items():
        for name, (stacked, size) in names:
            feeds[f"state_{i}_{name}"] = rng.standard_normal(
                (stacked, batch_size, size)).astype(np.float32) * 0.5
    return feeds


def reference_outputs(model, feeds):
    """lstmkit's outputs for the graph's inputs: output, then each new state."""
    layout = state_layout(model)
    dtype, device = model.parameter_dtype(), next(model.parameters()).device
    x = torch.as_tensor(feeds["x"], device=device)
    x = x.to(dtype) if x.is_floating_point() else x
    state = {i: tuple(torch.as_tensor(feeds[f"state_{i}_{n}"], dtype=dtype, device=device)
                      for n, _ in names) for i, names in layout.items()}
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            y, new = run(model, x, state, torch.as_tensor(feeds["lengths"], device=device))
    finally:
        model.train(training)
    y = y[0] if isinstance(y, tuple) else y  # a last layer's return_state: its states are below
    return [y.float().cpu().numpy(), *(s.float().cpu().numpy() for i in layout for s in new[i])]


def verify_graph(model, data, runs=((3, 5), (1, 1), (4, 7))):
    """Run the exported graph in onnxruntime on a few batches and compare with
    lstmkit; InternalError (a bug) past TOLERANCE."""
    ort = require_onnxruntime()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch_size, steps in runs:
        feeds = sample_inputs(model, rng, batch_size, steps)
        got = session.run(None, feeds)
        for name, a, b in zip(["output", *state_names(model, "new_state")], got,
                              reference_outputs(model, feeds)):
            worst = float(np.max(np.abs(a - b))) if a.size else 0.0
            if a.shape != b.shape or not worst <= TOLERANCE:
                raise InternalError(
                    f"the exported graph's {name} differs from lstmkit's on a batch of "
                    f"{batch_size} x {steps} steps (shapes {a.shape} and {b.shape}, max abs "
                    f"difference {worst:.3g} > {TOLERANCE}): a bug in lstmkit.export")


def check_writable(path, argument):
    """Refuse a file path that is a folder, or whose folder cannot be made
    or written (lstmkit.files.check_folder_for), before anything is built."""
    if os.path.isdir(path):
        raise InputError(f"{argument} {path}: is a folder; give the file to write, e.g. "
                         f"{os.path.join(path, 'model.onnx')}")
    check_folder_for(path, argument)


def export_onnx(model, path, verify=True):
    """Write `model` as an ONNX graph to `path` (see the module's docstring
    for its inputs and outputs), and, for a model with a preprocessing
    object (a text model's vocabulary), its JSON beside it as
    <path without .onnx>.preprocessing.json. The graph is checked by
    onnx.checker and, with `verify`, run by onnxruntime
    against lstmkit before anything is written. Returns the paths written.

    Files are written atomically (lstmkit.files.atomic_write): a failure
    leaves no half-written file, and no preprocessing file without its graph.
    """
    path = os.fspath(path)
    check_exportable(model)
    check_writable(path, "path")
    data = build_graph(model).SerializeToString()
    if verify:
        verify_graph(model, data)
    side = document = None
    if model.preprocessing is not None:
        side = preprocessing_path(path)
        check_writable(side, "the preprocessing file")
        document = json.dumps(model.preprocessing.document(), indent=1, ensure_ascii=False)
    side_is_new = side is not None and not os.path.exists(side)
    make_folder_for(path, "path")
    try:
        if side is not None:  # first, so that a graph is never left without its vocabulary
            atomic_write(side, document.encode())
        atomic_write(path, data)
    except OSError as e:
        if side_is_new and os.path.exists(side):
            os.unlink(side)  # no vocabulary left beside a graph that is not there
        raise InputError(f"path {path}: cannot be written ({e.strerror or e})") from None
    return [path] + ([side] if side is not None else [])


ENSEMBLE_MANIFEST = "ensemble.json"


def export_ensemble(members, weights, labels, folder, verify=True):
    """Write an ensemble (a text or series classifier's members) to `folder`:
    member-<i>.onnx for each member, with its preprocessing beside it, and
    ensemble.json naming the graphs, their weights and the labels. A
    member's output is what export_onnx's graph gives (a sigmoid unit: the
    probability of labels[1]; softmax units: one per label); the ensemble's
    is the members' outputs, each as class probabilities, weighted by
    `weights` and summed, as lstmkit combines them. The folder is written
    whole, then put in place: a failure leaves what was there before.
    Returns the paths written."""
    folder = os.path.abspath(os.fspath(folder))
    for i, model in enumerate(members):  # every member before anything is written
        try:
            check_exportable(model)
        except NotExportable as e:
            raise NotExportable(f"member {i}: {e}") from None
    with staged_folder(folder) as tmp:
        entries = []
        for i, model in enumerate(members):
            written = export_onnx(model, os.path.join(tmp, f"member-{i}.onnx"), verify=verify)
            entries.append({"graph": os.path.basename(written[0]),
                            "preprocessing": (os.path.basename(written[1]) if len(written) > 1
                                              else None),
                            "weight": float(weights[i]),
                            "output": ("sigmoid: the probability of labels[1]"
                                       if model.output_shape()[-1] == 1 and len(labels) == 2
                                       else "one probability per label")})
        manifest = {"format": "lstmkit.onnx_ensemble", "format_version": 1,
                    "lstmkit_version": __version__, "labels": list(labels), "members": entries,
                    "combine": "the weighted sum of the members' class probabilities"}
        atomic_write(os.path.join(tmp, ENSEMBLE_MANIFEST),
                     json.dumps(manifest, indent=1, ensure_ascii=False).encode())
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))]

