"""The forecasting network and the windows it reads, as plain pieces: the
window assembly (NumPy), the network (an lstmkit Sequential) and its loss,
so each can be run, tested or exported on its own.

A window at origin t (its last observed step) holds `timesteps` past steps
and then `horizon` future steps, every step a vector of
    [value - level, is_future, calendar features..., covariates...]
where the value is the scaled series (0 at future steps), the level is the
window's (scaling.window_level), the calendar features and known-future
covariates are there at every step and past-only covariates at past steps
only (0 after). Steps before the series' start are padding, masked out, so
a series shorter than the window is read as it is. The LSTM reads through
the future steps, and from its last state a Dense layer gives every step of
the horizon at once (direct multi-horizon output), one value per quantile.

The network predicts what the window's level and its base leave: with
base='seasonal' the seasonal-naive continuation of the window (the value
one season back), so the LSTM learns a correction to a statistical
forecast (as ES-RNN learns one to exponential smoothing); with 'none' the
change from the level.
"""

import numpy as np
import torch

from ..layers import LSTM, Dense, Dropout
from ..model import Sequential
from .scaling import window_level

BASES = ("seasonal", "none")


def window_origins(n, first=0, last=None):
    """The origins first..last (inclusive) of a series of n steps."""
    last = n - 2 if last is None else last
    return np.arange(first, last + 1)


def assemble(z, origins, timesteps, horizon, season, level="last", base="seasonal",
             known=None, past=None, static=None, observed_until=None):
    """The windows of one scaled series at `origins`.

    Args:
        z: (n,) the scaled series.
        origins: (N,) indices of each window's last observed step.
        known: (n + horizon, K) covariates known at every step, future
            included (the calendar features first), or None.
        past: (n, P) covariates known up to the origin only, or None.
        static: (S,) features of the series, the same at every step, or None.
        observed_until: targets at this index and after are left out of the
            loss (a validation block, or the end of the series); default n.

    Returns a dict: x (N, T + H, F) float32, mask (N, T + H) bools, level (N,),
    base (N, H) (in units of z, without the level), y (N, H, 2) float32
    (target over level and base, and whether it is observed).
    """
    n, T, H = len(z), timesteps, horizon
    observed_until = n if observed_until is None else observed_until
    origins = np.asarray(origins)
    pad = np.concatenate([np.zeros(T - 1), z, np.zeros(H)])  # z[i] sits at pad[i + T - 1]
    real = np.concatenate([np.zeros(T - 1, bool), np.ones(n, bool), np.zeros(H, bool)])
    view = np.lib.stride_tricks.sliding_window_view(pad, T + H)[origins]  # (N, T + H)
    present = np.lib.stride_tricks.sliding_window_view(real, T + H)[origins]
    past_z, past_real = view[:, :T], present[:, :T]
    lvl = window_level(past_z, past_real, level, season)  # (N,)
    m = max(int(season), 1)
    k = np.arange(1, H + 1)
    back = origins[:, None] + k - m * np.ceil(k / m).astype(int)  # (N, H) index one season back
    if base == "seasonal":
        usable = back >= np.maximum(origins[:, None] - T + 1, 0)
        b = np.where(usable, z[np.clip(back, 0, n - 1)], z[origins][:, None]) - lvl[:, None]
    else:
        b = np.zeros((len(origins), H))
    target_index = origins[:, None] + k  # (N, H)
    observed = target_index < min(observed_until, n)
    target = np.where(observed, z[np.clip(target_index, 0, n - 1)], 0.0) - lvl[:, None] - b
    value = np.where(past_real, past_z - lvl[:, None], 0.0)  # (N, T)
    columns = [np.concatenate([value, np.zeros((len(origins), H))], 1)[..., None],
               np.concatenate([np.zeros((len(origins), T)), np.ones((len(origins), H))],
                              1)[..., None]]
    if known is not None:
        kpad = np.concatenate([np.zeros((T - 1, known.shape[1])), known[:n + H]])
        kview = np.lib.stride_tricks.sliding_window_view(kpad, T + H, axis=0)[origins]
        columns.append(kview.transpose(0, 2, 1))  # (N, T + H, K)
    if past is not None:
        ppad = np.concatenate([np.zeros((T - 1, past.shape[1])), past[:n],
                               np.zeros((H, past.shape[1]))])
        pview = np.lib.stride_tricks.sliding_window_view(ppad, T + H, axis=0)[origins]
        pview = pview.transpose(0, 2, 1).copy()
        pview[:, T:] = 0.0  # unknown after the origin
        columns.append(pview)
    if static is not None:
        columns.append(np.broadcast_to(np.asarray(static, np.float64),
                                       (len(origins), T + H, len(static))))
    x = np.concatenate(columns, 2).astype(np.float32)  # (N, T + H, F)
    mask = np.concatenate([past_real, np.ones((len(origins), H), bool)], 1)
    y = np.stack([target, observed], 2).astype(np.float32)  # (N, H, 2)
    return {"x": x, "mask": mask, "level": lvl, "base": b, "y": y}


class PinballLoss:
    """The mean pinball (quantile) loss over the observed targets.

    The network's output (N, H * Q) is read as (N, H, Q); the target y
    (N, H, 2) carries each step's value and whether it is observed (a
    window near a series' end or a validation block's edge has some steps
    unobserved). Per-sample values, as lstmkit's losses give them.
    """

    def __init__(self, quantiles):
        self.quantiles = torch.tensor(quantiles, dtype=torch.float32)
        self.__name__ = "pinball"

    def __call__(self, out, y):
        q = self.quantiles.to(out.device)
        pred = out.view(len(out), y.shape[1], len(q))  # (N, H, Q)
        diff = y[..., :1] - pred  # (N, H, Q)
        loss = torch.maximum(q * diff, (q - 1) * diff).mean(-1)  # (N, H)
        observed = y[..., 1]
        return (loss * observed).sum(1) / observed.sum(1).clamp(min=1)  # (N,)


def build_network(features, horizon, quantiles, units=64, layers=1, dropout=0.0):
    """LSTM layers of `units` over the window's steps, then Dense(horizon *
    len(quantiles)) from the last state; built for `features` per step."""
    stack = [LSTM(units, return_sequences=i < layers - 1) for i in range(layers)]
    if dropout:
        stack.append(Dropout(dropout))
    stack.append(Dense(horizon * len(quantiles)))
    model = Sequential(stack)
    model.build((None, None, features))
    return model


@torch.inference_mode()
def run_network(model, x, mask, horizon, quantiles, batch_size=1024):
    """The network's quantiles (N, H, Q) for assembled windows."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[i:i + batch_size], device=device)
        mb = torch.as_tensor(mask[i:i + batch_size], device=device)
        out.append(model(xb, mask=mb).float().cpu())
    return torch.cat(out).view(len(x), horizon, len(quantiles)).numpy()
