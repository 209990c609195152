"""The Train page: the form and presets, a tiny run with its live charts, stop, save."""

from dataclasses import replace

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core.augment import AUGMENTATIONS
from fmnist_core.training import PRESETS, BatchProgress, EpochEnd, FitProgress, PhaseChange, TrainConfig
from ui import browser, training
from ui.navigation import path_of

from pages_support import APP, TIMEOUT, open_page, texts

PAGE = path_of("train")


def start_tiny_run(app, model: str = "mlp", epochs: int = 1):
    app.selectbox(key="train_model").set_value(model).run()
    app.number_input(key="train_limit").set_value(300)
    if not app.number_input(key="train_epochs").disabled:  # scikit-learn models have none
        app.number_input(key="train_epochs").set_value(epochs)
        app.checkbox(key="train_keep_steps").set_value(False)  # a few steps, not the full set's
    next(b for b in app.button if "Start training" in b.label).click().run()
    assert not app.exception
    return training.run_of(app.session_state[browser.KEY])


def start_button(app):
    return next(b for b in app.button if "Start training" in b.label)


def test_form_starts_from_the_quick_preset():
    app = open_page(PAGE)
    assert not app.exception
    assert app.selectbox(key="train_model").value == PRESETS["quick"].model


@pytest.mark.parametrize("preset", ["best", "standard", "quick"])
def test_a_preset_fills_in_the_form(preset):
    app = open_page(PAGE)
    app.selectbox(key="train_preset").set_value(preset).run()
    assert not app.exception
    config = PRESETS[preset]
    assert app.selectbox(key="train_model").value == config.model
    assert app.number_input(key="train_epochs").value == config.epochs
    assert app.select_slider(key="train_batch_size").value == config.batch_size
    assert app.select_slider(key="train_learning_rate").value == config.learning_rate
    assert AUGMENTATIONS[app.selectbox(key="train_augment").value] == config.augment


def test_refill_puts_the_presets_values_back_after_edits():
    app = open_page(PAGE)
    app.selectbox(key="train_model").set_value("mlp").run()
    app.number_input(key="train_epochs").set_value(40)
    app.select_slider(key="train_batch_size").set_value(32)
    app.button(key="train_refill").click().run()
    assert not app.exception
    quick = PRESETS["quick"]
    assert app.selectbox(key="train_model").value == quick.model
    assert app.number_input(key="train_epochs").value == quick.epochs
    assert app.select_slider(key="train_batch_size").value == quick.batch_size


@pytest.mark.slow  # a training run in a child process
def test_a_tiny_run_shows_its_charts_and_is_saved_and_made_active(models_dir):
    app = open_page(PAGE)
    run = start_tiny_run(app, epochs=2)
    assert run.job.wait(timeout=180), "the tiny run did not finish"
    assert run.job.error is None
    app.run()  # what the polling fragment shows once the job has ended
    assert not app.exception
    assert {c.key for c in app.get("plotly_chart")} >= {"train_loss_chart", "train_accuracy_chart", "train_lr_chart"}
    assert any("guesses after epoch 2" in text for text in texts(app.markdown))
    # The live preview sends its pictures inside the page: no /media/ URL a redraw withdraws.
    assert sum(h.value.count("data:image/png;base64,") for h in app.get("html")) == 16
    assert not app.get("imgs")
    assert any("test accuracy" in text for text in texts(app.success))
    # Not made active unless asked: the active model answers photos too, and the bundled
    # model's photo-tuned version reads photos better than a model trained here.
    assert app.checkbox(key="train_make_active").value is False
    app.text_input(key="train_save_name").set_value("tiny-run")
    app.checkbox(key="train_make_active").check()
    next(b for b in app.button if "Save to the model registry" in b.label).click().run()
    assert not app.exception, app.exception
    assert (models_dir / "tiny-run" / "meta.json").is_file()
    assert app.session_state["models_active"] == "registry:tiny-run"


