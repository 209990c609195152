"""Saliency: which pixels a prediction rests on, as a (28, 28) map in 0..1.

Occlusion sensitivity works for every model kind because it only needs `predict_proba`;
Grad-CAM needs a Keras model with a Conv2D layer but costs one forward and backward pass.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from fmnist_core.classifier import Classifier, KerasClassifier, as_batch
from fmnist_core.embedding import forward, last_layer, layers_of

SIDE = 28
# Anchor colours of the heat map, cold to hot (close to matplotlib's "inferno").
_HEAT_COLOURS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32)


def _normalise(raw: np.ndarray) -> np.ndarray:
    """Scale a non-negative map to 0..1; an all-zero map stays zero (nothing mattered)."""
    raw = np.clip(np.nan_to_num(raw.astype(np.float32)), 0, None)
    peak = float(raw.max())
    return raw / peak if peak > 0 else raw


def occlusion_map(
    classifier: Classifier,
    image: np.ndarray,
    label: int | None = None,
    patch: int = 6,
    stride: int = 2,
) -> np.ndarray:
    """How much the probability of `label` (default: the predicted class) drops when a
    black patch hides each pixel, averaged over the patches covering it.

    The image and all its occluded variants go through one `predict_proba` call (about
    150 images).
    """
    base = as_batch(image)[0]
    starts = range(0, SIDE - patch + 1, stride)
    corners = [(row, col) for row in starts for col in starts]
    variants = np.repeat(base[None], len(corners), axis=0)
    for variant, (row, col) in zip(variants, corners):
        variant[row : row + patch, col : col + patch] = 0.0
    proba = classifier.predict_proba(np.concatenate([base[None], variants]))
    target = int(np.argmax(proba[0])) if label is None else int(label)
    drops = proba[0, target] - proba[1:, target]
    total = np.zeros((SIDE, SIDE), np.float32)
    covered = np.zeros((SIDE, SIDE), np.float32)
    for drop, (row, col) in zip(drops, corners):
        total[row : row + patch, col : col + patch] += drop
        covered[row : row + patch, col : col + patch] += 1
    return _normalise(total / np.maximum(covered, 1))


def has_conv_layer(classifier: Classifier) -> bool:
    """True for Keras models with a Conv2D layer, the ones Grad-CAM can explain."""
    return last_layer(classifier, "Conv2D") is not None


def grad_cam(classifier: Classifier, image: np.ndarray, label: int | None = None) -> np.ndarray:
    """Grad-CAM on the last Conv2D layer, upsampled to 28x28.

    Gradients are taken of the class logit (recomputed from the last Dense layer's input,
    kernel and bias), not of the softmax output, which saturates for confident predictions.
    Raises ValueError for models without a Conv2D layer.
    """
    return grad_cams(classifier, as_batch(image)[:1], None if label is None else [label])[0]


def grad_cams(
    classifier: Classifier, images: np.ndarray, labels: Sequence[int] | np.ndarray | None = None, batch_size: int = 100
) -> np.ndarray:
    """Grad-CAM of many images at once, (N, 28, 28) maps each in 0..1, for each image's
    `labels` (default: its predicted class). One traced forward and backward pass per batch
    (the images do not interact, so one gradient of the summed logits gives each its own):
    a whole test set takes seconds, one image a few milliseconds."""
    if (
        not isinstance(classifier, KerasClassifier)
        or last_layer(classifier, "Conv2D") is None
        or last_layer(classifier, "Dense") is None
    ):
        raise ValueError(f"Grad-CAM needs a Keras CNN; a {classifier.kind} model has no Conv2D")
    batch = as_batch(images)
    targets = np.argmax(classifier.predict_proba(batch), axis=1) if labels is None else np.asarray(labels)
    cam_of = _grad_cam_pass(classifier.model)
    maps = [
        np.asarray(cam_of(batch[start : start + batch_size], targets[start : start + batch_size].astype(np.int32)))
        for start in range(0, len(batch), batch_size)
    ]
    return np.stack([_normalise(cam) for cam in np.concatenate(maps)]) if maps else np.zeros((0, SIDE, SIDE))


_GRAD_CAM_PASSES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_GRAD_CAM_LOCK = threading.Lock()  # sessions share one loaded model and its traced pass


def _grad_cam_pass(model: Any) -> Any:
    """The traced Grad-CAM of one Keras model: (N, 28, 28) images, N classes -> (N, 28, 28)."""
    with _GRAD_CAM_LOCK:
        if model not in _GRAD_CAM_PASSES:
            _GRAD_CAM_PASSES[model] = _trace_grad_cam(model)
        return _GRAD_CAM_PASSES[model]


def _trace_grad_cam(model: Any) -> Any:
    import tensorflow as tf

    conv, dense = layers_of(model, "Conv2D")[-1], layers_of(model, "Dense")[-1]

    @tf.function(input_signature=[tf.TensorSpec([None, SIDE, SIDE], tf.float32), tf.TensorSpec([None], tf.int32)])
    def cam_of(batch: Any, targets: Any) -> Any:
        with tf.GradientTape() as tape:
            activations, features = forward(model, batch, watch=conv)
            logits = tf.matmul(features, dense.kernel) + dense.bias
            chosen = tf.reduce_sum(tf.gather(logits, targets, axis=1, batch_dims=1))
        grads = tape.gradient(chosen, activations)
        weights = tf.reduce_mean(grads, axis=(1, 2))
        cam = tf.nn.relu(tf.einsum("bhwc,bc->bhw", activations, weights))[..., None]
        return tf.image.resize(cam, (SIDE, SIDE), method="bilinear")[..., 0]

    return cam_of


def heat_colours(heat: np.ndarray) -> np.ndarray:
    """Map values in 0..1 to RGB uint8 through the cold-to-hot palette."""
    position = np.clip(heat, 0, 1) * (len(_HEAT_COLOURS) - 1)
    anchors = np.arange(len(_HEAT_COLOURS))
    channels = [np.interp(position, anchors, _HEAT_COLOURS[:, c]) for c in range(3)]
    return np.stack(channels, axis=-1).astype(np.uint8)


def overlay(image: np.ndarray, heat: np.ndarray, scale: int = 8, alpha: float = 0.7) -> np.ndarray:
    """The input (sharp pixels) with the heat map (smoothly upscaled) blended in, RGB uint8.

    Upscaled so a 28x28 image is readable on screen without the browser blurring it.
    """
    from PIL import Image

    side = SIDE * scale
    gray = np.kron(as_batch(image)[0], np.ones((scale, scale), np.float32))
    smooth = Image.fromarray(np.asarray(heat, np.float32)).resize((side, side), Image.Resampling.BILINEAR)
    heat_big = np.asarray(smooth)
    weight = alpha * heat_big[..., None]  # cold pixels keep the plain image, hot ones get colour
    blended = (1 - weight) * gray[..., None] + weight * heat_colours(heat_big)
    return np.clip(blended, 0, 255).astype(np.uint8)
