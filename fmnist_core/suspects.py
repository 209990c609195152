"""Suspect labels: images whose given label the model finds least likely.

Fashion-MNIST has known mislabeled and badly cropped images; a trained model that
confidently disagrees with the label points at them (and at its own blind spots).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmnist_core.classifier import Classifier

_EPS = 1e-12


@dataclass(frozen=True)
class Suspect:
    """One image whose label the model doubts; `loss` is -log p(given label)."""

    index: int  # position in the images that were scanned
    given: int
    predicted: int
    p_given: float
    p_predicted: float
    loss: float


def rank_suspects(proba: np.ndarray, labels: np.ndarray, top: int = 100) -> list[Suspect]:
    """The `top` images the model disagrees with, by highest loss on the given label.

    Only disagreements count: an image the model gets right at low confidence is hard,
    not suspect.
    """
    proba = np.asarray(proba, np.float64)
    labels = np.asarray(labels).astype(np.int64).ravel()
    rows = np.arange(len(labels))
    predicted = proba.argmax(axis=1)
    loss = -np.log(np.clip(proba[rows, labels], _EPS, None))
    disagree = np.flatnonzero(predicted != labels)
    ranked = disagree[np.argsort(-loss[disagree], kind="stable")][: max(int(top), 0)]
    return [
        Suspect(
            index=int(i),
            given=int(labels[i]),
            predicted=int(predicted[i]),
            p_given=float(proba[i, labels[i]]),
            p_predicted=float(proba[i, predicted[i]]),
            loss=float(loss[i]),
        )
        for i in ranked
    ]


def find_suspects(classifier: Classifier, images: np.ndarray, labels: np.ndarray, top: int = 100) -> list[Suspect]:
    """Run the model once over `images` (batched) and rank the suspect labels."""
    return rank_suspects(classifier.predict_proba(images), labels, top)
