"""Sweep: search a model's training settings with Optuna, watch the trials, train the best."""

import streamlit as st

from fmnist_core.errors import FmnistError
from fmnist_core.sweep import SweepSettings
from fmnist_core.sweep_space import keras_kinds
from fmnist_core.zoo import ZOO
from ui import sweep
from ui.navigation import ensure_routed
from ui.resources import dataset_or_stop
from ui.text import escape_markdown

ensure_routed()

data = dataset_or_stop()
run = sweep.current_run()
busy = run is not None and run.job.running

st.title("Sweep training settings")
st.caption(
    "Optuna tries configurations of one model (TPE sampling), scores each on validation "
    "accuracy (never the test set) and stops weak trials early. The sweep runs in the "
    "background on the server: you can click around and come back."
)

kinds = keras_kinds()
kind = st.selectbox(
    "Model", kinds, index=kinds.index("fast_cnn"), key="sweep_model", format_func=lambda k: ZOO[k].title, disabled=busy
)
with st.form("sweep_form"):
    name_col, trials_col, minutes_col, images_col = st.columns(4)
    study = name_col.text_input(
        "Study", value=kind, key=f"sweep_study_{kind}", help="An existing study of this model continues"
    )
    trials = trials_col.number_input("Trials", 1, 500, value=20, key="sweep_trials")
    minutes = minutes_col.number_input(
        "Minutes", 1, 24 * 60, value=15, key="sweep_minutes", help="No trial starts after this; a running one finishes"
    )
    images = images_col.number_input(
        "Training images",
        100,
        sweep.FULL_TRAINING_SET,
        value=sweep.FULL_TRAINING_SET,
        step=1000,
        key="sweep_train_limit",
        help="Fewer images make quicker trials; the chosen trial trains on all",
    )
    time_objective = st.checkbox("Also minimise training time (a Pareto front; no pruning)", key="sweep_time_objective")
    pruner = st.selectbox(
        "Pruner",
        ["median", "halving", "none"],
        key="sweep_pruner",
        help="Stops trials whose validation accuracy after an epoch is weak",
    )
    with st.expander("Search space", icon=":material/tune:"):
        space = sweep.space_widgets(kind)
    start = st.form_submit_button("Start sweep", icon=":material/play_arrow:", type="primary", disabled=busy)

if start:
    if images < sweep.FULL_TRAINING_SET:
        space["train_limit"] = int(images)
    settings = SweepSettings(
        model=kind,
        trials=int(trials),
        timeout=60.0 * minutes,
        space=space,
        study=study.strip(),
        time_objective=time_objective,
        pruner=pruner,
    )
    try:
        sweep.start_run(settings, data)
    except FmnistError as exc:
        st.error(f"Not started: {escape_markdown(str(exc))}", icon=":material/error:")
    run = sweep.current_run()

if run is not None:
    name, storage = run.job.settings.study_name, run.job.settings.storage
    st.subheader(f"Study: {escape_markdown(name)}")
    sweep.show_run(run)
else:
    name, storage = study.strip(), None
    st.subheader(f"Study: {escape_markdown(name)}")
    sweep.show_study(name)
if run is None or not run.job.running:
    sweep.trial_picker(name, storage, data)
