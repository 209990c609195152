"""Is "90% sure" right 90% of the time? Reliability diagrams, temperature scaling, and the
threshold of the `unsure` flag (fmnist_core.prediction).

Temperature scaling divides the logits by one number T fitted on held-out data: it fixes
over- (T > 1) or under-confidence (T < 1) without changing any prediction. We only have
probabilities, but log-probabilities are the logits up to a constant, which softmax ignores.

The unsure threshold is chosen on held-out garments against inputs that are not garments:
real ones when the caller has them, else synthetic ones (`synthetic_ood`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.classifier import Classifier, as_batch
from fmnist_core.evaluation import ECE_BINS, confidence_bins, expected_calibration_error
from fmnist_core.prediction import RULE

_EPS = 1e-12
T_BOUNDS = (0.05, 20.0)
MAX_UNSURE_IN_DISTRIBUTION = 0.15  # calibration never flags more held-out images than this


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
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-4},
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


def study_temperature(proba: np.ndarray, y_true: np.ndarray, bins: int = ECE_BINS, seed: int = 0) -> TemperatureStudy:
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


def calibrate_unsure(
    classifier: Classifier,
    x_val: np.ndarray,
    y_val: np.ndarray,
    x_ood: np.ndarray | None = None,
    max_unsure: float = MAX_UNSURE_IN_DISTRIBUTION,
) -> dict[str, Any]:
    """Choose the threshold that best separates held-out garments from non-garments.

    It maximises (share of non-garments flagged) - (share of held-out images flagged),
    never flagging more than `max_unsure` of the held-out images; the result goes in
    classifier.meta["unsure"]. Without `x_ood`, synthetic non-garments are used.
    """
    x_ood = synthetic_ood() if x_ood is None else as_batch(x_ood)
    val = classifier.predict_proba(as_batch(x_val))
    ood = classifier.predict_proba(x_ood).max(axis=1)
    val_conf = val.max(axis=1)
    candidates = np.unique(np.quantile(val_conf, np.linspace(0.0, max_unsure, 61)))
    val_rate = np.array([(val_conf < t).mean() for t in candidates])
    ood_rate = np.array([(ood < t).mean() for t in candidates])
    best = int(np.argmax(ood_rate - val_rate))
    return {
        "rule": RULE,
        "threshold": round(float(candidates[best]), 4),
        "calibrated_on": f"{len(val_conf)} held-out Fashion-MNIST images and {len(ood)} inputs that are not garments",
        "unsure_rate_in_distribution": round(float(val_rate[best]), 4),
        "unsure_rate_out_of_distribution": round(float(ood_rate[best]), 4),
        "accuracy_when_sure": round(
            float((val.argmax(axis=1) == np.asarray(y_val))[val_conf >= candidates[best]].mean()), 4
        ),
    }


def synthetic_ood(count: int = 600, seed: int = 0) -> np.ndarray:
    """Inputs that are not garments, laid out like the dataset: handwritten digits, noise,
    blobs and geometric shapes (all bundled or generated; nothing is downloaded)."""
    import cv2
    from sklearn.datasets import load_digits

    from fmnist_core.thumbnail import fit_to_side

    rng = np.random.default_rng(seed)
    per_kind = count // 4
    digits = load_digits().images[rng.choice(1797, per_kind, replace=False)]
    out = [fit_to_side((d / 16 * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)) for d in digits]
    for _ in range(per_kind):  # smooth noise fields
        noise = rng.random((28, 28)).astype(np.float32)
        field = cv2.GaussianBlur(noise, (0, 0), rng.uniform(0.5, 3))
        out.append(((field - field.min()) / (np.ptp(field) + 1e-6) * 255).astype(np.uint8))
    for _ in range(per_kind):  # a few random blobs
        canvas = np.zeros((64, 64), np.uint8)
        for _ in range(rng.integers(1, 5)):
            centre = tuple(int(v) for v in rng.integers(8, 56, 2))
            axes = tuple(int(v) for v in rng.integers(3, 20, 2))
            cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, int(rng.integers(80, 256)), -1)
        out.append(fit_to_side(canvas))
    for _ in range(count - 3 * per_kind):  # outlines: circles, triangles, stars, lines
        canvas = np.zeros((64, 64), np.uint8)
        points = rng.integers(4, 60, (int(rng.integers(3, 7)), 2)).astype(np.int32)
        cv2.polylines(canvas, [points], bool(rng.integers(2)), int(rng.integers(120, 256)), int(rng.integers(1, 5)))
        out.append(fit_to_side(canvas))
    return np.stack(out).astype(np.float32)
