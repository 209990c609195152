"""BatchNormalization that trains through TensorFlow's fused kernel.

Keras 3 builds a training-time BatchNorm from a dozen small operations (the moments, the
scale and shift, and the gradient of each), a third of a fast_cnn training step on a CPU;
TensorFlow's fused kernel does the same work in well under half the time (bench/NOTES.md).
In everything else the layer is Keras' BatchNormalization: the same
weights, moving averages and inference pass. A trained model gets Keras' own layers back
(`with_keras_layers`) before anyone sees it, so saved files load in any Keras.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="fmnist_core")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' BatchNormalization with a fused training pass for float32 channels-last images;
    any other case (masks, renorm, synchronized, no scale or centre, other ranks, mixed
    precision) takes Keras' own path."""

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if not (training and self.trainable and self._fusable(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True
        )
        # The kernel returns the unbiased variance; Keras averages the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), variance.dtype)
        variance = variance * (count - 1) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return outputs

    def _fusable(self, inputs: Any, mask: Any) -> bool:
        return (
            mask is None
            and not self.renorm
            and not self.synchronized
            and self.scale
            and self.center
            and inputs.dtype == tf.float32
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )


def with_keras_layers(model: keras.Model) -> keras.Model:
    """The same model and weights with Keras' own BatchNormalization in place of the fused one
    (which only speeds up training), uncompiled: a saved file then needs no code of ours."""
    if not any(isinstance(layer, FusedBatchNormalization) for layer in model.layers):
        return model

    def keras_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, FusedBatchNormalization):
            return keras.layers.BatchNormalization.from_config(layer.get_config())
        return type(layer).from_config(layer.get_config())

    clone = keras.models.clone_model(model, clone_function=keras_layer)
    clone.set_weights(model.get_weights())
    return clone
