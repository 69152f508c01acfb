"""Sequential: a stack of layers with Keras' compile / fit / evaluate / predict.

The model is a plain `torch.nn.Module`: `state_dict()`, `.to(device)`,
`parameters()` and hand-written PyTorch code work on it. Sizes are inferred
at the first call (or `build`), so the Embedding and LSTM input sizes are
never repeated. Data is checked and converted here, once, before any step;
the loop itself lives in train.py.
"""

import inspect
import os
import warnings

import numpy as np
import torch
from torch import nn

from . import __version__, files
from .config import TrainConfig
from .data.batching import check_finite, to_tensor
from .data.loaders import LoaderBatches, is_loader
from .data.preprocessing import read_preprocessing
from .data.sources import ArrayBatches, BatchSource
from .distributed import current_group, join_launch
from .errors import InputError, InputTypeError, ModelFileError, NotCompiledError
from .layers import LAYERS, Embedding, Layer
from .layers.spelling import Input
from .layers.core import ACTIVATIONS, layer_entry, set_weights_of, weights_of
from .metrics import prepare_target, resolve_loss, resolve_metrics
from .optimizers import OPTIMIZERS, check_optimizer, make_optimizer
from .schema import check_config
from .train import Trainer, fit_model, resolve_device, set_seed


class Sequential(nn.Module):
    """A linear stack of layers.

        model = Sequential()
        model.add(Embedding(1024, output_dim=256))
        model.add(LSTM(128))
        model.add(Dropout(0.5))
        model.add(Dense(1, activation="sigmoid"))
        model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
        model.fit(x_train, y_train, batch_size=16, epochs=10)
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__()
        self.name = name
        self.layers = nn.ModuleList()
        self.input_shape = None
        self.input_dtype = None
        self._compiled = None
        self.optimizer = None
        self.declared_input = None  # an Input(shape=...) given before the first layer
        self.metadata = {}  # JSON-able facts saved with the model (its task, its data)
        self.preprocessing = None  # what turns raw input into model input, saved with the model
        self.training_config = None  # the last fit's TrainConfig as JSON, saved with the model
        for layer in layers or []:
            self.add(layer)
        if trainable is not True:
            self.trainable = trainable

    @property
    def trainable(self):
        """Whether training updates any weight: setting it sets every layer's
        `trainable`, and those added later (Keras' model.trainable)."""
        if len(self.layers):
            return any(layer.trainable for layer in self.layers)
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value):
        if not isinstance(value, bool):
            raise InputTypeError(f"trainable must be True or False, got {value!r}")
        self.__dict__["_trainable"] = value
        for layer in self.layers:
            layer.trainable = value

    def get_layer(self, name=None, index=None):
        """A layer by the name it was given (name=...) or shown in summary()
        ('dense_2'), or by its index, as Keras' get_layer."""
        if name is None and index is None:
            raise InputError("get_layer needs a name or index=")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or not (
                    -len(self.layers) <= index < len(self.layers)):
                raise InputError(f"get_layer: no layer at index {index!r}; the model has "
                                 f"{len(self.layers)}")
            return self.layers[index]
        names = self.layer_names()
        if name not in names:
            raise InputError(f"get_layer: no layer named {name!r}; the layers are "
                             f"{', '.join(names)}")
        return self.layers[names.index(name)]

    def layer_names(self):
        """Each layer's name: the one it was given, else its type and index ('lstm_1')."""
        return [layer.name or f"{type(layer).__name__.lower()}_{i}"
                for i, layer in enumerate(self.layers)]

    # ----- structure -------------------------------------------------------

    def add(self, layer):
        """Append a layer (an lstmkit Layer). An `Input(shape=...)` first, or
        a first layer given `input_shape=` (Keras' spellings), builds the
        model at once."""
        if isinstance(layer, Input):
            if len(self.layers) or self.built:
                raise InputError("Input must come first in a Sequential")
            self.declared_input = layer
            return
        if not isinstance(layer, Layer):
            raise InputTypeError(
                f"Sequential.add takes an lstmkit layer, got {type(layer).__name__}"
            )
        if len(self.layers) and getattr(self.layers[-1], "return_state", False):
            raise InputError(
                "a layer with return_state=True returns a tuple and must be the last in a "
                "Sequential; to carry states, call the model with return_state=True instead"
            )
        if len(self.layers) and getattr(self.layers[-1], "merge_mode", "concat") is None:
            raise InputError(
                "Bidirectional(merge_mode=None) returns a pair (forward, backward) and must be the "
                "last in a Sequential; use merge_mode='concat', 'sum', 'mul' or 'ave'"
            )
        names = self.layer_names()
        if layer.name is not None and layer.name in names:
            raise InputError(f"a layer named {layer.name!r} is in the model already (the names: "
                             f"{', '.join(names)}); each layer's name must be unique, as Keras'")
        self.layers.append(layer)
        if not self.__dict__.get("_trainable", True):  # Sequential(trainable=False) holds for all
            layer.trainable = False
        if self.built:
            shape = self.input_shape
            for previous in self.layers[:-1]:
                shape = previous.output_shape(shape)
            layer.build(shape)
            layer.freeze_untrainable()
            self.tie_weights()
            self.optimizer = None  # made afresh at the next fit, holding the new weights
        elif len(self.layers) == 1:
            declared = self.declared_input.shape if self.declared_input is not None else (
                getattr(layer, "declared_input_shape", None)
                or getattr(getattr(layer, "layer", None), "declared_input_shape", None))
            if declared is not None:
                dtype = getattr(self.declared_input, "dtype", None)
                self.build_per_sample(declared, None if dtype is None else
                                      "int64" if "int" in dtype else "float32")

    @property
    def built(self):
        return self.input_shape is not None

    def build(self, input_shape, dtype=None):
        """Create every layer's parameters for inputs of `input_shape`.

        As in Keras, the shape starts with the batch axis: (None, timesteps,
        features) for an LSTM first, (None, timesteps) for an Embedding
        first; None marks a size that may vary. A shape without the batch
        axis (lstmkit's earlier form) is still read where the first layer's
        input rank tells the two apart (Embedding, LSTM, GRU, Bidirectional,
        Masking)."""
        if not self.layers:
            raise InputError("the model has no layers: add some before building it")
        shape = tuple(input_shape)
        rank = getattr(self.layers[0], "input_rank", None)
        if rank is None or len(shape) == rank + 1:
            shape = shape[1:]  # the batch axis
        elif len(shape) != rank:
            raise InputError(
                f"build: input_shape {shape} does not fit a first {type(self.layers[0]).__name__}, "
                f"which takes {rank + 1}-D input (batch, {', '.join(['...'] * rank)})")
        self.build_per_sample(shape, dtype)

    def build_per_sample(self, input_shape, dtype=None):
        """Create every layer's parameters for per-sample `input_shape`
        (without the batch axis; None for a variable number of steps)."""
        if not self.layers:
            raise InputError("the model has no layers: add some before building it")
        shape = tuple(input_shape)
        if self.built and shape == tuple(self.input_shape):
            return  # as Keras: built once, its weights (trained or not) kept
        self.input_dtype = dtype or ("int64" if isinstance(self.layers[0], Embedding) else "float32")
        for layer in self.layers:
            layer.build(shape)
            layer.freeze_untrainable()
            shape = layer.output_shape(shape)
        self.tie_weights()
        self.input_shape = tuple(input_shape)
        self.optimizer = None  # new weights: the optimizer is made for them at the next fit

    def tie_weights(self):
        """Give each Dense(tie_weights=True) the first Embedding's table as its kernel."""
        embeddings = [layer for layer in self.layers if isinstance(layer, Embedding)]
        for layer in self.layers:
            inner = getattr(layer, "layer", layer)  # inside TimeDistributed
            if getattr(inner, "tie_weights", False) is True:
                if not embeddings:
                    raise InputError("Dense(tie_weights=True) needs an Embedding in the model "
                                     "to share its table")
                inner.tie(embeddings[0])

    def output_shape(self, input_shape=None):
        """Per-sample output shape, for the built input shape or a given one."""
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def _build_from(self, x):
        # the steps axis of a sequence input varies from batch to batch
        per_sample = tuple(x.shape[1:])
        if per_sample and (len(per_sample) >= 2 or isinstance(self.layers[0], Embedding)):
            per_sample = (None,) + per_sample[1:]
        self.build_per_sample(per_sample, "int64" if not x.is_floating_point() else "float32")

    def forward(self, x, *, mask=None, state=None, logits=False, return_mask=False,
                return_state=False):
        """Run the layers in order, carrying the padding mask between them.

        Args:
            x: a batch, (N, T, F) floats or (N, T) ids.
            mask: (N, T) bools, True at real steps, for input whose padding
                no layer marks (a batch source of ragged sequences gives one).
            state: {layer index: states} to start recurrent layers from, each
                states the tuple `return_state` gave ((h, c) or (h,), each
                (L*D, N, ·)); layers not named start from zeros (or, when
                stateful, from what they carry).
            logits: skip the last layer's activation (the losses use it for
                stable cross-entropy).
            return_mask: also return the mask that comes out of the last
                layer (None, or (N, T) for per-step outputs), which the loop
                uses to leave padded steps out of losses and metrics.
            return_state: also return {layer index: final states} of every
                recurrent layer, still in the graph: the caller carries them
                to the next chunk (and detaches them between steps).

        Returns the output, then the mask and the state as asked, in that order.
        """
        out, mask, new_state = self.run(x, mask, state, logits, return_state)
        extra = ((mask,) if return_mask else ()) + ((new_state,) if return_state else ())
        return (out, *extra) if extra else out

    def run(self, x, mask=None, state=None, logits=False, return_state=False):
        """The layers in order; returns (output, mask, final states or None)."""
        if not isinstance(x, torch.Tensor):  # a NumPy array or a list, as Keras takes them
            x = to_tensor(x, "x", integer=isinstance(self.layers[0], Embedding))
        if not self.built:
            self._build_from(x)
        if mask is not None and bool(mask.all()):
            mask = None  # no padding: every layer's faster path, and the same result
        final = {} if return_state else None
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if layer.recurrent and (return_state or state):
                out, layer_final = layer.run(x, mask, state.get(i) if state else None,
                                             return_state)
                if return_state:
                    final[i] = layer_final
            elif i == last and logits and layer.activation is not None:
                out = layer(x, mask=mask, activation=False)
            else:
                out = layer(x, mask=mask)
            mask = layer.compute_mask(x, mask)
            x = out
        return x, mask, final

    def reset_states(self):
        """Forget the state that stateful layers carry between batches."""
        for layer in self.layers:
            if layer.recurrent:
                layer.reset_states()

    @property
    def stateful(self):
        """Whether a layer carries its state from batch to batch (Keras' stateful)."""
        return any(layer.recurrent and layer.stateful for layer in self.layers)

    def recurrent_states(self):
        """The states stateful layers carry, by layer index (for checkpoints)."""
        return {i: layer.states for i, layer in enumerate(self.layers)
                if layer.recurrent and layer.states is not None}

    def set_recurrent_states(self, states):
        for i, value in states.items():
            self.layers[int(i)].states = tuple(value)

    def pop(self):
        """Remove the last layer (as Keras' Sequential.pop); the optimizer is
        made afresh at the next fit."""
        if not len(self.layers):
            raise InputError("pop: the model has no layers")
        layer = self.layers[-1]
        del self.layers[-1]
        self.optimizer = None
        return layer

    def get_weights(self):
        """The weights as a list of NumPy arrays, in the order and the layout of
        `state_dict()` (PyTorch's: a Dense kernel is (out, in), an LSTM keeps
        two bias vectors), for `set_weights` on a model of the same architecture."""
        return weights_of(self)

    def set_weights(self, weights):
        """Load arrays as `get_weights` gives them, checked name by name."""
        if not self.built:
            raise InputError("set_weights: the model is not built yet; build it first "
                             "(model.build(...)), or load_state_dict a trained model's weights")
        set_weights_of(self, weights, "set_weights")

    @property
    def weights(self):
        """Every parameter and buffer (a batch norm's moving statistics), as
        Keras' model.weights; trainable_weights the parameters training updates."""
        return [*self.parameters(), *self.buffers()]

    @property
    def trainable_weights(self):
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self):
        return [*(p for p in self.parameters() if not p.requires_grad), *self.buffers()]

    def count_params(self):
        """The number of weights (parameters), as summary()'s total."""
        if not self.built:
            raise InputError("count_params: the model is not built yet; build it or give it "
                             "data first")
        return sum(p.numel() for p in self.parameters())

    def save_weights(self, filepath):
        """The weights alone, as one safetensors file written atomically (Keras'
        save_weights; name it '*.weights.safetensors'). load_weights reads it."""
        files.refuse_hdf5(filepath, "save_weights", "a '.safetensors' file "
                                                     "('model.weights.safetensors')")
        if not self.built:
            raise InputError("save_weights: the model is not built yet: train it or call "
                             "build() first")
        if current_group().is_main:
            files.write_weights_file(filepath, self.state_dict())

    def load_weights(self, filepath):
        """Weights from a file save_weights (or ModelCheckpoint with
        save_weights_only) wrote, into a model of the same architecture;
        an unbuilt one is built for the sizes they imply. Never unpickles."""
        files.refuse_hdf5(filepath, "load_weights", "a '.safetensors' file save_weights wrote")
        tensors = files.read_weights_file(filepath)
        if not self.built:
            self.build_per_sample(*input_shape_from_weights(self, tensors))
        expected = {k: (v.shape, v.dtype) for k, v in self.state_dict().items()}
        files.check_weights(tensors, expected, os.fspath(filepath), against="this model")
        self.load_state_dict(tensors)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """torch's load_state_dict; an unbuilt model is first built for the
        input size the first weights imply, so a fresh model takes the
        state dict of a trained one."""
        if not self.built and len(self.layers):
            self.build_per_sample(*input_shape_from_weights(self, state_dict))
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def output_activation(self):
        """The last layer's activation function (None for none or linear)."""
        last = self.layers[-1] if len(self.layers) else None
        return ACTIVATIONS[last.activation] if last is not None and last.activation else None

    def summary(self, print_fn=print):
        """Print each layer's output shape and parameter count, as Keras does."""
        rows = []
        shape = self.input_shape
        for layer, given in zip(self.layers, self.layer_names()):
            name = f"{given} ({type(layer).__name__})"
            if shape is not None:
                shape = layer.output_shape(shape)
                shown = str((None, *shape)).replace("None", "None")
                count = sum(p.numel() for p in layer.parameters())
            else:
                shown, count = "? (not built)", "?"
            rows.append((name, shown, str(count)))
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                  for i, h in enumerate(("Layer (type)", "Output Shape", "Param #"))]
        line = "  ".join("{:<%d}" % w for w in widths)
        rule = "=" * (sum(widths) + 4)
        print_fn(rule)
        print_fn(line.format("Layer (type)", "Output Shape", "Param #"))
        print_fn(rule)
        for row in rows:
            print_fn(line.format(*row))
        print_fn(rule)
        if self.built:
            total = sum(p.numel() for p in self.parameters())
            trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
            print_fn(f"Total params: {total:,}")
            print_fn(f"Trainable params: {trainable:,}")
            print_fn(f"Non-trainable params: {total - trainable:,}")
            if any(layer.recurrent for layer in self.layers):
                print_fn("(LSTM and GRU layers count PyTorch's two bias vectors, where Keras has "
                         "one: 4 x units more an LSTM, 3 x units a GRU, per layer and direction)")
        else:
            print_fn("Not built yet: call build(input_shape), fit, or the model on a batch.")

    # ----- training ----------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, device="auto", **keras):
        """Choose the optimizer, loss and metrics (Keras' order; a loss name
        given first, as lstmkit 0.1 took it, is read as the loss).

        Args:
            loss: 'binary_crossentropy', 'categorical_crossentropy',
                'sparse_categorical_crossentropy', 'mse' / 'mean_squared_error',
                'mae' / 'mean_absolute_error', or a callable
                `loss(y_pred, y_true) -> scalar tensor`.
            optimizer: 'rmsprop' (default), 'adam', 'adamw', 'sgd' with Keras'
                defaults; a torch.optim.Optimizer class (torch's defaults), a
                callable `f(params) -> optimizer`, or an instance made on this
                model's parameters.
            metrics: names ('accuracy' picks binary, categorical or sparse
                accuracy from the loss, as Keras does; 'mse', 'mae') or
                callables `m(y_pred, y_true) -> per-sample values`.
            device: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', ...

        Keras' other arguments are taken where lstmkit does what they ask
        (run_eagerly, jit_compile=False, steps_per_execution=1) and refused
        with the reason otherwise (KERAS_COMPILE).
        """
        _check_keras_compile(keras)
        if not len(self.layers):
            raise InputError("the model has no layers: add some before compile")
        if is_loss_name(optimizer) and (loss is None or is_optimizer_name(loss)):
            optimizer, loss = ("rmsprop" if loss is None else loss), optimizer
        if loss is None:
            raise InputError("compile needs a loss, e.g. compile(optimizer='rmsprop', "
                             "loss='binary_crossentropy')")
        last = self.layers[-1]
        resolved = resolve_loss(loss, last.activation)
        metric_list = [] if metrics is None else [metrics] if isinstance(metrics, str) or callable(
            metrics) else list(metrics)
        self._compiled = {
            "loss": resolved,
            "metrics": resolve_metrics(metrics, resolved),
            "optimizer": check_optimizer(optimizer),
            "device": resolve_device(device),
            # what save() records; only names can be saved and reloaded
            "config": {
                "loss": loss if isinstance(loss, str) else None,
                "optimizer": optimizer if isinstance(optimizer, str) else None,
                "metrics": [m for m in metric_list if isinstance(m, str)],
            },
            "unsaved": [f"{what} {getattr(value, '__name__', type(value).__name__)!r}"
                        for what, value in [("loss", loss), ("optimizer", optimizer),
                                            *(("metric", m) for m in metric_list)]
                        if not isinstance(value, str)],
        }
        # made now where the weights exist (model.optimizer.learning_rate, as after Keras'
        # compile); an unbuilt model's at its first fit
        weighted = self.built and next(self.parameters(), None) is not None
        self.optimizer = make_optimizer(self._compiled["optimizer"], self) if weighted else None

    def _require_compiled(self, method):
        if self._compiled is None:
            raise NotCompiledError(
                f"call model.compile(loss=..., optimizer=...) before model.{method}()"
            )
        last = self.layers[-1] if len(self.layers) else None
        if getattr(last, "return_state", False) or getattr(last, "merge_mode", "") is None:
            raise InputError(
                f"model.{method}() scores one output, and the last layer returns several "
                f"({'return_state=True' if getattr(last, 'return_state', False) else 'merge_mode=None'}"
                "): predict() gives them all; to train, end the model with one output")
        if method == "fit" and self.built and not any(p.requires_grad for p in self.parameters()):
            raise InputError("fit: no weight is trainable (every layer has trainable=False); "
                             "set some layer's trainable = True, or evaluate / predict instead")
        return self._compiled

    def _prepare(self, x, y, argument_x="x", argument_y="y"):
        """Convert and check a whole data set once, before any step."""
        if not len(self.layers):
            raise InputError("the model has no layers")
        x = to_tensor(x, argument_x, integer=isinstance(self.layers[0], Embedding))
        check_finite(x, argument_x)
        self.layers[0].check_input(x, argument_x)
        dtype = self.parameter_dtype()
        if x.is_floating_point() and dtype is not None and x.dtype != dtype:
            x = x.to(dtype)  # a model cast with .double() or .half() reads its own precision
        if y is None:
            return x, None
        y = to_tensor(y, argument_y)
        if len(x) != len(y):
            raise InputError(
                f"{argument_x} and {argument_y} hold different numbers of samples: "
                f"{len(x)} and {len(y)}"
            )
        check_finite(y, argument_y)
        return x, y

    def _check_built_for(self, x, argument):
        """x's per-sample shape must fit the built one (None matches any length)."""
        if not self.built:
            return
        got = tuple(x.shape[1:])
        if len(got) != len(self.input_shape) or any(
                want is not None and want != size for want, size in zip(self.input_shape, got)):
            raise InputError(
                f"{argument} has per-sample shape {got}, the model was built for {self.input_shape}"
            )

    def fit(self, x, y=None, batch_size=None, epochs=None, verbose=None, callbacks=None,
            validation_split=None, validation_data=None, shuffle=None, class_weight=None,
            sample_weight=None, *, config=None, resume=None, **settings):
        """Train on (x, y), or on a batch source; returns a History.

        Args:
            x: (samples, timesteps, features) floats, (samples, timesteps) ids
                for an Embedding, or a list of variable-length sequences
                (padded with zeros before, as Keras' pad_sequences does); or
                a batch source (lstmkit.data.sources.BatchSource), with y None.
            y: labels or targets, one per sample.
            batch_size, epochs, verbose, validation_split, shuffle: as in
                Keras; None keeps the config's value (defaults 32, 1, 1, 0.0,
                True; see lstmkit.config.TrainConfig); verbose='auto' (Keras'
                default) is 1.
            callbacks: objects with on_* methods (see lstmkit.callbacks).
            validation_data: (x_val, y_val) or (x_val, y_val, weights), or a
                batch source, used instead of validation_split.
            class_weight: {class id: weight} for the loss (as Keras: classes
                not named weigh 1), for classification losses.
            sample_weight: a weight per sample (N,), or per step (N, T) for
                per-step outputs; the loss is the mean of weighted values.
            config: a TrainConfig holding every setting; the keyword
                arguments override its fields.
            resume: a checkpoint file, or a folder (its newest checkpoint),
                to continue from: the run ends exactly as an uninterrupted one.
                The model, the settings that steer training (batch size,
                shuffling, clipping, schedule, ...), the data's size and the
                callbacks must be those it was written with.
            **settings: any other TrainConfig field: seed, checkpoint_dir,
                checkpoint_every, keep_checkpoints, bucket_by_length,
                skip_nonfinite, clip_grad_norm, clip_grad_value, scheduler,
                scheduler_interval, scheduler_monitor, sync_every, precision
                ('mixed_bfloat16' or 'bf16': the forward passes in bfloat16,
                lstmkit.precision).

        Ctrl-C stops after the current step (writing a checkpoint if
        checkpoint_dir is set) and returns the History so far, its
        `interrupted` True; a second Ctrl-C stops at once. A non-finite
        loss raises NonFiniteLossError.
        """
        compiled = self._require_compiled("fit")
        join_launch(compiled["device"])  # under torchrun: join its processes (DDP)
        verbose = 1 if verbose == "auto" else verbose  # Keras' default, a bar per epoch here
        keras = {"batch_size": batch_size, "epochs": epochs, "verbose": verbose,
                 "validation_split": validation_split, "shuffle": shuffle}
        config = (config or TrainConfig()).replace(
            **{k: v for k, v in keras.items() if v is not None}, **settings)
        if is_loader(x):
            x = self._loader_source(x, y, config, compiled["loss"])
            if is_loader(validation_data):
                validation_data = self._loader_source(validation_data, None,
                                                      config.replace(shuffle=False,
                                                                     steps_per_epoch=None),
                                                      compiled["loss"])
            y = None
        if isinstance(x, BatchSource):
            if sample_weight is not None or class_weight is not None:
                raise InputError("sample_weight and class_weight go with arrays x and y; a "
                                 "batch source gives weights as the fourth item of its batches")
            source, validation = self._sources_given(x, y, validation_data, config)
        else:
            source, validation = self._sources_from_arrays(x, y, validation_data, config,
                                                           compiled["loss"], sample_weight,
                                                           class_weight)
        self._check_saveable(config)
        group = current_group()
        if group.world_size > 1 and config.seed is not None:
            set_seed(config.seed + group.rank)  # the same weights (DDP broadcasts them), own dropout
        return fit_model(self, source, config, validation, callbacks, resume, group)

    def _sources_from_arrays(self, x, y, validation_data, config, loss, sample_weight=None,
                             class_weight=None):
        """Check and convert the whole data set once, seed, build the model,
        and slice the validation part off: (train source, validation source)."""
        if y is None:
            raise InputError("fit needs targets y with arrays x (or a batch source as x)")
        x, y = self._prepare(x, y)
        weights = None if sample_weight is None else sample_weights(sample_weight, len(x),
                                                                    "sample_weight")
        validation_weights = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise InputError("validation_data must be a pair (x_val, y_val), or "
                                 "(x_val, y_val, sample_weight_val)")
            validation = self._prepare(*validation_data[:2], "validation_data[0]",
                                       "validation_data[1]")
            if len(validation_data) == 3 and validation_data[2] is not None:
                validation_weights = sample_weights(validation_data[2], len(validation[0]),
                                                    "validation_data[2]")
        elif config.validation_split:
            cut = int(len(x) * (1 - config.validation_split))
            if cut == 0 or cut == len(x):
                raise InputError(
                    f"validation_split={config.validation_split} leaves an empty training or "
                    f"validation set with {len(x)} samples"
                )
            x, y, validation = x[:cut], y[:cut], (x[cut:], y[cut:])
            if weights is not None:
                weights, validation_weights = weights[:cut], weights[cut:]
        else:
            validation = None
        self._check_stateful(config, len(x), None if validation is None else len(validation[0]))
        if config.seed is not None:
            set_seed(config.seed)
        # shuffling draws from its own generator, so a resumed run can draw an
        # epoch's order again without disturbing dropout's random stream
        shuffle_seed = config.seed if config.seed is not None else current_group().gather(
            int(torch.randint(2**62, ())))[0]  # one order for every process
        self._check_built_for(x, "x")
        if not self.built:
            self._build_from(x)
        y = prepare_target(y, self.output_shape(x.shape[1:]), loss)
        if class_weight is not None:
            by_class = class_weights(class_weight, y, loss)
            weights = by_class if weights is None else weights * by_class
        lengths = None
        if config.bucket_by_length:
            mask = self.layers[0].compute_mask(x, None)
            if mask is None:
                raise InputError("bucket_by_length needs a mask: start the model with "
                                 "Embedding(mask_zero=True) or Masking()")
            lengths = mask.sum(1)
        source = ArrayBatches(x, y, config.batch_size, config.shuffle, shuffle_seed, lengths,
                              weights=weights)
        if validation is not None:
            self._check_built_for(validation[0], "validation x")
            validation = ArrayBatches(validation[0], prepare_target(
                validation[1], self.output_shape(validation[0].shape[1:]), loss,
                "validation y"), config.batch_size, weights=validation_weights)
        return source, validation

    def _loader_source(self, data, y, config, loss):
        """A DataLoader, Dataset or iterable of batches as a batch source,
        each batch checked as `fit(x, y)` checks arrays."""
        if y is not None:
            raise InputError("with a DataLoader, Dataset or iterable as x, the targets come from "
                             "its batches: pass y=None")

        def prepare(x, y):
            x, y = self._prepare(x, y)
            if y is None:
                return x, None
            return x, prepare_target(y, self.output_shape(x.shape[1:]), loss)

        seed = config.seed if config.seed is not None else int(torch.randint(2**62, ()))
        return LoaderBatches(data, prepare, config.batch_size, config.shuffle, seed,
                             config.steps_per_epoch)

    def _sources_given(self, source, y, validation, config):
        """A batch source to train on as it is: seed, and build the model
        from its first batch (drawn, then the source's state put back)."""
        if y is not None:
            raise InputError("with a batch source as x, the targets come from the source: "
                             "pass y=None")
        if validation is not None and not isinstance(validation, BatchSource):
            raise InputError("with a batch source as x, validation_data must be a batch source")
        if config.validation_split:
            raise InputError("validation_split cannot split a batch source: pass "
                             "validation_data=another source")
        if self.stateful and source.carries_state:
            raise InputError("a stateful layer and a source that carries state would both carry "
                             "it: build the layers with stateful=False")
        if config.seed is not None:
            set_seed(config.seed)
        if not self.built:
            self._build_from_source(source)
        return source, validation

    def _build_from_source(self, source):
        """Build from a source's first batch, drawn, then the source's state put back."""
        if hasattr(source, "peek"):
            return self._build_from(source.peek())
        kept = source.state_dict()
        first = next(iter(source.batches(0)), None)
        if first is None:
            raise InputError("the batch source yields no batches")
        source.load_state_dict(kept)
        self._build_from(first[0])

    def _check_stateful(self, config, samples, validation_samples):
        """A stateful layer carries state from batch slot to batch slot: the
        batches must come in order and all be the same size."""
        if not self.stateful:
            return
        if config.shuffle:
            raise InputError("a stateful LSTM needs the batches in order: pass shuffle=False")
        for name, n in (("the training data", samples), ("the validation data", validation_samples)):
            if n is not None and n % config.batch_size:
                raise InputError(
                    f"a stateful LSTM needs batches of one size: {name} holds {n} samples, not "
                    f"a multiple of batch_size {config.batch_size}; use a batch size that "
                    f"divides {n}, or drop {n % config.batch_size} samples")

    def _check_saveable(self, config):
        """A model holding callables (an initialiser function) trains, but its
        configuration cannot be written: refuse before training when
        checkpoints are asked for, and warn otherwise."""
        found = callables_in(self.get_config(), "model")
        if not found:
            return
        message = (f"{found[0]} is a callable, which a model file cannot hold (use one of the "
                   "named initialisers)")
        if config.checkpoint_dir is not None:
            raise InputError(f"checkpoints need a model that can be saved: {message}")
        warnings.warn(f"this model can be trained but not saved: {message}", stacklevel=3)

    def evaluate(self, x, y=None, batch_size=None, verbose=0, sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics on (x, y), or on a batch source: a float if there
        are no metrics, else [loss, metric, ...] (a dict with
        return_dict=True), as Keras returns. batch_size defaults to 32;
        callbacks get the on_test_* hooks. sample_weight and steps are not
        supported yet and are refused."""
        _refuse_unsupported(sample_weight=sample_weight, steps=steps)
        compiled = self._require_compiled("evaluate")
        if isinstance(x, BatchSource):
            if not self.built:
                self._build_from_source(x)
            source = x
        else:
            batch_size = 32 if batch_size is None else batch_size
            _check_int(batch_size, "batch_size")
            x, y = self._prepare(x, y)
            if y is None:
                raise InputError("evaluate needs targets y with arrays x")
            if not self.built:  # as Keras: the model builds from the data it first gets
                self._build_from(x)
            self._check_built_for(x, "x")
            y = prepare_target(y, self.output_shape(x.shape[1:]), compiled["loss"])
            source = ArrayBatches(x, y, batch_size)
        self.to(compiled["device"])
        trainer = Trainer(self, compiled["loss"], compiled["metrics"], None, compiled["device"],
                          callbacks=callbacks)
        logs = trainer.evaluate(source)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict_on_batch(self, x):
        """The outputs for x as one batch (Keras' predict_on_batch)."""
        return self.predict(x, batch_size=max(len(x), 1))

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on x as one batch (Keras' test_on_batch)."""
        return self.evaluate(x, y, batch_size=max(len(x), 1), sample_weight=sample_weight,
                             return_dict=return_dict)

    @property
    def metrics_names(self):
        """'loss' and each metric's name as the logs show it, once compiled."""
        if self._compiled is None:
            return []
        return ["loss", *(m.name for m in self._compiled["metrics"])]

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)  # torch's: parameters, buffers, sub-modules
        except AttributeError:
            if name in KERAS_MODEL_HINTS:
                from .keras._support import NotSupportedAttribute

                raise NotSupportedAttribute(f"Keras' model.{name} is not supported by lstmkit: "
                                            f"{KERAS_MODEL_HINTS[name]}") from None
            raise

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """The model's outputs for x, as a NumPy array (samples, ...), in
        batches of batch_size (default 32); callbacks get the on_predict_*
        hooks. verbose is accepted for Keras' sake (nothing is shown); steps
        is not supported and is refused."""
        _refuse_unsupported(steps=steps)
        batch_size = 32 if batch_size is None else batch_size
        _check_int(batch_size, "batch_size")
        x, _ = self._prepare(x, None)
        if not self.built:
            self._build_from(x)
        self._check_built_for(x, "x")
        weight = next(self.parameters(), None)  # a model of pooling layers alone has none
        device = (self._compiled["device"] if self._compiled else
                  weight.device if weight is not None else torch.device("cpu"))
        self.to(device)
        out = Trainer(self, None, [], None, device, callbacks=callbacks).predict(x, batch_size)
        as_numpy = lambda t: (t.float() if t.dtype == torch.bfloat16 else t).numpy()  # no bf16
        # several outputs (a last layer with return_state=True): a list, as Keras gives
        return [as_numpy(t) for t in out] if isinstance(out, tuple) else as_numpy(out)

    def step(self, x, state=None, lengths=None, reset=None, impl="auto"):
        """Streaming inference: `y, state = model.step(x_t, state)` runs one
        step (N, ...) or a chunk (N, T, ...) from `state` (None: afresh) and
        returns the output and the state for the next call; fed step by step,
        the outputs equal the whole sequence's. `lengths` (N,) marks the real
        steps at the front of each row; `reset` (N,) bools restarts those
        sample slots; `impl` picks the fused kernel or the cell. See
        lstmkit.streaming.step."""
        from .streaming import step

        return step(self, x, state, lengths, reset, impl)

    def generate(self, prompt, length, temperature=1.0, top_k=None, top_p=None, seed=None):
        """A language model's text after `prompt`, as an iterator of tokens'
        texts, one at a time, the state carried from token to token (the
        prompt is read once). See lstmkit.generate.generate."""
        from .generate import generate

        return generate(self, prompt, length, temperature, top_k, top_p, seed)

    def export(self, path, format="onnx", verify=True):
        """Write the model as an ONNX graph with step's contract (inputs x,
        lengths and the state; outputs the output and the new state), and a
        text model's vocabulary beside it; checked by onnxruntime against
        lstmkit when `verify`. Needs the `onnx` extra. See lstmkit.export."""
        if format != "onnx":
            raise InputError(f"export format must be 'onnx', got {format!r}")
        from .export import export_onnx

        return export_onnx(self, path, verify=verify)

    def parameter_dtype(self):
        """The floating dtype of the weights once built (None before)."""
        for p in self.parameters():
            if p.is_floating_point():
                return p.dtype
        return None

    # ----- files -------------------------------------------------------------

    def get_config(self):
        return {
            "class": "Sequential",
            "input_shape": list(self.input_shape) if self.built else None,
            "input_dtype": self.input_dtype,
            "layers": [layer_entry(layer) for layer in self.layers],
        }

    def save(self, path, metadata=None, preprocessing=None):
        """Save to folder `path` (or to one file, for a path ending in .keras,
        .lstmkit or .safetensors): config.json (architecture, compile settings,
        JSON-able `metadata`, the `preprocessing` object's JSON, the last
        fit's settings) and model.safetensors (weights). In a run of several
        processes (torchrun) only the main one writes. Metadata and preprocessing default to
        the model's own (those it was loaded with). Loading never unpickles;
        see lstmkit.files.

        A loss, optimizer or metric given as a callable or an object cannot
        be written: the file keeps the names only, and saving warns which."""
        files.refuse_hdf5(path, "save", "'model.keras' (one safe file) or a folder")
        if not self.built:
            raise InputError("the model is not built yet: train it or call build() before save")
        if not current_group().is_main:
            return  # under torchrun every process holds the same weights: the main one writes
        found = callables_in(self.get_config(), "model")
        if found:
            raise ModelFileError(f"the model cannot be saved: {found[0]} is a callable, and "
                                 "callables cannot be written to a model file; build it with a "
                                 "named initialiser")
        preprocessing = preprocessing if preprocessing is not None else self.preprocessing
        compiled = self._compiled["config"] if self._compiled else None
        if self._compiled and self._compiled["unsaved"]:
            warnings.warn(f"saving without the compile settings {', '.join(self._compiled['unsaved'])}"
                          ": a file holds names only; the model loads "
                          + ("uncompiled" if compiled["loss"] is None or compiled["optimizer"] is None
                             else "without them"), stacklevel=2)
        config = {
            "lstmkit_version": __version__,
            "model": self.get_config(),
            "compile": compiled,
            "metadata": self.metadata if metadata is None else metadata,
            "preprocessing": preprocessing.document() if preprocessing is not None else None,
            "training_config": self.training_config,
        }
        if files.is_single_file(path):
            files.write_model_file(path, config, self.state_dict())
        else:
            files.write_model(path, config, self.state_dict())


MAX_INPUT_RANK = 8


def callables_in(config, where):
    """The places in a get_config() result that hold a callable (which JSON
    cannot), as 'model.layers[1].kernel_initializer'."""
    if callable(config) and not isinstance(config, type):
        return [where]
    if isinstance(config, dict):
        return [p for k, v in config.items() for p in callables_in(v, f"{where}.{k}")]
    if isinstance(config, (list, tuple)):
        return [p for i, v in enumerate(config) for p in callables_in(v, f"{where}[{i}]")]
    return []


def _layer_from_config(entry, where):
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ModelFileError(f"{where}: each layer must be {{'class': ..., 'config': {{...}}}}")
    name = entry.get("class")
    if name not in LAYERS:
        raise ModelFileError(
            f"{where}: unknown layer type {name!r}; known: {', '.join(LAYERS)}"
        )
    cls = LAYERS[name]
    accepted = {name for name, p in inspect.signature(cls.__init__).parameters.items()
                if name != "self" and p.kind is not p.VAR_KEYWORD}
    unknown = set(entry["config"]) - accepted
    if unknown:
        raise ModelFileError(f"{where}: {name} has no argument(s) {sorted(unknown)}")
    config = dict(entry["config"])
    if isinstance(config.get("layer"), dict):  # a wrapper (Bidirectional) holds a layer
        config["layer"] = _layer_from_config(config["layer"], f"{where}, inner layer")
    if isinstance(config.get("branches"), list):  # a Parallel holds lists of layers
        config["branches"] = [[_layer_from_config(e, f"{where}, branch {b} layer {i}")
                               for i, e in enumerate(branch)] if isinstance(branch, list)
                              else branch for b, branch in enumerate(config["branches"])]
    try:
        layer = cls(**config)
    except (InputError, InputTypeError) as e:
        raise ModelFileError(f"{where}: {e}") from None
    layer.name = entry.get("name")
    if entry.get("trainable") is False:
        layer.trainable = False
    return layer


def model_from_config(config, where="config"):
    """An unbuilt Sequential from the 'model' part of a saved config, every
    value checked (types, bounds) before anything is allocated."""
    if not isinstance(config, dict) or config.get("class") != "Sequential":
        raise ModelFileError(f"{where}: the model must be a Sequential")
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ModelFileError(f"{where}: 'layers' must be a non-empty list")
    try:  # a layer that must be last (return_state, a pair output) elsewhere is refused here
        model = Sequential([_layer_from_config(e, f"{where}, layer {i}")
                            for i, e in enumerate(layers)])
    except (InputError, InputTypeError) as e:
        raise ModelFileError(f"{where}: {e}") from None
    shape = config.get("input_shape")
    if not isinstance(shape, list) or len(shape) > MAX_INPUT_RANK or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 2**31)
        for d in shape
    ):
        raise ModelFileError(f"{where}: input_shape must be a short list of sizes, got {shape!r}")
    if config.get("input_dtype") not in ("int64", "float32"):
        raise ModelFileError(f"{where}: input_dtype must be 'int64' or 'float32'")
    return model, tuple(shape), config["input_dtype"]


