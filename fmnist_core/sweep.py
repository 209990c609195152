"""Hyperparameter sweeps on Optuna: each trial trains through `training.train`, is scored on
validation accuracy (never the test set) and may be pruned on its per-epoch validation accuracy.

A study lives in a storage: by default Optuna's journal file `data/sweeps/sweeps.journal` (or
in `$FMNIST_SWEEPS_DIR`), which Optuna recommends over SQLite for several processes on one
machine; any database URL Optuna accepts (SQLite, PostgreSQL, MySQL) works too, and workers on
several machines given the same URL and study name share one study. `run_sweep` is one worker;
the command line starts several as `SweepJob`s (fmnist_core.jobs), the app one.
Stop ends the running trial after its current steps; it is kept as a failed trial marked
`stopped`, and running the same study again continues it.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fmnist_core import paths
from fmnist_core.data import Dataset
from fmnist_core.errors import FmnistError
from fmnist_core.sweep_space import Space, check, config_for, default_space, ends, final_config, suggest
from fmnist_core.training import EpochEnd, Event, TrainConfig, TrainingError, train

JOURNAL_FILE = "sweeps.journal"
PRUNERS = ("median", "halving", "none")
ACCURACY, SECONDS = "validation accuracy", "training seconds"
STARTUP_TRIALS = 5  # random trials before TPE models the results: budgets here are tens of trials
CONNECT_SECONDS = 10  # a database that does not answer in this time is reported, not waited for


class SweepError(FmnistError):
    """A sweep that cannot start or go on, explained for a person."""


class SweepStopped(FmnistError):
    """Raised inside a trial that Stop ended: Optuna records it as failed and ends the sweep."""


@dataclass(frozen=True)
class SweepSettings:
    model: str
    trials: int = 20  # trials this worker runs (at most)
    timeout: float | None = None  # seconds after which no new trial starts
    space: Space | None = None  # None: default_space(model)
    storage: str | None = None  # a database URL or a journal file; None: default_storage()
    study: str | None = None  # None: the model kind
    time_objective: bool = False  # also minimise training seconds: a Pareto front
    pruner: str = "median"  # median | halving | none (always none with time_objective)
    seed: int | None = None  # the sampler's, for repeatable searches

    @property
    def study_name(self) -> str:
        return self.study or self.model

    def search_space(self) -> Space:
        return dict(self.space) if self.space is not None else default_space(self.model)

    def validate(self) -> None:
        default_space(self.model)  # an unknown or scikit-learn model is refused here
        check(self.search_space())
        if self.trials < 1:
            raise SweepError("a sweep needs at least 1 trial")
        if self.timeout is not None and self.timeout <= 0:
            raise SweepError("the time limit must be above 0 seconds")
        if self.pruner not in PRUNERS:
            raise SweepError(f"unknown pruner {self.pruner!r} (choose from {', '.join(PRUNERS)})")
        if not self.study_name.strip():
            raise SweepError("the study needs a name")


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class SweepStarted:
    study: str
    storage: str  # shown to people: a database URL without its password
    earlier_trials: int  # already in the study: more than 0 means it is resumed
    objectives: tuple[str, ...]
    pruner: str


@dataclass(frozen=True)
class TrialStarted:
    number: int
    params: dict[str, Any]


@dataclass(frozen=True)
class TrialEnded:
    number: int
    state: str  # complete | pruned | stopped | failed
    accuracy: float | None  # validation accuracy at the last epoch run
    seconds: float | None  # training time
    epochs: int  # epochs run
    message: str = ""  # why it failed


@dataclass(frozen=True)
class SweepDone:
    reason: str  # completed | stopped | time limit
    trials: int  # trials this worker ran
    elapsed: float


SweepEvent = Any  # the events above, and the engine's own of the running trial


@dataclass(frozen=True)
class SweepSummary:
    study: str
    storage: str
    reason: str
    trials_run: int
    best: dict[str, Any] | None = None  # the best complete trial's row, with "config"
    rows: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- storage and study


def default_storage() -> str:
    """`$FMNIST_SWEEP_STORAGE` (e.g. a shared database for the app), else the journal file."""
    return os.environ.get("FMNIST_SWEEP_STORAGE") or str(paths.sweeps_dir() / JOURNAL_FILE)


def shown(location: str) -> str:
    """A storage as people may see it: a URL's password hidden."""
    if "://" not in location:
        return location
    try:
        from sqlalchemy.engine import make_url

        return make_url(location).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse: show only its scheme
        return location.split("://", 1)[0] + "://..."