@pytest.mark.slow  # a training run
def test_a_forest_trains_from_the_page_and_reports_its_trees(models_dir):
    app = open_page(PAGE)
    run = start_tiny_run(app, model="sk_forest")
    assert run.job.wait(timeout=180), "the forest did not finish"
    assert run.job.error is None
    stages = [e.done for e in run.job.events if isinstance(e, FitProgress)]
    assert stages == list(range(10, 101, 10))
    app.run()
    assert not app.exception
    assert any("test accuracy" in text for text in texts(app.success))


@pytest.mark.slow  # a training run
def test_stop_ends_a_run_early_and_keeps_the_model(models_dir):
    app = open_page(PAGE)
    run = start_tiny_run(app, epochs=50)
    run.job.stop()
    assert run.job.wait(timeout=180)
    assert run.job.result is not None
    assert run.job.result.meta["stop_reason"] == "stopped"
    app.run()
    assert not app.exception
    assert any("stopped" in text for text in texts(app.success))


def _start_twice() -> None:
    """The page's start path called twice in one session, as a double click on Start can
    send the form twice before the rerun that disables the button."""
    import streamlit as st

    from fmnist_core.training import TrainConfig, TrainingError
    from ui import training
    from ui.resources import dataset

    config = TrainConfig(model="mlp", epochs=50, train_limit=300)
    training.start_run(config, dataset())
    first = training.current_run()
    try:
        training.start_run(config, dataset())
    except TrainingError as exc:
        st.error(str(exc))
    st.session_state["same_run"] = training.current_run() is first
    first.job.stop()  # at once, as the test of a double click allows: during the launch
    st.session_state["stopped"] = first.job.wait(timeout=120)


