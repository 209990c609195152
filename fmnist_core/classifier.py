"""One interface over every trained model, Keras or scikit-learn: images in, probabilities out.

Image convention everywhere in fmnist_core: uint8 (or float) arrays of shape (N, 28, 28)
with values 0..255, bright garment on black, exactly as the dataset stores them.
Keras models take that as float32 and rescale inside the model, so a saved model file
carries its own preprocessing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

BATCH = 1024  # images per call: large enough to amortise TensorFlow's per-call overhead
LITE_MAX_IMAGES = 2  # one image and its mirror: what goes through LiteRT once sped up


class Classifier(Protocol):
    """What every model answers. A class that subclasses it explicitly inherits the
    defaults below (no logits, no faster single-image path); the others must define them."""

    kind: str  # a key of fmnist_core.zoo.ZOO
    meta: dict[str, Any]  # config, metrics, history, the unsure rule... as the registry stores them

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) images in 0..255 -> (N, 10) class probabilities (float32)."""
        ...

    @property
    def params(self) -> int:
        """Number of trainable numbers in the model, for side-by-side comparison."""
        ...

    @property
    def has_logits(self) -> bool:
        """True when `predict_logits` gives the scores before the softmax (which an energy
        score needs)."""
        return False

    def predict_logits(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) images -> (N, 10) scores before the softmax, where `has_logits`."""
        reason = f"{type(self).__name__} has no logits: ask has_logits first"
        raise NotImplementedError(reason)  # a bare raise here would make mypy call it abstract

    def speed_up_single_images(self, logits: bool = False) -> bool:
        """Move the forward pass behind predict_proba (or behind predict_logits) onto a
        faster engine for one image at a time; False when there is none."""
        return False

    @property
    def batch_engine(self) -> str:
        """What computes this model's answers for a batch, for people to read."""
        return type(self).__name__

    def single_image_engine(self, logits: bool = False) -> str:
        """What computes the answer for one image now (after `speed_up_single_images`, the
        faster engine)."""
        return self.batch_engine


def as_batch(images: np.ndarray) -> np.ndarray:
    """Accept one image (28, 28) or many (N, 28, 28[, 1]); return float32 (N, 28, 28)."""
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.shape[1:] != (28, 28):
        raise ValueError(f"expected images of 28x28 pixels, got shape {array.shape}")
    return array


