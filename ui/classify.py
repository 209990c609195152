"""The Classify page's work: uploads, drawings and test images to predictions, and the view
of one prediction (the answer first, then why, similar images, the map, the pipeline).

Uploads are prepared one by one (decoding and the photo pipeline, cached by content) and
then classified with ONE batched call, however many files there are.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from fmnist_core.image_input import SUFFIXES, decode_image
from fmnist_core.prediction import OUT_OF_SCOPE, Prediction
from fmnist_core.routing import predict_images, prepared_input
from fmnist_core.sketch import sketch_to_input
from fmnist_core.thumbnail import PipelineResult
from ui import charts
from ui.examples import Example, example_input
from ui.images import pixelated, squared
from ui.insights import embedding_map_panel, saliency_panel, similar_images_panel
from ui.layers import layers_panel
from ui.layout import lazy_tabs
from ui.models import BUNDLED, LoadedModel, photo_classifier
from ui.text import escape_markdown

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
UPLOAD_TYPES = [suffix.lstrip(".") for suffix in SUFFIXES]
# The page's tabs; the open one is kept in st.session_state["classify_tab"].
UPLOAD_TAB = ":material/photo_camera: Upload photos"
DRAW_TAB = ":material/draw: Draw"
TEST_IMAGE_TAB = ":material/target: Test image"


@dataclass(frozen=True)
class Outcome:
    """One input's fate: its pipeline and prediction (which records the model and engine
    that answered), or why it could not be classified."""

    name: str
    result: PipelineResult | None = None
    prediction: Prediction | None = None
    error: str | None = None
    milliseconds: float = 0.0  # how long the model took for the batch this input was in
    batch_size: int = 1


@st.cache_data(show_spinner=False, max_entries=128)
def prepare_upload(data: bytes, name: str) -> PipelineResult:
    """Decode and run the photo pipeline once per distinct file (GrabCut costs ~0.1 s)."""
    return prepared_input(decode_image(data, name))


def classify_files(model: LoadedModel, files: Sequence[tuple[str, bytes]]) -> list[Outcome]:
    """Every file to an Outcome: bad files get a friendly error, good ones share one
    batched prediction."""
    return _classify(model, [(name, partial(prepare_upload, data, name)) for name, data in files])


def _classify(model: LoadedModel, inputs: Sequence[tuple[str, Callable[[], PipelineResult]]]) -> list[Outcome]:
    """Named inputs through the core's one road to predictions: photos go to the
    photo-tuned model when `model` is the bundled one, and the photo model judges every
    photo's scope whoever answers."""
    photo_model = photo_classifier()
    answers_photos = model.key == BUNDLED and photo_model is not None
    start = time.perf_counter()
    answers = predict_images(
        model.classifier, [read for _, read in inputs], photo_model if answers_photos else None, scope_check=photo_model
    )
    milliseconds = (time.perf_counter() - start) * 1000
    ready = sum(answer.prediction is not None for answer in answers)
    return [
        Outcome(
            name, answer.result, answer.prediction, str(answer.error) if answer.error else None, milliseconds, ready
        )
        for (name, _), answer in zip(inputs, answers)
    ]


def example_outcome(model: LoadedModel, example: Example) -> Outcome:
    """One of the bundled examples, as its upload or drawing would go."""
    return _classify(model, [(example.label, partial(example_input, example))])[0]


def drawing_outcome(model: LoadedModel, rgba: np.ndarray) -> Outcome:
    """A canvas drawing through the sketch pipeline and the model."""
    return _classify(model, [("your drawing", partial(sketch_to_input, rgba))])[0]


def test_image_outcome(model: LoadedModel, image: np.ndarray, index: int) -> Outcome:
    """A test image is already the model's input: no pipeline, one step to show."""
    result = PipelineResult(np.asarray(image, np.uint8), [("test image", image)], "fmnist")
    return _classify(model, [(f"test image #{index}", lambda: result)])[0]


def short_name(name: str, limit: int = 22) -> str:
    """A file name that fits under a thumbnail: the middle goes, the start and end stay."""
    if len(name) <= limit:
        return name
    keep = limit - 1
    return f"{name[: keep - keep // 2]}…{name[-(keep // 2) :]}"


