"""Inside a Keras model: its layers, every stage's output for an image in one traced call,
its first layer's filters, and the training images that excite each channel most.

A *stage* is what a picture of the network shows: a convolution or dense layer with the
BatchNorm, activation and dropout layers right after it (their output is what the stage
passes on, so that is what is drawn), or a pooling layer. Reshape, Flatten and Rescaling
only move numbers around and have no stage. scikit-learn models have no layers:
`keras_model` gives None for them. Images follow the core's convention, (N, 28, 28) in
0..255; the pictures made here are uint8, drawn as they are by any front end.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.classifier import BATCH, as_batch
from fmnist_core.data import sample_indices

CONV, POOL, DENSE = "conv", "pool", "dense"
# Layers that join the stage before them: they reshape nothing, so the stage's picture is
# their output (after BatchNorm and ReLU, the numbers the next layer reads).
_FOLLOWERS = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "ELU", "Dropout")
_POOLS = ("MaxPooling2D", "AveragePooling2D")
SNAPSHOT_CHANNELS = 16  # feature maps per stage sent with each epoch: enough to watch, small
SNAPSHOT_FILTERS = 32  # first-layer filters sent with each epoch (all of any zoo CNN's)
EXAMPLES_SAMPLE = 4000  # training images scanned for the images that excite each channel
EXAMPLES_PER_CHANNEL = 8


@dataclass(frozen=True)
class LayerRow:
    """One layer as the network's column lists it."""

    name: str
    kind: str  # the Keras class name: Conv2D, Dense, MaxPooling2D...
    shape: tuple[int, ...]  # output shape of one image
    params: int


@dataclass(frozen=True)
class Stage:
    """A group of layers drawn as one picture (see the module's docstring)."""

    name: str  # its first layer's name
    role: str  # CONV | POOL | DENSE
    layers: tuple[str, ...]  # every layer it covers, first to last
    shape: tuple[int, ...]  # (H, W, C) or (units,)

    @property
    def channels(self) -> int:
        return self.shape[-1]


def keras_model(model_or_classifier: Any) -> Any | None:
    """The Keras model of a classifier (or the model itself); None for scikit-learn ones."""
    model = getattr(model_or_classifier, "model", model_or_classifier)
    return model if hasattr(model, "layers") and hasattr(model, "inputs") else None


def _kinds(layer: Any) -> list[str]:
    """The layer's class name and its ancestors' (the fused BatchNorm is a BatchNormalization)."""
    return [cls.__name__ for cls in type(layer).__mro__]


def layer_rows(model: Any) -> list[LayerRow]:
    """Every top-level layer after the input, in order."""
    return [
        LayerRow(
            layer.name, type(layer).__name__, tuple(int(d) for d in layer.output.shape[1:]), int(layer.count_params())
        )
        for layer in model.layers
        if type(layer).__name__ != "InputLayer"
    ]


def stages(model: Any) -> list[Stage]:
    """The model's stages in order (the zoo's models are chains of layers)."""
    found: list[Stage] = []
    open_stage = False  # whether the last layer seen belongs to a conv or dense stage
    for layer in model.layers:
        kinds, shape = _kinds(layer), tuple(int(d) for d in layer.output.shape[1:])
        if "Conv2D" in kinds or "Dense" in kinds:
            found.append(Stage(layer.name, CONV if "Conv2D" in kinds else DENSE, (layer.name,), shape))
            open_stage = True
        elif any(kind in kinds for kind in _POOLS):
            found.append(Stage(layer.name, POOL, (layer.name,), shape))
            open_stage = False
        elif open_stage and any(kind in kinds for kind in _FOLLOWERS):
            last = found[-1]
            found[-1] = Stage(last.name, last.role, (*last.layers, layer.name), shape)
        else:
            open_stage = False
    return found


