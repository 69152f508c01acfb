"""Weight initialisers under Keras' names, applied in place to torch tensors.

Keras' defaults matter beyond matching its results: with PyTorch's default
LSTM initialisation (uniform +-1/sqrt(H)) the mean forget gate of the
tutorial's model starts near 0.5, so gradients carried back through time
halve at every step and about 16% of them are denormal floats
(benchmarks/denormals.py); on CPUs with a denormal penalty that slows
training several-fold (no slowdown was measured on an AMD EPYC). Keras'
initialisers (forget-gate bias 1, orthogonal recurrent kernels) gave none.

Every initialiser Keras documents is here with Keras' defaults
(keras/src/initializers/): the class (`GlorotUniform()`, `RandomNormal(
stddev=0.1)`, ...) and its name ('glorot_uniform', 'random_normal', ...,
and the aliases 'uniform' and 'normal'). A class instance with Keras'
default arguments resolves to its name, which a model file records; one
with other arguments (or a seed) is a callable: it trains, but a model file
cannot hold it.

Fans. torch stores a weight as (out, in, *kernel), Keras as (*kernel, in,
out); `fans` below reads torch's layout and gives Keras' numbers: for a
Dense or LSTM kernel (out, in) fan_in = in and fan_out = out (an LSTM's
(4H, in) kernel has fan_out 4H, as Keras' (in, 4H) kernel), for a Conv1D
kernel (out, in, k) fan_in = in * k and fan_out = out * k, and for a
vector (a bias) both are its length, as in Keras (torch's own fan
computation refuses vectors). An Embedding's table is (input_dim,
output_dim) in both libraries, the other way round from a kernel: pass
`layout='in_out'` for it. Called with a Keras shape instead of a tensor
(`GlorotUniform()(shape=(3, 4))`), an initialiser reads the shape Keras'
way and returns a new tensor.
"""

import math

import torch

from .errors import InputError, InputTypeError

# torch.nn.init's truncated normal cuts at absolute bounds; Keras redraws
# values beyond two standard deviations: the bounds below are mean +- 2 std.
TRUNCATION = 2.0
# the standard deviation of a unit normal truncated to +-2, by which Keras
# divides so that variance_scaling's truncated draws keep the asked variance
TRUNCATED_STDDEV = 0.87962566103423978
LAYOUTS = ("out_in", "in_out", "keras")


def fans(shape, layout="out_in"):
    """(fan_in, fan_out) of a weight of `shape`, as Keras counts them.

    layout 'out_in' is torch's (out, in, *kernel); 'in_out' a 2-D table
    stored (in, out), such as an Embedding's; 'keras' a Keras shape
    (*kernel, in, out)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if layout == "out_in":
        receptive = math.prod(shape[2:])
        return shape[1] * receptive, shape[0] * receptive
    if layout == "in_out" and len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])  # Keras: (*kernel, in, out)
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Keras' initialiser on torch tensors.

    `init(tensor)` fills a tensor in torch's layout in place and returns it
    (how lstmkit's layers call it); `init(shape=..., dtype=...)` returns a
    new tensor of a Keras shape, as Keras' initialisers do. `name` is the
    Keras name a model file records for the default configuration."""

    name = None
    DEFAULTS = {}

    SEEDED = True  # takes a seed after its arguments (Keras' constant ones take none)

    def __init__(self, *args, **config):
        order = list(self.DEFAULTS) + (["seed"] if self.SEEDED else [])
        if len(args) > len(order):
            raise InputTypeError(f"{type(self).__name__} takes at most {len(order)} positional "
                                 f"arguments ({', '.join(order)}), got {len(args)}")
        unknown = sorted(set(config) - set(order))
        if unknown:
            raise InputTypeError(f"{type(self).__name__}: unknown argument(s) {unknown}; known: "
                                 f"{', '.join(order) or 'none'}")
        config = {**dict(zip(order, args)), **config}
        self.config = {**self.DEFAULTS, **config}
        self.seed = self.config.pop("seed", None)
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise InputTypeError(f"{type(self).__name__} seed must be an int or None, "
                                 f"got {self.seed!r}")
        self.check()

    def check(self):
        """Validate the arguments (InputError naming the one received)."""

    def __call__(self, tensor=None, dtype=None, *, shape=None, layout="out_in"):
        if layout not in LAYOUTS:
            raise InputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if tensor is not None and not isinstance(tensor, torch.Tensor):
            tensor, shape = None, tensor  # a Keras call: init(shape, dtype)
        if tensor is None:
            if shape is None:
                raise InputError(f"{type(self).__name__}: pass a tensor to fill or shape=")
            tensor = torch.empty(tuple(shape), dtype=_dtype(dtype))
            layout = "keras"
        generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        with torch.no_grad():
            self.fill(tensor, layout, generator)
        return tensor

    def fill(self, tensor, layout, generator):
        raise NotImplementedError

    def get_config(self):
        """Keras' config: the arguments, and the seed of those that take one."""
        return {**self.config, **({"seed": self.seed} if self.SEEDED else {})}

    def saved_name(self):
        """The name a model file records, or None when the arguments are not
        Keras' defaults (or a seed is set): such an instance cannot be saved."""
        return self.name if self.seed is None and self.config == self.DEFAULTS else None

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                              if k != "seed" or v is not None)
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


