"""The Sweep page's pieces: the space as widgets, the background sweep, its study as a table
and Optuna's figures, and training a chosen trial for good.

The sweep is a `fmnist_core.jobs.SweepJob` (a child process, like a training run) kept in
this session's state; its trials go to the study's storage as they end, and the page reads
them from there, so it shows the same study whether this session, the command line or
workers on other machines fill it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fmnist_core import sweep
from fmnist_core.data import Dataset
from fmnist_core.jobs import SweepJob
from fmnist_core.sweep import (
    SweepDone,
    SweepError,
    SweepSettings,
    TrialEnded,
    TrialStarted,
    open_study,
    trial_rows,
)
from fmnist_core.sweep_space import CHOICE_FIELDS, INT_FIELDS, Choice, Range, Space, default_space
from fmnist_core.training import EpochEnd
from ui import training
from ui.layout import lazy_tabs, live_view
from ui.navigation import path_of
from ui.text import escape_markdown

JOB_KEY = "sweep_job"
POLL_SECONDS = 2.0
FULL_TRAINING_SET = 60_000
LABELS = {
    "epochs": "Epochs per trial",
    "learning_rate": "Learning rate",
    "batch_size": "Batch size",
    "schedule": "Schedule",
    "optimizer": "Optimizer",
    "dropout": "Dropout",
    "l2": "L2 weight decay",
    "augment": "Augmentation",
    "validation_split": "Validation share",
}
NUMBER_CHOICES = {"batch_size": (32, 64, 128, 256, 512)}


@dataclass
class SweepRun:
    job: SweepJob
    started_at: float


def current_run() -> SweepRun | None:
    return st.session_state.get(JOB_KEY)


# ---------------------------------------------------------------- the form


def space_widgets(kind: str) -> Space:
    """One widget (or a pair) per field of the model's default space: a range gets its two
    ends, a list of choices a multiselect, a fixed value a number; the space they describe."""
    space: Space = {}
    for name, param in default_space(kind).items():
        label, key = LABELS.get(name, name), f"sweep_{kind}_{name}"
        if isinstance(param, Range):
            low_col, high_col = st.columns(2)
            step = param.low if param.log else 0.05
            low = low_col.number_input(
                f"{label}: from",
                value=float(param.low),
                key=f"{key}_low",
                help="searched in log scale" if param.log else None,
                format="%g",
                step=step,
                min_value=0.0,
            )
            high = high_col.number_input(
                f"{label}: to", value=float(param.high), key=f"{key}_high", format="%g", step=step, min_value=0.0
            )
            space[name] = Range(low, high, param.log)
        elif isinstance(param, Choice):
            options = CHOICE_FIELDS.get(name) or sorted(set(NUMBER_CHOICES.get(name, ())) | set(param.options))
            chosen = st.multiselect(label, options, default=list(param.options), key=key)
            space[name] = Choice(tuple(chosen))
        elif name in INT_FIELDS:
            space[name] = int(st.number_input(label, 1, 500, value=int(param), key=key))
        else:
            space[name] = float(st.number_input(label, 0.0, 0.5, value=float(param), step=0.05, key=key, format="%g"))
    return space


def start_run(settings: SweepSettings, data: Dataset) -> None:
    """Check the settings and the study here (a mismatch is said at once), then start the
    sweep in the background; refuses while this session's sweep is still going."""
    current = current_run()
    if current is not None and current.job.running:
        raise SweepError("a sweep is already going in this session: stop it or wait for it")
    settings.validate()
    open_study(settings)
    st.session_state[JOB_KEY] = SweepRun(SweepJob.start(settings, data), time.time())


def discard_run() -> None:
    st.session_state.pop(JOB_KEY, None)


# ---------------------------------------------------------------- the run


def status(events: list[Any], settings: SweepSettings) -> str:
    """A line on where the sweep is: trials done, the running trial and its epoch."""
    ended = [e for e in events if isinstance(e, TrialEnded)]
    done = next((e for e in events if isinstance(e, SweepDone)), None)
    if done is not None:
        return f"Finished ({done.reason}): {done.trials} trial(s) in {done.elapsed:.0f} s."
    started = [e for e in events if isinstance(e, TrialStarted)]
    if not started:
        return "Starting (loading TensorFlow takes a few seconds)..."
    line = f"{len(ended)} of {settings.trials} trial(s) done"
    if len(started) > len(ended):
        epochs = [e for e in events[events.index(started[-1]) :] if isinstance(e, EpochEnd)]
        epoch = f", epoch {epochs[-1].epoch + 1} of {epochs[-1].epochs}" if epochs else ""
        line += f" · trial {started[-1].number} running{epoch}"
    return line + "."


