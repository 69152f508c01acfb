"""The loop's settings and hooks: gradient hooks and clipping, learning-rate
schedules in checkpoints, the checks a run passes before its first step."""

import functools
import warnings

import numpy as np
import pytest
import torch

from lstmkit import Sequential
from lstmkit.callbacks import EarlyStopping
from lstmkit.config import TrainConfig
from lstmkit.errors import InputError
from lstmkit.layers import LSTM, Dense

from conftest import StopAt, tutorial_model


class Gradients:
    """Records the global gradient norm at each hook and after clipping."""

    def __init__(self):
        self.after_backward, self.before_step, self.stepped = [], [], []

    def on_train_begin(self, trainer):
        trainer.optimizer.register_step_pre_hook(lambda opt, args, kwargs: self.stepped.append(
            norm(trainer.model)))

    def on_after_backward(self, trainer):
        self.after_backward.append(norm(trainer.model))

    def on_before_optimizer_step(self, trainer, optimizer):
        assert optimizer is trainer.optimizer
        self.before_step.append(norm(trainer.model))


def norm(model):
    return float(torch.linalg.vector_norm(torch.stack(
        [p.grad.norm() for p in model.parameters() if p.grad is not None])))


def test_gradient_hooks_see_the_gradients_and_clipping_bounds_their_norm(ids_data):
    x, y = ids_data
    seen = Gradients()
    model = tutorial_model()
    model.compile(loss="binary_crossentropy", optimizer=lambda p: torch.optim.SGD(p, lr=1.0))
    model.fit(x, y, batch_size=30, verbose=0, callbacks=[seen], clip_grad_norm=0.05, seed=0)
    assert len(seen.after_backward) == len(seen.before_step) == len(seen.stepped) == 10
    assert seen.after_backward == seen.before_step  # hooks run before clipping
    assert max(seen.before_step) > 0.05  # so clipping had work to do
    assert max(seen.stepped) <= 0.05 * (1 + 1e-5)


def test_clip_grad_value_bounds_every_element(ids_data):
    x, y = ids_data
    largest = []

    class Look:
        def on_train_begin(self, trainer):
            trainer.optimizer.register_step_pre_hook(lambda opt, a, k: largest.append(
                max(float(p.grad.abs().max()) for p in trainer.model.parameters())))

    tutorial_model().fit(x, y, batch_size=30, verbose=0, callbacks=[Look()], clip_grad_value=1e-3)
    assert max(largest) == pytest.approx(1e-3)  # float32 1e-3: clipping reached the bound


def step_decay():
    return functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)


def test_an_epoch_schedule_changes_the_rate_and_is_logged(ids_data):
    x, y = ids_data
    model = tutorial_model()
    history = model.fit(x, y, epochs=3, verbose=0, scheduler=step_decay())
    assert history.history["learning_rate"] == pytest.approx([5e-4, 2.5e-4, 1.25e-4])


def test_a_step_schedule_steps_after_each_update(ids_data):
    x, y = ids_data
    model = tutorial_model()
    history = model.fit(x, y, batch_size=100, epochs=2, verbose=0, scheduler=step_decay(),
                        scheduler_interval="step")
    assert history.history["learning_rate"] == pytest.approx([1e-3 / 2**3, 1e-3 / 2**6])


def test_a_plateau_schedule_reads_its_monitor(ids_data):
    x, y = ids_data
    plateau = functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=0, factor=0.1)
    with pytest.raises(InputError, match="scheduler_monitor 'val_loss' is not in the logs"):
        tutorial_model().fit(x, y, epochs=1, verbose=0, scheduler=plateau)
    history = tutorial_model().fit(x, y, epochs=2, verbose=0, scheduler=plateau,
                                   validation_split=0.2)
    assert len(history.history["learning_rate"]) == 2


def test_a_scheduled_run_resumes_bit_identical(tmp_path, ids_data):
    x, y = ids_data
    settings = dict(batch_size=30, epochs=3, verbose=0, seed=2, scheduler=step_decay(),
                    scheduler_interval="step", clip_grad_norm=0.5)
    whole = tutorial_model()
    whole.fit(x, y, callbacks=[StopAt(-1)], **settings)
    first = tutorial_model()
    first.fit(x, y, callbacks=[StopAt(14)], checkpoint_dir=tmp_path, **settings)
    second = tutorial_model()
    second.fit(x, y, callbacks=[StopAt(-1)], resume=tmp_path, **settings)
    for name, value in whole.state_dict().items():
        assert torch.equal(second.state_dict()[name], value), name
    assert second.optimizer.param_groups[0]["lr"] == whole.optimizer.param_groups[0]["lr"]