def open_storage(location: str | None = None) -> Any:
    """An Optuna storage for a database URL or a journal file path; SweepError, naming it
    (without a password), when it cannot be opened or reached."""
    import optuna
    import sqlalchemy.exc

    location = location or default_storage()
    try:
        if "://" not in location:
            from optuna.storages.journal import JournalFileBackend

            Path(location).parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(JournalFileBackend(location))
        connect = {"connect_timeout": CONNECT_SECONDS} if location.startswith(("postgres", "mysql")) else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # heartbeats are "experimental" in some versions
            # Heartbeats mark the trials of a worker that died (another machine, a kill) as
            # failed instead of running for ever.
            try:
                return _rdb_storage(location, connect)
            except sqlalchemy.exc.IntegrityError:
                # Workers that open a new database at the same moment race to create its
                # tables, and the losers' CREATE fails; the tables are there now.
                time.sleep(1)
                return _rdb_storage(location, connect)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError, OSError) as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        raise SweepError(f"cannot open the study storage {shown(location)}: {reason}") from None


def _rdb_storage(location: str, connect: dict[str, Any]) -> Any:
    import optuna

    return optuna.storages.RDBStorage(
        location, engine_kwargs={"connect_args": connect}, heartbeat_interval=60, grace_period=180
    )


def _sampler(settings: SweepSettings) -> Any:
    import optuna

    # constant_liar: workers sharing a study do not all try the point TPE likes best.
    return optuna.samplers.TPESampler(n_startup_trials=STARTUP_TRIALS, seed=settings.seed, constant_liar=True)


def _pruner(settings: SweepSettings) -> Any:
    import optuna

    if settings.time_objective or settings.pruner == "none":
        return optuna.pruners.NopPruner()  # Optuna prunes single-objective studies only
    warmup = _warmup_epochs(settings.search_space())
    if settings.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=warmup, reduction_factor=3)
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=warmup)


def _warmup_epochs(space: Space) -> int:
    """Epochs a trial runs before it may be pruned: a third of the fewest it may have. A
    one-cycle schedule warms up over its first 30% of steps, and earlier accuracies ranked
    trials poorly: pruning from the second epoch on, the median pruner ended 9 of 12 trials
    of a fast_cnn sweep at epochs 2-4, leaving 3 complete trials to learn from."""
    epochs = space.get("epochs", TrainConfig.epochs)
    return max(1, int(0.3 * min(ends(epochs))))


def pruner_name(settings: SweepSettings) -> str:
    return "none (two objectives)" if settings.time_objective else settings.pruner


def open_study(settings: SweepSettings, storage: Any = None) -> Any:
    """Create the study, or join it when it exists with the same model and objectives."""
    import optuna
    import sqlalchemy.exc

    storage = storage if storage is not None else open_storage(settings.storage)
    directions: list[Literal["maximize", "minimize"]] = (
        ["maximize", "minimize"] if settings.time_objective else ["maximize"]
    )
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=settings.study_name,
            directions=directions,
            sampler=_sampler(settings),
            pruner=_pruner(settings),
            load_if_exists=True,
        )
        model = study.user_attrs.get("model")
        if model is None:
            study.set_user_attr("model", settings.model)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise SweepError(
            f"the study storage {shown(settings.storage or default_storage())} "
            f"failed: {' '.join(str(getattr(exc, 'orig', exc)).split())[:300]}"
        ) from None
    if model not in (None, settings.model):
        raise SweepError(
            f"the study {settings.study_name!r} already holds trials of {model}, not "
            f"{settings.model}: choose another study name"
        )
    if len(study.directions) != len(directions):
        had = "with" if len(study.directions) > 1 else "without"
        raise SweepError(
            f"the study {settings.study_name!r} was made {had} training time as a "
            "second objective: choose the same, or another study name"
        )
    return study


def find_study(name: str, storage: str | None = None) -> Any | None:
    """The study called `name` in the storage, or None; for readers (the app, reports)."""
    import optuna

    location = storage or default_storage()
    if "://" not in location and not Path(location).is_file():
        return None  # reading creates no file
    try:
        return optuna.load_study(study_name=name, storage=open_storage(location))
    except KeyError:
        return None


def study_names(storage: str | None = None) -> list[str]:
    import optuna

    return optuna.get_all_study_names(open_storage(storage))


# ---------------------------------------------------------------- one worker


