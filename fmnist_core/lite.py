"""One or two images at a time through LiteRT's XNNPACK kernels instead of TensorFlow.

For one image and its mirror, most of a traced TensorFlow call's time is per-op overhead,
not arithmetic, so LiteRT answers several times faster (`bench/run.sh` measures both).
Large batches stay on TensorFlow, which is as fast there.

The conversion runs in a child process (fmnist_core.children): in the server's process the
TensorFlow converter would hold the interpreter for seconds, and other users' pages with
it. Its result is cached under `paths.cache_dir()`, named by a hash of
the model's architecture and weights, so each model is converted once per machine; the saved
model file stays the one source of truth, and every flatbuffer is checked against
TensorFlow's answer before it is used.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core import paths
from fmnist_core.children import child_environment, python_command, step_aside

LOG = logging.getLogger(__name__)
THREADS_FALLBACK = 1  # when the machine will not say how many cores this process may use
CONVERT_SECONDS = 600  # a child still converting after this is stuck
CACHE_FILES = 64  # conversions kept; the oldest go first
TOLERANCE = 1e-4  # of the largest output, between LiteRT's answer and TensorFlow's
CHILD_COMMAND = "from fmnist_core.lite import convert_main; convert_main()"
_CONVERTING = threading.Lock()  # one conversion at a time: each keeps a core busy for seconds


@functools.cache
def threads() -> int:
    """LiteRT's threads: the cores this process may run on (one thread is slower even for a
    single image)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or THREADS_FALLBACK


class LiteError(Exception):
    """This model cannot go through LiteRT; TensorFlow answers instead."""


class LiteForward:
    """A Keras model's forward pass (training=False) for small batches, thread-safe: one
    interpreter per batch size, since resizing an interpreter re-plans its memory."""

    def __init__(self, flatbuffer: bytes) -> None:
        self._flatbuffer = flatbuffer
        self._interpreters: dict[int, Any] = {}
        self._lock = threading.Lock()  # sessions share one loaded model; invoke is not reentrant

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) float32 -> the model's output for them, as a new array."""
        with self._lock:
            interpreter = self._interpreter(len(images))
            interpreter.set_tensor(
                interpreter.get_input_details()[0]["index"], np.ascontiguousarray(images, dtype=np.float32)
            )
            interpreter.invoke()
            return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()

    def _interpreter(self, count: int) -> Any:
        if count not in self._interpreters:
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(model_content=self._flatbuffer, num_threads=threads())
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], [count, 28, 28])
            interpreter.allocate_tensors()
            self._interpreters[count] = interpreter
        return self._interpreters[count]


def lite_forward_or_none(model: Any, reference: Callable[[np.ndarray], Any] | None = None) -> LiteForward | None:
    """The LiteRT pass, or None (with a log line) when this model or machine cannot have one:
    callers then keep TensorFlow's, which gives the same numbers more slowly. `reference` is
    the TensorFlow pass it must agree with (default: the model called directly). Blocks
    while a conversion runs (seconds), without holding the interpreter lock."""
    cached: Path | None = None
    try:
        cached = cache_path(model)
        if cached.exists():
            with contextlib.suppress(OSError):  # used now: the last to be pruned
                cached.touch()
        else:
            with _CONVERTING:
                if not cached.exists():  # another thread may have converted it meanwhile
                    convert_in_child(model, cached)
        forward = LiteForward(cached.read_bytes())
        _check(forward, reference or (lambda images: model(images, training=False)))
    except Exception as error:  # noqa: BLE001 - saving, converting, the runtime: all mean "use TensorFlow"
        LOG.warning("LiteRT inference unavailable for %s, using TensorFlow: %s", getattr(model, "name", "model"), error)
        if cached is not None:
            with contextlib.suppress(OSError):  # e.g. a read-only cache: nothing to clean
                cached.unlink(missing_ok=True)
        return None
    return forward


def cache_path(model: Any) -> Path:
    """Where this model's flatbuffer is kept: named by its architecture, its weights and the
    converter's version, so a retrained or changed model never meets an old conversion."""
    import tensorflow as tf

    digest = hashlib.sha256(f"{tf.__version__}\n{model.to_json()}".encode())
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return paths.cache_dir() / "litert" / f"{digest.hexdigest()[:32]}.tflite"


def convert_in_child(model: Any, target: Path) -> None:
    """Save the model, convert it in a child process, and put the flatbuffer at `target`
    (atomically: a reader sees the whole file or none)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fmnist-lite-") as folder:
        source = Path(folder) / "model.keras"
        model.save(str(source))
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            done = subprocess.run(
                python_command(CHILD_COMMAND, str(source), str(partial)),
                env=child_environment(),
                capture_output=True,
                text=True,
                timeout=CONVERT_SECONDS,
                check=False,
            )
            if done.returncode != 0:
                lines = [line for line in done.stderr.splitlines() if line.strip()]
                raise LiteError(
                    f"the conversion failed (exit code {done.returncode}): {lines[-1] if lines else 'no message'}"
                )
            os.replace(partial, target)
        except subprocess.TimeoutExpired:
            raise LiteError(f"the conversion took over {CONVERT_SECONDS} s") from None
        finally:
            partial.unlink(missing_ok=True)
    _forget_oldest(target.parent)


def _forget_oldest(folder: Path) -> None:
    """Keep the CACHE_FILES most recently used conversions."""
    with contextlib.suppress(OSError):  # another process pruning at once: its files vanish
        files = sorted(folder.glob("*.tflite"), key=lambda f: f.stat().st_mtime)
        for old in files[:-CACHE_FILES]:
            old.unlink(missing_ok=True)


def _check(forward: LiteForward, reference: Callable[[np.ndarray], Any]) -> None:
    """Refuse a flatbuffer whose answers differ from TensorFlow's for the same images."""
    images = np.linspace(0, 255, 2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28)
    images[1] = images[1, :, ::-1].T
    expected = np.asarray(reference(images))
    got = forward(images)
    if got.shape != expected.shape or not np.allclose(
        got, expected, rtol=0, atol=TOLERANCE * max(1.0, float(np.abs(expected).max()))
    ):
        raise LiteError("the converted model's answers differ from TensorFlow's")


def convert_main() -> None:
    """The child process: `python -c ... SOURCE.keras TARGET` writes the flatbuffer."""
    step_aside()

    import keras
    import tensorflow as tf

    import fmnist_core.batchnorm  # noqa: F401 - a model straight from the zoo names its layer

    source, target = sys.argv[1], sys.argv[2]
    model = keras.saving.load_model(source, safe_mode=True)
    with tempfile.TemporaryDirectory(prefix="fmnist-lite-") as folder:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            "serve", functools.partial(model.__call__, training=False), [tf.TensorSpec([None, 28, 28], tf.float32)]
        )
        archive.write_out(folder, verbose=False)
        Path(target).write_bytes(tf.lite.TFLiteConverter.from_saved_model(folder).convert())
