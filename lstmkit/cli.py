"""The `lstmkit` command: one sub-command per task, each a thin call into tasks/.

Conventions every sub-command follows: --out for where models and reports
go, --epochs, --batch-size, --seed, --device, --quiet, --debug; exit code 0 on
success, 2 on a usage or data error with a one-line message (the traceback
only with --debug).
"""

import argparse
import sys

from . import __version__
from .errors import LstmkitError


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
