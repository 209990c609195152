"""Train: pick a model and its hyperparameters, watch it learn live, stop it, save it."""

import streamlit as st

from fmnist_core import registry
from fmnist_core.augment import AUGMENTATIONS
from fmnist_core.errors import FmnistError
from fmnist_core.training import OPTIMIZERS, PRESETS, SCHEDULES
from fmnist_core.zoo import ZOO
from ui import training
from ui.layout import scroll_to
from ui.models import SESSION, accuracy_text, registry_key, set_active
from ui.navigation import ensure_routed
from ui.resources import dataset_or_stop
from ui.text import escape_markdown

ensure_routed()
SCROLL_KEY = "train_scroll_to_run"  # the run just started: bring it into view once

data = dataset_or_stop()
training.ensure_form_defaults()
run = training.current_run()
busy = run is not None and run.job.running

st.title("Train a model")
st.caption(
    "Training runs in the background on the server: you can click around, visit "
    "other pages or reload, and come back to watch it."
)

preset_col, refill_col, model_col = st.columns([3, 1, 5], vertical_alignment="bottom")
preset_col.selectbox(
    "Start from a preset",
    list(PRESETS),
    key="train_preset",
    on_change=training.apply_preset,
    format_func=lambda name: f"{name}: {PRESETS[name].model}, {PRESETS[name].epochs} epochs",
    help="Fills in the form below; change anything before starting.",
    disabled=busy,
)
refill_col.button(
    "Refill",
    icon=":material/restart_alt:",
    key="train_refill",
    on_click=training.apply_preset,
    disabled=busy,
    width="stretch",
    help="Put the preset's values back into the form, undoing your changes",
)
model_kind = model_col.selectbox(
    "Model", list(ZOO), key="train_model", format_func=lambda kind: ZOO[kind].title, disabled=busy
)
spec = ZOO[model_kind]
st.info(spec.description, icon=":material/psychology:")

