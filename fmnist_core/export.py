"""A model for the serving engines that take over beyond one machine.

`savedmodel` writes TensorFlow Serving's layout, OUT/NAME/1/, whose `serving_default`
signature takes `images` (float32 [N, 28, 28], pixels 0..255, as the dataset stores them)
and returns `probabilities` [N, 10]: the app's own, mirror averaging and the logit rules'
averaged logits included, so any engine that loads it answers as the app does. `tflite`
writes OUT/NAME/1/model.tflite, the flatbuffer the app converts for single images
(fmnist_core.lite): the model alone, so a caller averages it with the mirror image itself
when the model's meta says `flip_tta`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fmnist_core.classifier import Classifier, KerasClassifier, last_dense, last_dense_input
from fmnist_core.errors import FmnistError
from fmnist_core.prediction import answers_from_logits
from fmnist_core.serving import VERSION
from fmnist_core.serving.tensors import INPUT

FORMATS = ("savedmodel", "tflite")
LITE_FILE = "model.tflite"


class ExportError(FmnistError):
    """A model that cannot be exported, or a place it cannot be written to."""


def export(classifier: Classifier, name: str, fmt: str, out: Path) -> Path:
    """Write `classifier` as OUT/NAME/1/ in `fmt`, atomically: a crash leaves no half version
    for a server that watches the folder (it ignores the hidden one being written)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use {' or '.join(FORMATS)}")
    if not isinstance(classifier, KerasClassifier):
        raise ExportError(f"only Keras models can be exported; {classifier.kind} is a scikit-learn model")
    target = Path(out) / name / VERSION
    if target.exists():
        raise ExportError(f"{target} already exists: remove it or choose another --out")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {target.parent} ({exc.strerror or exc})") from None
    partial = target.with_name(f".{VERSION}.partial-{os.getpid()}")
    try:
        if fmt == "savedmodel":
            write_savedmodel(classifier, partial)
        else:
            write_litert(classifier, partial)
        os.replace(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def write_savedmodel(classifier: KerasClassifier, folder: Path) -> None:
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(classifier.model)
    archive.add_endpoint(
        "serve", probabilities_function(classifier), [tf.TensorSpec([None, 28, 28], tf.float32, name=INPUT)]
    )
    archive.write_out(str(folder), verbose=False)


def probabilities_function(classifier: KerasClassifier) -> Callable[[Any], dict[str, Any]]:
    """The probabilities `prediction.predict` gives, as one TensorFlow function: the mean over
    the model and its mirror image (flip_tta), or for the rules read from logits (energy,
    logit lead) the softmax of the mean logits (KerasClassifier.predict_logits)."""
    import tensorflow as tf

    model = classifier.model

    def views(images: Any) -> list[Any]:
        return [images, tf.reverse(images, axis=[2])] if classifier.flip_tta else [images]

    if not answers_from_logits(classifier):

        def serve(images: Any) -> dict[str, Any]:
            outputs = [model(view, training=False) for view in views(images)]
            return {"probabilities": tf.add_n(outputs) / len(outputs)}

        return serve

    features, dense = last_dense_input(model), last_dense(model)

    def logits(images: Any) -> Any:
        scores = tf.matmul(features(images, training=False), dense.kernel)
        return scores + dense.bias if dense.use_bias else scores

    def serve_logits(images: Any) -> dict[str, Any]:
        outputs = [logits(view) for view in views(images)]
        return {"probabilities": tf.nn.softmax(tf.add_n(outputs) / len(outputs))}

    return serve_logits


def write_litert(classifier: KerasClassifier, folder: Path) -> None:
    from fmnist_core.lite import cache_path

    if not classifier.speed_up_single_images():
        raise ExportError("LiteRT cannot convert this model on this machine (the log says why)")
    folder.mkdir()
    shutil.copyfile(cache_path(classifier.model), folder / LITE_FILE)
