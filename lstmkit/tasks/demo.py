"""`lstmkit demo`: the tutorial's sentiment model on data shipped in the package.

The data is the UCI Sentiment Labelled Sentences set (Kotzias et al., KDD
2015): 3,000 review sentences from Amazon, IMDB and Yelp, half positive. A
stratified fifth is held out; the vocabulary is built from the rest, with the
tutorial's max_features = 1024.
"""

import os
import time
from importlib import resources

from ..data.text import TextEncoder, read_labelled_lines
from ..distributed import is_main_process
from ..train import set_seed
from .text import TextClassification, stratified_split

TASK = TextClassification()

SOURCES = ("amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt")
EXAMPLES = (
    "This was a wonderful movie, I loved every minute.",
    "The food was cold and the service was terrible.",
    "Not worth the money.",
    "Great phone, the battery lasts for days.",
)


def load_demo_data():
    """(texts, labels) of the shipped sentences, labels '0' or '1'."""
    texts, labels = [], []
    folder = resources.files("lstmkit.demo")
    for name in SOURCES:
        with resources.as_file(folder / name) as path:
            t, l = read_labelled_lines(path)
        texts += t
        labels += l
    return texts, labels


def run_demo(out="runs/demo", epochs=TASK.defaults["epochs"],
             batch_size=TASK.defaults["batch_size"], seed=0, device="auto", verbose=1,
             resume=None, checkpoint_every=None, print_fn=print):
    """Train, evaluate on the held-out fifth, show a few predictions, save.
    Checkpoints go to OUT/checkpoints; `resume` continues from one.
    Returns a dict of the figures."""
    started = time.perf_counter()
    if not is_main_process():  # several processes train together: one of them reports
        print_fn = lambda *args, **kwargs: None  # noqa: E731
        verbose = 0
    texts, labels = load_demo_data()
    train_idx, test_idx = stratified_split(labels, 0.2, seed)
    train_texts = [texts[i] for i in train_idx]
    encoder = TextEncoder.fit(train_texts, [labels[i] for i in train_idx],
                              num_words=TASK.defaults["num_words"])
    x_train = encoder.encode(train_texts)
    y_train = encoder.encode_labels([labels[i] for i in train_idx])
    x_test = encoder.encode([texts[i] for i in test_idx])
    y_test = encoder.encode_labels([labels[i] for i in test_idx])
    print_fn(f"UCI sentiment sentences: {len(x_train)} for training, {len(x_test)} held out; "
             f"vocabulary {len(encoder.vocabulary)} ids, maxlen {encoder.maxlen}")

    set_seed(seed)
    model = TASK.build_model(encoder, device=device)
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, seed=seed,
                        verbose=verbose, checkpoint_dir=os.path.join(out, "checkpoints"),
                        checkpoint_every=checkpoint_every, resume=resume)
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=batch_size)
    print_fn(f"held-out loss {loss:.4f}, accuracy {accuracy:.4f} ({len(x_test)} sentences)")

    names = {"0": "negative", "1": "positive"}
    for text, (label, p) in zip(EXAMPLES, encoder.decode_predictions(
            model.predict(encoder.encode(EXAMPLES)))):
        print_fn(f"  {names.get(label, label):8s} {p:.2f}  {text}")

    TASK.save(model, out, encoder, data="UCI Sentiment Labelled Sentences (demo)")
    seconds = time.perf_counter() - started
    print_fn(f"model saved to {os.path.abspath(out)} ({seconds:.0f} s in all)")
    return {"test_loss": loss, "test_accuracy": accuracy, "history": history.history,
            "seconds": seconds, "out": out}


def run_demo_command(args):
    run_demo(out=args.out, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
             device=args.device, verbose=0 if args.quiet else 1, resume=args.resume,
             checkpoint_every=args.checkpoint_every)
