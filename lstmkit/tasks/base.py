"""The contract every task keeps, and the command-line options they share.

A task is one use of an LSTM (text classification, forecasting, language
modelling, series classification) as the library and the command line see
it. Each names its defaults, builds its model, carries a preprocessing
object in the model file, evaluates, and adds its own sub-commands; the
`lstmkit` command is built from the registry in tasks/__init__.py
(Hugging Face pipelines' SUPPORTED_TASKS), so it holds no task's logic.
"""

import argparse

from ..errors import InputError


class Task:
    """Base of the tasks.

    Attributes:
        name: saved in a model's metadata as 'task', so a loaded model finds
            its task again.
        preprocessing: the Preprocessing class (lstmkit.data.preprocessing)
            saved with the task's models.
        defaults: the task's own settings (model sizes, epochs, batch size);
            the command line's options only override them.
    """

    name = None
    preprocessing = None
    defaults = {}

    def build_model(self, preprocessing, device="auto", **options):
        """A compiled model for data that `preprocessing` prepares; options
        override the model settings in `defaults`."""
        raise NotImplementedError

    def evaluate(self, model, x, y, batch_size=32):
        """The task's figures on prepared (x, y), as a dict."""
        return model.evaluate(x, y, batch_size=batch_size, return_dict=True)

    def save(self, model, path, preprocessing, **metadata):
        """Save `model` with its preprocessing and this task's name (on the
        main process only, when several train together)."""
        model.save(path, metadata={"task": self.name, **metadata}, preprocessing=preprocessing)

    def add_commands(self, commands):
        """Add this task's sub-commands to the `lstmkit` parser's
        `commands` (argparse sub-parsers); each sets `run=function(args)`."""

    def inspect_input(self, model, text):
        """(x, step labels) for `lstmkit inspect --text TEXT` on a model of
        this task."""
        raise InputError(f"{self.name} models take --input FILE.npy, not --text")


def add_training_options(parser, defaults, out, resume_help="continue from a checkpoint file "
                         "or folder (OUT/checkpoints holds them)",
                         checkpoint_help="also checkpoint every STEPS steps (always at each "
                         "epoch end)"):
    """The options every training sub-command takes, with the task's defaults."""
    parser.add_argument("--out", default=out, help=f"folder for the model and reports (default {out})")
    parser.add_argument("--epochs", type=int, default=defaults["epochs"],
                        help=f"passes over the data (default {defaults['epochs']})")
    parser.add_argument("--batch-size", type=int, default=defaults["batch_size"],
                        help=f"samples per step (default {defaults['batch_size']})")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same run (default 0)")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA if present), 'cpu' or 'cuda'")
    parser.add_argument("--resume", metavar="PATH", help=resume_help)
    parser.add_argument("--checkpoint-every", type=int, metavar="STEPS", help=checkpoint_help)
    parser.add_argument("--nproc", type=int, default=1, metavar="N",
                        help="train with N processes on this machine, through torchrun and "
                        "DistributedDataParallel (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars, only results")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")


def add_precision_option(parser):
    """--precision: the forward pass in float32 (default), bf16 or fp16
    (lstmkit.precision)."""
    parser.add_argument("--precision", choices=("float32", "bf16", "fp16"), default="float32",
                        help="the forward pass in a 16-bit float, weights and updates in "
                        "float32: bf16 for CPUs with bf16 units (AMX, AVX512-BF16) and GPUs; "
                        "fp16 needs a CUDA GPU (default float32)")


def add_command(commands, name, help, description, examples):
    """A sub-command parser with lstmkit's layout of help and examples."""
    return commands.add_parser(name, help=help, description=description,
                               epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
                               formatter_class=argparse.RawDescriptionHelpFormatter)
