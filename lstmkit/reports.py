"""The figures of a classifier, for every classification task: accuracy,
macro precision / recall / F1, the confusion matrix, ROC AUC for two
classes, log loss; their terminal lines; and their pictures (the confusion
matrix and the training curves as PNG, matplotlib imported only there, as
the `plot` extra)."""

import numpy as np

from .errors import InputError
from .files import write_figure


def classification_report(y_true, y_pred, labels, scores=None):
    """The figures of class ids `y_pred` against `y_true`.

    Args:
        y_true, y_pred: class ids (N,), indices into `labels`.
        labels: the class names, in the order of the ids.
        scores: optional (N,) probabilities of class 1 for two classes (or
            (N, 2) probabilities): adds the ROC AUC.

    Returns a dict: samples; accuracy; balanced_accuracy (the mean recall
    over the classes present); macro_precision, macro_recall (over the
    classes present) and macro_f1 (over the classes present or predicted);
    per-class precision, recall, f1 and support; the confusion matrix (rows:
    true class, columns: predicted, in the order of `labels`); and roc_auc
    when scores are given for two classes and both are present (a file of
    one class has none).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    C = len(labels)
    confusion = np.zeros((C, C), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    true, predicted, hits = confusion.sum(1), confusion.sum(0), np.diag(confusion)
    present = true > 0
    recall = np.divide(hits, true, out=np.zeros(C), where=present)
    precision = np.divide(hits, predicted, out=np.zeros(C), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(C),
                   where=precision + recall > 0)
    counted = present | (predicted > 0)  # a class neither present nor predicted has no F1
    report = {"samples": int(len(y_true)),
              "accuracy": float(hits.sum() / max(len(y_true), 1)),
              "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
              "macro_precision": float(precision[present].mean()) if present.any() else 0.0,
              "macro_recall": float(recall[present].mean()) if present.any() else 0.0,
              "macro_f1": float(f1[counted].mean()) if counted.any() else 0.0,
              "per_class": {str(label): {"precision": float(precision[i]),
                                         "recall": float(recall[i]), "f1": float(f1[i]),
                                         "support": int(true[i])}
                            for i, label in enumerate(labels)},
              "labels": list(labels), "confusion": confusion.tolist()}
    if scores is not None and C == 2 and present.all():  # undefined without both classes
        scores = np.asarray(scores, dtype=np.float64)
        report["roc_auc"] = roc_auc(y_true == 1, scores[:, 1] if scores.ndim == 2 else scores)
    return report


def multilabel_report(y_true, p, labels, threshold=0.5):
    """Figures of multi-label predictions: y_true (N, C) 0/1, p (N, C)
    probabilities, a label predicted where p > threshold. subset_accuracy
    (every label of a text right), per-label precision / recall / F1 and
    their macro means, micro F1 over every (text, label) pair."""
    y_true = np.asarray(y_true) > 0.5
    y_pred = np.asarray(p) > threshold
    hits = (y_true & y_pred).sum(0)
    true, predicted = y_true.sum(0), y_pred.sum(0)
    precision = np.divide(hits, predicted, out=np.zeros(len(labels)), where=predicted > 0)
    recall = np.divide(hits, true, out=np.zeros(len(labels)), where=true > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(labels)),
                   where=precision + recall > 0)
    micro = 2 * hits.sum() / max(true.sum() + predicted.sum(), 1)
    return {"samples": int(len(y_true)), "multilabel": True,
            "subset_accuracy": float((y_true == y_pred).all(1).mean()),
            "macro_precision": float(precision.mean()), "macro_recall": float(recall.mean()),
            "macro_f1": float(f1.mean()), "micro_f1": float(micro),
            "per_class": {str(label): {"precision": float(precision[i]),
                                       "recall": float(recall[i]), "f1": float(f1[i]),
                                       "support": int(true[i])}
                          for i, label in enumerate(labels)},
            "labels": list(labels)}


def roc_auc(positive, scores):
    """The area under the ROC curve: the chance that a positive sample scores
    above a negative one, ties counting half (the Mann-Whitney U statistic,
    from the ranks, ties given their mean rank). NaN without both classes."""
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # mean rank (from 1) of each run of equal scores
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def log_loss(y, p):
    """The mean negative log probability of the true class; p (N, C)."""
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0)).mean())


def format_report(report):
    """Lines of a report for the terminal: the figures, then the confusion
    matrix (a multi-label report: its figures, then each label's)."""
    if report.get("multilabel"):
        lines = [f"subset accuracy {report['subset_accuracy']:.4f}, micro F1 "
                 f"{report['micro_f1']:.4f}, macro F1 {report['macro_f1']:.4f} "
                 f"({report['samples']} samples)"]
        width = max(6, *(len(str(label)) for label in report["labels"]))
        lines.append(f"{'label':>{width}}  precision  recall      f1  support")
        for label, row in report["per_class"].items():
            lines.append(f"{label:>{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  "
                         f"{row['f1']:6.4f}  {row['support']:7d}")
        return lines
    lines = [f"accuracy {report['accuracy']:.4f}, balanced accuracy "
             f"{report['balanced_accuracy']:.4f}, macro F1 {report['macro_f1']:.4f} "
             f"({report['samples']} samples)"]
    if "macro_precision" in report:
        lines.append(f"macro precision {report['macro_precision']:.4f}, macro recall "
                     f"{report['macro_recall']:.4f}"
                     + (f", ROC AUC {report['roc_auc']:.4f}" if "roc_auc" in report else "")
                     + (f", log loss {report['log_loss']:.4f}" if "log_loss" in report else ""))
    lines.append("confusion (rows: true, columns: predicted):")
    labels = [str(label) for label in report["labels"]]
    width = max(6, *(len(label) for label in labels), *(len(str(v)) for row in
                                                         report["confusion"] for v in row))
    lines.append(" " * (width + 2) + " ".join(f"{label:>{width}}" for label in labels))
    for label, row in zip(labels, report["confusion"]):
        lines.append(f"{label:>{width}}  " + " ".join(f"{v:>{width}}" for v in row))
    return lines


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError("the PNG reports need matplotlib: pip install 'lstmkit[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def have_matplotlib():
    """Whether the PNG reports can be drawn here."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_confusion(report, path, title="confusion matrix"):
    """The report's confusion matrix as a PNG at `path` (rows true, columns
    predicted, each cell its count)."""
    plt = _pyplot()
    confusion = np.asarray(report["confusion"])
    labels = [str(label) for label in report["labels"]]
    size = 2.5 + 0.5 * len(labels)
    figure, axes = plt.subplots(figsize=(size, size))
    try:
        axes.imshow(confusion, cmap="Blues")
        axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        axes.set_yticks(range(len(labels)), labels)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title(title)
        top = confusion.max() if confusion.size else 0
        for (i, j), v in np.ndenumerate(confusion):
            axes.text(j, i, str(v), ha="center", va="center",
                      color="white" if v > top / 2 else "black")
        figure.tight_layout()
        write_figure(figure, path)
    finally:
        plt.close(figure)


def curves_of(history):
    """A History's dict {name: [value per epoch]} as panels {quantity:
    {'training': [...], 'validation': [...]}} (loss and each metric)."""
    return {name: {"training": values, **({"validation": history[f"val_{name}"]}
                                          if f"val_{name}" in history else {})}
            for name, values in history.items() if not name.startswith("val_") and name != "lr"}


def plot_history(history, path):
    """Training curves as a PNG: one panel per quantity (loss, accuracy),
    one line each for training and validation. `history` is a History's
    dict {name: [value per epoch]}, or panels {quantity: {line: [values]}}
    (several models' curves in one picture)."""
    plt = _pyplot()
    panels = history if all(isinstance(v, dict) for v in history.values()) else curves_of(history)
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    try:
        for ax, (name, lines) in zip(axes[0], panels.items()):
            for label, values in lines.items():
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.legend()
        figure.tight_layout()
        write_figure(figure, path)
    finally:
        plt.close(figure)
