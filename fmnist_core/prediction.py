"""Predictions people can trust: top classes plus an `unsure` flag calibrated on data.

A softmax always names a class, even for a hat or a cat. The flag says when the model's
evidence is too weak to believe: for most models the top probability, with a threshold
chosen on held-out Fashion-MNIST images against inputs that are not garments; for the
photo-tuned model (fmnist_core.photo_head) how far its largest logit stands above the
mean logit (earlier photo models: the energy score), chosen on cross-validated photos. The
rule is stored in the model's meta, so the app, the CLI and the benchmark all apply the
same one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classifier import Classifier, as_batch
from fmnist_core.errors import FmnistError, ImageInputError
from fmnist_core.thumbnail import PipelineResult

if TYPE_CHECKING:
    from PIL import Image

RULE = "max_probability"  # any model: the top probability under a threshold
ENERGY_RULE = "energy"  # Keras models: log-sum-exp of the logits under a threshold
LEAD_RULE = "logit_lead"  # Keras models: the largest logit minus the mean logit under a threshold
LOGIT_RULES = (ENERGY_RULE, LEAD_RULE)  # rules that read logits: "out of scope" when unsure
# Used when a model was saved without calibration: a plain CNN's test images are above it
# about 90% of the time, while most inputs that are not garments fall below it.
DEFAULT_UNSURE: dict[str, Any] = {
    "rule": RULE, "threshold": 0.75, "calibrated_on": "default, not calibrated for this model",
}
MAX_UNSURE_IN_DISTRIBUTION = 0.15  # calibration never flags more held-out images than this
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
            "label": self.label, "name": self.name, "confidence": round(self.confidence, 4),
            "unsure": self.unsure, "unsure_reason": self.unsure_reason or None,
            "near_tie": self.near_tie,
            "top_k": [{"label": label, "name": name, "probability": round(prob, 4)}
                      for label, name, prob in self.top_k],
        }


def unsure_rule(classifier: Classifier) -> dict[str, Any]:
    """The model's calibrated rule, or the default when it has none (or a broken one)."""
    rule = (getattr(classifier, "meta", None) or {}).get("unsure")
    if not isinstance(rule, dict) or not isinstance(rule.get("threshold"), (int, float)):
        return DEFAULT_UNSURE
    if rule.get("rule") == RULE and 0 <= rule["threshold"] <= 1:
        return rule
    if (rule.get("rule") in LOGIT_RULES and math.isfinite(rule["threshold"])
            and hasattr(classifier, "predict_logits")):
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
    engine = single_image_engine(classifier) if len(batch) == 1 else _batch_engine(classifier)
    k = max(1, min(int(top_k), len(CLASS_NAMES)))
    results = []
    for probs, score in zip(probabilities, evidence):
        order = np.argsort(probs)[::-1]
        label = int(order[0])
        reason = weak_evidence if score < threshold else ""
        results.append(Prediction(
            label=label, name=CLASS_NAMES[label], confidence=float(probs[label]),
            unsure=bool(reason), unsure_reason=reason,
            near_tie=bool(probs[label] - probs[order[1]] < TIE_MARGIN),
            top_k=[(int(i), CLASS_NAMES[int(i)], float(probs[i])) for i in order[:k]],
            probabilities=probs.astype(np.float32), engine=engine,
        ))
    return results


def _batch_engine(classifier: Classifier) -> str:
    return "scikit-learn" if single_image_engine(classifier) == "scikit-learn" else "TensorFlow"


def prepare_single_images(classifier: Classifier) -> bool:
    """Put the forward pass `predict` takes for this model on LiteRT's fast path for single
    images (KerasClassifier.prepare_single_images); False where there is none."""
    prepare = getattr(classifier, "prepare_single_images", None)
    return bool(prepare and prepare(logits=answers_from_logits(classifier)))


def single_image_engine(classifier: Classifier) -> str:
    """What computes `predict` for one image of this model now: "LiteRT", "TensorFlow" or
    "scikit-learn" (for the app to say, next to how long the answer took)."""
    engine = getattr(classifier, "single_image_engine", None)
    return engine(logits=answers_from_logits(classifier)) if engine else "scikit-learn"


def answers_from_logits(classifier: Classifier) -> bool:
    """True when `predict` takes this model's logits (the energy or logit-lead rule), not its
    probabilities."""
    return unsure_rule(classifier)["rule"] in LOGIT_RULES


def answering(result: PipelineResult, classifier: Classifier,
              photo_classifier: Classifier | None = None) -> Classifier:
    """Which model answers a prepared input: photos the photo model when there is one."""
    return photo_classifier if photo_classifier is not None and result.kind == "photo" else classifier