def saved_preprocessing(config):
    """The 'preprocessing' entry, or for files of lstmkit 0.1.0, which kept
    a text encoder in metadata['encoder'], that encoder as one."""
    if config.get("preprocessing") is not None:
        return config["preprocessing"]
    encoder = (config.get("metadata") or {}).get("encoder")
    if isinstance(encoder, dict):
        return {"kind": "text_encoder", "version": 1, "data": encoder}
    return None


def load_model(path, device="cpu", compile=True):
    """Load a model saved by `model.save(path)`.

    The configuration is validated before anything is built, the model is
    first built without memory (on torch's meta device) so the weights file
    is checked against it, and weights are read with safetensors: a file
    from a stranger cannot run code. Returns a Sequential, compiled again if
    it was saved compiled with named loss and optimizer (with a warning if
    it was compiled with callables, which a file cannot hold), its
    `metadata` and its `preprocessing` object (lstmkit.data.preprocessing)
    read back.
    """
    path = os.fspath(path)
    files.refuse_hdf5(path, "load_model", "a file or folder model.save wrote")
    single = os.path.isfile(path) or files.is_single_file(path)
    if single:
        config, tensors = files.read_model_file(path)
        where = path
    else:
        config = files.read_config(path)
        where = os.path.join(path, files.CONFIG_FILE)
    check_config(config, where)
    model, input_shape, input_dtype = model_from_config(config.get("model"), where)
    with torch.device("meta"):
        try:
            model.build_per_sample(input_shape, input_dtype)
        except (InputError, InputTypeError) as e:
            raise ModelFileError(f"{where}: {e}") from None
    expected = {k: (v.shape, v.dtype) for k, v in model.state_dict().items()}
    tensors = (files.check_weights(tensors, expected, path) if single
               else files.read_weights(path, config, expected))
    model = model.to_empty(device="cpu")
    model.load_state_dict(tensors)
    model.metadata = config.get("metadata") or {}
    model.preprocessing = read_preprocessing(saved_preprocessing(config), where)
    model.training_config = config.get("training_config")
    saved = config.get("compile")
    if compile and isinstance(saved, dict):
        if saved.get("loss") and saved.get("optimizer"):
            try:
                model.compile(saved["optimizer"], saved["loss"], saved.get("metrics"), device=device)
            except (InputError, InputTypeError) as e:
                raise ModelFileError(f"{where}: compile settings: {e}") from None
        else:
            missing = [k for k in ("loss", "optimizer") if not saved.get(k)]
            warnings.warn(f"{where}: the model's {' and '.join(missing)} could not be saved "
                          "(a callable or an object, which a file cannot hold), so it loads "
                          "uncompiled: call compile() before fit or evaluate", stacklevel=2)
    return model.to(resolve_device(device))


