"""Images as people have them to predictions: each input prepared for the model (the photo
or the sketch path), routed to the model that answers it (photos to the photo-tuned model
when there is one), and classified in one batched call per model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from fmnist_core.classifier import Classifier
from fmnist_core.errors import FmnistError, ImageInputError
from fmnist_core.prediction import OUT_OF_SCOPE, Prediction, predict
from fmnist_core.thumbnail import PipelineResult

if TYPE_CHECKING:
    from PIL import Image


def answering(result: PipelineResult, classifier: Classifier, photo_classifier: Classifier | None = None) -> Classifier:
    """Which model answers a prepared input: photos the photo model when there is one."""
    return photo_classifier if photo_classifier is not None and result.kind == "photo" else classifier


def predict_inputs(
    classifier: Classifier,
    results: Sequence[PipelineResult],
    photo_classifier: Classifier | None = None,
    top_k: int = 3,
    scope_check: Classifier | None = None,
) -> list[Prediction]:
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
        predictions.update((row, replace(answer, by_photo_model=by_photo_model)) for row, answer in zip(rows, answers))
    photos = [i for i, r in enumerate(results) if r.kind == "photo" and chosen[i] is not scope_check]
    if scope_check is not None and photos:
        judged = predict(scope_check, np.stack([results[i].image28 for i in photos]))
        for row, judgement in zip(photos, judged):
            if judgement.unsure and not predictions[row].unsure:
                predictions[row] = replace(predictions[row], unsure=True, unsure_reason=OUT_OF_SCOPE)
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


def predict_images(
    classifier: Classifier,
    inputs: Sequence[Callable[[], PipelineResult]],
    photo_classifier: Classifier | None = None,
    top_k: int = 3,
    scope_check: Classifier | None = None,
) -> list[ImageAnswer]:
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
            errors[index] = ImageInputError(f"unexpected error while reading this file ({type(exc).__name__})")
    ready = sorted(prepared)
    answers = dict(
        zip(
            ready,
            predict_inputs(
                classifier, [prepared[i] for i in ready], photo_classifier, top_k=top_k, scope_check=scope_check
            ),
        )
    )
    return [ImageAnswer(prepared.get(i), answers.get(i), errors.get(i)) for i in range(len(inputs))]