def predict_inputs(classifier: Classifier, results: Sequence[PipelineResult],
                   photo_classifier: Classifier | None = None, top_k: int = 3,
                   scope_check: Classifier | None = None) -> list[Prediction]:
    """Predictions for prepared inputs, in order: photos go to `photo_classifier` when
    there is one (the bundled model tuned for photos), everything else to `classifier`.
    One batched call per model.

    `scope_check` (the photo model, when another model answers photos) also judges every
    photo: a model never shown photos is confidently wrong on a hat, so a photo the photo
    model finds outside its ten classes is unsure whoever answers it."""
    chosen = [answering(r, classifier, photo_classifier) for r in results]
    predictions: dict[int, Prediction] = {}
    for model in {id(c): c for c in chosen}.values():
        rows = [i for i, c in enumerate(chosen) if c is model]
        answers = predict(model, np.stack([results[i].image28 for i in rows]), top_k=top_k)
        by_photo_model = model is photo_classifier
        predictions.update((row, replace(answer, by_photo_model=by_photo_model))
                           for row, answer in zip(rows, answers))
    photos = [i for i, r in enumerate(results) if r.kind == "photo" and chosen[i] is not scope_check]
    if scope_check is not None and photos:
        judged = predict(scope_check, np.stack([results[i].image28 for i in photos]))
        for row, judgement in zip(photos, judged):
            if judgement.unsure and not predictions[row].unsure:
                predictions[row] = replace(predictions[row], unsure=True,
                                           unsure_reason=OUT_OF_SCOPE)
    return [predictions[i] for i in range(len(results))]


@dataclass(frozen=True)
class ImageAnswer:
    """One image's fate: the model input it became and its prediction, or why it has none."""

    result: PipelineResult | None = None
    prediction: Prediction | None = None
    error: FmnistError | None = None


def prepared_input(image: Image.Image, drawing: bool = False) -> PipelineResult:
    """A decoded image as the model's input: the photo path (which leaves dataset look-alikes
    as they are), or for a drawing the canvas's sketch path."""
    from fmnist_core.photo import prepare
    from fmnist_core.sketch import sketch_to_input

    return sketch_to_input(np.asarray(image.convert("RGB"))) if drawing else prepare(image)


def predict_images(classifier: Classifier, inputs: Sequence[Callable[[], PipelineResult]],
                   photo_classifier: Classifier | None = None, top_k: int = 3,
                   scope_check: Classifier | None = None) -> list[ImageAnswer]:
    """Images as people have them (files, uploads, drawings) to predictions, in order: the
    one road the app, the `predict` command and the API share. Each of `inputs` reads one
    image and prepares it (decode_image or read_image_file, then prepared_input; the app
    caches that step per file). A bad image costs only itself; the rest go through the
    models in one batched call each (predict_inputs, which says what the other arguments do)."""
    prepared: dict[int, PipelineResult] = {}
    errors: dict[int, FmnistError] = {}
    for index, read in enumerate(inputs):
        try:
            prepared[index] = read()
        except FmnistError as exc:
            errors[index] = exc
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop the others
            errors[index] = ImageInputError(
                f"unexpected error while reading this file ({type(exc).__name__})")
    ready = sorted(prepared)
    answers = dict(zip(ready, predict_inputs(classifier, [prepared[i] for i in ready],
                                             photo_classifier, top_k=top_k,
                                             scope_check=scope_check)))
    return [ImageAnswer(prepared.get(i), answers.get(i), errors.get(i))
            for i in range(len(inputs))]


def calibrate_unsure(classifier: Classifier, x_val: np.ndarray, y_val: np.ndarray,
                     x_ood: np.ndarray | None = None,
                     max_unsure: float = MAX_UNSURE_IN_DISTRIBUTION) -> dict[str, Any]:
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
        "calibrated_on": f"{len(val_conf)} held-out Fashion-MNIST images and "
                         f"{len(ood)} inputs that are not garments",
        "unsure_rate_in_distribution": round(float(val_rate[best]), 4),
        "unsure_rate_out_of_distribution": round(float(ood_rate[best]), 4),
        "accuracy_when_sure": round(float(
            (val.argmax(axis=1) == np.asarray(y_val))[val_conf >= candidates[best]].mean()), 4),
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
    out = [fit_to_side((d / 16 * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1))
           for d in digits]
    for _ in range(per_kind):  # smooth noise fields
        noise = rng.random((28, 28)).astype(np.float32)
        field = cv2.GaussianBlur(noise, (0, 0), rng.uniform(0.5, 3))
        out.append(((field - field.min()) / (np.ptp(field) + 1e-6) * 255).astype(np.uint8))
    for _ in range(per_kind):  # a few random blobs
        canvas = np.zeros((64, 64), np.uint8)
        for _ in range(rng.integers(1, 5)):
            centre = tuple(int(v) for v in rng.integers(8, 56, 2))
            axes = tuple(int(v) for v in rng.integers(3, 20, 2))
            cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360,
                        int(rng.integers(80, 256)), -1)
        out.append(fit_to_side(canvas))
    for _ in range(count - 3 * per_kind):  # outlines: circles, triangles, stars, lines
        canvas = np.zeros((64, 64), np.uint8)
        points = rng.integers(4, 60, (int(rng.integers(3, 7)), 2)).astype(np.int32)
        cv2.polylines(canvas, [points], bool(rng.integers(2)), int(rng.integers(120, 256)),
                      int(rng.integers(1, 5)))
        out.append(fit_to_side(canvas))
    return np.stack(out).astype(np.float32)
