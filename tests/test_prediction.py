"""Predictions: one batched call, top-k order, and the calibrated `unsure` rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fmnist_core.calibration import calibrate_unsure, synthetic_ood
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classifier import Classifier
from fmnist_core.prediction import DEFAULT_UNSURE, Prediction, predict, unsure_rule


class FixedClassifier(Classifier):
    """Probabilities chosen by the test: class = image's top-left pixel % 10, confidence =
    its second pixel / 255, the rest spread evenly. Counts its calls."""

    kind = "fake"

    def __init__(self, meta=None):
        self.meta = meta or {}
        self.calls = 0

    def predict_proba(self, images):
        self.calls += 1
        images = np.asarray(images, np.float32).reshape(-1, 28, 28)
        out = np.zeros((len(images), 10), np.float32)
        for row, image in enumerate(images):
            label, confidence = int(image[0, 0]) % 10, image[0, 1] / 255
            out[row] = (1 - confidence) / 9
            out[row, label] = confidence
        return out

    params = 0


def image(label: int, confidence: float) -> np.ndarray:
    picture = np.zeros((28, 28), np.uint8)
    picture[0, 0], picture[0, 1] = label, round(confidence * 255)
    return picture


def test_one_call_for_the_whole_batch_and_ordered_top_k():
    classifier = FixedClassifier({"unsure": {"rule": "max_probability", "threshold": 0.5, "calibrated_on": "test"}})
    batch = np.stack([image(3, 0.9), image(7, 0.3), image(0, 0.6)])
    predictions = predict(classifier, batch, top_k=4)
    assert classifier.calls == 1
    assert [p.label for p in predictions] == [3, 7, 0]
    assert [p.unsure for p in predictions] == [False, True, False]
    first = predictions[0]
    assert first.name == CLASS_NAMES[3] and first.confidence == pytest.approx(0.9, abs=0.01)
    assert len(first.top_k) == 4 and first.top_k[0][:2] == (3, CLASS_NAMES[3])
    probabilities = [prob for _, _, prob in first.top_k]
    assert probabilities == sorted(probabilities, reverse=True)
    assert first.probabilities.shape == (10,)


def test_single_image_and_json_shape():
    (prediction,) = predict(FixedClassifier(), image(5, 0.95))
    assert isinstance(prediction, Prediction)
    data = json.loads(json.dumps(prediction.as_dict()))
    assert data["label"] == 5 and data["name"] == "Sandal" and data["unsure"] is False
    assert data["top_k"][0] == {"label": 5, "name": "Sandal", "probability": 0.9490}


def test_default_rule_when_meta_has_none_or_a_broken_one():
    assert unsure_rule(FixedClassifier()) is DEFAULT_UNSURE
    assert unsure_rule(FixedClassifier({"unsure": {"rule": "max_probability"}})) is DEFAULT_UNSURE
    assert unsure_rule(FixedClassifier({"unsure": "yes"})) is DEFAULT_UNSURE
    (low,) = predict(FixedClassifier(), image(1, DEFAULT_UNSURE["threshold"] - 0.05))
    assert low.unsure


def test_calibration_separates_garments_from_the_rest():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 400)
    confident = np.stack([image(int(c), rng.uniform(0.8, 1.0)) for c in labels])
    doubtful = np.stack([image(int(c), rng.uniform(0.2, 0.6)) for c in labels[:100]])
    rule = calibrate_unsure(FixedClassifier(), confident, labels, x_ood=doubtful)
    assert rule["rule"] == "max_probability" and 0.6 <= rule["threshold"] <= 0.81
    assert rule["unsure_rate_out_of_distribution"] == 1.0
    assert rule["unsure_rate_in_distribution"] <= 0.15
    assert "400" in rule["calibrated_on"]
    classifier = FixedClassifier({"unsure": rule})
    assert all(p.unsure for p in predict(classifier, doubtful))


def test_calibration_never_flags_more_than_allowed():
    labels = np.arange(200) % 10
    spread = np.stack([image(int(c), 0.3 + 0.7 * i / 200) for i, c in enumerate(labels)])
    rule = calibrate_unsure(FixedClassifier(), spread, labels, x_ood=spread[:50], max_unsure=0.1)
    assert rule["unsure_rate_in_distribution"] <= 0.1


def test_synthetic_ood_looks_like_dataset_inputs():
    images = synthetic_ood(120)
    assert images.shape == (120, 28, 28) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 255
    assert (images.reshape(120, -1).max(axis=1) > 0).all()


class LogitClassifier(FixedClassifier):
    """Logits chosen by the test (row i of `logits`), for models with the energy rule."""

    has_logits = True

    def __init__(self, logits, meta):
        super().__init__(meta)
        self.logits = np.asarray(logits, np.float32)

    def predict_logits(self, images):
        self.calls += 1
        return self.logits[: len(np.asarray(images).reshape(-1, 28, 28))]


def test_the_energy_rule_flags_weak_evidence_even_when_one_class_leads():
    from scipy.special import logsumexp, softmax

    from fmnist_core.prediction import energy

    # Row 0: strong evidence for class 2. Row 1: class 5 leads clearly (66%) but every
    # logit is low, as for a photo of something the model has no class for.
    logits = np.array([[0, 0, 9, 0, 0, 0, 0, 0, 0, 0], [-4, -4, -4, -4, -4, -1, -4, -4, -4, -4]])
    rule = {"rule": "energy", "threshold": 2.0, "calibrated_on": "test"}
    classifier = LogitClassifier(logits, {"unsure": rule})
    np.testing.assert_allclose(energy(logits.astype(float)), logsumexp(logits, axis=1))
    predictions = predict(classifier, np.zeros((2, 28, 28)))
    assert classifier.calls == 1
    assert [p.label for p in predictions] == [2, 5] and [p.unsure for p in predictions] == [False, True]
    np.testing.assert_allclose(predictions[1].probabilities, softmax(logits[1]), rtol=1e-5)
    assert predictions[1].confidence > 0.6
    # A model without logits cannot use the energy rule: it falls back to the default.
    assert unsure_rule(FixedClassifier({"unsure": rule})) == DEFAULT_UNSURE


def test_the_logit_lead_rule_flags_spread_belief_whatever_the_energy():
    from fmnist_core.prediction import OUT_OF_SCOPE, energy, logit_lead

    # Row 0: class 2 stands out. Row 1: every logit equally high, as a model fitted with
    # uniform targets answers a hat: its energy is higher than row 0's, its lead is 0.
    # Row 2: row 0 moved up by 3, the same softmax and the same lead.
    logits = np.array([[0, 0, 6, 0, 0, 0, 0, 0, 0, 0], [4.0] * 10, [3, 3, 9, 3, 3, 3, 3, 3, 3, 3]])
    assert energy(logits)[1] > energy(logits)[0]
    np.testing.assert_allclose(logit_lead(logits), [5.4, 0.0, 5.4])
    rule = {"rule": "logit_lead", "threshold": 5.0, "calibrated_on": "test"}
    classifier = LogitClassifier(logits, {"unsure": rule})
    predictions = predict(classifier, np.zeros((3, 28, 28)))
    assert classifier.calls == 1 and [p.unsure for p in predictions] == [False, True, False]
    assert predictions[1].unsure_reason == OUT_OF_SCOPE and predictions[0].label == 2
    assert unsure_rule(FixedClassifier({"unsure": rule})) == DEFAULT_UNSURE  # no logits
    assert unsure_rule(LogitClassifier(logits, {"unsure": {**rule, "threshold": float("nan")}})) == DEFAULT_UNSURE


class RowsClassifier(Classifier):
    """Answers each call with the probability rows it was given, in order."""

    kind = "fake"
    params = 0

    def __init__(self, rows, meta=None):
        self.rows = np.asarray(rows, np.float32)
        self.meta = meta or {"unsure": {"rule": "max_probability", "threshold": 0.3, "calibrated_on": "test"}}

    def predict_proba(self, images):
        return self.rows[: len(np.asarray(images).reshape(-1, 28, 28))]


def _row(**probabilities):
    row = np.zeros(10, np.float32)
    for name, value in probabilities.items():
        row[CLASS_NAMES.index(name.replace("_", "/").replace("T/shirt", "T-shirt"))] = value
    return row


def test_a_near_tie_is_flagged_even_when_the_top_class_passes_the_threshold():
    tie = _row(T_shirt_top=0.411, Dress=0.406, Shirt=0.183)
    clear = _row(T_shirt_top=0.7, Dress=0.2, Shirt=0.1)
    predictions = predict(RowsClassifier([tie, clear]), np.zeros((2, 28, 28)))
    assert predictions[0].near_tie and predictions[0].runner_up[1] == "Dress"
    assert not predictions[0].unsure  # the calibrated rule alone decides `unsure`
    assert not predictions[1].near_tie and predictions[1].unsure_reason == ""


def test_low_confidence_is_said_as_such():
    low = _row(Bag=0.2, Sneaker=0.05) + 0.07
    prediction = predict(RowsClassifier([low / low.sum()]), np.zeros((1, 28, 28)))[0]
    assert prediction.unsure and prediction.unsure_reason == "low confidence"


def test_the_photo_model_flags_out_of_scope_photos_whoever_answers():
    from fmnist_core.routing import predict_inputs
    from fmnist_core.thumbnail import PipelineResult

    confident = RowsClassifier([_row(Shirt=0.78, Coat=0.12, Pullover=0.1)] * 2)
    judge = RowsClassifier(
        [_row(Shirt=0.12, Coat=0.1, Bag=0.1) + 0.085] * 2,
        meta={"unsure": {"rule": "max_probability", "threshold": 0.5, "calibrated_on": "test"}},
    )
    photo = PipelineResult(np.zeros((28, 28), np.uint8), [], "photo")
    sketch = PipelineResult(np.zeros((28, 28), np.uint8), [], "sketch")
    plain = predict_inputs(confident, [photo, sketch])
    judged = predict_inputs(confident, [photo, sketch], scope_check=judge)
    assert not plain[0].unsure  # alone, the model is sure of its "Shirt" for a hat
    assert judged[0].unsure and not judged[0].by_photo_model
    assert not judged[1].unsure  # drawings are not photos: the model's own rule only
