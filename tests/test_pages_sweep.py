"""The Sweep page under AppTest: the form built from the model's space, a tiny sweep with its
table and figures, Stop, a bad space and a mismatched study as messages, and a chosen trial
trained for good through the Train page."""

from __future__ import annotations

import pytest

from fmnist_core import sweep
from fmnist_core.sweep_space import Range, default_space, keras_kinds
from ui import browser, training
from ui.navigation import path_of

from pages_support import open_page, texts

PAGE = path_of("sweep")


@pytest.fixture(autouse=True)
def sweeps_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_SWEEPS_DIR", str(tmp_path / "sweeps"))
    monkeypatch.delenv("FMNIST_SWEEP_STORAGE", raising=False)
    return tmp_path / "sweeps"


def plain(elements) -> list[str]:
    """Texts without the Markdown escapes that keep a user's text literal."""
    return [text.replace("\\", "") for text in texts(elements)]


def tiny_form(app, trials: int = 2, epochs: int = 2):
    app.selectbox(key="sweep_model").set_value("mlp").run()
    app.number_input(key="sweep_trials").set_value(trials)
    app.number_input(key="sweep_train_limit").set_value(600)
    app.number_input(key="sweep_mlp_epochs").set_value(epochs)
    return app


def start(app):
    next(b for b in app.button if "Start sweep" in b.label).click().run()
    assert not app.exception, app.exception
    return app.session_state["sweep_job"] if "sweep_job" in app.session_state else None


def test_the_form_has_a_widget_for_every_field_of_the_models_space():
    app = open_page(PAGE)
    assert not app.exception
    model = app.selectbox(key="sweep_model")
    assert model.value == "fast_cnn" and len(model.options) == len(keras_kinds())
    for name, param in default_space("fast_cnn").items():
        key = f"sweep_fast_cnn_{name}"
        if isinstance(param, Range):
            assert app.number_input(key=key + "_low").value == pytest.approx(param.low)
            assert app.number_input(key=key + "_high").value == pytest.approx(param.high)
        elif hasattr(param, "options"):
            assert list(app.multiselect(key=key).value) == list(param.options)
        else:
            assert app.number_input(key=key).value == param


@pytest.mark.slow  # a sweep of real trials, then a training run
def test_a_tiny_sweep_shows_its_trials_and_figures_and_a_trial_trains_for_good(models_dir):
    app = tiny_form(open_page(PAGE))
    run = start(app)
    assert run is not None and run.job.settings.space["train_limit"] == 600
    assert run.job.wait(600), "the sweep did not finish"
    assert run.job.error is None and run.job.result.reason == "completed"
    app.run()
    assert not app.exception
    assert any("Finished (completed): 2 trial(s)" in text for text in texts(app.caption))
    table = app.dataframe[0].value
    assert list(table["trial"]) == [0, 1] and set(table["state"]) == {"complete"}
    assert "sweep_chart_history" in {chart.key for chart in app.get("plotly_chart")}
    app.session_state["sweep_figure_tab"] = "Per-epoch validation accuracy"
    app.run()
    assert "sweep_chart_intermediate" in {chart.key for chart in app.get("plotly_chart")}

    best = run.job.result.best["trial"]
    app.selectbox(key="sweep_pick").set_value(best)
    app.button(key="sweep_train").click().run()
    assert not app.exception, app.exception
    job = training.run_of(app.session_state[browser.KEY]).job  # this browser's training run
    chosen = sweep.config_of(sweep.find_study("mlp"), best)
    assert job.config == chosen and job.config.train_limit is None and job.config.epochs == 2
    job.stop()  # the full run itself is the Train page's business (tests/test_pages_train.py)
    assert job.wait(300)


@pytest.mark.slow  # a sweep of real trials
def test_stop_ends_the_sweep_and_keeps_the_finished_trials():
    app = tiny_form(open_page(PAGE), trials=20, epochs=200)
    run = start(app)
    assert run is not None
    run.job.stop()
    assert run.job.wait(300), "the sweep did not stop"
    assert run.job.error is None and run.job.result.reason == "stopped"
    app.run()
    assert not app.exception
    assert any("Finished (stopped)" in text for text in texts(app.caption))
    assert "stopped" in set(app.dataframe[0].value["state"])


def test_a_bad_space_is_a_message_naming_the_field():
    app = tiny_form(open_page(PAGE))
    app.number_input(key="sweep_mlp_learning_rate_low").set_value(0.5)
    assert start(app) is None
    assert any("field 'learning_rate': low (0.5) is above high" in text for text in plain(app.error))


def test_a_study_of_another_model_is_a_message(small_data):
    sweep.run_sweep(
        sweep.SweepSettings(
            model="logreg", trials=1, study="mlp", space={"epochs": 1, "train_limit": 100, "learning_rate": 0.01}
        ),
        small_data,
    )
    app = tiny_form(open_page(PAGE))
    assert start(app) is None
    assert any("already holds trials of logreg, not mlp" in text for text in plain(app.error))