def _dtype(dtype):
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    found = getattr(torch, str(dtype), None)
    if not isinstance(found, torch.dtype):
        raise InputError(f"dtype: unknown {dtype!r}; use 'float32', 'float64', ...")
    return found


class RandomNormal(Initializer):
    """Normal draws: mean 0, standard deviation 0.05 (Keras' defaults)."""

    name = "random_normal"
    DEFAULTS = {"mean": 0.0, "stddev": 0.05}

    def fill(self, tensor, layout, generator):
        torch.nn.init.normal_(tensor, self.config["mean"], self.config["stddev"],
                              generator=generator)


class RandomUniform(Initializer):
    """Uniform draws in [minval, maxval), default [-0.05, 0.05)."""

    name = "random_uniform"
    DEFAULTS = {"minval": -0.05, "maxval": 0.05}

    def fill(self, tensor, layout, generator):
        torch.nn.init.uniform_(tensor, self.config["minval"], self.config["maxval"],
                               generator=generator)


class TruncatedNormal(Initializer):
    """Normal draws redrawn beyond two standard deviations: mean 0,
    standard deviation 0.05 (before truncation, as Keras)."""

    name = "truncated_normal"
    DEFAULTS = {"mean": 0.0, "stddev": 0.05}

    def fill(self, tensor, layout, generator):
        _truncated(tensor, self.config["mean"], self.config["stddev"], generator)


def _truncated(tensor, mean, stddev, generator):
    torch.nn.init.trunc_normal_(tensor, mean, stddev, mean - TRUNCATION * stddev,
                                mean + TRUNCATION * stddev, generator=generator)


class Zeros(Initializer):
    name = "zeros"
    SEEDED = False

    def fill(self, tensor, layout, generator):
        tensor.zero_()


class Ones(Initializer):
    name = "ones"
    SEEDED = False

    def fill(self, tensor, layout, generator):
        tensor.fill_(1.0)


class Constant(Initializer):
    """Every element `value` (a number; default 0)."""

    name = "constant"
    DEFAULTS = {"value": 0.0}
    SEEDED = False

    def check(self):
        value = self.config["value"]
        if hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:  # a table, not a number
            raise InputError(f"Constant value must be a number, got an array of shape "
                             f"{tuple(value.shape)}; a pretrained table goes in as "
                             "Embedding(..., weights=[table]) or layer.set_weights([table])")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"Constant value must be a number, got {value!r}")

    def fill(self, tensor, layout, generator):
        tensor.fill_(self.config["value"])


