"""The recurrence: the cell equations, and the ways to run them over time.

`lstm_cell` (and `gru_cell`) is one step, written out. `reference_rnn` loops
it over time, layers and directions in Python; `run_module`, `fused_rnn`
(packed) and `padded_rnn` hand the same parameters to torch.nn.LSTM / GRU
(oneDNN on CPU, cuDNN on GPU). All take sequences whose real
steps come first in each row (`front_align`), with their lengths, so one rule
covers left padding, right padding and no padding: the state is carried
only over real steps, and the backward direction starts at each sample's
last real step.
"""

import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None,
              gates_out=None):
    """One LSTM step, the gate equations written out.

    Weight names and gate order (input, forget, candidate, output) are those of
    `torch.nn.LSTM`, so this cell and the fused kernel read one state dict:
    weight_ih is (4H, F), weight_hh is (4H, P), the biases are (4H,), and the
    optional projection weight_hr is (P, H) (Sak et al. 2014; P = H without it).

        i = sigmoid(W_ii x + W_hi h + b_i)      input gate
        f = sigmoid(W_if x + W_hf h + b_f)      forget gate
        g = tanh(W_ig x + W_hg h + b_g)         candidate cell
        o = sigmoid(W_io x + W_ho h + b_o)      output gate
        c' = f * c + i * g
        h' = o * tanh(c')                       (then h' = W_hr h' with a projection)

    x is (N, F); h is (N, P); c is (N, H). Returns (h', c'). If `gates_out`
    is a dict, the step's gates are stored in it under 'input', 'forget',
    'candidate' and 'output', for inspection.
    """
    gates = x @ weight_ih.T + h @ weight_hh.T  # (N, 4H)
    if bias_ih is not None:
        gates = gates + bias_ih + bias_hh
    i, f, g, o = gates.chunk(4, dim=-1)  # each (N, H)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    if gates_out is not None:
        gates_out.update(input=i, forget=f, candidate=g, output=o)
    c = f * c + i * g
    h = o * torch.tanh(c)
    if weight_hr is not None:
        h = h @ weight_hr.T  # (N, P)
    return h, c


def front_align(x, mask):
    """Move each row's real steps to the front, keeping their order.

    x (N, T, F), mask (N, T) bool or None. Returns (x_front, order, lengths);
    order (N, T) says where each front-aligned step came from (None when
    there is no mask, or the mask's real steps already come first, as
    padding after them leaves them, and nothing moves).
    """
    N, T, F_ = x.shape
    if mask is None:
        return x, None, torch.full((N,), T, dtype=torch.int64, device=x.device)
    lengths = mask.sum(1)
    if torch.equal(mask, torch.arange(T, device=mask.device)[None] < lengths[:, None]):
        return x, None, lengths  # no sort, no gather: what SequenceBatches' batches hold
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # (N, T)
    x_front = x.gather(1, order[..., None].expand(N, T, F_))
    return x_front, order, lengths


def scatter_back(out, order):
    """The inverse of front_align for per-step outputs (N, T, H)."""
    if order is None:
        return out
    return torch.zeros_like(out).scatter(1, order[..., None].expand_as(out), out)


def reverse_within_length(x, lengths):
    """Reverse each row's first `lengths` steps in place, leaving the rest: the
    backward direction's input, starting at each sample's last real step."""
    N, T = x.shape[:2]
    t = torch.arange(T, device=x.device)[None]  # (1, T)
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (N, T)
    return x.gather(1, index[..., None].expand_as(x))