@pytest.mark.slow  # a training run
def test_a_second_start_while_a_run_is_going_starts_nothing():
    """The second start must not leave an orphan run nobody can see or stop."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_function(_start_twice, default_timeout=180).run()
    assert not app.exception
    assert app.session_state["same_run"]
    assert any("already going" in text for text in texts(app.error))
    assert app.session_state["stopped"]  # a stop during the launch reached the run


@pytest.mark.slow  # the run's child process starts TensorFlow
def test_a_failed_run_shows_a_friendly_error_not_a_traceback(small_data):
    """A run the engine refuses part-way (the form cannot ask for cross-validation, so the
    run is put in the session directly): the page says why and offers to clear it."""
    from fmnist_core.jobs import TrainingJob

    app = open_page(PAGE)
    config = TrainConfig(model="sk_logreg", cv_folds=5, train_limit=20)  # 2 images per class
    job = TrainingJob.start(config, small_data)
    training.keep_run(app.session_state[browser.KEY], training.RunState(job, 0.0, "refused-run"))
    assert job.wait(timeout=120)
    app.run()
    assert not app.exception
    assert any("needs at least 5 training images of every class" in text for text in texts(app.error))
    assert any(b.label == "Clear" for b in app.button)


def test_events_become_tables_and_a_progress_line():
    config = TrainConfig(epochs=2)
    events = [
        PhaseChange("fitting", "x"),
        EpochEnd(0, 2, 1.2, 0.6, 1.1, 0.62, 1e-3, 3.0, 3.0, (1, 2)),
        BatchProgress(1, 5, 10, 1.5, 0.5, 1e-3, 900.0),
    ]
    batches, epochs = training.batch_table(events), training.epoch_table(events)
    assert batches["epoch"].tolist() == [1.5]
    assert epochs["val_accuracy"].tolist() == [0.62]
    fraction, text = training.progress(events, config, started_at=0.0)
    assert fraction == 0.75 and "Epoch 2 of 2" in text and "900 images/s" in text
    assert "about 2 s left" in text  # 3 s per epoch by the fit's clock, half an epoch to go
    assert isinstance(training.epoch_table([]), pd.DataFrame)


def test_a_growing_forest_and_a_silent_fit_have_their_own_progress_lines():
    config = TrainConfig(model="sk_forest")
    events = [PhaseChange("fitting", "600 training images"), FitProgress(40, 100, "trees", 8.0)]
    fraction, text = training.progress(events, config, started_at=0.0)
    assert fraction == 0.4 and text == "Fitting: 40 of 100 trees · about 12 s left"
    fraction, text = training.progress(events[:1], replace(config, model="sk_svm"), started_at=0.0)
    assert fraction == 0.0 and text == "Fitting: 600 training images."
    setting_up = [PhaseChange("setting up", "Random forest: seed 0")]
    assert training.progress(setting_up, config, 0.0)[1] == "Setting up: Random forest: seed 0."
    assert "TensorFlow" in training.progress(setting_up, TrainConfig(model="mlp"), 0.0)[1]


@pytest.mark.slow  # a training run
def test_a_reload_finds_the_run_with_its_stop_and_start_stays_disabled(models_dir):
    """A reload (or the address opened in another tab) is a new session with the browser's
    id in the URL: it finds the run, can stop it and sees its result; a stranger sees none."""
    first = open_page(PAGE)
    run = start_tiny_run(first, epochs=50)
    owner = first.query_params[browser.PARAM]
    assert owner == first.session_state[browser.KEY]
    assert start_button(first).disabled  # disabled in the tab that started it, too
    assert any("st-key-train_run" in h.value for h in first.get("html")), "no scroll to the run"

    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reloaded.query_params[browser.PARAM] = owner
    reloaded.run().switch_page(PAGE).run()
    assert not reloaded.exception
    assert reloaded.session_state[browser.KEY] == owner
    assert start_button(reloaded).disabled
    assert any("A run is going" in text for text in texts(reloaded.caption))
    reloaded.button(key="train_stop").click().run()
    assert run.job.wait(timeout=180)
    reloaded.run()
    assert any("stopped" in text for text in texts(reloaded.success))
    assert not start_button(reloaded).disabled

    stranger = open_page(PAGE)
    assert stranger.session_state[browser.KEY] != owner
    assert not any(b.key == "train_stop" for b in stranger.button)
    assert not any("Done" in text for text in texts(stranger.success))


@pytest.mark.slow  # a training run
def test_fewer_training_images_keep_the_optimiser_steps_and_say_so():
    app = open_page(PAGE)  # the quick preset: 3 epochs of 224 steps on all the images
    assert app.checkbox(key="train_keep_steps").value
    app.number_input(key="train_limit").set_value(10_000)
    start_button(app).click().run()
    run = training.run_of(app.session_state[browser.KEY])
    run.job.stop()
    assert run.job.config.epochs == 18  # 38 steps an epoch: 684 steps, at least the 672
    assert any("18 epochs instead of 3" in text for text in texts(app.info))
    assert run.job.wait(timeout=180)


@pytest.mark.slow  # training runs
def test_a_model_far_below_its_presets_accuracy_is_not_shown_as_a_success(models_dir):
    app = open_page(PAGE)
    run = start_tiny_run(app, model=PRESETS["quick"].model)  # 1 epoch of 2 steps
    assert any("2 optimiser steps instead of 224" in text for text in texts(app.warning))
    assert [h.value for h in app.subheader] == ["Run: Fast CNN"]  # not the quick preset any more
    assert run.job.wait(timeout=180) and run.job.error is None
    app.run()
    assert not app.exception
    assert not texts(app.success)
    warning = next(text for text in texts(app.warning) if "far below" in text)
    assert "far below the 90.6% the quick preset reaches" in warning
    assert "training images 300 (preset: 60,000)" in warning and "epochs 1 (preset: 3)" in warning


def test_an_epoch_cut_short_by_stop_is_plotted_where_it_ended():
    events = [
        BatchProgress(0, 10, 10, 1.0, 0.5, 1e-3, 900.0),
        EpochEnd(0, 5, 1.0, 0.5, None, None, 1e-3, 3.0, 12.0, ()),
        BatchProgress(1, 4, 10, 0.8, 0.6, 1e-3, 900.0),
        EpochEnd(1, 5, 0.8, 0.6, None, None, 1e-3, 4.0, 0.0, ()),
    ]
    assert training.epoch_table(events)["epoch"].tolist() == [1.0, 1.4]


def test_the_run_title_names_the_preset_only_for_the_preset():
    quick = PRESETS["quick"]
    assert training.run_title(replace(quick, seed=7)) == "Fast CNN (quick preset)"
    assert training.run_title(replace(quick, epochs=4)) == "Fast CNN"
    assert training.run_title(TrainConfig(model="strong_cnn")) == "Strong CNN (the bundled model)"
