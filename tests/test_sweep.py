"""Sweeps: spaces and their messages, a study that completes, pruning, stop and resume,
studies that do not match, storages that cannot be reached, and workers sharing a study."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fmnist_core import sweep, training
from fmnist_core.cli.sweep import KERAS_NAMES, train_command
from fmnist_core.sweep import SweepError, SweepSettings, SweepStarted, TrialEnded, TrialStarted, run_sweep
from fmnist_core.sweep_space import (
    CHOICE_FIELDS,
    FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    Choice,
    Range,
    SpaceError,
    check,
    default_space,
    final_config,
    keras_kinds,
    load_space,
    override,
)
from fmnist_core.training import EpochEnd, TrainConfig

REPO = Path(__file__).resolve().parent.parent
# Tiny trials: the small_data fixture's 600 images, 90% of them for training, 2 epochs.
TINY = {
    "epochs": 2,
    "learning_rate": Range(1e-3, 1e-2, log=True),
    "batch_size": 64,
    "schedule": "constant",
    "optimizer": "adam",
    "dropout": 0.0,
    "l2": Range(1e-6, 1e-4, log=True),
    "augment": "none",
    "validation_split": 0.1,
}


@pytest.fixture
def sweeps_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "sweeps"
    monkeypatch.setenv("FMNIST_SWEEPS_DIR", str(folder))
    monkeypatch.delenv("FMNIST_SWEEP_STORAGE", raising=False)
    return folder


@pytest.fixture
def no_test_set(monkeypatch):
    """Trials must never measure anything on the test set."""

    def refuse(*args, **kwargs):
        raise AssertionError("a trial looked at the test set")

    monkeypatch.setattr(training, "evaluate", refuse)
    monkeypatch.setattr(training, "calibrate_unsure", refuse)


def tiny(**changes) -> SweepSettings:
    return SweepSettings(**{"model": "mlp", "trials": 3, "space": dict(TINY), "seed": 0, **changes})


# ---------------------------------------------------------------- spaces


def test_space_fields_are_train_config_fields_of_the_right_kind():
    hints = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}
    assert set(FIELDS) <= set(hints)
    assert all(hints[name].startswith("int") for name in INT_FIELDS)
    assert all(hints[name].startswith("float") for name in FLOAT_FIELDS)
    assert set(CHOICE_FIELDS) == {"schedule", "optimizer", "augment"}
    assert list(KERAS_NAMES) == keras_kinds()


@pytest.mark.parametrize("kind", keras_kinds())
def test_every_keras_model_has_a_valid_default_space_with_log_scales(kind):
    space = default_space(kind)
    check(space)
    assert space["learning_rate"].log and space["l2"].log


def test_a_scikit_learn_model_has_no_space():
    with pytest.raises(SpaceError, match="sk_forest is a scikit-learn model"):
        default_space("sk_forest")


def test_a_space_file_overrides_only_its_fields(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("learning_rate: {low: 0.002, high: 0.02, log: true}\nbatch_size: [256]\nepochs: 3\n")
    space = load_space(path, "fast_cnn")
    assert space["learning_rate"] == Range(0.002, 0.02, log=True)
    assert space["batch_size"] == Choice((256,)) and space["epochs"] == 3
    assert space["dropout"] == default_space("fast_cnn")["dropout"]
    json_path = tmp_path / "space.json"
    json_path.write_text(json.dumps({"dropout": {"low": 0, "high": 0.2}}))
    assert load_space(json_path, "mlp")["dropout"] == Range(0, 0.2)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"lr": 0.1}, "unknown field 'lr'"),
        ({"learning_rate": {"low": 0.1, "high": 0.01}}, "field 'learning_rate': low (0.1) is above high"),
        ({"l2": {"low": 0, "high": 0.01, "log": True}}, "field 'l2': a log-scale range must start above 0"),
        ({"schedule": ["constant", "warm"]}, "field 'schedule': unknown choice 'warm'"),
        ({"dropout": {"low": 0.0, "high": 1.5}}, "field 'dropout' = 1.5: dropout must be at least 0 and below 1"),
        ({"validation_split": 0}, "field 'validation_split': trials are scored on validation accuracy"),
        ({"epochs": {"low": 1, "high": 2.5}}, "field 'epochs': a range of whole numbers needs whole ends"),
        ({"batch_size": []}, "field 'batch_size': the list of choices is empty"),
        ({"optimizer": {"low": 1, "high": 2}}, "field 'optimizer' takes a list of choices"),
        ({"learning_rate": {"low": 0.1}}, "field 'learning_rate': a range is"),
        ({"epochs": "many"}, "field 'epochs': 'many' is not a number"),
    ],
)
def test_a_bad_space_is_refused_naming_the_field(changes, message):
    with pytest.raises(SpaceError) as caught:
        override(default_space("mlp"), changes)
    assert message in str(caught.value)


def test_a_space_file_that_is_not_yaml_or_is_missing_gets_a_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: {low: [\n")
    with pytest.raises(SpaceError, match="not valid YAML or JSON"):
        load_space(bad, "mlp")
    with pytest.raises(SpaceError, match="cannot read the space file"):
        load_space(tmp_path / "missing.yaml", "mlp")
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(SpaceError, match="must map field names"):
        load_space(listed, "mlp")


def test_the_final_configuration_trains_on_everything_and_averages_mirrors():
    values = {"epochs": 4, "learning_rate": 0.01, "augment": "flip", "train_limit": 600}
    config = final_config("fast_cnn", values)
    assert config.train_limit is None and config.flip_tta and config.preview_count > 0
    assert config.learning_rate == 0.01 and config.epochs == 4
    command = train_command(config)
    assert command.startswith("python -m fmnist_core train --model fast_cnn --epochs 4")
    assert "--learning-rate 0.01" in command and "--augment flip" in command and "--flip-tta" in command


# ---------------------------------------------------------------- studies


@pytest.mark.slow  # trains a study's trials
def test_a_study_completes_on_validation_accuracy_alone(small_data, sweeps_dir, no_test_set):
    events = []
    summary = run_sweep(tiny(), small_data, events.append)
    assert summary.reason == "completed" and summary.trials_run == 3
    assert (sweeps_dir / sweep.JOURNAL_FILE).is_file()
    rows = summary.rows
    assert [row["state"] for row in rows] == ["complete"] * 3
    assert all(0 <= row["validation accuracy"] <= 1 and row["seconds"] > 0 for row in rows)
    assert all(row["epochs"] == 2 and row["config"]["batch_size"] == 64 for row in rows)
    assert len({row["learning_rate"] for row in rows}) == 3
    assert summary.best == max(rows, key=lambda row: row["validation accuracy"])
    started = [e.number for e in events if isinstance(e, TrialStarted)]
    ended = [e for e in events if isinstance(e, TrialEnded)]
    assert started == [0, 1, 2] and [e.state for e in ended] == ["complete"] * 3
    assert any(isinstance(e, EpochEnd) for e in events)  # the engine's own events come through
    study = sweep.find_study("mlp")
    assert sweep.config_of(study, summary.best["trial"]).learning_rate == summary.best["learning_rate"]


@pytest.mark.slow  # trains a study's trials
def test_time_as_a_second_objective_gives_a_pareto_front(small_data, sweeps_dir):
    summary = run_sweep(tiny(trials=2, time_objective=True, study="pareto"), small_data)
    study = sweep.find_study("pareto")
    assert len(study.directions) == 2 and study.best_trials
    assert all(len(t.values) == 2 and t.values[1] > 0 for t in study.best_trials)
    assert summary.rows[0]["seconds"] == pytest.approx(study.trials[0].values[1])


@pytest.mark.slow  # trains a study's trials
def test_pruning_ends_a_weak_trial_early(small_data, sweeps_dir):
    """Three good trials, then one that can learn nothing (learning rate 1e-7): the median
    pruner stops it at its second epoch, the first it may judge."""
    import optuna

    settings = tiny(
        trials=4, study="pruning", space={**TINY, "epochs": 4, "learning_rate": Range(1e-7, 1e-2, log=True)}
    )
    study = sweep.open_study(settings)
    for rate in (3e-3, 4e-3, 5e-3, 1e-7):
        study.enqueue_trial({"learning_rate": rate, "l2": 1e-6})
    summary = run_sweep(settings, small_data)
    states = [(row["state"], row["epochs"]) for row in summary.rows]
    assert states[:3] == [("complete", 4)] * 3
    assert states[3] == ("pruned", 2), states
    assert summary.rows[3]["pruned"] and summary.rows[3]["validation accuracy"] is not None
    assert sweep.find_study("pruning").trials[3].state == optuna.trial.TrialState.PRUNED


@pytest.mark.slow  # trains a study's trials
def test_stop_ends_the_running_trial_and_the_study_resumes(small_data, sweeps_dir):
    stop = threading.Event()

    def stop_in_trial_one(event):
        if isinstance(event, EpochEnd) and current[0] == 1:
            stop.set()
        if isinstance(event, TrialStarted):
            current[0] = event.number

    current = [None]
    settings = tiny(trials=5, space={**TINY, "epochs": 30})
    first = run_sweep(settings, small_data, stop_in_trial_one, stop)
    assert first.reason == "stopped" and first.trials_run == 2
    assert [row["state"] for row in first.rows] == ["complete", "stopped"]
    assert first.rows[1]["epochs"] < 30  # ended part-way, not at the end of its epochs

    events = []
    second = run_sweep(tiny(trials=2), small_data, events.append)
    assert second.reason == "completed"
    assert events[0] == SweepStarted("mlp", str(sweeps_dir / sweep.JOURNAL_FILE), 2, ("validation accuracy",), "median")
    assert [row["state"] for row in second.rows] == ["complete", "stopped", "complete", "complete"]
    assert [row["trial"] for row in second.rows] == [0, 1, 2, 3]


def test_a_time_limit_starts_no_new_trial(small_data, sweeps_dir):
    summary = run_sweep(tiny(trials=50, timeout=0.5), small_data)
    assert summary.reason == "time limit" and summary.trials_run == 1


def test_a_study_of_another_model_or_objective_is_refused_and_kept(small_data, sweeps_dir):
    run_sweep(tiny(trials=1, study="shared"), small_data)
    with pytest.raises(SweepError, match="already holds trials of mlp, not logreg: choose another"):
        run_sweep(tiny(model="logreg", trials=1, study="shared"), small_data)
    with pytest.raises(SweepError, match="made without training time as a second objective"):
        run_sweep(tiny(trials=1, study="shared", time_objective=True), small_data)
    assert len(sweep.find_study("shared").trials) == 1


@pytest.mark.parametrize(
    "url",
    ["postgresql://sweeper:s3cret@127.0.0.1:9/sweeps", "nosuchdb://somewhere/x", "sqlite:////nonexistent-dir/x/y.db"],
)
def test_an_unusable_storage_is_a_message_without_its_password(small_data, sweeps_dir, url):
    with pytest.raises(SweepError) as caught:
        run_sweep(tiny(trials=1, storage=url), small_data)
    message = str(caught.value)
    assert message.startswith("cannot open the study storage ") and "s3cret" not in message


def test_bad_settings_are_refused():
    for settings, message in [
        (tiny(trials=0), "at least 1 trial"),
        (tiny(timeout=-1), "above 0"),
        (tiny(pruner="fast"), "unknown pruner"),
        (tiny(model="sk_svm"), "scikit-learn model"),
    ]:
        with pytest.raises(sweep.FmnistError, match=message):
            settings.validate()


# ---------------------------------------------------------------- workers


def _cli(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fmnist_core", "sweep", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_two_worker_processes_share_one_study_without_losing_or_repeating_trials(tmp_path):
    space = tmp_path / "tiny.yaml"
    space.write_text("epochs: 2\ntrain_limit: 600\nbatch_size: 64\nschedule: constant\n")
    env = {**os.environ, "FMNIST_SWEEPS_DIR": str(tmp_path / "sweeps"), "FMNIST_OFFLINE": "1"}
    result = _cli(
        "--model",
        "mlp",
        "--trials",
        "5",
        "--workers",
        "2",
        "--space",
        str(space),
        "--pruner",
        "none",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout)
    rows = outcome["trials"]
    assert sorted(row["trial"] for row in rows) == [0, 1, 2, 3, 4]
    assert [row["state"] for row in rows] == ["complete"] * 5
    assert outcome["trials_run"] == 5 and outcome["reason"] == "completed"
    assert "[worker 1] trial" in result.stderr and "[worker 2] trial" in result.stderr
    assert outcome["train_best"].startswith("python -m fmnist_core train --model mlp")
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # the sweep command in a child process that starts TensorFlow
def test_the_command_names_a_bad_space_field_without_a_traceback(tmp_path):
    space = tmp_path / "bad.json"
    space.write_text('{"learning_rate": {"low": -1, "high": 0.1, "log": true}}')
    env = {**os.environ, "FMNIST_SWEEPS_DIR": str(tmp_path / "sweeps"), "FMNIST_OFFLINE": "1"}
    result = _cli("--model", "mlp", "--space", str(space), env=env, timeout=120)
    assert result.returncode == 1
    assert "error: field 'learning_rate': a log-scale range must start above 0" in result.stderr
    assert "Traceback" not in result.stderr