def sample_weights(values, samples, argument):
    """Weights for the loss, one per sample (or step), checked."""
    weights = to_tensor(values, argument).to(torch.float32)
    check_finite(weights, argument)
    if len(weights) != samples:
        raise InputError(f"{argument} holds {len(weights)} weights for {samples} samples")
    if weights.dim() > 2 or bool((weights < 0).any()):
        raise InputError(f"{argument} must be non-negative, one per sample (N,) or per step (N, T)")
    return weights


def class_weights(table, y, loss):
    """Each sample's (step's) weight from {class id: weight}, for targets y
    already in the loss's form."""
    # NumPy's integers and floats too: dict(zip(np.unique(y), weights)) is the usual table
    if not isinstance(table, dict) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool)
            and isinstance(v, (int, float, np.integer, np.floating)) and v >= 0
            for k, v in table.items()):
        raise InputError("class_weight must be {class id (int): non-negative weight}")
    table = {int(k): float(v) for k, v in table.items()}
    if loss.target == "sparse":
        ids = y
    elif loss.target == "categorical":
        ids = y.argmax(-1)
    elif loss.target == "binary":
        ids = (y > 0.5).long()
        ids = ids[..., 0] if ids.dim() > 1 and ids.shape[-1] == 1 else ids
    else:
        raise InputError(f"class_weight needs a classification loss, got {loss.name!r}")
    lookup = torch.ones(int(ids.max()) + 1 if ids.numel() else 1)
    for k, v in table.items():
        if 0 <= k < len(lookup):
            lookup[k] = float(v)
    return lookup[ids]


