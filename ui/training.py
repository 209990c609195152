"""The Train page's state and live view: the form's values, the job, its events as tables.

The run itself is a `fmnist_core.jobs.TrainingJob` (a child process), so a click anywhere
never stops it. It is filed on the server under the browser's id (ui.browser), not in the
session: a reload or a second tab of the same person finds it again, with its Stop, while no
other user sees it. The page polls it from a fragment that reruns alone while the job runs.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, get_args, get_type_hints

import pandas as pd
import streamlit as st

from fmnist_core.augment import AUGMENTATIONS, augmentation_name
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data import Dataset
from fmnist_core.jobs import TrainingJob
from fmnist_core.training import (
    PRESET_ACCURACY,
    PRESETS,
    BatchProgress,
    EpochEnd,
    FitProgress,
    PhaseChange,
    TrainConfig,
    TrainingDone,
    TrainingError,
    epochs_for_full_steps,
    planned_steps,
)
from fmnist_core.zoo import ZOO
from ui import charts
from ui.browser import browser_id
from ui.images import inline_strip
from ui.layers import training_layers_view
from ui.layout import live_view
from ui.models import SESSION_MODEL_KEY, SessionModel, speed_up_in_background

KEPT_FINISHED_RUNS = 32  # finished runs kept for their browsers to come back to; oldest go first
SAVE_NAME_KEY = "train_save_name"
KEEP_STEPS_KEY = "train_keep_steps"  # a smaller training set gets more epochs, not fewer steps
LABELS = {"train_limit": "training images", "flip_tta": "mirror averaging"}  # the form's words
FAR_BELOW = 0.02  # a model this far under its preset's accuracy gets no success styling
POLL_SECONDS = 1.0
MODEL_DEFAULT = "model default"
FULL_TRAINING_SET = 60_000

# The form's choices, with every preset's own values among them (a slider refuses a value it
# does not offer).
BATCH_SIZES = sorted({32, 64, 128, 256, 512} | {p.batch_size for p in PRESETS.values()})
LEARNING_RATES = sorted({1e-4, 3e-4, 1e-3, 3e-3, 5e-3, 1e-2, 3e-2} | {p.learning_rate for p in PRESETS.values()})

# The form: every TrainConfig field but these, each under the session-state key
# "train_<field>" (two shortened); a preset fills them in.
NOT_ON_THE_FORM = {"preview_count", "steps_per_execution", "devices", "cv_folds"}
KEY_NAMES = {"early_stopping_patience": "patience", "train_limit": "limit"}
FIELDS = {
    f.name: f"train_{KEY_NAMES.get(f.name, f.name)}" for f in fields(TrainConfig) if f.name not in NOT_ON_THE_FORM
}
# The widget value that stands for a field's None.
WIDGET_NONE = {
    "dropout": MODEL_DEFAULT,
    "l2": MODEL_DEFAULT,
    "early_stopping_patience": 0,
    "train_limit": FULL_TRAINING_SET,
}
FIELD_TYPES = get_type_hints(TrainConfig)


@dataclass(frozen=True)
class Note:
    text: str
    warning: bool  # the settings cost the model much: say so in a warning's colours


@dataclass
class RunState:
    """The session's current run: the job plus what the page remembers about it."""

    job: TrainingJob
    started_at: float
    token: str  # identifies this run among the session's runs (and names its model)
    saved_as: str | None = None
    note: Note | None = None  # what the form's settings did to the run (size_note)


def preset_values(preset: str) -> dict[str, Any]:
    """The form's widget values for a preset (model first, then every field)."""
    config = PRESETS[preset]
    return {key: widget_value(name, getattr(config, name)) for name, key in FIELDS.items()}


def widget_value(name: str, value: Any) -> Any:
    """A TrainConfig field's value as its widget holds it."""
    if name == "augment":
        return augmentation_name(value)
    return WIDGET_NONE[name] if value is None else value


def config_value(name: str, value: Any) -> Any:
    """A widget's value as its TrainConfig field holds it (the inverse of widget_value)."""
    if name == "augment":
        return AUGMENTATIONS[value]
    if name in WIDGET_NONE and value == WIDGET_NONE[name]:
        return None
    kind = next((t for t in get_args(FIELD_TYPES[name]) if t is not type(None)), FIELD_TYPES[name])
    return kind(value)


