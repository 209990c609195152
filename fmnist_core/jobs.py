"""A training run in a background thread, for the app.

Streamlit reruns the page script on every click and aborts the running one, so a `fit`
inside the script would die at the first interaction. The job runs `train` in its own
thread; the page only reads `events` (a copy), `running`, `result` and `error`, and calls
`stop()`. No Streamlit here.
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import TYPE_CHECKING

from fmnist_core.classifier import Classifier
from fmnist_core.data import Dataset
from fmnist_core.errors import FmnistError

if TYPE_CHECKING:
    from fmnist_core.training import Event, TrainConfig

log = logging.getLogger(__name__)


class TrainingJob:
    """One call of `training.train` in a daemon thread, with its events kept for readers."""

    def __init__(self, config: TrainConfig, data: Dataset) -> None:
        self.config, self.data = config, data
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"train-{config.model}", daemon=True)
        self.result: Classifier | None = None
        self.error: str | None = None  # a message for a person
        self.details: str | None = None  # the traceback of an unexpected failure, for a log

    @classmethod
    def start(cls, config: TrainConfig, data: Dataset) -> TrainingJob:
        job = cls(config, data)
        job._thread.start()
        return job

    def _record(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def _run(self) -> None:
        from fmnist_core.training import train  # TensorFlow loads in the worker, not the caller

        try:
            self.result = train(self.config, self.data, on_event=self._record, stop=self._stop)
        except FmnistError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown to the user instead of a dead thread
            self.error = f"training failed: {type(exc).__name__}: {exc}"
            self.details = traceback.format_exc()
            log.error("training run %s failed:\n%s", self.config.model, self.details)

    @property
    def events(self) -> list[Event]:
        """A copy of every event so far; the page redraws its tables from all of them."""
        with self._lock:
            return list(self._events)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Ask training to end after the current steps; the result keeps what was learnt."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (for scripts and tests); True when it has."""
        self._thread.join(timeout)
        return not self.running
