"""One or two images at a time through LiteRT's XNNPACK kernels instead of TensorFlow.

For a batch of one image and its mirror, a traced TensorFlow call of the bundled model took
about 3 ms on this project's 2-core machine and LiteRT about 0.9 ms (`bench/run.sh`): most of
TensorFlow's time there is per-op overhead, not arithmetic. Large batches stay on TensorFlow,
which is as fast there. The model is converted in memory when first needed (about 2 s for
the bundled model), so the saved file stays the one source of truth.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from typing import Any

import numpy as np

LOG = logging.getLogger(__name__)
THREADS = 2  # the machine's cores; one thread took 1.2-1.7 ms for the bundled model


class LiteForward:
    """A Keras model's forward pass (training=False) for small batches, thread-safe: one
    interpreter per batch size, since resizing an interpreter re-plans its memory."""

    def __init__(self, model: Any) -> None:
        self._flatbuffer = _convert(model)
        self._interpreters: dict[int, Any] = {}
        self._lock = threading.Lock()  # sessions share one loaded model; invoke is not reentrant

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) float32 -> the model's output for them, as a new array."""
        with self._lock:
            interpreter = self._interpreter(len(images))
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                                   np.ascontiguousarray(images, dtype=np.float32))
            interpreter.invoke()
            return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()

    def _interpreter(self, count: int) -> Any:
        if count not in self._interpreters:
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(model_content=self._flatbuffer, num_threads=THREADS)
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], [count, 28, 28])
            interpreter.allocate_tensors()
            self._interpreters[count] = interpreter
        return self._interpreters[count]


def _convert(model: Any) -> bytes:
    import tensorflow as tf

    # Keras prints the exported signature on stdout; the command line's --json must stay clean.
    with contextlib.redirect_stdout(io.StringIO()):
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def lite_forward_or_none(model: Any) -> LiteForward | None:
    """The LiteRT pass, or None (with a log line) when this model or machine cannot have one:
    callers then keep TensorFlow's, which gives the same numbers more slowly."""
    try:
        forward = LiteForward(model)
        forward(np.zeros((1, 28, 28), np.float32))
    except Exception as error:  # converter and runtime raise many types; all mean "use TensorFlow"
        LOG.warning("LiteRT inference unavailable for %s, using TensorFlow: %s",
                    getattr(model, "name", "model"), error)
        return None
    return forward