def apply_preset() -> None:
    """on_change of the preset picker: copy the preset into the form's widgets."""
    st.session_state.update(preset_values(st.session_state.train_preset))


def ensure_form_defaults() -> None:
    """The first visit starts from the quick preset."""
    if FIELDS["model"] not in st.session_state:
        st.session_state.train_preset = "quick"
        apply_preset()
    st.session_state.setdefault(KEEP_STEPS_KEY, True)  # not part of any preset


def config_from_state() -> TrainConfig:
    """The TrainConfig the form describes."""
    values = {name: config_value(name, st.session_state[key]) for name, key in FIELDS.items()}
    # A scikit-learn model's form keeps the greyed-out Keras fields; mirror averaging is
    # the one the engine would refuse.
    is_keras = ZOO[values["model"]].family == "keras"
    config = TrainConfig(**values | {"flip_tta": is_keras and values["flip_tta"]})
    if is_keras and config.train_limit and st.session_state[KEEP_STEPS_KEY]:
        return replace(config, epochs=epochs_for_full_steps(config, FULL_TRAINING_SET))
    return config


def size_note(config: TrainConfig, asked_epochs: int) -> Note | None:
    """What a smaller training set does to a Keras run (None on the full set): the epochs
    it gained to keep its optimiser steps, or the steps it lost and what that costs."""
    if not config.train_limit or ZOO[config.model].family != "keras":
        return None
    full = planned_steps(replace(config, train_limit=None, epochs=asked_epochs), FULL_TRAINING_SET)
    steps = planned_steps(config, FULL_TRAINING_SET)
    images = f"{config.train_limit:,} training images instead of {FULL_TRAINING_SET:,}"
    if config.epochs > asked_epochs:
        return Note(
            f"{images}: {config.epochs} epochs instead of {asked_epochs}, so that the "
            f"model takes the {steps:,} optimiser steps the full set would give it. "
            "That takes as long as the full set; fewer distinct images still cost some "
            "accuracy.",
            warning=False,
        )
    return Note(
        f"{images}: {steps:,} optimiser steps instead of {full:,}. Expect a much weaker "
        "model (the quick preset fell from 90.8% to 48.8% on 10,000 images); tick "
        '"Keep the optimiser steps" to train as many steps as on the full set.',
        warning=True,
    )


def shortfall(config: TrainConfig, meta: dict[str, Any]) -> str | None:
    """Why a finished model is far below what its model's preset reaches, or None: such a
    model must not look like a success."""
    accuracy = (meta.get("metrics") or {}).get("accuracy")
    preset = next((name for name, p in PRESETS.items() if p.model == config.model), None)
    if preset is None or accuracy is None or accuracy >= PRESET_ACCURACY[preset] - FAR_BELOW:
        return None
    reference = PRESETS[preset]
    ignored = {"seed", "preview_count", "devices", "steps_per_execution"}
    changes = [
        f"{LABELS.get(f.name, f.name.replace('_', ' '))} "
        f"{_setting(f.name, getattr(config, f.name))} (preset: "
        f"{_setting(f.name, getattr(reference, f.name))})"
        for f in fields(TrainConfig)
        if f.name not in ignored and getattr(config, f.name) != getattr(reference, f.name)
    ]
    if meta.get("stop_reason") == "stopped":
        changes.insert(0, "stopped before the end")
    return (
        f"{accuracy:.1%} test accuracy is far below the {PRESET_ACCURACY[preset]:.1%} the "
        f"{preset} preset reaches with this model. What differs: "
        f"{'; '.join(changes) or 'nothing but the seed'}."
    )


def _setting(name: str, value: Any) -> str:
    """A config field's value as the form words it."""
    if name == "train_limit":
        return f"{value or FULL_TRAINING_SET:,}"
    if name == "augment":
        return next((key for key, known in AUGMENTATIONS.items() if known == value), "custom")
    if value is None:
        return MODEL_DEFAULT
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# Every browser's latest run, by browser id: shared by the server's sessions (a reload is a
# new session), so that a run is found again rather than left training unseen.
_runs: dict[str, RunState] = {}
_runs_lock = threading.Lock()


def run_of(owner: str) -> RunState | None:
    """The latest run started from the browser `owner`, running or finished."""
    with _runs_lock:
        return _runs.get(owner)


def keep_run(owner: str, run: RunState) -> None:
    """File `run` as the browser's latest; beyond KEPT_FINISHED_RUNS finished runs, the
    oldest are forgotten (a running one never is)."""
    with _runs_lock:
        _file(owner, run)


