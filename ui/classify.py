"""The Classify page's work: uploads, drawings and test images to predictions, and the view
of one prediction (pipeline steps, the 28x28 input, probabilities, why, similar images).

Uploads are prepared one by one (decoding and the photo pipeline, cached by content) and
then classified with ONE batched call, however many files there are.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.errors import FmnistError
from fmnist_core.image_input import SUFFIXES, decode_image
from fmnist_core.photo import prepare
from fmnist_core.prediction import Prediction, answering, predict_inputs, single_image_engine
from fmnist_core.sketch import sketch_to_input
from fmnist_core.thumbnail import PipelineResult
from ui import charts
from ui.images import pixelated, squared
from ui.insights import embedding_map_panel, saliency_panel, similar_images_panel
from ui.layers import layers_toggle
from ui.models import LoadedModel, photo_classifier_for
from ui.text import escape_markdown

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
UPLOAD_TYPES = [suffix.lstrip(".") for suffix in SUFFIXES]
# The page's tabs; the open one is kept in st.session_state["classify_tab"].
UPLOAD_TAB = ":material/photo_camera: Upload photos"
DRAW_TAB = ":material/draw: Draw"
TEST_IMAGE_TAB = ":material/target: Test image"


@dataclass
class Outcome:
    """One input's fate: its pipeline and prediction, or why it could not be classified."""

    name: str
    result: PipelineResult | None = None
    prediction: Prediction | None = None
    error: str | None = None
    by_photo_model: bool = False  # answered by the bundled model's photo-tuned version
    timing: str = ""  # how long the model took, and what computed it


@st.cache_data(show_spinner=False, max_entries=128)
def prepare_upload(data: bytes, name: str) -> PipelineResult:
    """Decode and run the photo pipeline once per distinct file (GrabCut costs ~0.1 s)."""
    return prepare(decode_image(data, name))


def classify_files(model: LoadedModel, files: Sequence[tuple[str, bytes]]) -> list[Outcome]:
    """Every file to an Outcome: bad files get a friendly error, good ones share one
    batched prediction."""
    outcomes: list[Outcome] = []
    for name, data in files:
        try:
            outcomes.append(Outcome(name, result=prepare_upload(data, name)))
        except FmnistError as exc:
            outcomes.append(Outcome(name, error=str(exc)))
    classify_outcomes(model, outcomes)
    return outcomes


def classify_outcomes(model: LoadedModel, outcomes: Sequence[Outcome]) -> None:
    """Fill in the prediction of every outcome that has a model input, in one call."""
    ready = [outcome for outcome in outcomes if outcome.result is not None]
    if not ready:
        return
    photo_classifier = photo_classifier_for(model)
    start = time.perf_counter()
    predictions = predict_inputs(model.classifier, [o.result for o in ready], photo_classifier)
    milliseconds = (time.perf_counter() - start) * 1000
    for outcome, prediction in zip(ready, predictions):
        outcome.prediction = prediction
        answered_by = answering(outcome.result, model.classifier, photo_classifier)
        outcome.by_photo_model = answered_by is photo_classifier
        outcome.timing = (f"The model answered in {milliseconds:.1f} ms "
                          f"({single_image_engine(answered_by)})." if len(ready) == 1 else
                          f"The model answered all {len(ready)} inputs in one batch, "
                          f"in {milliseconds:.1f} ms.")


def classify_one(model: LoadedModel, name: str, result: PipelineResult) -> Outcome:
    outcome = Outcome(name, result=result)
    classify_outcomes(model, [outcome])
    return outcome


def drawing_outcome(model: LoadedModel, rgba: np.ndarray) -> Outcome:
    """A canvas drawing through the sketch pipeline and the model."""
    try:
        return classify_one(model, "your drawing", sketch_to_input(rgba))
    except FmnistError as exc:
        return Outcome("your drawing", error=str(exc))


def test_image_outcome(model: LoadedModel, image: np.ndarray, index: int) -> Outcome:
    """A test image is already the model's input: no pipeline, one step to show."""
    result = PipelineResult(np.asarray(image, np.uint8), [("test image", image)], "fmnist")
    return classify_one(model, f"test image #{index}", result)