def show_run(run: SweepRun) -> None:
    """Stop and the live view of the study, refreshed while it runs."""
    live_view(
        _live_view,
        run,
        polling=run.job.running,
        every=POLL_SECONDS,
        stop=run.job.stop,
        stop_key="sweep_stop",
        stop_help="End the running trial after its current steps; finished trials are kept",
    )


def _live_view(run: SweepRun, polling: bool) -> None:
    job = run.job
    st.caption(status(job.events, job.settings))
    if polling and not job.running:
        st.rerun()  # the sweep ended: a full run stops the polling and shows the outcome
    if not job.running and job.error:
        st.error(f"The sweep ended with an error: {escape_markdown(job.error)}", icon=":material/error:")
    show_study(job.settings.study_name, job.settings.storage)


# ---------------------------------------------------------------- the study


def trials_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The study's trials for a table: the configuration column left out (its fields are
    the parameter columns)."""
    return pd.DataFrame([{k: v for k, v in row.items() if k != "config"} for row in rows])


def show_study(name: str, storage: str | None = None) -> None:
    """The study's trials and Optuna's figures; nothing when it does not exist yet."""
    study = sweep.find_study(name, storage)
    if study is None or not study.trials:
        st.info(f"The study **{escape_markdown(name)}** has no trials yet.", icon=":material/hourglass_empty:")
        return
    rows = trial_rows(study)
    st.dataframe(
        trials_table(rows),
        hide_index=True,
        key="sweep_trials",
        column_config={
            "validation accuracy": st.column_config.NumberColumn(format="%.4f"),
            "seconds": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    sections: dict[str, Callable[[], None]] = {
        title: partial(_figure, study, build)
        for title, build in _FIGURES.items()
        if title != "Pareto front" or len(study.directions) > 1
    }
    lazy_tabs("sweep_figure_tab", sections)


def _target(study: Any) -> dict[str, Any]:
    """For a two-objective study, what the single-objective figures plot: the accuracy."""
    if len(study.directions) == 1:
        return {}
    return {"target": lambda trial: trial.values[0], "target_name": sweep.ACCURACY}


def _history(study: Any) -> go.Figure:
    from optuna.visualization import plot_optimization_history

    return plot_optimization_history(study, **_target(study))


def _parallel(study: Any) -> go.Figure:
    from optuna.visualization import plot_parallel_coordinate

    return plot_parallel_coordinate(study, **_target(study))


def _importances(study: Any) -> go.Figure:
    from optuna.visualization import plot_param_importances

    return plot_param_importances(study, **_target(study))


def _intermediate(study: Any) -> go.Figure:
    from optuna.visualization import plot_intermediate_values

    return plot_intermediate_values(study)


def _pareto(study: Any) -> go.Figure:
    from optuna.visualization import plot_pareto_front

    return plot_pareto_front(study, target_names=[sweep.ACCURACY, sweep.SECONDS])


_FIGURES = {
    "Optimisation history": _history,
    "Parallel coordinates": _parallel,
    "Parameter importances": _importances,
    "Per-epoch validation accuracy": _intermediate,
    "Pareto front": _pareto,
}


def _figure(study: Any, build: Any) -> None:
    try:
        figure = build(study)
    except (ValueError, RuntimeError, ZeroDivisionError):  # too few trials for this figure
        st.caption("This figure needs more finished trials.")
        return
    st.plotly_chart(figure, key=f"sweep_chart_{build.__name__.strip('_')}")


# ---------------------------------------------------------------- training a trial for good


def trial_picker(name: str, storage: str | None, data: Dataset) -> None:
    """Pick a complete trial and train its configuration for good on the Train page, where
    it is evaluated on the test set (for the first time) and can be saved."""
    study = sweep.find_study(name, storage)
    rows = [row for row in trial_rows(study) if row["state"] == "complete"] if study else []
    if not rows:
        return
    rows.sort(key=lambda row: -row["validation accuracy"])
    labels = {
        row["trial"]: f"trial {row['trial']}: {row['validation accuracy']:.2%} validation "
        f"accuracy, {row['seconds']:.0f} s"
        for row in rows
    }
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Train a trial's configuration for good", list(labels), format_func=labels.__getitem__, key="sweep_pick"
    )
    if right.button("Train it on the Train page", icon=":material/model_training:", key="sweep_train"):
        try:
            training.start_run(sweep.config_of(study, chosen), data)
        except sweep.FmnistError as exc:
            st.error(f"Not started: {escape_markdown(str(exc))}", icon=":material/error:")
            return
        st.switch_page(path_of("train"))
