"""Predictions people can trust: top classes plus an `unsure` flag calibrated on data.

A softmax always names a class, even for a hat or a cat. The flag says when the model's
evidence is too weak to believe: for most models the top probability, with a threshold
chosen on held-out Fashion-MNIST images against inputs that are not garments; for the
photo-tuned model (fmnist_core.photo_head) how far its largest logit stands above the
mean logit (earlier photo models: the energy score), chosen on cross-validated photos. The
rule is stored in the model's meta, so the app, the CLI and the benchmark all apply the
same one. Choosing a threshold is fmnist_core.calibration's job; sending images as people
have them to the right model is fmnist_core.routing's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classifier import Classifier, as_batch

RULE = "max_probability"  # any model: the top probability under a threshold
ENERGY_RULE = "energy"  # Keras models: log-sum-exp of the logits under a threshold
LEAD_RULE = "logit_lead"  # Keras models: the largest logit minus the mean logit under a threshold
LOGIT_RULES = (ENERGY_RULE, LEAD_RULE)  # rules that read logits: "out of scope" when unsure
# Used when a model was saved without calibration: a plain CNN's test images are above it
# about 90% of the time, while most inputs that are not garments fall below it.
DEFAULT_UNSURE: dict[str, Any] = {
    "rule": RULE,
    "threshold": 0.75,
    "calibrated_on": "default, not calibrated for this model",
}
# Whatever the rule, a near tie is worth a warning: the bundled model is right on 47% of the
# test images whose two likeliest classes are closer than this (2% of them), 96% on the
# rest. It is said apart from `unsure`, whose calibrated rates the photo figures measure.
TIE_MARGIN = 0.15
# Why a prediction is unsure (Prediction.unsure_reason).
LOW_CONFIDENCE, OUT_OF_SCOPE = "low confidence", "out of scope"


@dataclass(frozen=True)
class Prediction:
    label: int
    name: str
    confidence: float  # probability of the top class
    unsure: bool  # the model's calibrated rule says its evidence is too weak
    top_k: list[tuple[int, str, float]]  # (label, name, probability), most likely first
    probabilities: np.ndarray  # (10,) float32
    unsure_reason: str = ""  # LOW_CONFIDENCE or OUT_OF_SCOPE when unsure
    near_tie: bool = False  # the two likeliest classes are closer than TIE_MARGIN
    by_photo_model: bool = False  # answered by the bundled model's photo-tuned version
    engine: str = ""  # what computed it: "LiteRT", "TensorFlow" or "scikit-learn"

    @property
    def runner_up(self) -> tuple[int, str, float]:
        """(label, name, probability) of the second likeliest class."""
        label = int(np.argsort(self.probabilities)[-2])
        return label, CLASS_NAMES[label], float(self.probabilities[label])

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape `predict --json` prints."""
        return {
            "label": self.label,
            "name": self.name,
            "confidence": round(self.confidence, 4),
            "unsure": self.unsure,
            "unsure_reason": self.unsure_reason or None,
            "near_tie": self.near_tie,
            "top_k": [
                {"label": label, "name": name, "probability": round(prob, 4)} for label, name, prob in self.top_k
            ],
        }


def unsure_rule(classifier: Classifier) -> dict[str, Any]:
    """The model's calibrated rule, or the default when it has none (or a broken one)."""
    rule = (classifier.meta or {}).get("unsure")
    if not isinstance(rule, dict) or not isinstance(rule.get("threshold"), (int, float)):
        return DEFAULT_UNSURE
    if rule.get("rule") == RULE and 0 <= rule["threshold"] <= 1:
        return rule
    if rule.get("rule") in LOGIT_RULES and math.isfinite(rule["threshold"]) and classifier.has_logits:
        return rule
    return DEFAULT_UNSURE


def energy(logits: np.ndarray) -> np.ndarray:
    """log-sum-exp of each row of logits: high where the model has evidence for some class."""
    top = logits.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))


def logit_lead(logits: np.ndarray) -> np.ndarray:
    """How far each row's largest logit stands above the row's mean: near 0 where no class
    stands out, as for inputs a model fitted with uniform targets on such inputs has learnt
    to spread its belief over. Unlike the energy, adding a constant to every logit (which
    leaves the softmax as it is) does not change it."""
    return logits.max(axis=1) - logits.mean(axis=1) if len(logits) else np.zeros(0, np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def predict(classifier: Classifier, images28: np.ndarray, top_k: int = 3) -> list[Prediction]:
    """Classify a batch in ONE forward pass (per-image calls cost 45 ms each)."""
    batch = as_batch(images28)
    rule = unsure_rule(classifier)
    if rule["rule"] in LOGIT_RULES:
        logits = classifier.predict_logits(batch)
        probabilities = softmax(logits)
        evidence = energy(logits) if rule["rule"] == ENERGY_RULE else logit_lead(logits)
    else:
        probabilities = classifier.predict_proba(batch)
        evidence = probabilities.max(axis=1) if len(probabilities) else np.zeros(0)
    threshold = float(rule["threshold"])
    weak_evidence = OUT_OF_SCOPE if rule["rule"] in LOGIT_RULES else LOW_CONFIDENCE
    engine = predict_engine(classifier, len(batch))
    k = max(1, min(int(top_k), len(CLASS_NAMES)))
    results = []
    for probs, score in zip(probabilities, evidence):
        order = np.argsort(probs)[::-1]
        label = int(order[0])
        reason = weak_evidence if score < threshold else ""
        results.append(
            Prediction(
                label=label,
                name=CLASS_NAMES[label],
                confidence=float(probs[label]),
                unsure=bool(reason),
                unsure_reason=reason,
                near_tie=bool(probs[label] - probs[order[1]] < TIE_MARGIN),
                top_k=[(int(i), CLASS_NAMES[int(i)], float(probs[i])) for i in order[:k]],
                probabilities=probs.astype(np.float32),
                engine=engine,
            )
        )
    return results


def speed_up_predict(classifier: Classifier) -> bool:
    """Put the forward pass `predict` takes for this model (its logits or its probabilities)
    on the model's faster single-image engine (Classifier.speed_up_single_images); False
    where there is none."""
    return classifier.speed_up_single_images(logits=answers_from_logits(classifier))


def predict_engine(classifier: Classifier, images: int = 1) -> str:
    """What computes `predict` for this many images of this model now: "LiteRT",
    "TensorFlow" or "scikit-learn" (for the app to say, next to how long the answer took)."""
    if images != 1:
        return classifier.batch_engine
    return classifier.single_image_engine(logits=answers_from_logits(classifier))


def answers_from_logits(classifier: Classifier) -> bool:
    """True when `predict` takes this model's logits (the energy or logit-lead rule), not its
    probabilities."""
    return unsure_rule(classifier)["rule"] in LOGIT_RULES
