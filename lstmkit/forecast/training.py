"""Training one member of a forecaster: windows of every series pooled into
one global model, early stopping on an inner validation block at the end
of each training series, then (by default) a refit on all the windows for
the best number of epochs, so the most recent values are learnt from too.
"""

import numpy as np
import torch

from ..callbacks import EarlyStopping
from ..data.windows import WindowBatches
from ..optimizers import fastest
from ..train import set_seed
from .network import PinballLoss, assemble, build_network


def pooled_windows(prepared, timesteps, horizon, season, settings, cutoff):
    """The windows of every prepared series, pooled: those to train on and
    those to validate on.

    `prepared` holds per series z (scaled), known, past and static arrays.
    cutoff(n) gives the index where a series' validation block starts
    (n: no validation, all origins train). Training windows end before it
    (targets from it on are unobserved); validation windows are every
    origin whose targets reach into the block, scored on the block only."""
    train, val = [], []
    for p in prepared:
        n = len(p["z"])
        start = cutoff(n)
        common = dict(timesteps=timesteps, horizon=horizon, season=season,
                      level=settings["level"], base=settings["base"], known=p["known"],
                      past=p["past"], static=p["static"])
        train.append(assemble(p["z"], np.arange(0, start - 1), observed_until=start, **common))
        if start < n:
            origins = np.arange(max(start - horizon, 0), n - 1)
            w = assemble(p["z"], origins, **common)
            w["y"][..., 1] *= (origins[:, None] + np.arange(1, horizon + 1)) >= start
            val.append(w)
    join = lambda parts: {k: np.concatenate([w[k] for w in parts]) for k in ("x", "mask", "y")}
    return join(train), (join(val) if val else None)


def train_member(train, val, features, horizon, settings, seed, epochs=None, verbose=0):
    """A network trained on pooled windows `train`: stopped early on `val`
    (restoring its best epoch) when given, else for `epochs` epochs.
    Returns (model, epochs trained to its kept weights, best validation loss)."""
    set_seed(seed)
    model = build_network(features, horizon, settings["quantiles"], settings["units"],
                          settings["layers"], settings["dropout"])
    lr = settings["learning_rate"]
    model.compile(loss=PinballLoss(settings["quantiles"]),
                  optimizer=lambda p: fastest(torch.optim.Adam, p, lr=lr), device="cpu")
    source = WindowBatches(train["x"], train["y"], train["mask"], settings["batch_size"],
                           settings["batches_per_epoch"], shuffle=True, seed=seed)
    callbacks, validation = [], None
    if val is not None:
        validation = WindowBatches(val["x"], val["y"], val["mask"], 1024, shuffle=False)
        stop = EarlyStopping("val_loss", patience=settings["patience"],
                             restore_best_weights=True)
        callbacks.append(stop)
    model.fit(source, validation_data=validation, epochs=epochs or settings["max_epochs"],
              verbose=verbose, seed=seed, callbacks=callbacks,
              clip_grad_norm=settings["clip_grad_norm"])
    if val is None:
        return model, epochs, None
    return model, stop.best_epoch + 1, stop.best
