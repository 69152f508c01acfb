"""The `lstmkit` command: built from the task registry (lstmkit.tasks.TASKS),
each task adding its own sub-commands, plus the task-neutral `inspect`.

Conventions every sub-command follows: --out for where models and reports
go (its missing folders made when written, lstmkit.files.make_folder_for),
--epochs, --batch-size, --seed, --device, --quiet, --debug; exit code 0 on
success, 2 on a usage or data error with a one-line message (the traceback
only with --debug).
"""

import argparse
import os
import sys
import time
import traceback

from . import __version__
from .distributed import end_with_launcher, is_main_process, launch, launched_by_torchrun
from .errors import InputError, InternalError, LstmkitError
from .files import check_folder_for
from .tasks import TASKS


def run_inspect_command(args):
    import numpy as np

    from .inspect import gates, load_numeric_input, plot_gates
    from .model import load_model
    from .tasks import task_of

    if (args.text is None) == (args.input is None):
        raise InputError("give one of --text (a saved text model) or --input FILE.npy")
    check_folder_for(args.out)
    model = load_model(args.model, device=args.device)
    labels = None
    if args.text is not None:
        task = task_of(model)
        if task is None or model.preprocessing is None:
            raise InputError(f"{args.model} is not a text model (no vocabulary saved): use --input")
        x, labels = task.inspect_input(model, args.text)
    else:
        x = load_numeric_input(args.input)
        if x.ndim == len(model.input_shape):  # one sample without its samples axis
            x = x[None]
    if not 0 <= args.sample < len(x):
        raise InputError(f"--sample {args.sample}: the input holds {len(x)} sample(s), "
                         f"numbered from 0")
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


def run_export_command(args):
    from .export import export_ensemble, export_onnx
    from .forecast.forecaster import MANIFEST as FORECASTER
    from .forecast.forecaster import Forecaster
    from .model import load_model
    from .tasks import load_ensemble

    if os.path.isfile(os.path.join(args.model, FORECASTER)):  # the whole pipeline, one graph
        out = args.out if args.out is not None else os.path.join(args.model, "forecaster.onnx")
        written = Forecaster.load(args.model).export(out, verify=not args.no_verify)
        print(f"the forecaster (scaling, windows, the members' networks, their median and intervals) written as one ONNX graph to "
              f"{written[0]}" + ("" if args.no_verify else
                                 " (checked with onnxruntime against predict)")
              + f"; its inputs described in {written[1]}")
        return
    ensemble = load_ensemble(args.model) if os.path.isdir(args.model) else None
    if ensemble is not None:  # a folder of member graphs and a manifest
        members, weights, labels = ensemble
        out = args.out if args.out is not None else os.path.join(args.model, "onnx")
        export_ensemble(members, weights, labels, out, verify=not args.no_verify)
        print(f"{len(members)} member graphs, their preprocessing and ensemble.json (the "
              f"members' weights and labels) written to {out}"
              + ("" if args.no_verify else ", each checked with onnxruntime against lstmkit"))
        return
    model = load_model(args.model, device="cpu", compile=False)
    out = args.out if args.out is not None else os.path.join(args.model, "model.onnx")
    written = export_onnx(model, out, verify=not args.no_verify)
    print(f"ONNX graph written to {written[0]}"
          + ("" if args.no_verify else " (checked with onnxruntime against lstmkit)"))
    for path in written[1:]:
        print(f"its preprocessing (vocabulary, maxlen, labels) written to {path}")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lstmkit",
        description="LSTM sequence models on PyTorch: train, evaluate and use them from files.",
    )
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    for task in TASKS.values():
        task.add_commands(commands)

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

    export = commands.add_parser(
        "export",
        help="write a saved model as an ONNX graph that onnxruntime runs without lstmkit",
        description="Write a saved model as an ONNX graph with the contract of model.step: "
        "inputs x, lengths and the recurrent state, outputs the output and the new state; "
        "a text model's vocabulary goes beside it as FILE.preprocessing.json. An ensemble "
        "(what `text train` and `series train` write) becomes a folder: one graph per member, "
        "with its preprocessing, and ensemble.json with the members' weights and the labels. "
        "A forecaster (what `forecast` writes) becomes one graph of the whole pipeline: raw "
        "values (and their dates) in, the forecast's quantiles out; FILE.pipeline.json says "
        "what it takes. Each graph is run by onnxruntime and compared with lstmkit before "
        "anything is written. Needs the onnx extra: pip install 'lstmkit[onnx]'.",
        epilog="examples:\n  lstmkit export runs/demo --format onnx\n"
        "  lstmkit export runs/demo --format onnx --out demo.onnx\n"
        "  lstmkit export runs/reviews --out reviews-onnx     # an ensemble: a folder\n"
        "  lstmkit export runs/airline                        # a forecaster: forecaster.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("model", help="a folder written by model.save or a training command")
    export.add_argument("--format", choices=["onnx"], default="onnx",
                        help="the file format (only 'onnx' so far)")
    export.add_argument("--out", metavar="PATH",
                        help="the file to write (default MODEL/model.onnx); for an ensemble, "
                        "the folder (default MODEL/onnx)")
    export.add_argument("--no-verify", action="store_true",
                        help="skip running the graph in onnxruntime against lstmkit")
    export.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    export.set_defaults(run=run_export_command)
    return parser


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    nproc = getattr(args, "nproc", 1)
    if nproc < 1:
        print(f"lstmkit {args.command}: error: --nproc must be at least 1, got {nproc}",
              file=sys.stderr)
        return 2
    if nproc > 1 and not launched_by_torchrun():  # start the processes; each runs this command
        return launch(nproc, without_nproc(argv))
    end_with_launcher()  # one of torchrun's processes: not to outlive it
    try:
        args.run(args)
    except LstmkitError as e:
        if args.debug:
            raise
        if launched_by_torchrun() and not is_main_process():
            # every process reads the same input and refuses it alike: the main one says
            # why, and torchrun stops this one meanwhile; said here only if that did not come
            time.sleep(3)
        print(f"lstmkit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except InternalError:  # a bug, not a usage error: the traceback is for the report
        traceback.print_exc()
        print(f"lstmkit {args.command}: internal error: this is a bug in lstmkit; please report "
              "it with the command you ran", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"lstmkit {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


def without_nproc(argv):
    """The arguments less --nproc N (or --nproc=N), for the processes torchrun starts."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    return kept


if __name__ == "__main__":
    sys.exit(main())
