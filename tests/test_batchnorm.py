"""The fused BatchNorm must be Keras' BatchNormalization in all but speed: the same outputs
and moving averages in training, the same inference pass; and a trained model must come back
with Keras' own layers, so that its file loads without this project's code."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from fmnist_core.batchnorm import FusedBatchNormalization, with_keras_layers
from fmnist_core.zoo import build_fast_cnn


def _pair(channels: int) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    """Keras' layer and the fused one, built alike with the same non-trivial weights."""
    rng = np.random.default_rng(0)
    weights = [
        rng.uniform(0.5, 1.5, channels),
        rng.normal(0, 0.1, channels),
        rng.normal(0, 0.5, channels),
        rng.uniform(0.2, 2.0, channels),
    ]
    pair = keras.layers.BatchNormalization(), FusedBatchNormalization()
    for layer in pair:
        layer.build((None, 5, 5, channels))
        layer.set_weights(weights)
    return pair


@pytest.mark.parametrize("training", [True, False])
def test_fused_layer_matches_keras_in_outputs_and_moving_averages(training):
    images = np.random.default_rng(1).normal(2.0, 3.0, (16, 5, 5, 6)).astype(np.float32)
    reference, fused = _pair(6)
    for _ in range(3):  # the moving averages move on each training call
        expected = np.asarray(reference(images, training=training))
        got = np.asarray(fused(images, training=training))
        np.testing.assert_allclose(got, expected, atol=1e-4)
    for want, have in zip(reference.get_weights(), fused.get_weights()):
        np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-6)
    moved = not np.allclose(reference.get_weights()[2], _pair(6)[0].get_weights()[2])
    assert moved == training


def test_fused_layer_gradients_match_keras():
    import tensorflow as tf

    images = tf.constant(np.random.default_rng(2).normal(0, 1, (8, 4, 4, 3)).astype(np.float32))
    grads = []
    for layer in _pair(3):
        with tf.GradientTape() as tape:
            tape.watch(images)
            loss = tf.reduce_sum(layer(images, training=True) ** 3)
        grads.append(tape.gradient(loss, [images, *layer.trainable_weights]))
    for want, have in zip(*grads):
        np.testing.assert_allclose(np.asarray(have), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_other_ranks_take_keras_own_path():
    features = np.random.default_rng(3).normal(0, 1, (32, 7)).astype(np.float32)
    reference, fused = keras.layers.BatchNormalization(), FusedBatchNormalization()
    np.testing.assert_allclose(
        np.asarray(fused(features, training=True)), np.asarray(reference(features, training=True)), atol=1e-5
    )


def test_a_model_with_it_saves_and_loads_in_safe_mode(tmp_path):
    inputs = keras.Input((5, 5, 2))
    model = keras.Model(inputs, FusedBatchNormalization(name="norm")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert isinstance(loaded.get_layer("norm"), FusedBatchNormalization)


def test_training_on_images_runs_the_fused_kernel():
    import tensorflow as tf

    layer = FusedBatchNormalization()
    layer.build((None, 5, 5, 2))
    spec = tf.TensorSpec((None, 5, 5, 2), tf.float32)
    ops = {
        training: {
            op.type
            for op in tf.function(lambda x, t=training: layer(x, training=t))
            .get_concrete_function(spec)
            .graph.get_operations()
        }
        for training in (True, False)
    }
    assert "FusedBatchNormV3" in ops[True]
    assert "FusedBatchNormV3" not in ops[False]  # inference stays Keras' own pass


@pytest.mark.slow  # loads the model in a fresh Python with TensorFlow
def test_with_keras_layers_keeps_the_answers_and_needs_none_of_our_code(tmp_path):
    model = build_fast_cnn()
    rng = np.random.default_rng(4)
    fused = [layer for layer in model.layers if isinstance(layer, FusedBatchNormalization)]
    assert fused
    for layer in fused:  # moving statistics away from 0 and 1, as after training
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()])
    plain = with_keras_layers(model)
    assert not any(isinstance(layer, FusedBatchNormalization) for layer in plain.layers)
    assert [type(layer).__name__ for layer in plain.layers].count("BatchNormalization") == len(fused)
    images = rng.uniform(0, 255, (4, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(plain(images, training=False)), np.asarray(model(images, training=False)), atol=1e-6
    )
    plain.save(tmp_path / "plain.keras")
    load = "import keras, sys; keras.saving.load_model(sys.argv[1], safe_mode=True)"
    done = subprocess.run(
        [sys.executable, "-c", load, str(tmp_path / "plain.keras")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-1500:]