class VarianceScaling(Initializer):
    """Draws of variance scale / n, n the fan_in, fan_out or their mean
    (at least 1): truncated normal (default; divided by 0.8796 so the
    truncated draws keep that variance), untruncated normal, or uniform in
    +-sqrt(3 * scale / n). Keras' defaults: scale 1, 'fan_in', truncated."""

    name = "variance_scaling"
    DEFAULTS = {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"}
    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def check(self):
        scale, mode, distribution = (self.config[k] for k in ("scale", "mode", "distribution"))
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise InputError(f"{type(self).__name__} scale must be a positive number, "
                             f"got {scale!r}")
        if mode not in self.MODES:
            raise InputError(f"{type(self).__name__} mode must be one of {self.MODES}, "
                             f"got {mode!r}")
        if distribution == "normal":  # Keras reads 'normal' as truncated too
            self.config["distribution"] = "truncated_normal"
        elif distribution not in self.DISTRIBUTIONS:
            raise InputError(f"{type(self).__name__} distribution must be one of "
                             f"{self.DISTRIBUTIONS}, got {distribution!r}")

    def fill(self, tensor, layout, generator):
        fan_in, fan_out = fans(tensor.shape, layout)
        n = {"fan_in": fan_in, "fan_out": fan_out,
             "fan_avg": (fan_in + fan_out) / 2}[self.config["mode"]]
        variance = self.config["scale"] / max(1.0, n)
        distribution = self.config["distribution"]
        if distribution == "truncated_normal":
            _truncated(tensor, 0.0, math.sqrt(variance) / TRUNCATED_STDDEV, generator)
        elif distribution == "untruncated_normal":
            torch.nn.init.normal_(tensor, 0.0, math.sqrt(variance), generator=generator)
        else:
            limit = math.sqrt(3.0 * variance)
            torch.nn.init.uniform_(tensor, -limit, limit, generator=generator)


def _variance_scaling(class_name, keras_name, scale, mode, distribution, doc):
    """A fixed VarianceScaling, taking only a seed (Keras' GlorotUniform, ...)."""

    class Fixed(VarianceScaling):
        __doc__ = doc
        name = keras_name
        DEFAULTS = {"scale": scale, "mode": mode, "distribution": distribution}

        def __init__(self, seed=None):
            super().__init__(seed=seed)

        def get_config(self):
            return {"seed": self.seed}

        def __repr__(self):
            return f"{class_name}()" if self.seed is None else f"{class_name}(seed={self.seed})"

    Fixed.__name__ = Fixed.__qualname__ = class_name
    return Fixed


GlorotUniform = _variance_scaling("GlorotUniform", "glorot_uniform", 1.0, "fan_avg", "uniform",
                                  "Uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010).")
GlorotNormal = _variance_scaling(
    "GlorotNormal", "glorot_normal", 1.0, "fan_avg", "truncated_normal",
    "Truncated normal of standard deviation sqrt(2 / (fan_in + fan_out)).")
LecunUniform = _variance_scaling("LecunUniform", "lecun_uniform", 1.0, "fan_in", "uniform",
                                 "Uniform in +-sqrt(3 / fan_in) (LeCun et al. 1998).")
LecunNormal = _variance_scaling("LecunNormal", "lecun_normal", 1.0, "fan_in", "truncated_normal",
                                "Truncated normal of standard deviation sqrt(1 / fan_in).")
HeUniform = _variance_scaling("HeUniform", "he_uniform", 2.0, "fan_in", "uniform",
                              "Uniform in +-sqrt(6 / fan_in) (He et al. 2015).")
HeNormal = _variance_scaling("HeNormal", "he_normal", 2.0, "fan_in", "truncated_normal",
                             "Truncated normal of standard deviation sqrt(2 / fan_in).")


class Orthogonal(Initializer):
    """An orthogonal matrix (times `gain`, default 1) from the QR
    decomposition of normal draws (Saxe et al. 2014): orthonormal rows if the
    matrix is wide, columns if tall. Needs 2 or more dimensions; a kernel of
    more is flattened to (out, in * k) in torch's layout, (k * in, out) in
    Keras'."""

    name = "orthogonal"
    DEFAULTS = {"gain": 1.0}

    def fill(self, tensor, layout, generator):
        if tensor.dim() < 2:
            raise InputError(f"Orthogonal needs a tensor of 2 or more dimensions, got shape "
                             f"{tuple(tensor.shape)}")
        if layout == "keras" and tensor.dim() > 2:
            flat = tensor.new_empty(math.prod(tensor.shape[:-1]), tensor.shape[-1])
            torch.nn.init.orthogonal_(flat, self.config["gain"], generator=generator)
            tensor.copy_(flat.reshape(tensor.shape))
        else:
            torch.nn.init.orthogonal_(tensor, self.config["gain"], generator=generator)


class Identity(Initializer):
    """The identity matrix times `gain` (default 1); 2-D tensors only."""

    name = "identity"
    DEFAULTS = {"gain": 1.0}
    SEEDED = False

    def fill(self, tensor, layout, generator):
        if tensor.dim() != 2:
            raise InputError(f"Identity needs a 2-D tensor, got shape {tuple(tensor.shape)}")
        torch.nn.init.eye_(tensor)
        tensor.mul_(self.config["gain"])


class _Alias(Initializer):
    """lstmkit's first names, which are Keras' aliases too: 'uniform' is
    RandomUniform(-0.05, 0.05), 'normal' RandomNormal(0, 0.05)."""

    def __init__(self, name, target):
        self.name, self.target = name, target
        self.config, self.seed = {}, None

    def fill(self, tensor, layout, generator):
        self.target.fill(tensor, layout, generator)

    def __repr__(self):
        return repr(self.target)


CLASSES = (GlorotUniform, GlorotNormal, HeUniform, HeNormal, Orthogonal, Zeros, Ones,
           RandomUniform, RandomNormal, TruncatedNormal, Constant, VarianceScaling, LecunUniform,
           LecunNormal, Identity)

# The names a layer takes and a model file may hold: each of Keras' names,
# with its default arguments, and lstmkit's 'uniform' and 'normal' (Keras'
# aliases, kept as they are: files of lstmkit 0.1 hold them). lstmkit 0.1's
# nine names come first, in their order, so messages listing them start alike.
_FIRST = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "orthogonal")
INITIALIZERS = {cls.name: cls() for cls in CLASSES if cls.name in _FIRST}
INITIALIZERS["uniform"] = _Alias("uniform", RandomUniform())
INITIALIZERS["normal"] = _Alias("normal", RandomNormal())
INITIALIZERS.update({cls.name: cls() for cls in CLASSES if cls.name not in _FIRST})