def input_shape_from_weights(model, state_dict):
    """(per-sample input shape, dtype) that the first weighted layer's
    weights imply, for a model that is not built yet."""
    if isinstance(model.layers[0], Embedding):
        return (None,), "int64"
    for i, layer in enumerate(model.layers):
        inputs = [v for k, v in state_dict.items() if k.startswith(f"layers.{i}.")
                  and k.rsplit(".", 1)[-1] in ("weight_ih_l0", "weight")]
        if inputs:
            features = inputs[0].shape[-1]
            return ((None, features) if layer.recurrent or layer.input_rank == 2 else (features,),
                    "float32")
    raise InputError("load_state_dict: the model is not built and the weights do not say its "
                     "input size; call model.build(input_shape) first")


def is_loss_name(value):
    """Whether `value` names a loss (compile reads such a first argument as the loss)."""
    try:
        return isinstance(value, str) and resolve_loss(value) is not None
    except InputError:
        return False


def is_optimizer_name(value):
    return isinstance(value, str) and value.lower() in OPTIMIZERS


# Keras' model methods lstmkit has no counterpart of under that name, and what to use
KERAS_MODEL_HINTS = {
    "train_on_batch": "fit(x, y, batch_size=len(x), epochs=1, shuffle=False) trains one step",
    "fit_generator": "fit takes a generator, a DataLoader or any iterable of (x, y) batches",
    "evaluate_generator": "evaluate takes a batch source", "predict_generator": "use predict",
    "to_json": "get_config() is the architecture as a JSON-able dict; save() writes it",
    "to_yaml": "get_config() is the architecture as a JSON-able dict; save() writes it",
    "get_compile_config": "compile's settings are saved by save() and restored by load_model",
    "reset_metrics": "each fit, evaluate and epoch starts its metrics afresh",
    "make_train_function": "lstmkit's loop runs eagerly; there is no function to make",
    "make_test_function": "lstmkit's loop runs eagerly; there is no function to make",
    "make_predict_function": "lstmkit's loop runs eagerly; there is no function to make",
}

