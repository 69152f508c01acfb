"""Language modelling: an LSTM that predicts the next character or word.

The model is Zaremba et al. 2014's (Recurrent Neural Network Regularization):
an Embedding, a stack of LSTM layers with dropout on the non-recurrent
connections (after the embedding, between layers, before the output), and a
Dense softmax over the vocabulary, optionally sharing the Embedding's table
(weight tying, Press & Wolf 2017). Every weight starts uniform in
+-init_range, as in their code. Training runs truncated backpropagation
through time over StreamBatches (the engine carries and detaches the state),
with plain SGD or Adam, gradient-norm clipping and a step decay of the
learning rate; validation and test figures are over the whole stream with
the state carried through: perplexity exp(nats per token) for words, bits
per character (nats / ln 2) for characters, as published.

    lstmkit lm train ptb.train.txt --valid ptb.valid.txt --test ptb.test.txt --level word --out ptb
    lstmkit lm eval ptb ptb.test.txt
    lstmkit generate shakespeare --prompt "ROMEO:" --length 500 --temperature 0.8
"""

import functools
import json
import math
import os
import shutil
import sys
import tempfile
import time

import torch

from ..callbacks import ProgressBar
from ..config import TrainConfig
from ..data.corpus import CorpusVocabulary, load_corpus
from ..data.streams import StreamBatches
from ..distributed import is_main_process
from ..errors import DataFileError, InputError
from ..files import atomic_write
from ..optimizers import fastest
from ..precision import policy_name
from .base import Task, add_command, add_precision_option, add_training_options

# Zaremba et al. 2014's small configuration for words; for characters, a
# 2 x 512 LSTM with 30% dropout and Adam, the learning rate divided by 1.25
# each epoch after the sixth: on Tiny Shakespeare its validation loss passed
# 1.47 nats per character after 5 epochs and levelled off at 1.42 after 12
# (benchmarks/char_lm.py; an epoch is about a minute on a 2-core CPU with bf16
# units in mixed bfloat16, two in float32)
DEFAULTS = {
    # Zaremba's lr 1 and clip 5 are for the loss summed over the 20 steps of a window
    # (averaged over the batch); the engine's loss is the mean per token, so the same
    # updates are lr 20 and clip 5 / 20 (PyTorch's word_language_model uses lr 20 too)
    "word": {"units": 200, "embedding": None, "layers": 2, "dropout": 0.0, "tie": False,
             "bptt": 20, "batch_size": 20, "epochs": 13, "optimizer": "sgd", "lr": 20.0,
             "lr_decay": 2.0, "decay_after": 4, "clip": 0.25, "init_range": 0.1,
             "precision": "float32"},
    "char": {"units": 512, "embedding": 128, "layers": 2, "dropout": 0.3, "tie": False,
             "bptt": 64, "batch_size": 64, "epochs": 12, "optimizer": "adam", "lr": 2e-3,
             "lr_decay": 1.25, "decay_after": 6, "clip": 5.0, "init_range": 0.08,
             "precision": "float32"},
}
OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
REPORT = "report.json"


def build_language_model(vocabulary_size, units=200, embedding=None, layers=2, dropout=0.0,
                         tie=False, init_range=0.1, device="auto"):
    """A compiled LSTM language model over `vocabulary_size` tokens.

    Embedding(V, E) -> Dropout -> LSTM(units, num_layers=layers, dropout
    between layers) -> Dropout -> Dense(V, softmax), every weight uniform in
    +-init_range (Zaremba et al. 2014). E defaults to `units`; with `tie`
    the Dense reads the Embedding's table (E must then equal units).
    Compiled with sparse cross-entropy, which trains on the logits."""
    from ..layers import LSTM, Dense, Dropout, Embedding
    from ..model import Sequential

    embedding = units if embedding is None else embedding
    if tie and embedding != units:
        raise InputError(f"weight tying needs the embedding size to equal the LSTM units, got "
                         f"embedding {embedding} and units {units}")
    model = Sequential([Embedding(vocabulary_size, embedding)])
    if dropout:
        model.add(Dropout(dropout))
    model.add(LSTM(units, num_layers=layers, dropout=dropout, return_sequences=True,
                   unit_forget_bias=False))
    if dropout:
        model.add(Dropout(dropout))
    model.add(Dense(vocabulary_size, activation="softmax", tie_weights=bool(tie)))
    model.build((None, None))
    if init_range:
        with torch.no_grad():
            for weight in model.parameters():
                weight.uniform_(-init_range, init_range)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", device=device)
    return model


