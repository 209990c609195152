"""A training run in a child process: events while it runs, stop, result, errors."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from fmnist_core.jobs import TrainingJob
from fmnist_core.training import EpochEnd, TrainConfig, TrainingDone

# Every test here starts a child process that imports TensorFlow and trains: tens of seconds.
pytestmark = pytest.mark.slow


def wait_for(condition, timeout: float = 120.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_job_runs_in_the_background_and_can_be_stopped(small_data):
    config = TrainConfig(model="mlp", epochs=500, batch_size=32, steps_per_execution=4)
    job = TrainingJob.start(config, small_data)
    assert wait_for(lambda: any(isinstance(e, EpochEnd) for e in job.events))
    assert job.running and job.result is None
    assert job.pid != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, job.pid) > os.getpriority(os.PRIO_PROCESS, 0)
    seen = len(job.events)
    job.stop()
    assert job.wait(120)
    assert not job.running and job.error is None
    assert job.result is not None and job.result.meta["stopped_early"]
    assert "name" not in job.result.meta  # handed over through a registry folder, not named
    assert job.result.predict_proba(small_data.x_test[:3]).shape == (3, 10)
    new = job.events[seen:]
    assert new and isinstance(new[-1], TrainingDone) and new[-1].reason == "stopped"


def test_a_stop_while_the_run_is_being_handed_over_reaches_it(small_data, monkeypatch):
    """Stop pressed at once: the child is started but has not got its run yet. The stop
    must wait for the run instead of going down the pipe before it (which garbled it)."""
    launched, real_dumps = threading.Event(), pickle.dumps
    started: dict[str, TrainingJob] = {}

    def stop_first(value, *args, **kwargs):
        if isinstance(value, tuple) and len(value) == 4 and value[1][0] is config:  # the run
            launched.wait(30)
            started["job"].stop()
        return real_dumps(value, *args, **kwargs)

    config = TrainConfig(model="mlp", epochs=500, batch_size=32, steps_per_execution=4)
    monkeypatch.setattr(pickle, "dumps", stop_first)
    started["job"] = job = TrainingJob.start(config, small_data)
    launched.set()
    assert job.wait(120), "the run did not end after the stop"
    assert job.error is None and job.result is not None and job.result.meta["stopped_early"]


def test_a_scikit_learn_model_comes_back_from_the_child(small_data):
    job = TrainingJob.start(TrainConfig(model="sk_logreg", train_limit=200), small_data)
    assert job.wait(180) and job.error is None
    assert job.result.kind == "sk_logreg"
    assert job.result.predict_proba(small_data.x_test[:2]).shape == (2, 10)


def test_job_reports_a_bad_config_as_a_message(small_data):
    job = TrainingJob.start(TrainConfig(model="no_such_model"), small_data)
    assert job.wait(60)
    assert job.result is None
    assert "unknown model 'no_such_model'" in job.error


def test_job_reports_a_refusal_from_the_engine_as_a_message(small_data):
    config = TrainConfig(model="sk_logreg", cv_folds=5, train_limit=20)  # 2 images per class
    job = TrainingJob.start(config, small_data)
    assert job.wait(120)
    assert job.result is None and job.details is None
    assert "5-fold cross-validation needs at least 5 training images" in job.error


def test_an_unexpected_failure_is_a_message_and_its_traceback_goes_to_the_log(small_data, caplog):
    labels = small_data.y_train.copy()
    labels[0] = 42  # no such class: TensorFlow's loss refuses it mid-fit
    job = TrainingJob.start(TrainConfig(model="mlp"), replace(small_data, y_train=labels))
    assert job.wait(120)
    assert job.result is None
    assert job.error.startswith("training failed: InvalidArgumentError: "), job.error
    assert "42" in job.error and "\n" not in job.error
    assert "Traceback" in job.details
    logged = [r for r in caplog.records if r.name == "fmnist_core.jobs"]
    assert logged and "Traceback" in logged[0].getMessage()


def test_a_training_process_that_dies_is_reported_not_waited_for(small_data):
    job = TrainingJob.start(TrainConfig(model="mlp", epochs=500, batch_size=32), small_data)
    assert wait_for(lambda: any(isinstance(e, EpochEnd) for e in job.events))
    os.kill(job.pid, signal.SIGKILL)
    assert job.wait(60)
    assert job.result is None
    assert job.error == "the training process ended unexpectedly (exit code -9)"
    assert np.isfinite(job.events[-1].loss)
