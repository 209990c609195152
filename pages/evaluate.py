"""Evaluate: a model's test metrics, an interactive confusion matrix with the images behind
every cell, its most confident mistakes, and models compared with published figures."""

import numpy as np
import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from ui import charts, evaluations, tables
from ui.images import image_grid
from ui.insights import saliency_panel
from ui.layers import layers_toggle
from ui.layout import lazy_tabs, scroll_to
from ui.models import model_options, model_picker
from ui.navigation import ensure_routed
from ui.resources import dataset_or_stop

ensure_routed()

GALLERY_PAGE = 24

data = dataset_or_stop()
st.title("Evaluate a model")
model = model_picker("Model", key="eval_model")
if model is None:
    st.stop()
evaluation = evaluations.test_evaluation(model.classifier, data, model.fingerprint, data.checksum)

columns = st.columns(6)
columns[0].metric("Accuracy", tables.PERCENT.format(evaluation.accuracy))
columns[1].metric("Macro F1", tables.PERCENT.format(evaluation.macro_f1))
columns[2].metric("Macro precision", tables.PERCENT.format(evaluation.macro_precision))
columns[3].metric("Macro recall", tables.PERCENT.format(evaluation.macro_recall))
columns[4].metric(
    "Top-3 accuracy",
    tables.PERCENT.format(evaluation.top_k_accuracy.get(3, float("nan"))),
    help="The true class is among the three likeliest",
)
columns[5].metric(
    "ECE",
    tables.ECE.format(evaluation.ece),
    help="Expected calibration error: how far confidence is from accuracy; 0 is perfectly calibrated",
)


def explain_test_image(index: int) -> None:
    """In the enlarged view: the model's three likeliest classes and why (saliency)."""
    st.html(charts.probability_bars(evaluation.proba[index], top_k=3))
    saliency_panel(
        model.classifier,
        data.x_test[index],
        key="eval_dialog_saliency",
        fingerprint=model.fingerprint,
        test_index=index,
    )
    layers_toggle(model.classifier, data.x_test[index], key="eval_dialog_layers", fingerprint=model.fingerprint)


def gallery_of(chosen: np.ndarray, key: str) -> None:
    """Test images with their top-3 captions; a click enlarges one with why (saliency)."""
    image_grid(
        data.x_test[chosen],
        evaluations.gallery_captions(evaluation, chosen),
        key=key,
        details=[f"Test image #{i}" for i in chosen],
        explain=lambda position: explain_test_image(int(chosen[position])),
    )


@st.fragment
def confusion_matrix() -> None:
    """The clickable matrix, its accessible table twin, and the selected cell's images."""
    normalised = st.toggle("Show shares of each true class instead of counts", key="eval_normalised")
    cell = evaluations.selected_cell()
    st.plotly_chart(
        charts.confusion_figure(evaluation.confusion, normalised, cell),
        on_select=evaluations.cell_from_chart,
        selection_mode="points",
        key=evaluations.CHART_KEY,
        config={"displayModeBar": False},
    )
    st.caption(
        "Click a cell to see its test images below. Rows are the true class, columns "
        "the model's answer; the diagonal holds the right answers."
    )
    with st.expander("The same matrix as a table (select a cell with the keyboard)"):
        st.dataframe(
            evaluations.confusion_table(evaluation, normalised).style.format(
                tables.PERCENT if normalised else tables.COUNT
            ),
            on_select=evaluations.cell_from_table,
            selection_mode="single-cell",
            key=evaluations.TABLE_KEY,
        )
    if cell is None:
        st.info("No cell selected yet.", icon=":material/touch_app:")
        return
    request = st.session_state.pop(evaluations.SCROLL_KEY, None)
    if request:
        scroll_to(evaluations.CELL_IMAGES_KEY, request)
    with st.container(key=evaluations.CELL_IMAGES_KEY):
        cell_images(*cell)


def cell_images(true: int, predicted: int) -> None:
    """The selected cell's test images, most confident first, with a heading that names it."""
    indices = evaluation.cell_indices(true, predicted)
    verdict = "correctly recognised" if true == predicted else f"taken for {CLASS_NAMES[predicted]}"
    st.subheader(f"{CLASS_NAMES[true]} {verdict}: {len(indices):,} images")
    if not len(indices):
        st.info("The model never made this mistake.", icon=":material/celebration:")
        return
    st.caption(
        "The model's most confident answers first; each shows its three likeliest "
        "classes, its answer first (✅ right, ❌ wrong) and the true class in bold. 🔍 "
        "opens an image large with what the model looked at."
    )
    shown = st.number_input(
        "Images shown", GALLERY_PAGE, max(GALLERY_PAGE, len(indices)), step=GALLERY_PAGE, key="eval_gallery_count"
    )
    chosen = indices[:shown]
    gallery_of(chosen, key="eval_cell_grid")


def per_class() -> None:
    """Precision, recall and F1 of every class, and scikit-learn's text report."""
    table = evaluations.per_class_table(evaluation)
    st.plotly_chart(charts.per_class_metrics_figure(table))
    st.dataframe(
        tables.styled(
            table,
            {"precision": tables.PERCENT, "recall": tables.PERCENT, "f1": tables.PERCENT, "support": tables.COUNT},
        )
    )
    with st.expander("Classification report (text)"):
        st.code(evaluation.report, language=None)


@st.fragment
def mistakes() -> None:
    """The wrong answers the model was surest of: often mislabeled or ambiguous images."""
    count = st.slider("Mistakes shown", 10, 60, 30, step=10, key="eval_mistakes_count")
    chosen = evaluation.most_confident_mistakes(count)
    st.caption(
        f"{int((evaluation.y_pred != evaluation.y_true).sum()):,} of "
        f"{len(evaluation.y_true):,} test images are misclassified; the most confident "
        "first. Some are arguably mislabeled."
    )
    gallery_of(chosen, key="eval_mistakes_grid")


def compare() -> None:
    """Every saved model's stored metrics side by side with the published references."""
    models = evaluations.comparable_models()
    labels = model_options()
    if not models:
        st.info("No model with stored metrics yet: train and save one.", icon=":material/explore:")
        return
    chosen = st.multiselect(
        "Models",
        list(models),
        default=list(models)[:6],
        format_func=lambda key: labels.get(key, key),
        key="eval_compare",
    )
    with_references = st.toggle("Include published reference figures", value=True, key="eval_references")
    subset = {key: models[key] for key in chosen}
    table = evaluations.comparison_table(subset, labels, with_references)
    st.plotly_chart(charts.comparison_figure(table))
    st.dataframe(
        tables.styled(table, evaluations.COMPARISON_FORMATS),
        hide_index=True,
        column_config=evaluations.COMPARISON_COLUMNS,
    )
    if subset:
        st.plotly_chart(charts.per_class_f1_figure(evaluations.per_class_f1_table(subset, labels)))


lazy_tabs(
    "eval_tab",
    {
        "Confusion matrix": confusion_matrix,
        "Per class": per_class,
        "Most confident mistakes": mistakes,
        "Compare models": compare,
    },
)