def step_decay(optimizer, factor, after):
    """The learning rate divided by `factor` at each epoch after epoch
    `after` (Zaremba et al.: epoch e has lr * factor ** -max(0, e - after),
    counting from 1), as a LambdaLR stepped each epoch (its epoch count is
    checkpointed, so a resumed run keeps the schedule)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, functools.partial(_decayed, factor=factor, after=after))


def _decayed(epoch, factor, after):
    return factor ** -max(0, epoch + 1 - after)


def figures(nats, level):
    """Published figures from the mean loss in nats per token."""
    if level == "char":
        return {"nats_per_char": nats, "bits_per_char": nats / math.log(2)}
    return {"nats_per_word": nats, "perplexity": math.exp(min(nats, 700))}


def shown(level):
    """What a progress bar shows for a level: perplexity, or bits per character."""
    def derive(logs):
        out = {}
        for key, value in logs.items():
            prefix = key[: -len("loss")] if key.endswith("loss") else None
            if prefix is None:
                out[key] = value
            elif level == "char":
                out[f"{prefix}bpc"] = value / math.log(2)
            else:
                out[f"{prefix}ppl"] = math.exp(min(value, 700))
        return out
    return derive


def check_training_options(options):
    for name in ("units", "layers", "bptt", "batch_size", "epochs"):
        value = options[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "epochs"
                                                                              else 1):
            raise InputError(f"{name} must be a positive int, got {value!r}")
    if options["embedding"] is not None and options["embedding"] < 1:
        raise InputError(f"embedding must be a positive int, got {options['embedding']!r}")
    if not 0 <= options["dropout"] < 1:
        raise InputError(f"dropout must be in [0, 1), got {options['dropout']!r}")
    if options["optimizer"] not in OPTIMIZERS:
        raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got "
                         f"{options['optimizer']!r}")
    for name in ("lr", "lr_decay"):
        if not options[name] > 0:
            raise InputError(f"{name} must be a positive number, got {options[name]!r}")
    if options["clip"] is not None and not options["clip"] > 0:
        raise InputError(f"clip must be a positive number, got {options['clip']!r}")
    if not options["init_range"] >= 0:
        raise InputError(f"init_range must be >= 0, got {options['init_range']!r}")
    policy_name(options.get("precision", "float32"))


def evaluation_stream(tokens, batch_size, bptt):
    """StreamBatches for evaluating a stream: batch_size parallel streams
    and windows of bptt steps, both cut down to what a short stream holds."""
    batch = max(1, min(batch_size, len(tokens) // 2))
    return StreamBatches(tokens, batch, max(1, min(bptt, len(tokens) // batch - 1)))


def evaluate_stream(model, tokens, batch_size=1, bptt=100):
    """Mean nats per token over a whole stream, the state carried through
    from zeros (batch_size parallel streams; 1 reads every token but the
    first in order, as published test figures are)."""
    return model.evaluate(evaluation_stream(tokens, batch_size, bptt), return_dict=True)["loss"]


def train_language_model(corpus, options, seed=0, checkpoint_dir=None, resume=None,
                         verbose=1, callbacks=(), eval_batch_size=10, steps_per_epoch=None,
                         device="auto"):
    """Train a language model on `corpus` (lstmkit.data.corpus.Corpus) with
    `options` (DEFAULTS[level] with overrides). Returns (model, history)."""
    from ..train import set_seed

    check_training_options(options)
    level = corpus.vocabulary.level
    source = StreamBatches(corpus.train, options["batch_size"], options["bptt"],
                           options.get("variable_bptt", False), seed)
    validation = None
    if corpus.valid is not None:
        validation = evaluation_stream(corpus.valid, eval_batch_size, options["bptt"])
    set_seed(seed)
    model = build_language_model(len(corpus.vocabulary), options["units"], options["embedding"],
                                 options["layers"], options["dropout"], options["tie"],
                                 options["init_range"], device)
    model.optimizer = fastest(OPTIMIZERS[options["optimizer"]], model.parameters(),
                              lr=options["lr"])
    schedule = None
    if options["lr_decay"] != 1:
        schedule = functools.partial(step_decay, factor=float(options["lr_decay"]),
                                     after=int(options["decay_after"]))
    config = TrainConfig(epochs=options["epochs"], batch_size=options["batch_size"],
                         shuffle=False, seed=seed, clip_grad_norm=options["clip"],
                         scheduler=schedule, checkpoint_dir=checkpoint_dir, verbose=0,
                         steps_per_epoch=steps_per_epoch,
                         precision=options.get("precision", "float32"))
    shown_callbacks = list(callbacks)
    if verbose and is_main_process():
        shown_callbacks.append(ProgressBar(options["epochs"], verbose, derive=shown(level)))
    model.preprocessing = corpus.vocabulary
    history = model.fit(source, validation_data=validation, config=config,
                        callbacks=shown_callbacks, resume=resume)
    return model, history


# ----- the command line ---------------------------------------------------------------


class LanguageModel(Task):
    name = "lm"
    preprocessing = CorpusVocabulary
    defaults = DEFAULTS["word"]

    def build_model(self, preprocessing, device="auto", **options):
        settings = {**DEFAULTS[preprocessing.level], **options}
        return build_language_model(len(preprocessing), settings["units"], settings["embedding"],
                                    settings["layers"], settings["dropout"], settings["tie"],
                                    settings["init_range"], device)

    def add_commands(self, commands):
        lm = add_command(commands, "lm", "train and evaluate LSTM language models",
                         "Language models over characters or words: train on a text file, "
                         "evaluate perplexity or bits per character over a whole file.",
                         ["lstmkit lm train input.txt --level char --out shakespeare",
                          "lstmkit lm train ptb.train.txt --valid ptb.valid.txt --test "
                          "ptb.test.txt --level word --out ptb",
                          "lstmkit lm eval ptb ptb.test.txt"])
        lm.set_defaults(run=lambda args: lm.print_help(), debug=False)
        sub = lm.add_subparsers(dest="lm_command", metavar="COMMAND")
        train = add_command(
            sub, "train", "train a language model on a text file",
            "Train an LSTM language model (Zaremba et al. 2014) with truncated backpropagation "
            "through time. Without --valid, the last 10% of CORPUS's tokens validate (the first "
            "90% train). Word level splits lines on whitespace and adds <eos> per line; "
            "--max-vocab keeps the most frequent words, <unk> for the rest. A checkpoint is "
            "written each epoch to OUT/checkpoints; --resume continues exactly. Defaults: word "
            "level Zaremba's small model (2 x 200, SGD lr 1 halved each epoch after 4, BPTT "
            "20, batch 20, 13 epochs); char level 2 x 512, dropout 0.3, Adam, 12 epochs. "
            "--precision bf16 runs the forward pass in bfloat16: about twice as fast on CPUs "
            "with bf16 units.",
            ["lstmkit lm train input.txt --level char --out shakespeare --precision bf16",
             "lstmkit lm train ptb.train.txt --valid ptb.valid.txt --test ptb.test.txt "
             "--level word --out ptb",
             "lstmkit lm train ptb.train.txt --valid ptb.valid.txt --level word --out ptb "
             "--resume ptb/checkpoints"])
        train.add_argument("corpus", help="the training text (UTF-8)")
        train.add_argument("--valid", help="validation text (default: CORPUS's last 10%%)")
        train.add_argument("--test", help="test text, evaluated once at the end")
        train.add_argument("--level", choices=("char", "word"), required=True)
        train.add_argument("--max-vocab", type=int, help="word level: keep this many words")
        add_training_options(train, {"epochs": None, "batch_size": None}, "lm-model")
        for action in train._actions:  # the level decides these defaults
            if action.dest in ("epochs", "batch_size"):
                words, chars = DEFAULTS["word"][action.dest], DEFAULTS["char"][action.dest]
                action.help = (f"{action.help.split(' (default')[0]} (default {words} for words, "
                               f"{chars} for characters)")
        for name, kind, text in (
                ("--units", int, "LSTM units"), ("--embedding", int, "embedding size"),
                ("--layers", int, "stacked LSTM layers"), ("--dropout", float, "dropout rate"),
                ("--bptt", int, "steps per window of truncated backpropagation"),
                ("--lr", float, "learning rate"),
                ("--lr-decay", float, "divide the learning rate by this each epoch after "
                 "--decay-after"),
                ("--decay-after", int, "the last epoch at the initial learning rate"),
                ("--clip", float, "gradient-norm clipping"),
                ("--init-range", float, "uniform initialisation in +-this")):
            train.add_argument(name, type=kind, help=f"{text} (default: the level's)")
        train.add_argument("--optimizer", choices=tuple(OPTIMIZERS))
        add_precision_option(train)
        train.add_argument("--tie", action="store_true", default=None,
                           help="tie the input and output embeddings (Press & Wolf 2017)")
        train.add_argument("--variable-bptt", action="store_true",
                           help="draw window lengths around --bptt (Merity et al. 2017)")
        train.add_argument("--cache-dir", help="where token files go (default ~/.cache/lstmkit)")
        train.set_defaults(run=run_train_command)

        evaluate = add_command(
            sub, "eval", "perplexity or bits per character of a model over a text file",
            "Read FILE with the model's vocabulary (words outside it as <unk>) and report the "
            "mean loss over the whole stream, the state carried through.",
            ["lstmkit lm eval ptb ptb.test.txt", "lstmkit lm eval shakespeare valid.txt"])
        evaluate.add_argument("model", help="a folder written by lstmkit lm train")
        evaluate.add_argument("file", help="the text to evaluate")
        evaluate.add_argument("--batch-size", type=int, default=1,
                              help="parallel streams (default 1: every token in order)")
        evaluate.add_argument("--bptt", type=int, default=100, help="steps per chunk")
        evaluate.add_argument("--device", default="cpu")
        evaluate.add_argument("--cache-dir")
        evaluate.add_argument("--debug", action="store_true", help="show tracebacks for errors")
        evaluate.set_defaults(run=run_eval_command)

        gen = add_command(
            commands, "generate", "generate text from a language model, printed as it comes",
            "Read the prompt once, then sample one token at a time with the state carried: "
            "temperature divides the logits (0: greedy), --top-k and --top-p restrict the "
            "choice, --seed repeats a text.",
            ['lstmkit generate shakespeare --prompt "ROMEO:" --length 500 --temperature 0.8',
             'lstmkit generate ptb --prompt "the company said" --length 50 --top-p 0.9 --seed 1'])
        gen.add_argument("model", help="a folder written by lstmkit lm train")
        gen.add_argument("--prompt", required=True, help="the text to start from")
        gen.add_argument("--length", type=int, default=500, help="tokens to generate (default 500)")
        gen.add_argument("--temperature", type=float, default=1.0,
                         help="divides the logits; 0 is greedy (default 1)")
        gen.add_argument("--top-k", type=int, help="sample among the K most probable tokens")
        gen.add_argument("--top-p", type=float, help="sample among the most probable tokens "
                         "whose probabilities sum to P, in (0, 1]")
        gen.add_argument("--seed", type=int, help="the same seed gives the same text")
        gen.add_argument("--device", default="cpu")
        gen.add_argument("--debug", action="store_true", help="show tracebacks for errors")
        gen.set_defaults(run=run_generate_command)


TASK = LanguageModel()


def options_from(args):
    options = dict(DEFAULTS[args.level])
    for name in ("units", "embedding", "layers", "dropout", "bptt", "lr", "lr_decay",
                 "decay_after", "clip", "init_range", "optimizer", "tie", "epochs",
                 "batch_size", "precision"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    options["variable_bptt"] = bool(args.variable_bptt)
    return options


def load_lm(path, device="cpu"):
    """A model `lm train` saved, with its vocabulary; InputError otherwise."""
    from ..model import load_model

    model = load_model(path, device=device)
    if not isinstance(model.preprocessing, CorpusVocabulary):
        raise InputError(f"{path} is not a language model (no lm vocabulary saved with it)")
    return model


def run_train_command(args):
    from ..checkpoints import read_checkpoint, resolve_resume

    options = options_from(args)
    check_training_options(options)
    out = os.path.abspath(args.out)
    if os.path.lexists(out) and not os.path.isdir(out):
        raise InputError(f"--out {args.out} exists and is not a folder")
    resume = None
    if args.resume:
        resume = resolve_resume(args.resume)
        read_checkpoint(resume)  # a damaged file is refused before anything is read or written
    corpus = load_corpus(args.corpus, args.valid, args.test, args.level, args.max_vocab,
                         cache_dir=args.cache_dir)
    StreamBatches(corpus.train, options["batch_size"], options["bptt"])  # bptt fits, or refused
    verbose = 0 if args.quiet else 1
    started = time.perf_counter()
    model, history = train_language_model(
        corpus, options, seed=args.seed, checkpoint_dir=os.path.join(out, "checkpoints"),
        resume=resume, verbose=verbose, device=args.device)
    seconds = time.perf_counter() - started
    report = {"level": args.level, "options": options, "vocabulary": len(corpus.vocabulary),
              "sources": {k: {"file": v["file"], "tokens": v["tokens"]}
                          for k, v in corpus.sources.items()},
              "train_seconds": seconds, "epochs": []}
    for i, _ in enumerate(history.epoch):
        row = {"epoch": i + 1, **figures(history.history["loss"][i], args.level)}
        if "val_loss" in history.history:
            row["valid"] = figures(history.history["val_loss"][i], args.level)
        report["epochs"].append(row)
    if corpus.valid is not None:
        report["valid"] = figures(evaluate_stream(model, corpus.valid), args.level)
    if corpus.test is not None:
        report["test"] = figures(evaluate_stream(model, corpus.test), args.level)
    if not is_main_process():
        return
    save_model_folder(model, out, report)
    key = "bits_per_char" if args.level == "char" else "perplexity"
    for part in ("valid", "test"):
        if part in report:
            print(f"{part} {key.replace('_', ' ')}: {report[part][key]:.3f}")
    print(f"model written to {args.out} ({seconds:.0f} s of training)")


def save_model_folder(model, out, report):
    """Write the model and report.json into `out` (a folder that may hold
    the run's checkpoints), each file atomically, the report last."""
    os.makedirs(out, exist_ok=True)
    staged = tempfile.mkdtemp(dir=out, prefix=".model-")
    try:
        TASK.save(model, staged, model.preprocessing)
        for name in os.listdir(staged):
            os.replace(os.path.join(staged, name), os.path.join(out, name))
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    atomic_write(os.path.join(out, REPORT), (json.dumps(report, indent=2) + "\n").encode())


def run_eval_command(args):
    if args.batch_size < 1 or args.bptt < 1:
        raise InputError("--batch-size and --bptt must be at least 1")
    model = load_lm(args.model, args.device)
    vocabulary = model.preprocessing
    corpus = load_corpus(args.file, level=vocabulary.level, valid_fraction=0, vocabulary=vocabulary,
                  cache_dir=args.cache_dir)
    if len(corpus.train) < 2:
        raise DataFileError(f"holds {len(corpus.train)} token(s); evaluation scores each token "
                            "given those before it, so it needs at least 2", args.file)
    result = figures(evaluate_stream(model, corpus.train, args.batch_size, args.bptt),
                     vocabulary.level)
    print(" - ".join(f"{k.replace('_', ' ')}: {v:.4f}" for k, v in result.items())
          + f" ({len(corpus.train)} tokens)")


def run_generate_command(args):
    from ..generate import check_sampling, generate

    check_sampling(args.temperature, args.top_k, args.top_p)
    if args.length < 0:
        raise InputError(f"--length must be at least 0, got {args.length}")
    model = load_lm(args.model, args.device)
    vocabulary = model.preprocessing
    _, unknown = vocabulary.encode(args.prompt)  # refused before anything is printed
    if unknown:  # said before the text starts, not inside it
        print(f"note: {len(unknown)} word(s) of the prompt are outside the vocabulary and read "
              f"as <unk>: {' '.join(unknown)}", file=sys.stderr)
    sys.stdout.write(args.prompt)
    for piece in generate(model, args.prompt, args.length, args.temperature, args.top_k,
                          args.top_p, args.seed):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
