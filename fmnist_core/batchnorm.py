"""BatchNormalization that trains through TensorFlow's fused kernel.

Keras 3 builds a training-time BatchNorm from a dozen small operations (the moments, the
scale and shift, and the gradient of each). In a fast_cnn training step on this project's
2-core CPU they took 8.1 of 24 ms; TensorFlow's fused kernel does the same work in 3.2 ms
(bench/NOTES.md). In everything else the layer is Keras' BatchNormalization: the same
weights, moving averages and inference pass, so saved files and LiteRT conversion see
nothing new but the registered name. Import this module before loading a saved model.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="fmnist_core")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' BatchNormalization with a fused training pass for float32 channels-last images;
    any other case (masks, renorm, no scale or centre, other ranks) takes Keras' own path."""

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if not (training and self.trainable and self._fusable(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)[:3]
        # The kernel returns the unbiased variance; Keras averages the biased one.
        count = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], variance.dtype)
        variance = variance * (count - 1) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return outputs

    def _fusable(self, inputs: Any, mask: Any) -> bool:
        return (mask is None and not self.renorm and self.scale and self.center
                and len(inputs.shape) == 4 and self.axis in (-1, 3) and inputs.dtype == tf.float32)
