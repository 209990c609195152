"""A training run in a background thread: events while it runs, stop, result, error."""

from __future__ import annotations

import time

from fmnist_core.jobs import TrainingJob
from fmnist_core.training import EpochEnd, TrainConfig, TrainingDone


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
    seen = len(job.events)
    job.stop()
    assert job.wait(120)
    assert not job.running and job.error is None
    assert job.result is not None and job.result.meta["stopped_early"]
    assert job.result.predict_proba(small_data.x_test[:3]).shape == (3, 10)
    new = job.events[seen:]
    assert new and isinstance(new[-1], TrainingDone) and new[-1].reason == "stopped"


def test_job_reports_a_bad_config_as_a_message(small_data):
    job = TrainingJob.start(TrainConfig(model="no_such_model"), small_data)
    assert job.wait(60)
    assert job.result is None
    assert "unknown model 'no_such_model'" in job.error


def test_an_unexpected_failure_is_a_message_and_its_traceback_goes_to_the_log(small_data, monkeypatch,
                                                                           caplog):
    from fmnist_core import training

    def crash(*args, **kwargs):
        raise ValueError("something deep inside Keras")

    monkeypatch.setattr(training, "train", crash)
    job = TrainingJob.start(TrainConfig(model="mlp"), small_data)
    assert job.wait(60)
    assert job.error == "training failed: ValueError: something deep inside Keras"
    assert "Traceback" in job.details
    logged = [r for r in caplog.records if r.name == "fmnist_core.jobs"]
    assert logged and "Traceback" in logged[0].getMessage()
