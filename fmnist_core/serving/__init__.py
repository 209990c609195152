"""The prediction API (`python -m fmnist_core serve`) and the model it serves.

`app.py` is the FastAPI application (Open Inference Protocol v2, TensorFlow Serving's REST
shape, and image uploads); `tensors.py` turns protocol payloads into the dataset's image
arrays and back. This module stays light (no FastAPI, no TensorFlow at import), so the CLI's
`--help` stays fast and `export` can name models the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fmnist_core.classifier import Classifier

BUNDLED_NAME = "fashion-mnist"  # what the bundled model is called in URLs and exports
VERSION = "1"  # the one version served, and the folder TensorFlow Serving expects


@dataclass(frozen=True)
class ServedModel:
    name: str  # in URLs: /v2/models/{name}, /v1/models/{name}:predict
    classifier: Classifier
    photo_classifier: Classifier | None  # the bundled photo model, only beside the bundled one


def served_name(model: str | None) -> str:
    """The name a model goes by in URLs and exports: its registry name (or its folder's
    name, for a path to the folder or its files), or BUNDLED_NAME for the bundled model."""
    from fmnist_core import registry

    if not model:
        return BUNDLED_NAME
    path = Path(model)
    return (path.parent if path.name in (registry.KERAS_FILE, registry.PICKLE_FILE, registry.META) else path).name


def load_served(model: str | None, single_images: bool = True) -> ServedModel:
    """Load the model to serve (RegistryError, for a person, when it cannot be) as the app
    does: the bundled one with its photo model, or the one asked for, which answers
    everything. With `single_images`, one image goes through LiteRT as in the app (blocks
    for a conversion the first time on a machine, seconds in a child process)."""
    from fmnist_core import registry
    from fmnist_core.photo_head import photo_classifier_or_none
    from fmnist_core.prediction import speed_up_predict

    if model:
        classifier, photo_classifier = registry.load(model), None
    else:
        classifier, photo_classifier = registry.load_default(), photo_classifier_or_none()
    if single_images:
        for each in (classifier, photo_classifier):
            if each is not None:
                speed_up_predict(each)
    return ServedModel(served_name(model), classifier, photo_classifier)