def run_sweep(
    settings: SweepSettings,
    data: Dataset,
    on_event: Callable[[SweepEvent], None] | None = None,
    stop: threading.Event | None = None,
) -> SweepSummary:
    """Run up to `settings.trials` trials of the study (joining it if it exists) until the
    time limit or `stop`; every trial trains through `training.train`."""
    import optuna

    settings.validate()
    emit = on_event or (lambda event: None)
    stop = stop or threading.Event()
    space = settings.search_space()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # this module reports; no tracebacks
    # Every trial compiles a new model, and TensorFlow warns about the retracing each time.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    study = open_study(settings)
    location = shown(settings.storage or default_storage())
    emit(
        SweepStarted(
            study.study_name,
            location,
            len(study.trials),
            (ACCURACY, SECONDS) if settings.time_objective else (ACCURACY,),
            pruner_name(settings),
        )
    )
    ran: list[int] = []

    def objective(trial: Any) -> Any:
        ran.append(trial.number)
        return _run_trial(trial, settings, space, data, emit, stop)

    def stop_between_trials(study: Any, _: Any) -> None:
        if stop.is_set():
            study.stop()

    start, reason = time.perf_counter(), "completed"
    try:
        study.optimize(
            objective,
            n_trials=settings.trials,
            timeout=settings.timeout,
            catch=(TrainingError,),
            callbacks=[stop_between_trials],
            gc_after_trial=True,
        )
    except SweepStopped:
        reason = "stopped"
    elapsed = time.perf_counter() - start
    if stop.is_set():
        reason = "stopped"
    elif settings.timeout is not None and len(ran) < settings.trials:
        reason = "time limit"
    emit(SweepDone(reason, len(ran), elapsed))
    rows = trial_rows(study)
    return SweepSummary(study.study_name, location, reason, len(ran), best_row(rows), rows)


def _run_trial(
    trial: Any,
    settings: SweepSettings,
    space: Space,
    data: Dataset,
    emit: Callable[[SweepEvent], None],
    stop: threading.Event,
) -> Any:
    """One trial: train the drawn configuration, report each epoch's validation accuracy to
    the pruner, and return the objective(s)."""
    import optuna

    values = suggest(trial, space)
    trial.set_user_attr("config", values)  # the whole configuration: retraining needs no space
    emit(TrialStarted(trial.number, dict(trial.params)))
    halt = threading.Event()  # ends this trial's fit: Stop, or the pruner
    epochs: list[EpochEnd] = []
    pruned = False
    multi = settings.time_objective

    def on_event(event: Event) -> None:
        nonlocal pruned
        emit(event)
        if stop.is_set():
            halt.set()
        if isinstance(event, EpochEnd) and event.val_accuracy is not None:
            epochs.append(event)
            if not multi:
                trial.report(event.val_accuracy, event.epoch)
                if not halt.is_set() and trial.should_prune():
                    pruned = True
                    halt.set()

    def ended(state: str, message: str = "", seconds: float | None = None) -> None:
        accuracy = epochs[-1].val_accuracy if epochs else None
        emit(TrialEnded(trial.number, state, accuracy, seconds, len(epochs), message))

    try:
        classifier = train(config_for(settings.model, values), data, on_event, halt, test_set=False)
    except TrainingError as exc:
        ended("failed", str(exc))
        raise
    seconds = float(classifier.meta["train_seconds"])
    trial.set_user_attr("train_seconds", seconds)
    if classifier.meta["stop_reason"] == "stopped" and not pruned:  # Stop came mid-fit
        trial.set_user_attr("stopped", True)
        ended("stopped", seconds=seconds)
        raise SweepStopped("stopped")
    if pruned:
        ended("pruned", seconds=seconds)
        raise optuna.TrialPruned(f"epoch {len(epochs)}: {epochs[-1].val_accuracy:.4f}")
    accuracy = epochs[-1].val_accuracy if epochs else None
    if accuracy is None or not math.isfinite(accuracy):
        ended("failed", "no validation accuracy", seconds)
        raise TrainingError(f"trial {trial.number} gave no validation accuracy")
    ended("complete", seconds=seconds)
    return (accuracy, seconds) if multi else accuracy


# ---------------------------------------------------------------- reading a study


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One plain row per trial: number, state, validation accuracy (a pruned trial's last),
    training seconds, epochs run, pruned, the parameters drawn, and the whole configuration."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        state = trial.state.name.lower()
        if state == "fail":
            state = "stopped" if trial.user_attrs.get("stopped") else "failed"
        reported = trial.intermediate_values
        accuracy = trial.values[0] if trial.values else (reported[max(reported)] if reported else None)
        rows.append(
            {
                "trial": trial.number,
                "state": state,
                "validation accuracy": accuracy,
                "seconds": trial.user_attrs.get("train_seconds"),
                "epochs": len(reported),
                "pruned": state == "pruned",
                **trial.params,
                "config": dict(trial.user_attrs.get("config") or {}),
            }
        )
    return rows


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The complete trial with the highest validation accuracy (the quicker on a tie)."""
    complete = [row for row in rows if row["state"] == "complete"]
    if not complete:
        return None
    return max(complete, key=lambda row: (row["validation accuracy"], -(row["seconds"] or 0)))


def config_of(study: Any, number: int) -> TrainConfig:
    """The configuration to train trial `number` of `study` with for good (final_config)."""
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if trial is None or "config" not in trial.user_attrs:
        raise SweepError(f"the study {study.study_name!r} has no trial {number} with a configuration")
    return final_config(study.user_attrs["model"], trial.user_attrs["config"])