@dataclass
class KerasClassifier(Classifier):
    """A Keras model behind a traced call (a few milliseconds per single image, instead of
    `model.predict`'s ~45 ms), so interactive paths can classify one image at a time; after
    `speed_up_single_images`, about 1 ms through LiteRT."""

    model: Any
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    flip_tta: bool = False  # average with the mirror image (garments are left-right symmetric)

    def __post_init__(self) -> None:
        self._proba = _Forward(self.model)
        # Built now, in the thread that loads the model: built on first use, in a background
        # thread while another saved the model for LiteRT, Keras refused the sub-model.
        self._features = _Forward(last_dense_input(self.model))

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return self._batched(self._proba, images, 10)

    def predict_features(self, images: np.ndarray) -> np.ndarray:
        """(N, D) inputs of the last Dense layer: what the classifier decides from (no
        mirror averaging: callers that want the mirror image pass it themselves)."""
        width = int(last_dense(self.model).kernel.shape[0])
        return self._batched(self._features, images, width, mirror=False)

    @property
    def has_logits(self) -> bool:
        return True

    @property
    def batch_engine(self) -> str:
        return "TensorFlow"

    def predict_logits(self, images: np.ndarray) -> np.ndarray:
        """(N, 10) scores before the softmax, averaged over the mirror image with flip_tta:
        what an energy score needs, in one forward pass."""
        batch = as_batch(images)
        if len(batch) == 0:
            return np.zeros((0, 10), np.float32)
        views = [batch, batch[:, :, ::-1]] if self.flip_tta else [batch]
        dense = last_dense(self.model)
        logits = self.predict_features(np.concatenate(views)) @ np.asarray(dense.kernel)
        if dense.use_bias:
            logits = logits + np.asarray(dense.bias)
        return logits.reshape(len(views), len(batch), -1).mean(axis=0).astype(np.float32)

    def speed_up_single_images(self, logits: bool = False) -> bool:
        """Make the forward pass behind predict_proba (or behind predict_logits) go through
        LiteRT for single images: about 1 ms each instead of 3. Blocks for the conversion
        (seconds, in a child process, once per model and machine), during which other threads
        keep getting TensorFlow's answers: for long-lived callers (the app, the benchmark),
        not for one-shot commands. False if LiteRT cannot run this model."""
        return (self._features if logits else self._proba).move_to_lite()

    def single_image_engine(self, logits: bool = False) -> str:
        """What answers one image now: "LiteRT" once sped up, else "TensorFlow"."""
        forward = self._features if logits else self._proba
        return "LiteRT" if forward.on_lite else "TensorFlow"

    def _batched(self, forward: _Forward, images: np.ndarray, width: int, mirror: bool = True) -> np.ndarray:
        batch = as_batch(images)
        if len(batch) == 0:
            return np.zeros((0, width), np.float32)
        average = self.flip_tta and mirror
        outputs = [self._run(forward, batch[i : i + BATCH], average) for i in range(0, len(batch), BATCH)]
        return np.concatenate(outputs).astype(np.float32)

    @staticmethod
    def _run(forward: _Forward, chunk: np.ndarray, average: bool) -> np.ndarray:
        if not average:
            return forward(chunk)
        both = forward(np.concatenate([chunk, chunk[:, :, ::-1]]))
        return (both[: len(chunk)] + both[len(chunk) :]) / 2

    @property
    def params(self) -> int:
        return int(sum(np.prod(w.shape) for w in self.model.trainable_weights))


class _Forward:
    """One Keras model's forward pass: a traced graph for any batch, and after `move_to_lite`,
    LiteRT (fmnist_core.lite) for one image and its mirror, where TensorFlow's per-call
    overhead dominates."""

    def __init__(self, model: Any) -> None:
        self._model, self._graph = model, _traced(model)
        self._lite: Any = None
        self._lock = threading.Lock()

    def move_to_lite(self) -> bool:
        with self._lock:
            if self._lite is None:
                from fmnist_core.lite import lite_forward_or_none

                self._lite = lite_forward_or_none(self._model, self._graph) or False
            return bool(self._lite)

    @property
    def on_lite(self) -> bool:
        return bool(self._lite)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if self._lite and len(images) <= LITE_MAX_IMAGES:
            return self._lite(images)
        return np.asarray(self._graph(images))


def _traced(model: Any) -> Any:
    """`model(x, training=False)` as one compiled graph for any batch of 28x28 images."""
    import tensorflow as tf

    return tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec([None, 28, 28], tf.float32)],
        reduce_retracing=True,
    )


def last_dense(model: Any) -> Any:
    """The layer whose output the softmax is taken of (every zoo model ends in one)."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]


def last_dense_input(model: Any) -> Any:
    """A model of the same layers whose output is the last Dense layer's input (features)."""
    import keras

    return keras.Model(model.inputs, last_dense(model).input)


@dataclass
class SklearnClassifier(Classifier):
    """A scikit-learn estimator trained on flattened pixels scaled to 0..1."""

    estimator: Any
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        flat = as_batch(images).reshape(-1, 784) / 255.0
        if len(flat) == 0:
            return np.zeros((0, 10), np.float32)
        return self.estimator.predict_proba(flat).astype(np.float32)

    @property
    def batch_engine(self) -> str:
        return "scikit-learn"

    @property
    def params(self) -> int:
        from fmnist_core.zoo import sklearn_param_count

        return sklearn_param_count(self.estimator)
