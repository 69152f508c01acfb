"""keras.callbacks: Keras' protocol and built-in callbacks (lstmkit.callbacks).

`Callback` is lstmkit.callbacks.Callback: hooks with Keras' arguments,
`self.model`, `self.params`, `self.model.stop_training`. EarlyStopping and
CSVLogger here behave as Keras' (lstmkit.callbacks.KerasEarlyStopping,
KerasCSVLogger); lstmkit.callbacks.EarlyStopping and CSVLogger are lstmkit's
own, trainer-first ones. History is the object fit returns.
"""

from ..callbacks import Callback, History, LambdaCallback, LearningRateScheduler
from ..callbacks import KerasCSVLogger as CSVLogger
from ..callbacks import KerasEarlyStopping as EarlyStopping
from ..callbacks import ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN
from ._keras_names import KERAS_NAMES as _KERAS_NAMES
from ._support import refusals as _refusals

__all__ = ["Callback", "History", "LambdaCallback", "LearningRateScheduler", "CSVLogger",
           "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN"]

_HINTS = {
    "BackupAndRestore": "use fit(checkpoint_dir=..., resume=...): lstmkit's checkpoints "
                        "resume a run exactly",
    "OrbaxCheckpoint": "use fit(checkpoint_dir=...) or ModelCheckpoint",
    "TensorBoard": "use CSVLogger, or a Callback writing with torch.utils.tensorboard",
    "ProgbarLogger": "fit(verbose=1) shows a progress bar",
    "CallbackList": "pass a list to fit(callbacks=[...])",
    "RemoteMonitor": "write a Callback that posts the logs",
    "SwapEMAWeights": "the optimizers keep no moving average (use_ema is refused)",
}
__getattr__ = _refusals("callbacks", _KERAS_NAMES["callbacks"], _HINTS, "not offered", __all__)
