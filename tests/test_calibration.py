"""Reliability bins, ECE and temperature scaling on cases whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core import calibration


def _row(top: int, confidence: float) -> np.ndarray:
    row = np.full(10, (1 - confidence) / 9)
    row[top] = confidence
    return row


def test_reliability_bins_and_ece_by_hand():
    proba = np.stack([_row(0, 0.9), _row(1, 0.9), _row(2, 0.55), _row(3, 0.55)])
    labels = np.array([0, 5, 2, 3])  # the second is wrong
    result = calibration.reliability(proba, labels, bins=10)
    assert result.count.tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 2, 0]  # (0.5, 0.6] and (0.8, 0.9]
    assert result.confidence[8] == pytest.approx(0.9) and result.accuracy[8] == 0.5
    assert result.confidence[5] == pytest.approx(0.55) and result.accuracy[5] == 1.0
    assert np.isnan(result.accuracy[0])
    # ECE = (2 * |0.5 - 0.9| + 2 * |1.0 - 0.55|) / 4
    assert result.ece == pytest.approx((2 * 0.4 + 2 * 0.45) / 4)


def _overconfident(sharpen: float, count: int = 4000, seed: int = 0):
    """Labels drawn from softmax(z); the 'model' reports softmax(sharpen * z)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (count, 10))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(10, p=p) for p in truth])
    sharp = np.exp(sharpen * logits)
    return sharp / sharp.sum(axis=1, keepdims=True), labels


def test_temperature_undoes_overconfidence():
    proba, labels = _overconfident(sharpen=3.0)
    temperature = calibration.fit_temperature(proba, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    scaled = calibration.apply_temperature(proba, temperature)
    assert calibration.nll(scaled, labels) < calibration.nll(proba, labels) - 0.1
    before = calibration.reliability(proba, labels).ece
    after = calibration.reliability(scaled, labels).ece
    assert after < before / 2


def test_a_calibrated_model_keeps_temperature_near_one_and_its_predictions():
    proba, labels = _overconfident(sharpen=1.0, seed=1)
    assert calibration.fit_temperature(proba, labels) == pytest.approx(1.0, abs=0.1)
    scaled = calibration.apply_temperature(proba, 2.5)
    np.testing.assert_array_equal(scaled.argmax(axis=1), proba.argmax(axis=1))
    np.testing.assert_allclose(scaled.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(calibration.apply_temperature(proba, 1.0), proba, atol=1e-6)


def test_study_judges_on_the_half_it_did_not_fit():
    proba, labels = _overconfident(sharpen=2.0, count=1000, seed=2)
    study = calibration.study_temperature(proba, labels)
    assert study.fitted_on + study.judged_on == 1000
    assert study.before.count.sum() == study.judged_on
    assert study.temperature > 1.5 and study.nll_after < study.nll_before
    assert study.after.ece < study.before.ece