def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh, h_recurrent=None):
    """One GRU step in torch.nn.GRU's form and gate order (reset, update, new),
    which is Keras' GRU with reset_after=True:

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)     reset gate
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)     update gate
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  candidate
        h' = (1 - z) * n + z * h

    x is (N, F); h is (N, H); weight_ih (3H, F), weight_hh (3H, H). Returns h'.
    `h_recurrent`, if given, feeds W_h* in place of h (recurrent dropout
    masks it there only, as Keras does).
    """
    h_recurrent = h if h_recurrent is None else h_recurrent
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)  # each (N, H)
    h_r, h_z, h_n = (h_recurrent @ weight_hh.T + bias_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def is_lstm(module):
    return isinstance(module, torch.nn.LSTM)


def layer_weights(module, layer, direction, overrides=None):
    """The parameters of one layer and direction of an nn.LSTM or nn.GRU, by
    its names, with any in `overrides` {name: tensor} (e.g. dropped-out
    weights) instead."""
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    if getattr(module, "proj_size", 0):
        names.append("weight_hr")
    overrides = overrides or {}
    return [overrides.get(n + suffix, getattr(module, n + suffix)) for n in names]


def reference_rnn(module, x, lengths, states, dropout=0.0, training=False, record=None,
                  recurrent_dropout=0.0, overrides=None):
    """Run an nn.LSTM's or nn.GRU's parameters step by step with the cell.

    x (N, T, F) front-aligned, lengths (N,), states the initial (h0, c0) of
    an LSTM or (h0,) of a GRU, each (L*D, N, ·). Returns out (N, T, D*P),
    zero past each length, and the final states in the same form. With a
    dict `record` (LSTM), record[(layer, direction)] receives the gates,
    cell and hidden states, each (N, T, ·) in the front-aligned time order.

    recurrent_dropout (training only) is variational (Gal & Ghahramani 2016):
    one mask per sequence on the h that feeds the recurrent weights, the same
    at every step. `overrides` replaces parameters by name.
    """
    N, T = x.shape[:2]
    lstm = is_lstm(module)
    valid = torch.arange(T, device=x.device)[None] < lengths[:, None]  # (N, T)
    directions = 2 if module.bidirectional else 1
    finals = [[] for _ in states]
    for layer in range(module.num_layers):
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            state = [s[k] for s in states]  # [h] or [h, c], each (N, ·)
            seq = reverse_within_length(x, lengths) if direction else x
            weights = layer_weights(module, layer, direction, overrides)
            keep = None
            if recurrent_dropout and training:  # (N, P), drawn once per sequence
                keep = F.dropout(torch.ones_like(state[0]), recurrent_dropout, True)
            steps, trace = [], []
            for t in range(T):
                gates = {} if record is not None else None
                h_in = state[0] if keep is None else state[0] * keep
                if lstm:
                    new = lstm_cell(seq[:, t], h_in, state[1], *weights, gates_out=gates)
                else:
                    new = (gru_cell(seq[:, t], state[0], *weights, h_recurrent=h_in),)
                m = valid[:, t, None]  # (N, 1): carry the state past the end
                state = [torch.where(m, a, b) for a, b in zip(new, state)]
                steps.append(new[0] * m)
                if record is not None:
                    trace.append({**gates, "cell": new[1], "hidden": new[0]})
            out = torch.stack(steps, dim=1)  # (N, T, P)
            outputs.append(reverse_within_length(out, lengths) if direction else out)
            if record is not None:
                stacked = {k: torch.stack([step[k] for step in trace], 1) * valid[..., None]
                           for k in trace[0]}  # (N, T, ·)
                record[layer, direction] = {
                    k: reverse_within_length(v, lengths) if direction else v
                    for k, v in stacked.items()}
            for final, value in zip(finals, state):
                final.append(value)
        x = torch.cat(outputs, dim=-1)  # (N, T, D*P)
        if layer < module.num_layers - 1 and dropout:
            x = F.dropout(x, dropout, training)
    return x, tuple(torch.stack(f) for f in finals)


def run_module(module, overrides, x, states):
    """Call nn.LSTM / nn.GRU `module` on x from `states` ((h0, c0) or (h0,)),
    with some parameters replaced by `overrides` {name: tensor} (weight
    dropout) through torch.func.functional_call. Returns (out, states)."""
    initial = states if is_lstm(module) else states[0]
    args = (x, initial)
    out, final = functional_call(module, overrides, args) if overrides else module(*args)
    return out, (tuple(final) if is_lstm(module) else (final,))


def fused_rnn(module, x, lengths, states, overrides=None):
    """Run the fused kernel on front-aligned, padded x, packed by length
    (without padding, use run_module directly). Same returns as reference_rnn."""
    T = x.shape[1]
    packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True,
                                  enforce_sorted=False)
    out, final = run_module(module, overrides, packed, states)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (N, T, D*P)
    empty = lengths == 0  # a fully padded row keeps its initial state and outputs zeros
    if bool(empty.any()):
        keep = empty[None, :, None]
        final = tuple(torch.where(keep, s0, s) for s0, s in zip(states, final))
        out = out * ~empty[:, None, None]
    return out, final