with st.form("train_form", border=True):
    is_keras = spec.family == "keras"
    if not is_keras:
        st.caption(
            "scikit-learn models train in one go (the random forest ten trees at a "
            "time, so it shows progress and can be stopped): epochs, learning rate and "
            "the other network settings do not apply, and there is no live curve."
        )
    left, middle, right = st.columns(3)
    left.number_input("Epochs", 1, 100, key=training.FIELDS["epochs"], disabled=not is_keras)
    left.select_slider(
        "Batch size",
        training.BATCH_SIZES,
        key=training.FIELDS["batch_size"],
        disabled=not is_keras,
        help="256 trains fastest here; 512 costs less per image but trained unstably",
    )
    left.select_slider(
        "Learning rate",
        training.LEARNING_RATES,
        key=training.FIELDS["learning_rate"],
        format_func="{:g}".format,
        disabled=not is_keras,
    )
    middle.selectbox(
        "Schedule",
        SCHEDULES,
        key=training.FIELDS["schedule"],
        disabled=not is_keras,
        help="onecycle: warm up for 30% of the steps, then cosine down",
    )
    middle.selectbox("Optimizer", OPTIMIZERS, key=training.FIELDS["optimizer"], disabled=not is_keras)
    middle.select_slider(
        "Dropout",
        [training.MODEL_DEFAULT, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
        key=training.FIELDS["dropout"],
        disabled=not is_keras,
    )
    middle.select_slider(
        "L2 weight decay",
        [training.MODEL_DEFAULT, 0.0, 1e-5, 1e-4, 1e-3],
        key=training.FIELDS["l2"],
        disabled=not is_keras,
        format_func=lambda v: v if isinstance(v, str) else f"{v:g}",
    )
    right.selectbox(
        "Augmentation",
        list(AUGMENTATIONS),
        key=training.FIELDS["augment"],
        disabled=not is_keras,
        help="basic: flips, shifts, zoom, erasing; photo: also the contrast and "
        "blur of real photos (helps the Classify page, costs epochs); "
        "light: a gentle mix of both, what the bundled model uses",
    )
    right.slider(
        "Validation share",
        0.0,
        0.3,
        step=0.05,
        key=training.FIELDS["validation_split"],
        disabled=not is_keras,
        help="Held out from the training images; the test set is never used to train",
    )
    right.number_input(
        "Early stopping patience (0 = off)",
        0,
        20,
        key=training.FIELDS["early_stopping_patience"],
        disabled=not is_keras,
    )
    right.number_input(
        "Training images",
        100,
        training.FULL_TRAINING_SET,
        step=1000,
        key=training.FIELDS["train_limit"],
        help="A balanced subset. Fewer images make a weaker model; see below",
    )
    right.checkbox(
        "Keep the optimiser steps",
        key=training.KEEP_STEPS_KEY,
        disabled=not is_keras,
        help="With fewer training images, run more epochs so the model takes as "
        "many optimiser steps as on the full set (as long as the full set). "
        "Untick for a faster run: in as many epochs, fewer images mean fewer "
        "steps and a far weaker model.",
    )
    right.number_input("Seed", 0, 2**31 - 1, key=training.FIELDS["seed"])
    right.checkbox(
        "Mirror averaging at prediction time",
        key=training.FIELDS["flip_tta"],
        disabled=not is_keras,
        help="Average each prediction with that of the mirrored image",
    )
    start = st.form_submit_button("Start training", icon=":material/play_arrow:", type="primary", disabled=busy)
    if busy:
        st.caption("A run is going (below): stop it or wait for it to finish before starting another.")

if start:
    try:
        config = training.config_from_state()
        training.start_run(config, data, training.size_note(config, st.session_state[training.FIELDS["epochs"]]))
    except FmnistError as exc:
        st.error(f"Not started: {escape_markdown(str(exc))}", icon=":material/error:")
    else:  # once more from the top, so that the form is drawn disabled
        st.session_state[SCROLL_KEY] = training.current_run().token
        st.rerun()

if run is None:
    st.stop()

run_section = st.container(key="train_run")
if st.session_state.pop(SCROLL_KEY, None) == run.token:  # just started, below the form
    scroll_to("train_run", run.token)
with run_section:
    st.subheader(f"Run: {training.run_title(run.job.config)}")
    if run.note:
        (st.warning if run.note.warning else st.info)(run.note.text, icon=":material/info:")
    training.show_run(run, data)

if run.job.running:
    st.stop()
if run.job.error:
    st.error(
        f"The run ended with an error: {escape_markdown(run.job.error)}. Try fewer "
        "epochs, another model or a lower learning rate.",
        icon=":material/error:",
    )
    st.button("Clear", on_click=training.discard_run, args=(run.token,), key="train_discard")
    st.stop()

training.adopt_result(run)
result = run.job.result
outcome = (
    f"{accuracy_text(result.meta)} with {result.params:,} parameters, in "
    f"{result.meta.get('train_seconds', 0):.0f} s ({result.meta.get('stop_reason')})."
)
shortfall = training.shortfall(run.job.config, result.meta)
if shortfall:
    st.warning(f"Finished, but weak: {outcome} {shortfall}", icon=":material/warning:")
else:
    st.success(f"Done: {outcome}", icon=":material/check_circle:")
if run.saved_as:
    st.info(f"Saved as **{escape_markdown(run.saved_as)}**. Manage it on the Models page.", icon=":material/save:")
else:
    with st.form("train_save_form"):
        name = st.text_input("Save as", max_chars=registry.MAX_NAME, key=training.SAVE_NAME_KEY)
        make_active = st.checkbox(
            "Make it my active model",
            value=False,
            key="train_make_active",
            help="Your active model answers on every page, photos included: the bundled "
            "model's photo-tuned version answers photos only while the bundled model "
            "is active.",
        )
        if st.form_submit_button("Save to the model registry", icon=":material/save:", type="primary"):
            try:
                registry.save(result, name)
            except FmnistError as exc:
                st.error(f"Not saved: {escape_markdown(str(exc))}", icon=":material/error:")
            else:
                run.saved_as = name
                if make_active:
                    set_active(registry_key(name))
                st.rerun()
with st.container(horizontal=True):
    if not run.saved_as:
        st.button(
            "Use it now without saving",
            key="train_use_unsaved",
            on_click=set_active,
            args=(SESSION,),
            help="Evaluate and Classify use it; it is lost when you close the tab",
        )

    st.button("Start over", key="train_discard", on_click=training.discard_run, args=(run.token,))
