"""The loop's process-aware seams, with a fake two-process group: decisions
are taken together, side effects happen on the main process, sums cover
every process, random states are kept per process, and the loop works on
the raw model while a wrapper runs the steps."""

import os

import numpy as np
import pytest
import torch
from torch import nn

from lstmkit.callbacks import CSVLogger, EarlyStopping
from lstmkit.checkpoints import list_checkpoints, read_checkpoint
from lstmkit.config import TrainConfig
from lstmkit.data.sources import ArrayBatches
from lstmkit.distributed import SingleProcess
from lstmkit.errors import NonFiniteLossError
from lstmkit.train import Tally, fit_model

from conftest import tutorial_model


class FakeGroup(SingleProcess):
    """This process as rank `rank` of two; the other process is `peer`, a
    function (flag names, this process's global step) -> its flags, so a test
    scripts what the other process would have decided."""

    world_size = 2

    def __init__(self, rank=0, peer=None, peer_sums=None, peer_objects=None):
        self.rank, self.peer = rank, peer or (lambda names, step: {})
        self.peer_sums, self.peer_objects = peer_sums, peer_objects
        self.step = lambda: 0
        self.calls = []

    def any(self, **flags):
        self.calls.append(sorted(flags))
        theirs = self.peer(set(flags), self.step())
        return {k: bool(v) or bool(theirs.get(k, False)) for k, v in flags.items()}

    def sum_(self, tensor):
        return tensor + (self.peer_sums if self.peer_sums is not None else tensor)

    def gather(self, obj):
        other = self.peer_objects(obj) if self.peer_objects else obj
        return [obj, other] if self.rank == 0 else [other, obj]


class Watch:
    """Lets the fake group read the trainer's step."""

    def __init__(self, group):
        self.group = group

    def on_train_begin(self, trainer):
        self.group.step = lambda: trainer.global_step


def data():
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.integers(1, 20, size=(120, 12)))
    y = torch.as_tensor((x == 5).any(axis=1).float())[:, None]
    return x, y


def run(group, callbacks=(), model=None, network=None, resume=None, **settings):
    model = model or tutorial_model()
    x, y = data()
    model.build((None,))
    config = TrainConfig(batch_size=10, **{"verbose": 0, "epochs": 2, **settings})
    history = fit_model(model, ArrayBatches(x, y, 10, shuffle=True, seed=0), config,
                        callbacks=[Watch(group), *callbacks], resume=resume, group=group,
                        network=network)
    return model, history


def test_a_peers_ctrl_c_stops_this_process_at_the_same_step(tmp_path):
    group = FakeGroup(peer=lambda names, step: {"interrupted": step >= 5})
    _, history = run(group, checkpoint_dir=tmp_path, sync_every=4)
    # decided at the first sync point after the peer's Ctrl-C: step 8
    assert history.history == {} and history.last_checkpoint.endswith("ckpt-00000-000000008.safetensors")
    assert read_checkpoint(history.last_checkpoint)["batch"] == 8


def test_a_peers_nonfinite_loss_stops_every_process(tmp_path):
    group = FakeGroup(peer=lambda names, step: {"nonfinite": step >= 3})
    with pytest.raises(NonFiniteLossError, match="on another process"):
        run(group, sync_every=4)


def test_a_peers_early_stop_stops_this_process():
    group = FakeGroup(peer=lambda names, step: {"should_stop": True})
    _, history = run(group, epochs=5)
    assert len(history.epoch) == 1


def test_a_batch_is_skipped_everywhere_when_any_process_finds_it_nonfinite():
    group = FakeGroup(peer=lambda names, step: {"skip": step in (2, 7)})
    model, history = run(group, epochs=1, skip_nonfinite=True)
    assert history.history["skipped_batches"] == [2]


def test_decisions_are_taken_at_fixed_steps_with_several_processes():
    group = FakeGroup()
    run(group, epochs=1, sync_every=4)
    # 12 batches: a joint decision at steps 4, 8, 12, then the epoch's checks
    assert group.calls.count(["interrupted", "nonfinite"]) == 3
    assert ["should_stop"] in group.calls


def test_only_the_main_process_writes_and_prints(tmp_path, capsys):
    for rank in (0, 1):
        folder = tmp_path / f"rank{rank}"
        log = tmp_path / f"log{rank}.csv"
        run(FakeGroup(rank=rank), callbacks=[CSVLogger(log)], checkpoint_dir=folder, verbose=2)
        written = sorted(os.listdir(folder)) if folder.exists() else []
        shown = capsys.readouterr().err
        if rank == 0:
            assert len(written) == 2 and log.exists() and "Epoch 2/2" in shown
        else:
            assert written == [] and not log.exists() and shown == ""


def test_random_states_are_kept_per_process_and_restored_by_rank(tmp_path):
    def other_rng(obj):
        generator_state = torch.Generator().manual_seed(99).get_state()
        return {**obj, "rng": {**obj["rng"], "torch": generator_state}}

    seen = {}

    class Look:
        def on_train_begin(self, trainer):
            seen["rng"] = torch.get_rng_state()

    run(FakeGroup(peer_objects=other_rng), callbacks=[Look()], checkpoint_dir=tmp_path, epochs=1)
    state = read_checkpoint(list_checkpoints(tmp_path)[-1])
    assert len(state["processes"]) == 2
    assert torch.equal(state["processes"][1]["rng"]["torch"],
                       torch.Generator().manual_seed(99).get_state())
    run(FakeGroup(rank=1, peer_objects=other_rng), callbacks=[Look()], resume=tmp_path, epochs=2)
    assert torch.equal(seen["rng"], torch.Generator().manual_seed(99).get_state())


def test_shown_sums_cover_every_process():
    tally = Tally(["accuracy"], "cpu")
    tally.add([torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0])])
    peer = torch.tensor([6.0, 3.0, 4.0, 4.0], dtype=torch.float64)  # sums, then counts
    assert tally.read(FakeGroup(peer_sums=peer)) == {"loss": 10 / 6, "accuracy": 4 / 6}
    assert tally.read() == {"loss": 2.0, "accuracy": 0.5}


class Wrapper(nn.Module):
    """Stands for DistributedDataParallel: it holds the model as `module`."""

    def __init__(self, module):
        super().__init__()
        self.module, self.calls = module, 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.module(*args, **kwargs)


def test_a_wrapper_runs_the_steps_while_checkpoints_hold_the_raw_model(tmp_path):
    model = tutorial_model()
    model.build((None,))
    wrapper = Wrapper(model)
    assert all(k.startswith("module.") for k in wrapper.state_dict())
    run(SingleProcess(), model=model, network=wrapper, checkpoint_dir=tmp_path, epochs=1)
    assert wrapper.calls == 12
    state = read_checkpoint(list_checkpoints(tmp_path)[-1])
    assert set(state["model"]) == set(model.state_dict())


def test_early_stopping_state_resumes_on_every_process(tmp_path):
    stop = EarlyStopping(monitor="loss", patience=0)
    run(FakeGroup(rank=0), callbacks=[stop], checkpoint_dir=tmp_path, epochs=1)
    again = EarlyStopping(monitor="loss", patience=0)
    run(FakeGroup(rank=1), callbacks=[again], resume=tmp_path, epochs=1)
    assert again.best == stop.best