def _file(owner: str, run: RunState) -> None:
    """keep_run, with the lock held."""
    _runs.pop(owner, None)
    _runs[owner] = run  # at the end: the dict's order is the order of starts
    finished = [key for key, kept in _runs.items() if not kept.job.running]
    for key in finished[: max(0, len(finished) - KEPT_FINISHED_RUNS)]:
        del _runs[key]


def current_run() -> RunState | None:
    return run_of(browser_id())


def start_run(config: TrainConfig, data: Dataset, note: Note | None = None) -> None:
    """Start training in the background; raises TrainingError for a config it refuses, and
    while this browser's previous run is still going (a second click on Start, or Start in
    a second tab, must not start an orphan run nobody can see or stop)."""
    owner = browser_id()
    with _runs_lock:  # two tabs pressing Start at once start one run
        current = _runs.get(owner)
        if current is not None and current.job.running:
            raise TrainingError(
                "a run is already going in this browser: stop it or wait for it to finish before starting another"
            )
        config.validate()
        _file(owner, RunState(TrainingJob.start(config, data), time.time(), uuid.uuid4().hex, note=note))


def discard_run(token: str) -> None:
    """Forget the run `token` (and not a newer one started from another tab); a model it
    produced stays usable as the unsaved model until the next run replaces it."""
    owner = browser_id()
    with _runs_lock:
        if owner in _runs and _runs[owner].token == token:
            del _runs[owner]


def adopt_result(run: RunState) -> None:
    """Once per run: make its model this session's unsaved model and propose a name."""
    current = st.session_state.get(SESSION_MODEL_KEY)
    if run.job.result is not None and (current is None or current.run_token != run.token):
        st.session_state[SESSION_MODEL_KEY] = SessionModel(speed_up_in_background(run.job.result), run.token)
        st.session_state[SAVE_NAME_KEY] = default_name(run.job.config)


def run_title(config: TrainConfig) -> str:
    """The model's title, naming a preset only when the run is that preset (any seed)."""
    title = re.sub(r" \([^)]*preset\)$", "", ZOO[config.model].title)
    preset = next((name for name, p in PRESETS.items() if replace(config, seed=p.seed) == p), None)
    return f"{title} ({preset} preset)" if preset else title


def default_name(config: TrainConfig) -> str:
    return f"{config.model}-{datetime.now():%Y%m%d-%H%M}"


# ---------------------------------------------------------------- events as tables


def batch_table(events: list[Any]) -> pd.DataFrame:
    """One row per BatchProgress, x in fractional epochs so batches and epochs share an axis."""
    rows = [
        {
            "epoch": e.epoch + e.step / e.steps_per_epoch,
            "loss": e.loss,
            "accuracy": e.accuracy,
            "learning rate": e.learning_rate,
            "images/s": e.images_per_second,
        }
        for e in events
        if isinstance(e, BatchProgress)
    ]
    return pd.DataFrame(rows, columns=["epoch", "loss", "accuracy", "learning rate", "images/s"])


def epoch_table(events: list[Any]) -> pd.DataFrame:
    """One row per EpochEnd: train and validation loss and accuracy at the epoch's end. An
    epoch cut short by Stop ends where its last steps did, not at a whole epoch."""
    rows, last_batch = [], None
    for e in events:
        if isinstance(e, BatchProgress):
            last_batch = e
        elif isinstance(e, EpochEnd):
            x: float = e.epoch + 1
            if (
                last_batch is not None and last_batch.epoch == e.epoch and last_batch.step < last_batch.steps_per_epoch
            ):  # cut short
                x = e.epoch + last_batch.step / last_batch.steps_per_epoch
            rows.append(
                {
                    "epoch": x,
                    "loss": e.loss,
                    "accuracy": e.accuracy,
                    "val_loss": e.val_loss,
                    "val_accuracy": e.val_accuracy,
                    "learning rate": e.learning_rate,
                }
            )
    return pd.DataFrame(rows, columns=["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning rate"])