# The names that can fill a tensor of each number of dimensions: a vector (a
# bias) takes all but those that need a matrix; 'identity' takes 2-D only
# (as in Keras), so not a Conv1D kernel (out, in, k).
VECTOR_INITIALIZERS = tuple(n for n in INITIALIZERS if n not in ("orthogonal", "identity"))
MATRIX_INITIALIZERS = tuple(INITIALIZERS)
KERNEL_INITIALIZERS = tuple(n for n in INITIALIZERS if n != "identity")  # 3-D and more


def initializers_for(ndim):
    """The names that can fill a tensor of `ndim` dimensions."""
    return VECTOR_INITIALIZERS if ndim <= 1 else (
        MATRIX_INITIALIZERS if ndim == 2 else KERNEL_INITIALIZERS)


# Other spellings Keras accepts, read as the names above: class names,
# 'zero', 'one' and Keras' compatibility aliases.
SPELLINGS = {cls.__name__: cls.name for cls in CLASSES}
SPELLINGS.update({"zero": "zeros", "one": "ones", "IdentityInitializer": "identity",
                  "OrthogonalInitializer": "orthogonal"})


def resolve_name(name):
    """The name as INITIALIZERS holds it, or None if Keras has no such name."""
    name = SPELLINGS.get(name, name)
    return name if name in INITIALIZERS else None


def check_initializer(init, argument):
    """Validate an initialiser given as a Keras name (any of its spellings),
    an Initializer, or a callable filling a tensor in place. Returns what the
    layer keeps: the name when there is one (a model file holds names), else
    the callable."""
    if isinstance(init, Initializer):
        return init.saved_name() or init
    if callable(init):
        return init
    if not isinstance(init, str):
        raise InputTypeError(
            f"{argument} must be an initialiser name or a callable, got {type(init).__name__}"
        )
    name = resolve_name(init)
    if name is None:
        raise InputError(
            f"{argument}: unknown initialiser {init!r}; known: {', '.join(sorted(INITIALIZERS))}"
        )
    return name


@torch.no_grad()
def initialize(tensor, init, layout="out_in"):
    """Fill `tensor` in place with the named (or callable) initialiser.
    `layout` says how the tensor is stored (see `fans`): torch's (out, in)
    by default, 'in_out' for an Embedding's (input_dim, output_dim) table;
    a plain callable is given the tensor alone."""
    if isinstance(init, str):
        INITIALIZERS[resolve_name(init) or init](tensor, layout=layout)
    elif isinstance(init, Initializer):
        init(tensor, layout=layout)
    else:
        init(tensor)