def outcomes_table(outcomes: Sequence[Outcome], model_label: str) -> pd.DataFrame:
    """One row per input: file, prediction, confidence, the runner-up and the model that
    answered, or the error. Empty cells where there is nothing to say."""
    rows: list[dict[str, object]] = []
    for outcome in outcomes:
        prediction = outcome.prediction
        if prediction is None:
            rows.append({"file": outcome.name, "problem": outcome.error})
            continue
        _, second_name, second_probability = prediction.runner_up
        rows.append(
            {
                "file": outcome.name,
                "prediction": prediction.name,
                "confidence": round(prediction.confidence, 4),
                "unsure": prediction.unsure_reason or "no",
                "second guess": second_name,
                "second confidence": round(second_probability, 4),
                "model": answered_by(prediction, model_label),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["file", "prediction", "confidence", "unsure", "second guess", "second confidence", "model", "problem"],
    )


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
    st.error(
        f"**{escape_markdown(outcome.name)}** cannot be classified: "
        f"{escape_markdown(outcome.error or 'unknown problem')}",
        icon=":material/error:",
    )


def prediction_caption(outcome: Outcome) -> str:
    """'Sneaker 97%' under a gallery tile, marked when the model is unsure."""
    if outcome.prediction is None:
        return "❌ not an image it can read"
    prediction = outcome.prediction
    flag = " ⚠️" if prediction.unsure else ""
    return f"{prediction.name} {prediction.confidence:.0%}{flag}"


def photo_thumbnail(outcome: Outcome, side: int = 112) -> np.ndarray:
    """The input as the person gave it (a photo's first pipeline step), squared and small."""
    from PIL import Image

    picture = (
        outcome.result.steps[0][1] if outcome.result and outcome.result.steps else np.zeros((side, side), np.uint8)
    )
    image = Image.fromarray(squared(np.asarray(picture)))
    return np.asarray(image.resize((side, side), Image.Resampling.BILINEAR))


def answered_by(prediction: Prediction, model_label: str) -> str:
    return "the photo-tuned bundled model" if prediction.by_photo_model else model_label


def unsure_message(prediction: Prediction, kind: str) -> str:
    """Why the model is unsure, and what may help, for what was seen: a tie, a weak top
    class, or an input unlike its ten classes."""
    if prediction.near_tie and prediction.unsure_reason != OUT_OF_SCOPE:
        _, second, probability = prediction.runner_up
        message = (
            f"The model hesitates between **{prediction.name}** "
            f"({prediction.confidence:.0%}) and **{second}** ({probability:.0%})."
        )
        return message + {
            "photo": " A photo showing the whole garment (sleeves, collar, length) helps tell them apart.",
            "sketch": " Draw what tells them apart: sleeves, collar, length.",
        }.get(kind, " Even people find such images hard.")
    if prediction.unsure_reason == OUT_OF_SCOPE and kind == "photo":
        return (
            "This does not look enough like any of the ten classes. It may be something "
            "they do not include (hats, shorts, skirts, bags of other shapes); if it is "
            "one of them, a photo of it alone, filling the frame, helps."
        )
    return {
        "photo": "The model is not confident about this photo: none of its ten classes fits it well.",
        "sketch": "The model is not confident: try the garment's whole silhouette, large, filling the square.",
    }.get(kind, "Even in the dataset's own format this image is ambiguous to the model.")


def _use_photo_model() -> None:
    st.session_state["classify_model"] = BUNDLED


def show_answer(
    model: LoadedModel,
    prediction: Prediction,
    result: PipelineResult,
    outcome: Outcome,
    key: str,
    true_label: int | None,
) -> None:
    """The headline, why it may be wrong, and which model answered how fast."""
    st.markdown(f"### {prediction.name} · {prediction.confidence:.1%}")
    if true_label is not None:
        verdict = "✅ right" if prediction.label == true_label else "❌ wrong"
        st.markdown(f"True class: **{CLASS_NAMES[true_label]}** {verdict}")
    if prediction.unsure or prediction.near_tie:
        st.warning(unsure_message(prediction, result.kind), icon=":material/warning:")
    timing = (
        f"in {outcome.milliseconds:.1f} ms ({prediction.engine})"
        if outcome.batch_size == 1
        else f"with the other {outcome.batch_size - 1} inputs in one batch, in {outcome.milliseconds:.1f} ms"
    )
    who = answered_by(prediction, escape_markdown(model.label))
    if prediction.by_photo_model:
        st.caption(
            f"Answered by {who} {timing}: photos go to it, since it has the same "
            "convolutions as the bundled model with a last layer refitted on real photos."
        )
        return
    st.caption(f"Answered by {who} {timing}.")
    if result.kind == "photo" and photo_classifier() is not None and model.key != BUNDLED:
        st.info(
            f"{who.capitalize()} was never tuned for photos; the bundled model's "
            "photo-tuned version usually reads photos better.",
            icon=":material/info:",
        )
        st.button(
            "Answer photos with the photo-tuned model",
            on_click=_use_photo_model,
            icon=":material/photo_camera:",
            key=f"{key}_use_photo_model",
        )


def show_prediction(
    model: LoadedModel, outcome: Outcome, key: str, true_label: int | None = None, test_index: int | None = None
) -> None:
    """One prediction, answer first: the headline, the 28x28 input beside the top-5
    probabilities, then one panel at a time (why, similar images, the map, the pipeline):
    only the open panel is computed. A test image (`test_index`) is explained from the
    work done for the whole test set."""
    if outcome.prediction is None or outcome.result is None:
        show_error(outcome)
        return
    prediction, result = outcome.prediction, outcome.result
    show_answer(model, prediction, result, outcome, key, true_label)
    input_col, chart_col = st.columns([1, 2.4], vertical_alignment="center")
    input_col.image(pixelated(result.image28, 6), caption="What the model sees (28x28)")
    chart_col.html(charts.probability_bars(prediction.probabilities, top_k=5))
    # The model that answered is the one explained; the photo model shares the bundled
    # model's features, so similar images and the map stay the bundled model's.
    explained = (photo_classifier() if prediction.by_photo_model else None) or model.classifier
    explained_fingerprint = f"{model.fingerprint}:photo" if prediction.by_photo_model else model.fingerprint
    panels = {
        WHY_PANEL: lambda: saliency_panel(
            explained,
            result.image28,
            key=f"{key}_saliency",
            fingerprint=explained_fingerprint,
            test_index=None if prediction.by_photo_model else test_index,
        ),
        SIMILAR_PANEL: lambda: similar_images_panel(
            model.classifier, result.image28, k=8, key=f"{key}_similar", fingerprint=model.fingerprint
        ),
        MAP_PANEL: lambda: embedding_map_panel(
            model.classifier, model.fingerprint, new_image=result.image28, key=f"{key}_map"
        ),
    }
    if len(result.steps) > 1:
        panels[PIPELINE_PANEL] = lambda: show_pipeline(result)
    panels[LAYERS_PANEL] = lambda: layers_panel(
        explained, result.image28, key=f"{key}_layers", fingerprint=explained_fingerprint
    )
    lazy_tabs(f"{key}_panel", panels)


WHY_PANEL = ":material/visibility: Why"
SIMILAR_PANEL = ":material/grid_view: Similar training images"
MAP_PANEL = ":material/scatter_plot: On the test-set map"
PIPELINE_PANEL = ":material/tune: How the input was prepared"
LAYERS_PANEL = ":material/layers: Layers"
STEP_WIDTH = 140  # pixels: every pipeline picture at the same size, side by side


def show_pipeline(result: PipelineResult) -> None:
    """Every step of the photo or sketch path but the last (the 28x28 input shown above)."""
    with st.container(horizontal=True):
        for title, picture in result.steps[:-1]:
            small = max(np.shape(picture)[:2]) <= 56
            st.image(squared(pixelated(picture, 5) if small else picture), caption=title, width=STEP_WIDTH)