# Keras' compile arguments: {name: (the values lstmkit runs as asked, why others are not)}
KERAS_COMPILE = {
    "run_eagerly": ((True, False, None), ""),  # lstmkit always runs eagerly: both are fine
    "jit_compile": ((False, None, "auto"), "lstmkit runs eagerly (no XLA); wrap the model in "
                                           "torch.compile yourself if you want a compiled one"),
    "steps_per_execution": ((1, None), "lstmkit runs one step per call; the loop already "
                                       "never waits on the device per step"),
    "loss_weights": ((None,), "a Sequential has one output, so one loss: weigh samples with "
                              "fit(sample_weight=) or classes with class_weight="),
    "weighted_metrics": ((None, []), "metrics are means over samples; fit(sample_weight=) "
                                     "weighs the loss"),
    "auto_scale_loss": ((True, False, None), ""),  # precision policies scale losses themselves
}


def _check_keras_compile(given):
    for name, value in given.items():
        if name not in KERAS_COMPILE:
            raise InputTypeError(f"compile() has no argument {name!r}; it takes optimizer, "
                                 f"loss, metrics, device and Keras' {', '.join(KERAS_COMPILE)}")
        accepted, why = KERAS_COMPILE[name]
        if not any(value is a or (type(value) is type(a) and value == a) for a in accepted):
            raise InputError(f"compile({name}={value!r}) is not supported by lstmkit: {why}")


def _refuse_unsupported(**arguments):
    """Keras arguments lstmkit does not take yet, refused when given."""
    for name, value in arguments.items():
        if value is not None:
            raise InputError(f"{name}= is not supported by lstmkit yet; leave it out")


def _check_int(value, argument, low=1):
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputTypeError(f"{argument} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise InputError(f"{argument} must be at least {low}, got {value}")
