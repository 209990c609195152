"""Test-set evaluations for the Evaluate page: computed once per model version, tables, the
confusion-cell selection kept in session state (`eval_cell`), and the compare table."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from fmnist_core import registry
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classifier import Classifier
from fmnist_core.data import Dataset
from fmnist_core.evaluation import Evaluation, evaluate
from fmnist_core.references import REFERENCE_ACCURACY
from ui import tables
from ui.models import BUNDLED, SESSION, SESSION_MODEL_KEY, registry_key

CELL_KEY = "eval_cell"  # (true label, predicted label) of the selected confusion cell
SCROLL_KEY = "eval_scroll_to_cell"  # set by a click: bring the cell's images into view once
CELL_IMAGES_KEY = "eval_cell_images"  # the container of the selected cell's images
CHART_KEY = "eval_confusion_chart"
TABLE_KEY = "eval_confusion_table"
COMPARISON_FORMATS = {
    "accuracy": tables.PERCENT,
    "macro F1": tables.PERCENT,
    "top-3 accuracy": tables.PERCENT,
    "ECE": tables.ECE,
    "parameters": tables.COUNT,
    "training (s)": tables.SECONDS,
}
COMPARISON_COLUMNS = {
    "model": tables.wide_text(),
    "kind": tables.wide_text("small"),
    "source": tables.wide_text("large"),
}


@st.cache_data(show_spinner="Classifying the 10,000 test images...", max_entries=16, persist="disk")
def test_evaluation(_classifier: Classifier, _data: Dataset, fingerprint: str, checksum: str) -> Evaluation:
    """Every metric of a model on the test set; `fingerprint` names the model version and
    `checksum` the dataset, the two things the result depends on. Kept on disk too, so a
    restarted server does not classify the test set again for a model it has seen."""
    return evaluate(_classifier.predict_proba(_data.x_test), _data.y_test)


def per_class_table(evaluation: Evaluation) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "precision": evaluation.precision,
            "recall": evaluation.recall,
            "f1": evaluation.f1,
            "support": evaluation.support,
        },
        index=list(CLASS_NAMES),
    )


def confusion_table(evaluation: Evaluation, normalised: bool) -> pd.DataFrame:
    """The matrix with class names; rows are the true class, columns the prediction."""
    matrix = evaluation.confusion.astype(float)
    if normalised:
        matrix = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
    return pd.DataFrame(matrix, index=[f"true {n}" for n in CLASS_NAMES], columns=list(CLASS_NAMES))


def selected_cell() -> tuple[int, int] | None:
    cell = st.session_state.get(CELL_KEY)
    return (int(cell[0]), int(cell[1])) if cell is not None else None


def cell_from_chart() -> None:
    """on_select of the confusion chart: a clicked marker's customdata is [true, predicted]."""
    points = st.session_state[CHART_KEY]["selection"]["points"]
    if points and points[0].get("customdata"):
        true, predicted = points[0]["customdata"][:2]
        _select((int(true), int(predicted)))


def cell_from_table() -> None:
    """on_select of the accessible table: a selected cell is (row position, column name)."""
    cells = st.session_state[TABLE_KEY]["selection"]["cells"]
    if cells:
        row, column = cells[0]
        _select((int(row), CLASS_NAMES.index(column)))


def _select(cell: tuple[int, int]) -> None:
    """Keep the clicked cell; its images appear below the matrix, out of sight, so the
    page is asked to scroll to them (each click a request of its own)."""
    st.session_state[CELL_KEY] = cell
    st.session_state[SCROLL_KEY] = uuid.uuid4().hex


def top_k_caption(probabilities: np.ndarray, true_label: int, k: int = 3) -> str:
    """'true Shirt', then the k likeliest classes with their probabilities, one per line:
    the model's answer first, marked right (✅) or wrong (❌); the true class in bold."""
    order = np.argsort(probabilities)[::-1][:k]
    marks = ["✅" if order[0] == true_label else "❌"] + ["·"] * (len(order) - 1)
    lines = [
        f"{mark} {_bold_if(CLASS_NAMES[label], label == true_label)} {probabilities[label]:.0%}"
        for mark, label in zip(marks, order)
    ]
    return f"true **{CLASS_NAMES[true_label]}**  \n" + "  \n".join(lines)


def _bold_if(text: str, bold: bool) -> str:
    return f"**{text}**" if bold else text


def gallery_captions(evaluation: Evaluation, indices: np.ndarray) -> list[str]:
    return [top_k_caption(evaluation.proba[i], int(evaluation.y_true[i])) for i in indices]


# ---------------------------------------------------------------- comparing models


def _meta_row(model: str, meta: dict[str, Any]) -> dict[str, Any]:
    metrics = meta.get("metrics") or {}
    top_k = metrics.get("top_k") or {}
    return {
        "model": model,
        "kind": meta.get("kind"),
        "accuracy": metrics.get("accuracy"),
        "macro F1": metrics.get("macro_f1"),
        "top-3 accuracy": top_k.get("3"),
        "ECE": metrics.get("ece"),
        "parameters": meta.get("params"),
        "training (s)": meta.get("train_seconds"),
        "source": "this app",
    }


def comparable_models() -> dict[str, dict[str, Any]]:
    """Model key -> meta of every model whose metrics are known without loading it."""
    found: dict[str, dict[str, Any]] = {}
    bundled = registry.read_entry(registry.default_model_path())
    if bundled.meta and not bundled.broken:
        found[BUNDLED] = bundled.meta
    session_model = st.session_state.get(SESSION_MODEL_KEY)
    if session_model is not None:
        found[SESSION] = session_model.classifier.meta
    for entry in registry.list_entries():
        if entry.meta and not entry.broken:
            found[registry_key(entry.name)] = entry.meta
    return {key: meta for key, meta in found.items() if (meta.get("metrics") or {})}


def comparison_table(models: dict[str, dict[str, Any]], labels: dict[str, str], with_references: bool) -> pd.DataFrame:
    """One row per chosen model (from its stored metrics) plus the published references."""
    rows = [_meta_row(labels.get(key, key), meta) for key, meta in models.items()]
    if with_references:
        rows += [
            {
                "model": reference.name,
                "accuracy": (reference.low + reference.high) / 2,
                "source": f"published ({reference.label}): {reference.source}",
            }
            for reference in REFERENCE_ACCURACY
        ]
    table = pd.DataFrame(
        rows,
        columns=[
            "model",
            "kind",
            "accuracy",
            "macro F1",
            "top-3 accuracy",
            "ECE",
            "parameters",
            "training (s)",
            "source",
        ],
    )
    return table.sort_values("accuracy", ascending=False, na_position="last", ignore_index=True)


def per_class_f1_table(models: dict[str, dict[str, Any]], labels: dict[str, str]) -> pd.DataFrame:
    """F1 of every class for each chosen model (long format: model, class, f1)."""
    rows = []
    for key, meta in models.items():
        per_class = (meta.get("metrics") or {}).get("per_class") or {}
        rows += [
            {"model": labels.get(key, key), "class": name, "f1": (per_class.get(name) or {}).get("f1")}
            for name in CLASS_NAMES
        ]
    return pd.DataFrame(rows, columns=["model", "class", "f1"])
