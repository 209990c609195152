"""A training run (or a sweep) in a child process, for the app.

Streamlit reruns the page script on every click and aborts the running one, so a `fit`
inside the script would die at the first interaction. The job runs `train` in a process of
its own rather than a thread of the server: a process keeps one run's TensorFlow state and
data pipeline out of everybody else's, where other sessions' models under load can starve
it. The child (fmnist_core.children)
reads its config and data from stdin, where one byte later means stop (and end of file
means the server is gone), and writes its events and at last the model's place, saved through
the registry in a private folder, to a pipe of its own. The page only reads `events` (a
copy), `running`, `result` and `error`, and calls `stop()`. No Streamlit here.

`BackgroundJob` is that machinery for any work function `work(*payload, folder, on_event,
stop)` whose return value is picklable; `TrainingJob` trains a model, `SweepJob` runs a sweep
worker (fmnist_core.sweep), whose trials go to the study's storage as they end.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fmnist_core.children import child_environment, python_command, step_aside
from fmnist_core.classifier import Classifier
from fmnist_core.data import Dataset
from fmnist_core.errors import FmnistError

if TYPE_CHECKING:
    from fmnist_core.sweep import SweepSettings, SweepSummary
    from fmnist_core.training import TrainConfig

log = logging.getLogger(__name__)

RESULT_NAME = "result"  # the model's name in the job's private registry folder
MESSAGE_CHARS = 200  # of an unexpected error, for the page
STOP = b"s"
STDIN = 0
LENGTH_BYTES = 8  # the run's size before it on stdin: the child reads exactly that much
CHILD_COMMAND = "from fmnist_core.jobs import child_main; child_main()"


class BackgroundJob:
    """One call of `work` in a child process, with its events kept for readers."""

    activity = "work"  # in messages: "the training process ended unexpectedly"

    def __init__(self, work: Callable[..., Any], payload: tuple[Any, ...], label: str) -> None:
        self._work, self._payload = work, payload  # the payload goes to the child at launch
        self._label = label
        self._events: list[Any] = []
        self._lock = threading.Lock()
        self._stdin_lock = threading.Lock()  # the run's pickle and a stop byte never interleave
        self._stop_requested = threading.Event()
        self._folder = Path(tempfile.mkdtemp(prefix="fmnist-job-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._run_sent = False  # a stop byte written before the run would garble it
        self._reader = threading.Thread(target=self._collect, name=f"job-{label}", daemon=True)
        self.result: Any = None
        self.error: str | None = None  # a message for a person
        self.details: str | None = None  # the traceback of an unexpected failure, for a log

    @classmethod
    def start(cls, *args: Any) -> Any:
        """A job of this class made from `args`, running."""
        job = cls(*args)
        job._reader.start()
        return job

    def _receive(self, value: Any) -> Any:
        """The child's return value as the job's result (subclasses read a saved model back)."""
        return value

    def _launch(self) -> IO[bytes]:
        """Start the child, hand it the run; the read end of its message pipe."""
        read_end, write_end = os.pipe()
        try:
            self._process = subprocess.Popen(
                python_command(CHILD_COMMAND, str(write_end)),
                stdin=subprocess.PIPE,
                pass_fds=[write_end],
                env=child_environment(),
            )
        finally:
            os.close(write_end)
        messages = os.fdopen(read_end, "rb")
        run = pickle.dumps((self._work, self._payload, str(self._folder), self.activity), pickle.HIGHEST_PROTOCOL)
        with self._stdin_lock:
            stdin = self._stdin()
            stdin.write(len(run).to_bytes(LENGTH_BYTES, "big") + run)
            stdin.flush()
            self._run_sent = True
        if self._stop_requested.is_set():  # Stop came before the run was sent
            self.stop()
        return messages

    def _collect(self) -> None:
        """The reader thread: start the child, keep its events, then take its result."""
        try:
            with self._launch() as messages:
                while True:
                    try:
                        kind, *payload = pickle.load(messages)
                    except (EOFError, pickle.UnpicklingError):  # cut off mid-message too
                        code = self._child().wait()
                        self._fail(f"the {self.activity} process ended unexpectedly (exit code {code})", None)
                        return
                    if kind != "event":
                        break
                    with self._lock:
                        self._events.append(payload[0])
            if kind == "refused":
                self.error = payload[0]
            elif kind == "failed":
                self._fail(*payload)
            else:  # "done"
                self.result = self._receive(payload[0])
        except FmnistError as exc:  # the child's saved model could not be read back
            self._fail(f"the trained model could not be handed over: {exc}", None)
        except OSError as exc:  # no child, or its pipes broke
            self._fail(f"the {self.activity} process could not run ({exc})", traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - the page must get an outcome, never a dead reader
            self._fail(f"{self.activity} failed: {type(exc).__name__}: {_summary(exc)}", traceback.format_exc())
        finally:
            self._end_child()
            shutil.rmtree(self._folder, ignore_errors=True)

    def _child(self) -> subprocess.Popen[bytes]:
        """The child process, once `_launch` has started it."""
        assert self._process is not None, "the child has not been started"
        return self._process

    def _stdin(self) -> IO[bytes]:
        """The child's stdin: always a pipe (`_launch` starts it with stdin=PIPE)."""
        stdin = self._child().stdin
        assert stdin is not None, "the child was started without a stdin pipe"
        return stdin

    def _end_child(self) -> None:
        if self._process is None:
            return
        try:
            with self._stdin_lock:
                self._stdin().close()  # end of file: a child still training stops
            self._process.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()

    def _fail(self, message: str, details: str | None) -> None:
        self.error, self.details = message, details
        log.error("%s run %s failed: %s\n%s", self.activity, self._label, message, details or "")

    @property
    def events(self) -> list[Any]:
        """A copy of every event so far; the page redraws its tables from all of them."""
        with self._lock:
            return list(self._events)

    @property
    def running(self) -> bool:
        """True until the result (or the error) is in: the model is read back before this
        turns False, so a reader never sees a finished run without its outcome."""
        return self._reader.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Ask the work to end after the current steps; the result keeps what was done."""
        self._stop_requested.set()
        with self._stdin_lock:
            if not self._run_sent:
                return  # the launch passes the request on
            try:
                stdin = self._stdin()
                stdin.write(STOP)
                stdin.flush()
            except (OSError, ValueError):
                pass  # the child is gone or its stdin closed: nothing left to stop

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (for scripts and tests); True when it has."""
        self._reader.join(timeout)
        return not self.running


