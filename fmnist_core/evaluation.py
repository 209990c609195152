"""Metrics of a model on labelled images, computed once from its probabilities.

`evaluate(proba, y_true)` keeps the probabilities, so the app can ask afterwards for the
images behind any confusion-matrix cell without running the model again.
Precision, recall and F1 come from the confusion matrix in NumPy (checked against
scikit-learn in the tests); a class never predicted or never present scores 0, as
scikit-learn does with `zero_division=0`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES

TOP_K = (1, 2, 3, 5)
ECE_BINS = 15


def _check(proba: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    if proba.ndim != 2 or proba.shape[1] != NUM_CLASSES:
        raise ValueError(f"expected probabilities of shape (N, {NUM_CLASSES}), got {proba.shape}")
    if len(proba) != len(y_true):
        raise ValueError(f"{len(proba)} rows of probabilities but {len(y_true)} labels")
    if len(y_true) == 0:
        raise ValueError("nothing to evaluate: no labelled images")
    if y_true.min() < 0 or y_true.max() >= NUM_CLASSES:
        raise ValueError(f"labels must be 0..{NUM_CLASSES - 1}")
    return proba, y_true


def confidence_bins(confidence: np.ndarray, bins: int) -> np.ndarray:
    """The bin of each confidence among `bins` equal-width bins (lo, hi]; 0 goes to the first."""
    return np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)


def expected_calibration_error(proba: np.ndarray, y_true: np.ndarray, bins: int = ECE_BINS) -> float:
    """Average gap between confidence and accuracy, weighted by how many images each
    equal-width confidence bin (lo, hi] holds: how far "90% sure" is from "right 90% of
    the time"."""
    proba, y_true = _check(proba, y_true)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    which = confidence_bins(confidence, bins)
    gap = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            gap += in_bin.sum() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(gap / len(y_true))


def _top_k(proba: np.ndarray, y_true: np.ndarray) -> dict[int, float]:
    # Stable descending order, so ties break towards the lower label as argmax does and
    # top-1 equals accuracy.
    order = np.argsort(-proba, axis=1, kind="stable")
    return {k: float((order[:, :k] == y_true[:, None]).any(axis=1).mean()) for k in TOP_K}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    safe = np.where(denominator > 0, denominator, 1)
    return np.where(denominator > 0, numerator / safe, 0.0)


def _report(y_true: np.ndarray, y_pred: np.ndarray) -> str:
    from sklearn.metrics import classification_report

    return classification_report(
        y_true,
        y_pred,
        labels=list(range(NUM_CLASSES)),
        target_names=list(CLASS_NAMES),
        digits=4,
        zero_division=0,
    )


@dataclass
class Evaluation:
    """Every metric the app, the CLI and the model card show, plus the data to drill down."""

    proba: np.ndarray = field(repr=False)  # (N, 10) as given to `evaluate`
    y_true: np.ndarray = field(repr=False)  # (N,) int64
    accuracy: float
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    confusion: np.ndarray  # (10, 10), rows = true class, columns = predicted class
    top_k_accuracy: dict[int, float]
    ece: float
    report: str = field(repr=False)

    @property
    def y_pred(self) -> np.ndarray:
        return self.proba.argmax(axis=1)

    def _by_confidence(self, mask: np.ndarray) -> np.ndarray:
        indices = np.flatnonzero(mask)
        confidence = self.proba[indices, self.y_pred[indices]]
        return indices[np.argsort(-confidence, kind="stable")]

    def cell_indices(self, true: int, pred: int) -> np.ndarray:
        """Test indices with this true and predicted class, the model's surest first: the
        top of a mistake cell shows the errors the model is most wrong about."""
        for label in (true, pred):
            if not 0 <= int(label) < NUM_CLASSES:
                raise ValueError(f"label {label} is not a class (0..{NUM_CLASSES - 1})")
        return self._by_confidence((self.y_true == int(true)) & (self.y_pred == int(pred)))

    def most_confident_mistakes(self, n: int) -> np.ndarray:
        """Indices of the `n` wrong predictions made with the highest confidence."""
        return self._by_confidence(self.y_pred != self.y_true)[: max(int(n), 0)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, as stored in a model's meta.json and printed by `evaluate --json`."""
        return {
            "count": int(len(self.y_true)),
            "accuracy": self.accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "per_class": {
                name: {
                    "precision": self.precision[c],
                    "recall": self.recall[c],
                    "f1": self.f1[c],
                    "support": self.support[c],
                }
                for c, name in enumerate(CLASS_NAMES)
            },
            "confusion": self.confusion.tolist(),
            "top_k": {str(k): acc for k, acc in self.top_k_accuracy.items()},
            "ece": self.ece,
        }


def evaluate(proba: np.ndarray, y_true: np.ndarray) -> Evaluation:
    """All metrics from (N, 10) probabilities and the true labels."""
    proba, y_true = _check(proba, y_true)
    y_pred = proba.argmax(axis=1)
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    hits = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    precision = _ratio(hits, confusion.sum(axis=0))
    recall = _ratio(hits, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return Evaluation(
        proba=proba,
        y_true=y_true,
        accuracy=float(hits.sum() / len(y_true)),
        precision=precision.tolist(),
        recall=recall.tolist(),
        f1=f1.tolist(),
        support=support.tolist(),
        macro_precision=float(precision.mean()),
        macro_recall=float(recall.mean()),
        macro_f1=float(f1.mean()),
        confusion=confusion,
        top_k_accuracy=_top_k(proba, y_true),
        ece=expected_calibration_error(proba, y_true),
        report=_report(y_true, y_pred),
    )


def cross_validate_sklearn(
    estimator_factory: Callable[[], Any],
    x: np.ndarray,
    y: np.ndarray,
    folds: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Stratified k-fold accuracy and macro F1 of a scikit-learn model on images (N, 28, 28)
    in 0..255, fed as SklearnClassifier feeds them (flat pixels in 0..1): shows how much a
    classical model's score moves with the split, which one test figure hides."""
    from sklearn.model_selection import StratifiedKFold, cross_validate

    from fmnist_core.classifier import as_batch

    features = as_batch(x).reshape(len(x), -1) / 255.0
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_validate(
        estimator_factory(),
        features,
        np.asarray(y),
        cv=splitter,
        scoring={"accuracy": "accuracy", "macro_f1": "f1_macro"},
        n_jobs=1,
    )
    result: dict[str, Any] = {"folds": folds, "seed": seed}
    for metric in ("accuracy", "macro_f1"):
        values = scores[f"test_{metric}"]
        result[metric] = {"mean": float(values.mean()), "std": float(values.std()), "per_fold": values.tolist()}
    result["fit_seconds"] = scores["fit_time"].tolist()
    return result


def cross_validation_text(cv: dict[str, Any]) -> str:
    """One line for a person from `cross_validate_sklearn`'s result."""
    accuracy, folds = cv["accuracy"], ", ".join(f"{v:.4f}" for v in cv["accuracy"]["per_fold"])
    return (
        f"{cv['folds']}-fold cross-validation on the training images: accuracy "
        f"{accuracy['mean']:.4f} +/- {accuracy['std']:.4f} ({folds}), "
        f"macro F1 {cv['macro_f1']['mean']:.4f}"
    )


def per_class_rows(per_class: dict[str, dict[str, float]]) -> str:
    """The rows of a Markdown table: class | precision | recall | F1 | support."""
    return "\n".join(
        f"| {name} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |"
        for name, c in per_class.items()
    )
