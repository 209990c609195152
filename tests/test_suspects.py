"""Suspect labels: a label deliberately flipped is the first one the model doubts."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core import suspects


def test_ranking_by_loss_among_disagreements():
    proba = np.array(
        [
            [0.9, 0.1] + [0.0] * 8,  # agrees with label 0: never a suspect
            [0.3, 0.7] + [0.0] * 8,  # label 0, p = 0.3
            [0.05, 0.95] + [0.0] * 8,  # label 0, p = 0.05: the most suspect
            [0.6, 0.4] + [0.0] * 8,  # label 1, p = 0.4
        ]
    )
    found = suspects.rank_suspects(proba, np.array([0, 0, 0, 1]))
    assert [s.index for s in found] == [2, 1, 3]
    first = found[0]
    assert (first.given, first.predicted) == (0, 1)
    assert first.p_given == pytest.approx(0.05) and first.p_predicted == pytest.approx(0.95)
    assert first.loss == pytest.approx(-np.log(0.05))
    assert len(suspects.rank_suspects(proba, np.array([0, 0, 0, 1]), top=2)) == 2


def test_finds_a_flipped_label_in_a_small_set(small_data):
    from sklearn.linear_model import LogisticRegression

    from fmnist_core.classifier import SklearnClassifier

    flat = small_data.x_train.reshape(len(small_data.x_train), -1) / 255.0
    classifier = SklearnClassifier(LogisticRegression(max_iter=40, tol=1e-2).fit(flat, small_data.y_train), "sk_logreg")
    images, labels = small_data.x_test, small_data.y_test.copy()
    proba = classifier.predict_proba(images)
    right = np.flatnonzero(proba.argmax(axis=1) == labels)
    victim = int(right[np.argmax(proba[right].max(axis=1))])  # the model's surest right answer
    labels[victim] = int(np.argmin(proba[victim]))  # relabelled as what it least looks like
    found = suspects.find_suspects(classifier, images, labels, top=5)
    assert found[0].index == victim
    assert found[0].given == labels[victim] and found[0].predicted == small_data.y_test[victim]