def padded_rnn(module, x, lengths, states, overrides=None):
    """Run the fused kernel on front-aligned x without packing.

    Each row's padding comes after its real steps, so it cannot change the
    outputs at real steps; the batch is cut to its longest row, and the last
    output of each row is gathered at its length. This keeps the plain
    (unpacked) kernel, which oneDNN runs faster than packed input on CPU.
    One direction only, and the final cell state is not available this way.
    Returns out (N, T, P), zero past each length, and last (N, P).
    """
    N, T = x.shape[:2]
    longest = max(int(lengths.max()), 1)  # one host sync, as packing's lengths.cpu()
    out, _ = run_module(module, overrides, x[:, :longest], states)  # (N, longest, P)
    valid = torch.arange(longest, device=x.device)[None] < lengths[:, None]
    out = out * valid[..., None]
    index = (lengths - 1).clamp(min=0)[:, None, None].expand(N, 1, out.shape[-1])
    last = torch.where((lengths > 0)[:, None], out.gather(1, index)[:, 0], states[0][-1])
    return F.pad(out, (0, 0, 0, T - longest)), last


def padded_birnn(module, x, lengths, states, overrides=None, dropout=0.0, training=False):
    """Run a bidirectional nn.LSTM's or nn.GRU's parameters on front-aligned
    x without packing: per layer, the forward direction on x as it is and
    the backward one on each row reversed within its length, each through
    the plain fused kernel (torch.lstm / torch.gru, one direction). As in
    `padded_rnn`, padding after a row's real steps cannot reach them, so the
    result is the packed kernel's, at the unpacked kernel's speed on CPU.
    No projection; the final cell state is not available this way.
    Returns out (N, T, 2P), zero past each length, and last (N, 2P): the
    forward state at each row's last real step, the backward at its first.
    """
    N, T = x.shape[:2]
    lstm = is_lstm(module)
    run = torch.lstm if lstm else torch.gru
    longest = max(int(lengths.max()), 1)
    x = x[:, :longest]
    valid = (torch.arange(longest, device=x.device)[None] < lengths[:, None])[..., None]
    for layer in range(module.num_layers):
        outputs = []
        for direction in (0, 1):
            k = 2 * layer + direction
            hx = tuple(s[k:k + 1] for s in states) if lstm else states[0][k:k + 1]
            seq = reverse_within_length(x, lengths) if direction else x
            weights = layer_weights(module, layer, direction, overrides)
            out = run(seq, hx, weights, True, 1, 0.0, training, False, True)[0]  # (N, T', P)
            outputs.append(reverse_within_length(out, lengths) if direction else out)
        x = torch.cat(outputs, dim=-1) * valid  # (N, T', 2P)
        if layer < module.num_layers - 1 and dropout:
            x = F.dropout(x, dropout, training)
    P = x.shape[-1] // 2
    index = (lengths - 1).clamp(min=0)[:, None, None].expand(N, 1, P)
    forward_last = x[..., :P].gather(1, index)[:, 0]  # (N, P)
    last = torch.cat([forward_last, x[:, 0, P:]], dim=-1)  # (N, 2P)
    empty = (lengths == 0)[:, None]
    h0 = torch.cat([states[0][-2], states[0][-1]], dim=-1)
    last = torch.where(empty, h0, last)
    return F.pad(x, (0, 0, 0, T - longest)), last

