"""lstmkit.reports: the figures every classification task prints and saves."""

import itertools
import json

import numpy as np
import pytest

from lstmkit.reports import (classification_report, format_report, have_matplotlib, log_loss,
                             plot_confusion, plot_history, roc_auc)


def test_report_figures_by_hand():
    report = classification_report([0, 0, 0, 1, 2, 2], [0, 0, 1, 1, 2, 0], ["a", "b", "c"])
    assert report["confusion"] == [[2, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert report["accuracy"] == pytest.approx(4 / 6)
    precision = [2 / 3, 1 / 2, 1]
    recall = [2 / 3, 1, 1 / 2]
    assert report["macro_precision"] == pytest.approx(np.mean(precision))
    assert report["macro_recall"] == pytest.approx(np.mean(recall))
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall)]
    assert report["macro_f1"] == pytest.approx(np.mean(f1))
    assert report["per_class"]["b"]["support"] == 1
    assert "roc_auc" not in report
    json.dumps(report)


def test_roc_auc_is_the_pairwise_chance_with_ties_half():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40).astype(bool)
    scores = rng.integers(0, 5, 40) / 4  # many ties
    pairs = [(1.0 if p > n else 0.5 if p == n else 0.0)
             for p, n in itertools.product(scores[y], scores[~y])]
    assert roc_auc(y, scores) == pytest.approx(np.mean(pairs))
    assert roc_auc([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.1]) == 1.0
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))
    report = classification_report([0, 1, 1], [0, 1, 0], ["n", "p"],
                                   scores=np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    assert report["roc_auc"] == 1.0
    # a file of one class: no ROC AUC, and the report is valid JSON
    one = classification_report([1, 1], [1, 0], ["n", "p"], scores=np.array([0.8, 0.3]))
    assert "roc_auc" not in one
    json.dumps(one, allow_nan=False)


def test_log_loss_and_lines():
    p = np.array([[0.8, 0.2], [0.4, 0.6]])
    assert log_loss(np.array([0, 1]), p) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)
    report = {**classification_report([0, 1], [0, 0], ["neg", "pos"], [0.2, 0.4]),
              "log_loss": 0.5}
    lines = format_report(report)
    assert "ROC AUC 1.0000" in lines[1] and "log loss 0.5000" in lines[1]
    assert lines[-1].split() == ["pos", "1", "0"]


@pytest.mark.skipif(not have_matplotlib(), reason="matplotlib (the plot extra) is not installed")
def test_pngs(tmp_path):
    report = classification_report([0, 1, 1], [0, 1, 0], ["neg", "pos"])
    plot_confusion(report, tmp_path / "confusion.png")
    plot_history({"loss": [0.7, 0.5], "val_loss": [0.8, 0.6], "accuracy": [0.5, 0.7],
                  "val_accuracy": [0.4, 0.6]}, tmp_path / "curves.png")
    for name in ("confusion.png", "curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
