"""One or two images at a time through LiteRT's XNNPACK kernels instead of TensorFlow.

For a batch of one image and its mirror, a traced TensorFlow call of the bundled model took
about 3 ms on this project's 2-core machine and LiteRT about 0.9 ms (`bench/run.sh`): most of
TensorFlow's time there is per-op overhead, not arithmetic. Large batches stay on TensorFlow,
which is as fast there. The model is converted in memory (about 2 s for the bundled model),
so the saved file stays the one source of truth. Only the benchmark uses it so far: see the
README ("Measured figures") for why the app does not yet.
"""

from __future__ import annotations

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


_CONVERTING = threading.Lock()  # one conversion at a time in the process (see _convert)


def _convert(model: Any) -> bytes:
    """The model's inference call as a LiteRT flatbuffer. What TFLiteConverter.from_keras_model
    does for a Keras 3 model, without the signature it prints: its callers silenced that by
    swapping sys.stdout, which is process-wide, so two conversions in two sessions' threads
    once left the server's stdout pointing at a dead buffer. Conversions also take the lock
    because TensorFlow's converter is not documented as thread-safe."""
    import functools
    import tempfile

    import keras
    import tensorflow as tf

    with _CONVERTING, tempfile.TemporaryDirectory(prefix="fmnist-lite-") as folder:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", functools.partial(model.__call__, training=False),
                             [tf.TensorSpec([None, 28, 28], tf.float32)])
        archive.write_out(folder, verbose=False)
        return tf.lite.TFLiteConverter.from_saved_model(folder).convert()


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