def outcomes_table(outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """One row per input: file, prediction, confidence, the runner-up, or the error."""
    rows = []
    for outcome in outcomes:
        prediction = outcome.prediction
        if prediction is None:
            rows.append({"file": outcome.name, "prediction": None, "confidence": None,
                         "unsure": None, "second guess": None, "problem": outcome.error})
            continue
        second = int(np.argsort(prediction.probabilities)[-2])
        rows.append({"file": outcome.name, "prediction": prediction.name,
                     "confidence": float(prediction.confidence), "unsure": bool(prediction.unsure),
                     "second guess": f"{CLASS_NAMES[second]} "
                                     f"({prediction.probabilities[second]:.0%})",
                     "problem": None})
    return pd.DataFrame(rows, columns=["file", "prediction", "confidence", "unsure",
                                       "second guess", "problem"])


def table_csv(table: pd.DataFrame) -> bytes:
    """The table as UTF-8 CSV. A file name starting with = + - @ would run as a formula in a
    spreadsheet, so such cells get a leading apostrophe (the usual defence)."""
    def inert(value: object) -> object:
        return f"'{value}" if isinstance(value, str) and value[:1] in FORMULA_STARTS else value

    buffer = io.StringIO()
    table.map(inert).to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


# ---------------------------------------------------------------- showing results


def show_error(outcome: Outcome) -> None:
    st.error(f"**{escape_markdown(outcome.name)}** cannot be classified: "
             f"{escape_markdown(outcome.error or 'unknown problem')}", icon=":material/error:")


def prediction_caption(outcome: Outcome) -> str:
    """'name: Sneaker 97%' for a gallery tile, marked when the model is unsure."""
    name = escape_markdown(outcome.name)
    if outcome.prediction is None:
        return f"{name}: ❌ not an image it can read"
    prediction = outcome.prediction
    flag = " ⚠️ unsure" if prediction.unsure else ""
    return f"{name}  \n**{prediction.name}** {prediction.confidence:.0%}{flag}"


# What to try when the model is unsure, by the kind of input (PipelineResult.kind).
UNSURE_ADVICE = {
    "photo": "Try a photo of the garment alone on a plain background, filling the frame.",
    "sketch": "Try drawing the garment's whole silhouette, large, filling the square.",
    "fmnist": "Even in the dataset's own format this image is ambiguous to the model.",
}
STEP_WIDTH = 140  # pixels: every pipeline picture at the same size, side by side


def show_prediction(model: LoadedModel, outcome: Outcome, key: str,
                    true_label: int | None = None) -> None:
    """The full story of one prediction: pipeline steps, model input, probabilities, why,
    and the training images the model finds most alike."""
    if outcome.prediction is None or outcome.result is None:
        show_error(outcome)
        return
    prediction, result = outcome.prediction, outcome.result
    if len(result.steps) > 1:
        st.markdown("**What the pipeline did**")
        with st.container(horizontal=True):
            for title, picture in result.steps:
                small = max(np.shape(picture)[:2]) <= 56
                st.image(squared(pixelated(picture, 5) if small else picture), caption=title,
                         width=STEP_WIDTH)
    input_col, chart_col, why_col = st.columns([1, 2, 1.3])
    with input_col:
        st.image(pixelated(result.image28, 6), caption="What the model sees (28x28)")
        if true_label is not None:
            verdict = "✅" if prediction.label == true_label else "❌"
            st.markdown(f"True class: **{CLASS_NAMES[true_label]}** {verdict}")
    with chart_col:
        st.markdown(f"### {prediction.name} · {prediction.confidence:.1%}")
        if prediction.unsure:
            st.warning("The model is unsure: this does not look enough like any of its ten "
                       "classes. " + UNSURE_ADVICE.get(result.kind, ""), icon=":material/warning:")
        if outcome.by_photo_model:
            st.caption("Photos go to the bundled model's photo-tuned version: the same "
                       "convolutions with a last layer refitted on real photos.")
        st.caption(outcome.timing)
        st.plotly_chart(charts.probability_figure(prediction.probabilities, top_k=5),
                        key=f"{key}_probabilities", config={"displayModeBar": False})
    with why_col:
        st.markdown("**Why**")
        # The model that answered is the one explained; the photo model shares the
        # bundled model's features, so similar images and the map below stay the same.
        answered_by = photo_classifier_for(model) if outcome.by_photo_model else None
        saliency_panel(answered_by or model.classifier, result.image28, key=f"{key}_saliency",
                       model_key=f"{model.fingerprint}:photo" if answered_by else model.fingerprint)
    st.markdown("**The most similar training images**")
    similar_images_panel(model.classifier, result.image28, k=8, key=f"{key}_similar",
                         model_key=model.fingerprint)
    if st.toggle("Show this image on the map of the test set", key=f"{key}_map_toggle",
                 help="Where your image lands among the test images in the model's features."):
        embedding_map_panel(model.classifier, model.fingerprint, new_image=result.image28,
                            key=f"{key}_map")
    layers_toggle(answered_by or model.classifier, result.image28, key=f"{key}_layers",
                  model_key=f"{model.fingerprint}:photo" if answered_by else model.fingerprint)
