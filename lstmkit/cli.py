"""The `lstmkit` command: one sub-command per task, each a thin call into tasks/.

Conventions every sub-command follows: --out for where models and reports
go, --epochs, --batch-size, --seed, --device, --quiet, --debug; exit code 0 on
success, 2 on a usage or data error with a one-line message (the traceback
only with --debug).
"""

import argparse
import sys

from . import __version__
from .errors import InputError, LstmkitError


def add_common_options(parser, out, epochs, batch_size):
    """The options shared by every training sub-command, with its defaults."""
    parser.add_argument("--out", default=out, help=f"folder for the model and reports (default {out})")
    parser.add_argument("--epochs", type=int, default=epochs, help=f"passes over the data (default {epochs})")
    parser.add_argument("--batch-size", type=int, default=batch_size,
                        help=f"samples per step (default {batch_size})")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same run (default 0)")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA if present), 'cpu' or 'cuda'")
    parser.add_argument("--resume", metavar="PATH",
                        help="continue from a checkpoint file or folder (OUT/checkpoints holds them)")
    parser.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                        help="also checkpoint every STEPS steps (always at each epoch end)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars, only results")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")


def run_demo_command(args):
    from .tasks.demo import run_demo

    run_demo(out=args.out, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
             device=args.device, verbose=0 if args.quiet else 1, resume=args.resume,
             checkpoint_every=args.checkpoint_every)


def run_inspect_command(args):
    import numpy as np

    from .inspect import gates, load_numeric_input, plot_gates
    from .model import load_model
    from .tasks.text import TextEncoder

    model = load_model(args.model, device=args.device)
    if (args.text is None) == (args.input is None):
        raise InputError("give one of --text (a saved text model) or --input FILE.npy")
    labels = None
    if args.text is not None:
        encoder = model.metadata.get("encoder")
        if encoder is None:
            raise InputError(f"{args.model} is not a text model (no vocabulary saved): use --input")
        encoder = TextEncoder.from_json(encoder)
        ids = encoder.vocabulary.encode(args.text)[-encoder.maxlen:]
        x = np.array([ids])
        labels = encoder.vocabulary.decode(ids).split(" ")
    else:
        x = load_numeric_input(args.input)
        if x.ndim == len(model.input_shape):  # one sample without its samples axis
            x = x[None]
    result = gates(model, x, layer=args.layer, depth=args.depth, direction=args.direction)
    path = plot_gates(result, sample=args.sample, labels=labels, path=args.out,
                      title=args.text[:80] if args.text else args.input)
    real = result["mask"][args.sample]
    print(f"mean over units, per step (real steps of sample {args.sample}):")
    for t, step in enumerate(np.flatnonzero(real)):
        shown = labels[t] if labels else str(step)
        print(f"  {shown:>14s}  forget {result['forget'][args.sample, step].mean():.2f}  "
              f"input {result['input'][args.sample, step].mean():.2f}  "
              f"output {result['output'][args.sample, step].mean():.2f}")
    print(f"gate heatmaps written to {path}")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lstmkit",
        description="LSTM sequence models on PyTorch: train, evaluate and use them from files.",
    )
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="train the tutorial's sentiment LSTM on built-in data (no arguments, no network)",
        description="Train the tutorial's model (Embedding 256, LSTM 128, Dropout 0.5, "
        "Dense 1 sigmoid, RMSprop) on the UCI Sentiment Labelled Sentences shipped with "
        "lstmkit, report held-out accuracy and save the model.",
        epilog="examples:\n  lstmkit demo\n  lstmkit demo --epochs 3 --out /tmp/demo --quiet",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_options(demo, out="runs/demo", epochs=10, batch_size=16)
    demo.set_defaults(run=run_demo_command)

    inspect = commands.add_parser(
        "inspect",
        help="plot a saved model's LSTM gates, cell and hidden state over an input",
        description="Rerun a saved model's LSTM with the reference cell on one input, "
        "check it against the fused kernel, and draw the forget, input and output gates, the "
        "candidate, the cell and the hidden state as heatmaps over the steps.",
        epilog="examples:\n  lstmkit inspect runs/demo --text \"not worth the money\"\n"
        "  lstmkit inspect runs/series --input window.npy --out window-gates.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument("model", help="a folder written by model.save or a training command")
    inspect.add_argument("--text", help="a text, for a saved text model")
    inspect.add_argument("--input", help="a .npy array: one sample, or samples first")
    inspect.add_argument("--sample", type=int, default=0, help="which sample of --input to plot")
    inspect.add_argument("--layer", type=int, help="index of the LSTM in the model (default first)")
    inspect.add_argument("--depth", type=int, default=0, help="layer within a stacked LSTM")
    inspect.add_argument("--direction", type=int, default=0, help="1 for the backward direction")
    inspect.add_argument("--out", default="gates.png", help="the PNG to write (default gates.png)")
    inspect.add_argument("--device", default="cpu", help="'cpu' (default), 'cuda' or 'auto'")
    inspect.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    inspect.set_defaults(run=run_inspect_command)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        args.run(args)
    except LstmkitError as e:
        if args.debug:
            raise
        print(f"lstmkit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lstmkit {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