class LayerProbe:
    """Every stage's output for a batch of images from ONE traced call: a sub-model over
    the model's own layers (shared weights), compiled once per model (`probe_for`)."""

    def __init__(self, model: Any) -> None:
        import keras
        import tensorflow as tf

        self.stages = stages(model)
        ends = {stage.layers[-1] for stage in self.stages}
        if isinstance(model, keras.Sequential):
            # A loaded Sequential's layers can carry several symbolic nodes; run it in order.
            def run(x: Any) -> list[Any]:
                outputs = []
                for layer in model.layers:
                    x = layer(x, training=False)
                    if layer.name in ends:
                        outputs.append(x)
                return outputs
        else:
            sub = keras.Model(model.inputs, [model.get_layer(s.layers[-1]).output for s in self.stages])

            def run(x: Any) -> list[Any]:
                outputs = sub(x, training=False)  # a model of one output returns it bare
                return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

        self._graph = tf.function(
            run, input_signature=[tf.TensorSpec([None, 28, 28], tf.float32)], reduce_retracing=True
        )

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Stage name -> its output for every image: (N, H, W, C) or (N, units)."""
        outputs = self._graph(as_batch(images))
        return {stage.name: np.asarray(out) for stage, out in zip(self.stages, outputs)}


_PROBES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PROBES_LOCK = threading.Lock()  # sessions of the app share loaded models


def probe_for(model: Any) -> LayerProbe:
    """The model's probe, built on first use and kept as long as the model lives."""
    with _PROBES_LOCK:
        probe = _PROBES.get(model)
        if probe is None:
            probe = _PROBES[model] = LayerProbe(model)
        return probe


