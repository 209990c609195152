"""Work that depends only on a model, done once per model per server, in the background.

A model's test-set evaluation, the features of 10,000 training images (for "similar
images"), its PCA map and the Grad-CAM of every test image take seconds each. They start
when the model loads, one model at a time on one background thread, and land in the same
Streamlit caches the pages read: a page that asks before they are done waits for the
running computation (Streamlit holds one lock per cached value) instead of starting it
again, and nobody's click pays for it later.
"""

from __future__ import annotations

import logging
import queue
import threading

from fmnist_core.classifier import Classifier
from ui.heap import freeze_long_lived

LOG = logging.getLogger(__name__)

_queue: queue.Queue[tuple[Classifier, str]] = queue.Queue()
_started: set[str] = set()  # model keys handed to the worker, at most once each
_lock = threading.Lock()
_worker: threading.Thread | None = None


def warm_up(classifier: Classifier, fingerprint: str) -> None:
    """Queue the model's derived work (once per `fingerprint`); returns at once."""
    global _worker
    with _lock:
        if fingerprint in _started:
            return
        _started.add(fingerprint)
        if _worker is None:
            # A daemon: a server (or a test run) that exits never waits for it.
            _worker = threading.Thread(target=_work, name="model-work", daemon=True)
            _worker.start()
    _queue.put((classifier, fingerprint))


def _work() -> None:
    while True:
        classifier, fingerprint = _queue.get()
        try:
            _compute(classifier, fingerprint)
        except Exception as error:  # noqa: BLE001 - a page that needs it computes it and says why
            LOG.warning("background work for model %s failed: %s", fingerprint, error)
        finally:
            freeze_long_lived()  # the model and its derived work live as long as the server
            _queue.task_done()


def wait_until_done() -> None:
    """Block until every model queued so far has its work done."""
    _queue.join()


def _compute(classifier: Classifier, fingerprint: str) -> None:
    from ui.evaluations import test_evaluation
    from ui.insights import embedding_map, test_grad_cams, train_index
    from ui.resources import dataset

    data = dataset()
    test_evaluation(classifier, data, fingerprint, data.checksum)
    train_index(classifier, fingerprint, data)
    embedding_map(classifier, fingerprint, data, "PCA")
    test_grad_cams(classifier, fingerprint, data)
