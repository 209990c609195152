"""The Evaluate page: metrics, the confusion matrix driven through its own state (eval_cell),
the accessible table, the most confident mistakes, and the comparison with references."""

import json
import re

import numpy as np
import pytest

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.evaluation import Evaluation
from fmnist_core.references import REFERENCE_ACCURACY
from ui import charts, evaluations
from ui.navigation import path_of

from pages_support import evaluation_of, open_page, probability_bars, save_tiny_model, shown_cells, texts

PAGE = path_of("evaluate")


@pytest.fixture
def app(models_dir):
    save_tiny_model("tiny")
    return open_page(PAGE, active_model="registry:tiny")


@pytest.fixture
def tiny_evaluation(app) -> Evaluation:
    """The saved model's test-set evaluation, computed here and not read off the page."""
    return evaluation_of("tiny")


def test_metrics_and_the_clickable_confusion_matrix(app):
    assert not app.exception
    assert [m.label for m in app.metric][:2] == ["Accuracy", "Macro F1"]
    chart = next(c for c in app.get("plotly_chart") if c.key == evaluations.CHART_KEY)
    assert chart.proto.selection_mode  # clicks are reported back to the page
    assert any("No cell selected" in text for text in texts(app.info))


def test_a_selected_cell_shows_its_images_most_confident_first(app, tiny_evaluation):
    expected = int(tiny_evaluation.confusion[6, 0])
    assert expected > 0  # a one-epoch MLP takes some shirts for T-shirts: there is a gallery
    app.session_state[evaluations.CELL_KEY] = (6, 0)  # Shirt taken for T-shirt/top
    app.run()
    assert not app.exception
    headings = [s for s in texts(app.subheader) if "taken for" in s]
    assert headings == [f"Shirt taken for T-shirt/top: {expected:,} images"]
    captions = [c for c in texts(app.caption) if c.startswith("true **")]
    assert len(captions) == min(expected, 24)
    first_page = tiny_evaluation.cell_indices(6, 0)[:24]
    assert captions == evaluations.gallery_captions(tiny_evaluation, first_page)
    assert all(c.startswith("true **Shirt**") for c in captions)
    confidences = [float(c.split("  \n")[1].rsplit(" ", 1)[1].rstrip("%")) for c in captions]
    assert confidences == sorted(confidences, reverse=True)
    # The answer is marked wrong (not the true class marked right further down).
    assert all(c.split("  \n")[1].startswith("❌ T-shirt/top ") for c in captions)


def test_a_click_on_a_cell_brings_its_images_into_view(app):
    app.session_state[evaluations.CELL_KEY] = (6, 0)
    app.session_state[evaluations.SCROLL_KEY] = "click-1"  # what the click's callback sets
    app.run()
    assert not app.exception
    scripts = [h.value for h in app.get("html")]
    assert any(f"st-key-{evaluations.CELL_IMAGES_KEY}" in v and "click-1" in v for v in scripts)
    app.run()  # a rerun that was no click scrolls nowhere
    assert not app.get("html")


def test_a_caption_marks_the_answer_right_or_wrong_and_the_true_class_in_bold():
    proba = np.zeros(10)
    proba[[0, 2, 6]] = [0.9, 0.09, 0.01]  # T-shirt/top, Pullover, Shirt
    assert evaluations.top_k_caption(proba, true_label=6) == (
        "true **Shirt**  \n❌ T-shirt/top 90%  \n· Pullover 9%  \n· **Shirt** 1%"
    )
    assert evaluations.top_k_caption(proba, true_label=0).split("  \n")[1] == ("✅ **T-shirt/top** 90%")


def test_the_table_twin_and_the_other_tabs_run(app):
    app.session_state["eval_normalised"] = True
    app.run()
    assert not app.exception and len(app.dataframe) == 1
    for tab in ("Per class", "Most confident mistakes", "Compare models"):
        app.session_state["eval_tab"] = tab
        app.run()
        assert not app.exception, tab
    table = app.dataframe[0].value
    assert {r.name for r in REFERENCE_ACCURACY} <= set(table["model"])
    assert any(name.startswith("tiny (mlp") for name in table["model"])
    # Empty cells are dashes, not "None"; percentages have one decimal, as everywhere.
    shown = shown_cells(app.dataframe[0])
    assert "None" not in shown.to_string() and "nan" not in shown.to_string()
    reference = shown[shown["model"] == REFERENCE_ACCURACY[0].name].iloc[0]
    assert reference["kind"] == "—" and reference["ECE"] == "—"
    assert all(re.fullmatch(r"\d+\.\d%", value) for value in shown["accuracy"])
    assert app.dataframe[0].proto.columns  # widths, so "strong_cnn" is not cut short


def test_the_metrics_use_the_apps_one_percent_format(app):
    assert re.fullmatch(r"\d+\.\d%", app.metric[0].value), app.metric[0].value


def test_confusion_figure_markers_carry_true_and_predicted_labels():
    matrix = np.arange(100).reshape(10, 10)
    figure = charts.confusion_figure(matrix, normalised=False, selected=(2, 3))
    right, mistakes, outline = figure.data
    assert len(right.x) == 10 and len(mistakes.x) == 90
    assert right.marker.symbol == mistakes.marker.symbol == "square"
    row = next(i for i, cell in enumerate(mistakes.customdata) if cell[:2] == [2, 3])
    assert mistakes.y[row] == CLASS_NAMES[2] and mistakes.x[row] == CLASS_NAMES[3]
    assert mistakes.customdata[row][2] == 23 and mistakes.text[row] == "23"
    assert outline.marker.symbol == "square-open"  # the selected cell
    # A click returns customdata as sent: NumPy arrays would travel as undecoded base64.
    assert "bdata" not in json.dumps(figure.to_plotly_json()["data"][0]["customdata"])


def test_selection_callbacks_store_the_cell(monkeypatch):
    state = {
        evaluations.CHART_KEY: {"selection": {"points": [{"customdata": [4, 6, 10, 0.1]}]}},
        evaluations.TABLE_KEY: {"selection": {"cells": [(1, "Dress")]}},
    }
    monkeypatch.setattr(evaluations.st, "session_state", state)
    evaluations.cell_from_chart()
    assert state[evaluations.CELL_KEY] == (4, 6)
    first_click = state.pop(evaluations.SCROLL_KEY)
    evaluations.cell_from_table()
    assert state[evaluations.CELL_KEY] == (1, 3)
    assert state[evaluations.SCROLL_KEY] != first_click  # each click scrolls anew


def test_enlarging_a_gallery_image_explains_it(app):
    app.session_state[evaluations.CELL_KEY] = (6, 0)
    app.run()
    app.button(key="eval_cell_grid_enlarge_0").click().run()
    assert not app.exception
    assert len(probability_bars(app)) == 1
    assert app.radio(key="eval_dialog_saliency_method").value == "Occlusion"