class TrainingJob(BackgroundJob):
    """One call of `training.train` in a child process; `result` is the trained Classifier."""

    activity = "training"

    def __init__(self, config: TrainConfig, data: Dataset) -> None:
        super().__init__(_train_and_save, (config, data), config.model)
        self.config = config
        self.result: Classifier | None = None

    def _receive(self, value: Any) -> Classifier:
        return _load_result(Path(value))


class SweepJob(BackgroundJob):
    """One sweep worker (`sweep.run_sweep`) in a child process; `result` is its SweepSummary."""

    activity = "sweep"

    def __init__(self, settings: SweepSettings, data: Dataset) -> None:
        super().__init__(_sweep, (settings, data), settings.study_name)
        self.settings = settings
        self.result: SweepSummary | None = None


def _train_and_save(
    config: TrainConfig, data: Dataset, folder: Path, on_event: Callable[[Any], None], stop: threading.Event
) -> str:
    """In the child: train, and save the model in the job's folder for the parent to load."""
    from fmnist_core import registry
    from fmnist_core.training import train  # TensorFlow loads here, not in the server

    result = train(config, data, on_event=on_event, stop=stop)
    return str(registry.save(result, RESULT_NAME, folder=folder))


def _sweep(
    settings: SweepSettings, data: Dataset, folder: Path, on_event: Callable[[Any], None], stop: threading.Event
) -> SweepSummary:
    """In the child: one sweep worker; its trials are in the study's storage."""
    from fmnist_core.sweep import run_sweep

    return run_sweep(settings, data, on_event, stop)


def _load_result(path: Path) -> Classifier:
    """The child's model as it would have come out of `train`: without registry fields."""
    from fmnist_core import registry

    classifier = registry.load(path)
    classifier.meta = {k: v for k, v in classifier.meta.items() if k not in registry.REGISTRY_FIELDS}
    return classifier


def child_main() -> None:
    """The child process: read the run from stdin, do the work, send every event and the
    result. Ctrl-C in a terminal reaches the whole process group: the parent decides (it
    sends a stop), so the child ignores it rather than dying mid-trial."""
    step_aside()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with os.fdopen(int(sys.argv[1]), "wb") as outbox:
        lock = threading.Lock()

        def send(*message: Any) -> None:
            with lock:
                pickle.dump(message, outbox, protocol=pickle.HIGHEST_PROTOCOL)
                outbox.flush()

        work, payload, folder, activity = pickle.loads(
            _read_exactly(int.from_bytes(_read_exactly(LENGTH_BYTES), "big"))
        )
        stop = threading.Event()
        threading.Thread(target=_stop_on_request, args=(stop,), daemon=True).start()
        try:
            result = work(*payload, folder=Path(folder), stop=stop, on_event=lambda event: send("event", event))
            send("done", result)
        except FmnistError as exc:
            send("refused", str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user instead of a dead process
            send("failed", f"{activity} failed: {type(exc).__name__}: {_summary(exc)}", traceback.format_exc())


def _read_exactly(count: int) -> bytes:
    """`count` bytes of stdin, read unbuffered: a buffered reader could swallow a stop byte
    behind the run, and the stop thread's read would hold its lock at interpreter exit."""
    chunks, left = [], count
    while left:
        chunk = os.read(STDIN, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the server closed the pipe before sending the whole run")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _stop_on_request(stop: threading.Event) -> None:
    """One byte on stdin asks to stop; end of file means the server is gone: stop too."""
    os.read(STDIN, 1)
    stop.set()


def _summary(exc: Exception) -> str:
    """An error's own words, without the graph trace TensorFlow wraps around them ("Graph
    execution error:", "Detected at node", the Python frames, the node name)."""
    noise = ("Graph execution error", "Detected at node", "File ", "[[")
    lines = [line.strip() for line in str(exc).splitlines()]
    useful = [line for line in lines if line and not line.startswith(noise)]
    text = useful[0] if useful else type(exc).__name__
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"
