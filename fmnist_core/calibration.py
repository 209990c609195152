"""Is "90% sure" right 90% of the time? Reliability diagrams and temperature scaling.

Temperature scaling divides the logits by one number T fitted on held-out data: it fixes
over- (T > 1) or under-confidence (T < 1) without changing any prediction. We only have
probabilities, but log-probabilities are the logits up to a constant, which softmax ignores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmnist_core.evaluation import ECE_BINS, confidence_bins, expected_calibration_error

_EPS = 1e-12
T_BOUNDS = (0.05, 20.0)


@dataclass
class Reliability:
    """Per confidence bin (lo, hi]: mean confidence, accuracy and how many images; empty
    bins have count 0 and NaN means."""

    edges: np.ndarray  # (bins + 1,)
    confidence: np.ndarray  # (bins,)
    accuracy: np.ndarray  # (bins,)
    count: np.ndarray  # (bins,)
    ece: float


def reliability(proba: np.ndarray, y_true: np.ndarray, bins: int = ECE_BINS) -> Reliability:
    """The reliability diagram's data, binned exactly as `expected_calibration_error` bins."""
    proba = np.asarray(proba, np.float64)
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    which = confidence_bins(confidence, bins)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=bins) / count
        accuracy = np.bincount(which, weights=correct, minlength=bins) / count
    return Reliability(
        edges=np.linspace(0, 1, bins + 1),
        confidence=mean_conf,
        accuracy=accuracy,
        count=count,
        ece=expected_calibration_error(proba, y_true, bins),
    )


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities after dividing the logits by `temperature` (same argmax)."""
    logits = np.log(np.clip(np.asarray(proba, np.float64), _EPS, None)) / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def nll(proba: np.ndarray, y_true: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels (the loss temperature scaling lowers)."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    picked = np.asarray(proba, np.float64)[np.arange(len(y_true)), y_true]
    return float(-np.log(np.clip(picked, _EPS, None)).mean())


def fit_temperature(proba: np.ndarray, y_true: np.ndarray) -> float:
    """The T in `T_BOUNDS` minimising the NLL of held-out (validation) predictions.

    Searched on log T, where the NLL is smooth and the bounds are symmetric.
    """
    from scipy.optimize import minimize_scalar

    low, high = np.log(T_BOUNDS)
    result = minimize_scalar(
        lambda log_t: nll(apply_temperature(proba, np.exp(log_t)), y_true),
        bounds=(low, high), method="bounded", options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))


@dataclass
class TemperatureStudy:
    """Temperature fitted on one half of a labelled set and judged on the other half."""

    temperature: float
    before: Reliability
    after: Reliability
    nll_before: float
    nll_after: float
    fitted_on: int
    judged_on: int


def study_temperature(
    proba: np.ndarray, y_true: np.ndarray, bins: int = ECE_BINS, seed: int = 0
) -> TemperatureStudy:
    """Fit T on a random half and compare the other half before and after: judging on the
    images T was fitted on would flatter it."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    order = np.random.default_rng(seed).permutation(len(y_true))
    fit, judge = order[: len(order) // 2], order[len(order) // 2 :]
    temperature = fit_temperature(proba[fit], y_true[fit])
    scaled = apply_temperature(proba[judge], temperature)
    return TemperatureStudy(
        temperature=temperature,
        before=reliability(proba[judge], y_true[judge], bins),
        after=reliability(scaled, y_true[judge], bins),
        nll_before=nll(proba[judge], y_true[judge]),
        nll_after=nll(scaled, y_true[judge]),
        fitted_on=len(fit),
        judged_on=len(judge),
    )