def progress(events: list[Any], config: TrainConfig, started_at: float) -> tuple[float, str]:
    """Share of the run done (0..1) and a line with the phase, time left and speed."""
    phases = [e for e in events if isinstance(e, PhaseChange)]
    batches = [e for e in events if isinstance(e, BatchProgress)]
    done = next((e for e in events if isinstance(e, TrainingDone)), None)
    if done is not None:
        return 1.0, f"Finished ({done.reason}) in {done.elapsed:.0f} s."
    if phases and phases[-1].phase == "evaluating":
        return 1.0, "Training finished; measuring accuracy on the 10,000 test images..."
    stages = [e for e in events if isinstance(e, FitProgress)]
    if stages:  # a forest growing: no epochs, no batches
        stage = stages[-1]
        fraction = stage.done / stage.total
        left = stage.elapsed * (1 - fraction) / fraction
        return fraction, (f"Fitting: {stage.done} of {stage.total} {stage.unit} · about {_duration(left)} left")
    if not batches:
        if phases and phases[-1].phase != "setting up":
            return 0.0, f"{phases[-1].phase.capitalize()}: {phases[-1].detail}."
        detail = phases[-1].detail if phases else "starting"
        if ZOO[config.model].family != "keras":
            return 0.0, f"Setting up: {detail}."
        return 0.0, f"Setting up: {detail} (loading TensorFlow takes a few seconds the first time)."
    last = batches[-1]
    total_steps = config.epochs * last.steps_per_epoch
    fraction = min(1.0, (last.epoch * last.steps_per_epoch + last.step) / total_steps)
    epochs_done = [e for e in events if isinstance(e, EpochEnd)]
    if epochs_done:  # the fit's own clock: start-up (TensorFlow, data) does not count
        seconds_per_epoch = epochs_done[-1].elapsed / (epochs_done[-1].epoch + 1)
        left = (1 - fraction) * config.epochs * seconds_per_epoch
    else:
        elapsed = time.time() - started_at
        left = elapsed * (1 - fraction) / max(fraction, 1e-6)
    return fraction, (
        f"Epoch {last.epoch + 1} of {config.epochs} · step {last.step} of "
        f"{last.steps_per_epoch} · about {_duration(left)} left · "
        f"{last.images_per_second:,.0f} images/s"
    )


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


# ---------------------------------------------------------------- the live view


def show_run(run: RunState, data: Dataset) -> None:
    """Progress, curves and the preview grid; refreshed every second while the job runs."""
    live_view(
        _live_view,
        run,
        data,
        polling=run.job.running,
        every=POLL_SECONDS,
        stop=run.job.stop,
        stop_key="train_stop",
        stop_help="End training after the current steps and keep what was learnt",
    )


def _live_view(run: RunState, data: Dataset, polling: bool) -> None:
    job = run.job
    events = job.events
    fraction, status = progress(events, job.config, run.started_at)
    st.progress(fraction, text=status)
    if polling and not job.running:
        # The job ended while this fragment was polling: rerun the whole page so it stops
        # polling and shows the result and the save form. Every poll asks again until that
        # full run happens (a once-only flag left the page waiting when the rerun was lost).
        st.rerun()

    batches, epochs = batch_table(events), epoch_table(events)
    if batches.empty and epochs.empty:
        return
    loss_col, accuracy_col, rate_col = st.columns(3)
    loss_col.plotly_chart(charts.training_curves_figure(batches, epochs, "loss", "Loss"), key="train_loss_chart")
    accuracy_col.plotly_chart(
        charts.training_curves_figure(batches, epochs, "accuracy", "Accuracy"), key="train_accuracy_chart"
    )
    rate_col.plotly_chart(charts.learning_rate_figure(batches), key="train_lr_chart")
    training_layers_view(events, data.x_test[0])
    _preview_grid(events, data)


def _preview_grid(events: list[Any], data: Dataset) -> None:
    """The first test images with the model's guesses after the latest epoch."""
    last_epoch = next((e for e in reversed(events) if isinstance(e, EpochEnd)), None)
    if last_epoch is None or not last_epoch.preview_predictions:
        return
    guesses = last_epoch.preview_predictions
    right = sum(int(g == t) for g, t in zip(guesses, data.y_test))
    st.markdown(f"**The model's guesses after epoch {last_epoch.epoch + 1}**: {right} of {len(guesses)} right")
    captions = [
        f"✅ {CLASS_NAMES[guess]}" if guess == truth else f"❌ {CLASS_NAMES[guess]} (is {CLASS_NAMES[truth]})"
        for guess, truth in zip(guesses, data.y_test)
    ]
    inline_strip(data.x_test[: len(guesses)], captions)
