"""Metrics against scikit-learn on a fixed example, drill-down order, ECE by hand, k-fold."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.evaluation import cross_validate_sklearn, evaluate, expected_calibration_error

LABELS = list(range(10))


@pytest.fixture(scope="module")
def example():
    """300 fixed predictions, right about 60% of the time; class 9 is never predicted
    (its precision is 0/0) and appears in the labels only a few times."""
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 9, 300)
    y_true[:5] = 9
    logits = rng.normal(size=(300, 10))
    logits[np.arange(300), y_true] += 1.5
    logits[:, 9] = -10.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return proba, y_true


def test_metrics_match_scikit_learn(example):
    proba, y_true = example
    y_pred = proba.argmax(axis=1)
    result = evaluate(proba, y_true)

    assert result.accuracy == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert 0.4 < result.accuracy < 0.9  # a non-trivial example, not all right or all wrong
    precision, recall, f1, support = skm.precision_recall_fscore_support(y_true, y_pred, labels=LABELS, zero_division=0)
    np.testing.assert_allclose(result.precision, precision)
    np.testing.assert_allclose(result.recall, recall)
    np.testing.assert_allclose(result.f1, f1)
    assert result.support == support.tolist()
    assert result.macro_precision == pytest.approx(
        skm.precision_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=0)
    )
    assert result.macro_recall == pytest.approx(
        skm.recall_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=0)
    )
    assert result.macro_f1 == pytest.approx(
        skm.f1_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=0)
    )
    np.testing.assert_array_equal(result.confusion, skm.confusion_matrix(y_true, y_pred, labels=LABELS))
    for k in (1, 2, 3, 5):
        assert result.top_k_accuracy[k] == pytest.approx(skm.top_k_accuracy_score(y_true, proba, k=k, labels=LABELS))
    assert result.top_k_accuracy[1] == pytest.approx(result.accuracy)


def test_report_names_every_class(example):
    result = evaluate(*example)
    for name in CLASS_NAMES:
        assert name in result.report
    assert "macro avg" in result.report


def test_cell_indices_sorted_by_confidence_in_the_prediction():
    proba = np.full((6, 10), 0.01)
    # (index, true, predicted, confidence in the predicted class)
    rows = [(0, 3, 4, 0.60), (1, 3, 4, 0.90), (2, 3, 3, 0.95), (3, 3, 4, 0.75), (4, 1, 4, 0.99), (5, 3, 4, 0.90)]
    y_true = np.zeros(6, int)
    for index, true, pred, confidence in rows:
        proba[index, pred] = confidence
        y_true[index] = true
    result = evaluate(proba, y_true)

    # 1 and 5 tie at 0.90: the lower index first, so the order is reproducible.
    assert result.cell_indices(3, 4).tolist() == [1, 5, 3, 0]
    assert result.cell_indices(3, 3).tolist() == [2]
    assert result.cell_indices(0, 0).size == 0
    assert result.most_confident_mistakes(2).tolist() == [4, 1]
    assert result.most_confident_mistakes(10).tolist() == [4, 1, 5, 3, 0]
    with pytest.raises(ValueError):
        result.cell_indices(3, 10)


def test_ece_on_a_hand_computed_case():
    # Four images. Confidences 0.95 (right), 0.95 (wrong) share the bin (14/15, 1];
    # 0.5 (right) is alone in (7/15, 8/15]; 0.3 (wrong) alone in (4/15, 5/15].
    # ECE = 2/4*|0.5-0.95| + 1/4*|1-0.5| + 1/4*|0-0.3| = 0.225 + 0.125 + 0.075 = 0.425
    proba = np.zeros((4, 10))
    proba[0, 0], proba[0, 1] = 0.95, 0.05
    proba[1, 0], proba[1, 2] = 0.95, 0.05
    proba[2, 3], proba[2, 4] = 0.5, 0.5  # a tie: argmax picks label 3
    proba[3, 5], proba[3, 6:] = 0.3, 0.7 / 4
    y_true = np.array([0, 2, 3, 6])
    assert expected_calibration_error(proba, y_true) == pytest.approx(0.425)
    # One bin pools everything: |2/4 - (0.95+0.95+0.5+0.3)/4| = |0.5 - 0.675|
    assert expected_calibration_error(proba, y_true, bins=1) == pytest.approx(0.175)
    assert evaluate(proba, y_true).ece == pytest.approx(0.425)


def test_to_dict_is_json_ready(example):
    result = evaluate(*example)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["accuracy"] == pytest.approx(result.accuracy)
    assert list(data["per_class"]) == list(CLASS_NAMES)
    assert data["per_class"]["Ankle boot"]["support"] == 5
    assert data["per_class"]["Ankle boot"]["precision"] == 0
    assert np.array_equal(np.array(data["confusion"]), result.confusion)
    assert set(data["top_k"]) == {"1", "2", "3", "5"}
    assert {"macro_f1", "macro_precision", "macro_recall", "ece"} <= set(data)


@pytest.mark.parametrize(
    "proba, y_true",
    [
        (np.full((3, 10), 0.1), np.array([0, 1])),  # lengths differ
        (np.full((3, 9), 0.1), np.array([0, 1, 2])),  # not ten classes
        (np.full((1, 10), 0.1), np.array([10])),  # label out of range
        (np.zeros((0, 10)), np.array([], int)),  # nothing
    ],
)
def test_bad_input_is_refused(proba, y_true):
    with pytest.raises(ValueError):
        evaluate(proba, y_true)


def test_cross_validation_separates_learnable_from_random_labels():
    from sklearn.linear_model import LogisticRegression

    # Class c lights up a 4x4 block at its own place: easy to learn.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 12)
    x = rng.integers(0, 40, (len(y), 28, 28))
    for i, label in enumerate(y):
        x[i, 2 * label : 2 * label + 4, 4:8] = 255

    def factory():
        return LogisticRegression(max_iter=300)

    learnable = cross_validate_sklearn(factory, x, y, folds=3, seed=1)
    assert learnable["folds"] == 3 and len(learnable["accuracy"]["per_fold"]) == 3
    assert learnable["accuracy"]["mean"] == pytest.approx(1.0)
    shuffled = cross_validate_sklearn(factory, x, rng.permutation(y), folds=3, seed=1)
    assert shuffled["accuracy"]["mean"] < 0.5
    assert shuffled["macro_f1"]["mean"] < 0.5