def test_resume_under_other_settings_is_refused(tmp_path, ids_data):
    x, y = ids_data
    tutorial_model().fit(x, y, batch_size=30, verbose=0, checkpoint_dir=tmp_path,
                         scheduler=step_decay())
    with pytest.raises(InputError, match="scheduler: the checkpoint was written with "
                                         "'StepLR\\(step_size=1, gamma=0.5\\)', this run has None"):
        tutorial_model().fit(x, y, batch_size=30, epochs=2, verbose=0, resume=tmp_path)
    # epochs may grow, and what is shown may change
    tutorial_model().fit(x, y, batch_size=30, epochs=2, verbose=2, resume=tmp_path,
                         scheduler=step_decay())


def test_resume_with_callbacks_added_or_removed_is_refused_naming_both(tmp_path, ids_data):
    x, y = ids_data
    tutorial_model().fit(x, y, batch_size=30, verbose=0, checkpoint_dir=tmp_path,
                         callbacks=[EarlyStopping(monitor="loss")])
    with pytest.raises(InputError, match=r"callbacks \['History', 'EarlyStopping'\], this run "
                                         r"has \['History'\]"):
        tutorial_model().fit(x, y, batch_size=30, epochs=2, verbose=0, resume=tmp_path)
    with pytest.raises(InputError, match=r"this run has \['History', 'EarlyStopping', "
                                         r"'EarlyStopping'\]"):
        tutorial_model().fit(x, y, batch_size=30, epochs=2, verbose=0, resume=tmp_path,
                             callbacks=[EarlyStopping(monitor="loss"), EarlyStopping()])


def test_the_config_is_saved_in_checkpoints(tmp_path, ids_data):
    from lstmkit.checkpoints import list_checkpoints, read_checkpoint
    x, y = ids_data
    config = TrainConfig(batch_size=30, clip_grad_norm=1.0, checkpoint_dir=str(tmp_path))
    tutorial_model().fit(x, y, config=config, verbose=0)
    saved = read_checkpoint(list_checkpoints(tmp_path)[-1])["config"]
    assert saved == {**config.to_json(), "verbose": 0}


def test_a_callable_initialiser_is_reported_before_training(tmp_path, ids_data):
    x, y = ids_data

    def model():
        m = Sequential([LSTM(4, kernel_initializer=torch.nn.init.normal_), Dense(1)])
        m.compile(loss="mse")
        return m

    data = np.zeros((8, 3, 2), np.float32), np.zeros(8, np.float32)
    with pytest.raises(InputError, match=r"checkpoints need a model that can be saved: "
                                         r"model.layers\[0\].config.kernel_initializer"):
        model().fit(*data, verbose=0, checkpoint_dir=tmp_path)
    with pytest.warns(UserWarning, match="can be trained but not saved"):
        model().fit(*data, verbose=0)


def test_a_stateful_model_needs_whole_batches_before_the_first_step():
    model = Sequential([LSTM(4, stateful=True), Dense(1)])
    model.compile(loss="mse")
    x, y = np.zeros((10, 3, 2), np.float32), np.zeros(10, np.float32)
    with pytest.raises(InputError, match="holds 10 samples, not a multiple of batch_size 4"):
        model.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    assert not model.built  # refused before anything was made
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, batch_size=5, shuffle=False, verbose=0)


def test_the_last_fits_settings_are_saved_with_the_model(tmp_path, ids_data):
    import lstmkit
    x, y = ids_data
    model = tutorial_model()
    model.fit(x, y, batch_size=30, verbose=0, clip_grad_norm=2.0)
    model.save(tmp_path / "m")
    saved = lstmkit.load_model(tmp_path / "m").training_config
    assert saved["batch_size"] == 30 and saved["clip_grad_norm"] == 2.0


def test_a_deeply_nested_checkpoint_is_a_model_file_error(tmp_path):
    import safetensors.torch
    from lstmkit.checkpoints import read_checkpoint
    from lstmkit.errors import ModelFileError
    state = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "ckpt-00001-000000001.safetensors"
    path.write_bytes(safetensors.torch.save({"t": torch.zeros(1)}, metadata={
        "format": "lstmkit.checkpoint", "format_version": "2", "state": state}))
    with pytest.raises(ModelFileError, match="damaged checkpoint state"):
        read_checkpoint(path)