def stage_outputs(model: Any, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every stage's output for one image, without the batch axis."""
    return {name: out[0] for name, out in probe_for(model)(as_batch(image)[:1]).items()}


def first_layer_filters(model: Any) -> np.ndarray | None:
    """The first weighted layer's weights as pictures: a first convolution's kernels
    (C, h, w) (of its first input channel: the zoo's images have one), or a first Dense
    layer on the 784 pixels as (units, 28, 28) weight images; None for anything else."""
    for layer in model.layers:
        kinds = _kinds(layer)
        if "Conv2D" in kinds:
            return np.moveaxis(np.asarray(layer.kernel)[:, :, 0, :], -1, 0)
        if "Dense" in kinds:
            kernel = np.asarray(layer.kernel)
            return kernel.T.reshape(-1, 28, 28) if kernel.shape[0] == 28 * 28 else None
    return None


# ---------------------------------------------------------------- pictures


def channel_order(activation: np.ndarray) -> np.ndarray:
    """Channels (the last axis) by mean activation, most active first; ties keep order."""
    means = np.asarray(activation, np.float32).reshape(-1, activation.shape[-1]).mean(axis=0)
    return np.argsort(-means, kind="stable")


def feature_tiles(activation: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """Chosen channels of an (H, W, C) activation as (k, H, W) uint8, on one scale for the
    whole stage (its lowest value black, its highest white), so a quiet channel looks dark."""
    maps = np.moveaxis(np.asarray(activation, np.float32), -1, 0)
    low, high = min(0.0, float(maps.min())), float(maps.max())
    scaled = (maps[channels] - low) / (high - low) if high > low else np.zeros_like(maps[channels])
    return np.round(scaled * 255).astype(np.uint8)


def weight_tiles(weights: np.ndarray) -> np.ndarray:
    """(k, h, w) weights as uint8 pictures, mid-grey for zero, each on its own scale (its
    largest magnitude white or black): the shape of a filter is what matters."""
    weights = np.asarray(weights, np.float32)
    peak = np.abs(weights).reshape(len(weights), -1).max(axis=1)[:, None, None]
    return np.round(127.5 + 127.5 * weights / np.maximum(peak, 1e-12)).astype(np.uint8)


def tile_scale(side: int, target: int = 84) -> int:
    """How many screen pixels per value make a tile about `target` pixels wide (at least
    two: a 28x28 picture at one pixel per value is too small to read)."""
    return max(2, target // max(side, 1))


def mosaic(tiles: np.ndarray, columns: int, scale: int, labels: list[str] | None = None, gap: int = 2) -> np.ndarray:
    """(k, h, w) uint8 tiles as one grey picture, `columns` to a row, each pixel a
    `scale`-sized square, with a label under each tile when given: one image to send
    instead of k."""
    from PIL import Image, ImageDraw

    count, height, width = tiles.shape
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    label_height = 12 if labels else 0
    cell_h, cell_w = height * scale + label_height + gap, width * scale + gap
    canvas = np.full((rows * cell_h - gap, columns * cell_w - gap), 40, np.uint8)
    big = np.repeat(np.repeat(tiles, scale, axis=1), scale, axis=2)
    for position, tile in enumerate(big):
        top, left = (position // columns) * cell_h, (position % columns) * cell_w
        canvas[top : top + tile.shape[0], left : left + tile.shape[1]] = tile
    if not labels:
        return canvas
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    for position, label in enumerate(labels):
        top, left = (position // columns) * cell_h, (position % columns) * cell_w
        draw.text((left + 1, top + height * scale), label, fill=230)
    return np.asarray(picture)


# ---------------------------------------------------------------- channels' favourite images


@dataclass(frozen=True)
class ChannelExamples:
    """For every stage, the scanned training images each channel responds to most."""

    indices: dict[str, np.ndarray]  # stage name -> (C, k) indices into the source images
    peaks: dict[str, np.ndarray]  # stage name -> (C, k) the channel's peak on each image
    scanned: int


def _peaks(output: np.ndarray) -> np.ndarray:
    """(N, C) strongest response of each channel anywhere in the image."""
    return output.max(axis=(1, 2)) if output.ndim == 4 else output


def channel_examples(
    model: Any, images: np.ndarray, size: int = EXAMPLES_SAMPLE, k: int = EXAMPLES_PER_CHANNEL, seed: int = 0
) -> ChannelExamples:
    """Feature visualisation by examples: over a random sample of `images` (all if fewer
    than `size`), in batches through the probe, the k images that drive each channel of
    every stage highest (its peak over positions). Seconds for a CNN: compute it once."""
    probe = probe_for(model)
    chosen = sample_indices(len(images), size, seed)
    chunks: dict[str, list[np.ndarray]] = {stage.name: [] for stage in probe.stages}
    for start in range(0, len(chosen), BATCH):
        for name, output in probe(images[chosen[start : start + BATCH]]).items():
            chunks[name].append(_peaks(output))
    indices, peaks = {}, {}
    for name, parts in chunks.items():
        scores = np.concatenate(parts).T  # (C, N)
        best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        indices[name] = chosen[best]
        peaks[name] = np.take_along_axis(scores, best, axis=1)
    return ChannelExamples(indices, peaks, len(chosen))


# ---------------------------------------------------------------- while it learns


@dataclass(frozen=True)
class LayerSnapshot:
    """The network at an epoch's end, small enough to travel with every epoch event: the
    first layer's filters and one fixed test image through every stage."""

    filters: np.ndarray | None  # (k, h, w) uint8 (weight_tiles), at most SNAPSHOT_FILTERS
    stages: tuple[Stage, ...]
    # stage name -> conv/pool: (k, H, W) uint8 of its first SNAPSHOT_CHANNELS channels (the
    # same channels every epoch, on the stage's own scale); dense: (units,) float16
    outputs: dict[str, np.ndarray]


def snapshot(model: Any, image: np.ndarray) -> LayerSnapshot:
    """What the Train page shows of `model` now, for one image."""
    filters = first_layer_filters(model)
    tiles = None if filters is None else weight_tiles(filters[:SNAPSHOT_FILTERS])
    probe = probe_for(model)
    current = stage_outputs(model, image)
    outputs = {}
    for stage in probe.stages:
        output = current[stage.name]
        if stage.role == DENSE:
            outputs[stage.name] = output.astype(np.float16)
        else:
            outputs[stage.name] = feature_tiles(output, np.arange(min(SNAPSHOT_CHANNELS, stage.channels)))
    return LayerSnapshot(tiles, tuple(probe.stages), outputs)
