"""A look inside an LSTM: its gates, cell and hidden state at every step.

`gates(model, x)` reruns a trained model's LSTM layer with the reference
cell (the tutorial's equations) on the layer's real input, records the
forget, input and output gates, the candidate, the cell state and the hidden
state, and checks them against the fused kernel's own results before
returning them. `plot_gates` draws them as heatmaps (matplotlib, the 'plot'
extra).
"""

import numpy as np
import torch

from .data.batching import check_finite, to_tensor
from .errors import InputError, InternalError, MissingDependencyError
from .files import write_figure
from .layers import LSTM, Bidirectional, Embedding
from .rnn import front_align, fused_rnn, reference_rnn, run_module, scatter_back

GATES = ("forget", "input", "candidate", "output", "cell", "hidden")


def _lstm_layers(model):
    return [i for i, l in enumerate(model.layers) if isinstance(l, (LSTM, Bidirectional))]


@torch.no_grad()
def gates(model, x, layer=None, depth=0, direction=0):
    """Gate activations of one LSTM of a built Sequential for input x.

    Args:
        model: a built (trained or loaded) Sequential.
        x: its input, as fit takes it.
        layer: index in model.layers of the LSTM (or Bidirectional); default
            the first one.
        depth: which of a stacked LSTM's layers (0 = the lowest).
        direction: 0 forward, 1 backward (Bidirectional).

    Returns a dict of NumPy arrays (samples, timesteps, units): 'forget',
    'input', 'candidate', 'output', 'cell', 'hidden', and 'mask' (samples,
    timesteps) marking real steps (padded steps hold zeros).
    """
    if not model.built:
        raise InputError("the model is not built: train or load it before inspecting it")
    candidates = _lstm_layers(model)
    if not candidates:
        raise InputError("the model has no LSTM layer to inspect")
    index = candidates[0] if layer is None else layer
    if index not in candidates:
        raise InputError(f"layer {index} is not an LSTM; LSTM layers are at {candidates}")
    lstm_layer = model.layers[index]
    lstm = lstm_layer.layer if isinstance(lstm_layer, Bidirectional) else lstm_layer
    if not isinstance(lstm, LSTM):
        raise InputError(f"layer {index} is a {type(lstm).__name__}; gates are shown for LSTMs")
    if not 0 <= depth < lstm.num_layers:
        raise InputError(f"depth must be in [0, {lstm.num_layers}), got {depth}")
    if not 0 <= direction < lstm.directions:
        raise InputError(f"direction must be in [0, {lstm.directions}), got {direction}")

    x = to_tensor(x, "x", integer=isinstance(model.layers[0], Embedding))
    check_finite(x, "x")
    model.layers[0].check_input(x, "x")
    device = next(model.parameters()).device
    model.eval()
    h, mask = x.to(device), None
    for previous in model.layers[:index]:  # the LSTM's own input and mask
        h, mask = previous(h, mask=mask), previous.compute_mask(h, mask)
    lstm.check_input(h)

    x_front, order, lengths = front_align(h, mask)
    states = lstm.initial_states(h, None)
    record = {}
    out, (h_n, c_n) = reference_rnn(lstm.lstm, x_front, lengths, states, record=record)
    _check_against_fused(lstm, h, mask, out, h_n, c_n)
    steps = record[depth, direction]
    result = {name: scatter_back(steps[name], order).cpu().numpy() for name in GATES}
    T = h.shape[1]
    result["mask"] = (mask if mask is not None else torch.ones(len(h), T, dtype=torch.bool)).cpu().numpy()
    return result


def _check_against_fused(lstm, x, mask, out, h_n, c_n):
    """The recorded run must reproduce the fused kernel's outputs and states.

    Both ran the same weights on the same input, so a difference is a bug in
    lstmkit (InternalError), never a user mistake."""
    x_front, _, lengths = front_align(x, mask)
    states = lstm.initial_states(x, None)
    if mask is None:
        fused_out, (fused_h, fused_c) = run_module(lstm.lstm, None, x, states)
    else:
        fused_out, (fused_h, fused_c) = fused_rnn(lstm.lstm, x_front, lengths, states)
    for name, a, b in (("outputs", out, fused_out), ("final h", h_n, fused_h),
                       ("final c", c_n, fused_c)):
        if not torch.allclose(a, b, rtol=1e-4, atol=1e-5):
            raise InternalError(
                f"inspection: the reference cell's {name} differ from the fused kernel's by "
                f"{(a - b).abs().max().item():.3g}; this is a bug in lstmkit, please report it")


def plot_gates(result, sample=0, labels=None, path="gates.png", title=None, max_units=64):
    """Heatmaps (units x steps) of each gate, the cell and the hidden state
    for one sample, with `labels` (e.g. the tokens) under the steps. Writes
    a PNG to `path` and returns it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            "plotting needs matplotlib: pip install 'lstmkit[plot]'") from None
    real = result["mask"][sample]
    fig, axes = plt.subplots(len(GATES), 1, figsize=(max(6, 0.35 * real.sum() + 2), 2.2 * len(GATES)),
                             sharex=True, constrained_layout=True)
    for ax, name in zip(axes, GATES):
        values = result[name][sample][real][:, :max_units].T  # (units, steps)
        limits = (0, 1) if name in ("forget", "input", "output") else (-1, 1)
        cmap = "viridis" if limits[0] == 0 else "RdBu_r"
        image = ax.imshow(values, aspect="auto", vmin=limits[0], vmax=limits[1], cmap=cmap,
                          interpolation="nearest")
        ax.set_ylabel(f"{name}\nunit")
        fig.colorbar(image, ax=ax, pad=0.01)
    if labels is not None:
        axes[-1].set_xticks(range(len(labels)))
        axes[-1].set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    else:
        axes[-1].set_xlabel("step")
    if title:
        fig.suptitle(title)
    write_figure(fig, path, "path")
    plt.close(fig)
    return path


def load_numeric_input(path):
    """A .npy array for `lstmkit inspect --input`, read without pickle."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read a .npy array ({e})") from None
