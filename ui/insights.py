"""Insight widgets: why a prediction was made, similar training images, the embedding map,
suspect labels, calibration and the report download. Reusable by any page.

Heavy results are cached per model under a `fingerprint` string (the classifier itself is
passed unhashed): `fingerprint_of(classifier)` makes one for callers that have none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from fmnist_core import calibration, embedding, explain, suspects
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.classifier import Classifier
from fmnist_core.data import Dataset, sample_indices
from fmnist_core.evaluation import ECE_BINS
from fmnist_core.report import build_report_html, report_filename
from ui.charts import clicked_index, map_figure, probability_bars, reliability_figure
from ui.evaluations import test_evaluation
from ui.images import image_grid, pixelated
from ui.models import BUNDLED, REGISTRY_PREFIX, SESSION, LoadedModel
from ui.resources import dataset_or_stop

OCCLUSION, GRAD_CAM = "Occlusion", "Grad-CAM"
TRAIN_SAMPLE = 10_000  # training images behind "similar images" and the training-sample scan
SUSPECTS_SHOWN = 200
SUSPECT_PAGE = 24
SUSPECT_SCANS = {
    "test": "Test set (10,000)",
    "train_sample": "Training sample (10,000)",
    "train": "Whole training set (60,000, slower)",
}


# ---------------------------------------------------------------- models


def fingerprint_of(classifier: Classifier) -> str:
    """A fingerprint for a classifier object that comes without one: its kind, save time
    and identity."""
    meta = classifier.meta or {}
    return f"{classifier.kind}|{meta.get('saved_at') or meta.get('created')}|{id(classifier)}"


def report_name(model: LoadedModel) -> str:
    """The name a report and its file carry: the saved name, "bundled" or "unsaved"."""
    if model.key.startswith(REGISTRY_PREFIX):
        return model.key[len(REGISTRY_PREFIX) :]
    return {BUNDLED: "bundled", SESSION: "unsaved"}.get(model.key, model.key)


# ---------------------------------------------------------------- cached computations


def proba_on_test_set(classifier: Classifier, fingerprint: str, data: Dataset) -> np.ndarray:
    """The model's test-set probabilities, from the evaluation the Evaluate page caches too."""
    return test_evaluation(classifier, data, fingerprint, data.checksum).proba


@st.cache_data(show_spinner=False, max_entries=256)
def _saliency(
    _classifier: Classifier, fingerprint: str, image28: np.ndarray, method: str
) -> tuple[int, np.ndarray, bool]:
    """(predicted label, the overlay to show, whether the map is empty) for one image."""
    predicted = int(np.argmax(_classifier.predict_proba(image28)[0]))
    if method == GRAD_CAM:
        heat = explain.grad_cam(_classifier, image28, label=predicted)
    else:
        heat = explain.occlusion_map(_classifier, image28, label=predicted)
    return predicted, explain.overlay(image28, heat), not heat.any()


@st.cache_resource(show_spinner="Explaining the test set (once per model)...", max_entries=4)
def _test_grad_cams(_classifier: Classifier, fingerprint: str, _data: Dataset, checksum: str) -> np.ndarray:
    """Grad-CAM of every test image for its predicted class, 0..255 (8 MB per model): once
    per model per server, in the background (model_work), so a click on a test image only
    looks its map up."""
    predicted = np.argmax(proba_on_test_set(_classifier, fingerprint, _data), axis=1)
    return np.round(explain.grad_cams(_classifier, _data.x_test, predicted) * 255).astype(np.uint8)


def test_grad_cams(classifier: Classifier, fingerprint: str, data: Dataset) -> np.ndarray | None:
    """The test set's Grad-CAM maps (see `_test_grad_cams`), None for a model without a
    convolution."""
    if not explain.has_conv_layer(classifier):
        return None
    return _test_grad_cams(classifier, fingerprint, data, data.checksum)


def _test_saliency(
    classifier: Classifier, fingerprint: str, data: Dataset, maps: np.ndarray, index: int
) -> tuple[int, np.ndarray, bool]:
    """`_saliency`'s answer for test image `index` by Grad-CAM, from the test set's maps."""
    predicted = int(np.argmax(proba_on_test_set(classifier, fingerprint, data)[index]))
    heat = maps[index].astype(np.float32) / 255
    return predicted, explain.overlay(data.x_test[index], heat), not maps[index].any()


@st.cache_data(
    show_spinner="Projecting the test set (t-SNE can take a minute on a busy server; the map is then kept)...",
    max_entries=8,
    persist="disk",
)
def _embedding_map(
    _classifier: Classifier, fingerprint: str, _data: Dataset, checksum: str, method: str
) -> embedding.EmbeddingMap:
    return embedding.embed(_classifier, _data.x_test, method=method)


def embedding_map(classifier: Classifier, fingerprint: str, data: Dataset, method: str) -> embedding.EmbeddingMap:
    """The test set's 2-D map in the model's features, once per model, data and method."""
    return _embedding_map(classifier, fingerprint, data, data.checksum, method)


@st.cache_data(show_spinner="Looking for suspect labels...", max_entries=8)
def _suspects(
    _classifier: Classifier, fingerprint: str, _data: Dataset, checksum: str, scan: str
) -> tuple[np.ndarray, list[suspects.Suspect]]:
    """(indices of the scanned images in their split, suspects indexing those indices)."""
    if scan == "test":
        proba = proba_on_test_set(_classifier, fingerprint, _data)
        found = suspects.rank_suspects(proba, _data.y_test, top=SUSPECTS_SHOWN)
        return np.arange(len(_data.y_test)), found
    count = len(_data.y_train)
    indices = np.arange(count) if scan == "train" else sample_indices(count, TRAIN_SAMPLE, 0)
    found = suspects.find_suspects(_classifier, _data.x_train[indices], _data.y_train[indices], top=SUSPECTS_SHOWN)
    return indices, found


@st.cache_data(show_spinner="Writing the report...", max_entries=2)
def _report_html(_classifier: Classifier, fingerprint: str, _data: Dataset, checksum: str, name: str) -> str:
    proba = proba_on_test_set(_classifier, fingerprint, _data)
    return build_report_html(_classifier, _data, name=name, proba=proba)


# ---------------------------------------------------------------- per-image widgets


def saliency_panel(
    classifier: Classifier,
    image28: np.ndarray,
    key: str = "saliency",
    fingerprint: str | None = None,
    test_index: int | None = None,
) -> None:
    """Which pixels the prediction rests on: Grad-CAM (CNNs, one traced pass) or occlusion
    (every model; 169 images through the model, so a CNN's costs a fifth of a second),
    overlaid on the image. Cached per model and image; a test image's Grad-CAM (give its
    `test_index`) comes from the map made for the whole test set. `key` must be
    page-prefixed and unique on the page."""
    image28 = np.asarray(image28, np.float32).reshape(28, 28)
    fingerprint = fingerprint or fingerprint_of(classifier)
    methods = [GRAD_CAM, OCCLUSION] if explain.has_conv_layer(classifier) else [OCCLUSION]
    method = st.radio(
        "Saliency",
        methods,
        horizontal=True,
        key=f"{key}_method",
        help="Grad-CAM: the last convolution layer's evidence. Occlusion: how "
        "much the probability drops when a 6x6 patch is blacked out.",
    )
    data = dataset_or_stop()
    maps = test_grad_cams(classifier, fingerprint, data) if method == GRAD_CAM and test_index is not None else None
    if maps is not None and test_index is not None:
        predicted, overlay, empty = _test_saliency(classifier, fingerprint, data, maps, test_index)
    else:
        predicted, overlay, empty = _saliency(classifier, fingerprint, image28, method)
    st.image(overlay, width=224, caption=f"Why {CLASS_NAMES[predicted]}: bright = mattered most")
    if empty:
        st.caption("No pixel raised this prediction in this map; try the other method.")


@st.cache_resource(show_spinner=False, max_entries=4)
def _train_index(_classifier: Classifier, fingerprint: str, _data: Dataset, checksum: str) -> embedding.FeatureIndex:
    """Features of 10,000 training images: once per model per server (model_work starts it
    in the background when the model loads)."""
    return embedding.build_index(_classifier, _data.x_train, size=TRAIN_SAMPLE)


def train_index(classifier: Classifier, fingerprint: str, data: Dataset) -> embedding.FeatureIndex:
    return _train_index(classifier, fingerprint, data, data.checksum)


@st.cache_data(show_spinner=False, max_entries=256)
def _nearest(
    _classifier: Classifier, fingerprint: str, image28: np.ndarray, k: int, _data: Dataset, checksum: str
) -> tuple[np.ndarray, np.ndarray]:
    index = train_index(_classifier, fingerprint, _data)
    return embedding.nearest_training_images(_classifier, image28, _data, k, index)


def similar_images_panel(
    classifier: Classifier, image28: np.ndarray, k: int = 8, key: str = "similar", fingerprint: str | None = None
) -> None:
    """The k training images closest to `image28` in the model's feature space (cosine,
    among 10,000 training images), with their classes and similarity."""
    data = dataset_or_stop()
    fingerprint = fingerprint or fingerprint_of(classifier)
    with st.spinner("Reading 10,000 training images through the model (once per model)..."):
        nearest, similarity = _nearest(
            classifier, fingerprint, np.asarray(image28, np.float32).reshape(28, 28), k, data, data.checksum
        )
    image_grid(
        data.x_train[nearest],
        captions=[f"{CLASS_NAMES[data.y_train[i]]} · {s:.2f}" for i, s in zip(nearest, similarity)],
        details=[f"training image {i}, cosine similarity {s:.3f}" for i, s in zip(nearest, similarity)],
        key=key,
        columns=k,
    )
    st.caption(f"Nearest training images by {embedding.feature_source(classifier)}.")


# ---------------------------------------------------------------- embedding map


def embedding_map_panel(
    classifier: Classifier,
    fingerprint: str | None = None,
    new_image: np.ndarray | None = None,
    key: str = "insights_map",
) -> None:
    """The test set on a 2-D map of the model's features; click a point to see the image
    (and why it was classified so); `new_image` (an upload or drawing) appears as a star."""
    data = dataset_or_stop()
    fingerprint = fingerprint or fingerprint_of(classifier)
    method = st.radio(
        "Projection",
        embedding.METHODS,
        horizontal=True,
        key=f"{key}_method",
        help="PCA keeps global distances; t-SNE keeps neighbourhoods "
        "(clusters) but distances between clusters mean little.",
    )
    emap = embedding_map(classifier, fingerprint, data, method)
    proba = proba_on_test_set(classifier, fingerprint, data)
    labels = data.y_test[emap.indices]
    predicted = proba[emap.indices].argmax(axis=1)
    star = emap.place(classifier, new_image) if new_image is not None else None
    map_col, detail_col = st.columns([5, 2])
    with map_col:
        state = st.plotly_chart(
            map_figure(emap.points, emap.indices, labels, predicted, star),
            on_select="rerun",
            selection_mode="points",
            key=f"{key}_chart",
        )
        st.caption(
            f"{emap.note} Crosses mark misclassified images. Hover shows the labels; "
            "click a point to open its image here (plotly cannot show images on hover)."
        )
    with detail_col:
        chosen = clicked_index(state)
        if chosen is None:
            st.info("Click a point to open its image.")
            return
        st.image(
            pixelated(data.x_test[chosen], 6), caption=f"Test image {chosen} · true {CLASS_NAMES[data.y_test[chosen]]}"
        )
        st.html(probability_bars(proba[chosen], top_k=3))
        saliency_panel(
            classifier, data.x_test[chosen], key=f"{key}_saliency", fingerprint=fingerprint, test_index=chosen
        )


# ---------------------------------------------------------------- suspects, calibration, report


def suspects_panel(classifier: Classifier, fingerprint: str, key: str = "insights_suspects") -> None:
    """A browsable grid of the images whose label the model doubts most."""
    data = dataset_or_stop()
    scan = st.radio("Look in", list(SUSPECT_SCANS), format_func=SUSPECT_SCANS.get, horizontal=True, key=f"{key}_scan")
    indices, found = _suspects(classifier, fingerprint, data, data.checksum, scan)
    if not found:
        st.success("The model agrees with every label it looked at.")
        return
    split = "test" if scan == "test" else "training"
    images = data.x_test if scan == "test" else data.x_train
    pages = -(-len(found) // SUSPECT_PAGE)
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"{key}_page")
    shown = found[(page - 1) * SUSPECT_PAGE : page * SUSPECT_PAGE]
    shown_images = images[[indices[s.index] for s in shown]]
    st.caption(
        f"The {len(found)} {split} images (of {len(indices):,} scanned) whose given "
        "label the model finds least likely, among those it disagrees with, least "
        "likely first: under each, the given label and the chance the model gives it, "
        "then the model's own answer. Some are mislabeled or badly cropped; others are "
        "the model's own blind spots."
    )
    image_grid(
        shown_images,
        captions=[
            f"given {CLASS_NAMES[s.given]}: {chance(s.p_given)} · model {CLASS_NAMES[s.predicted]}" for s in shown
        ],
        details=[
            f"{split} image {indices[s.index]}: the label says {CLASS_NAMES[s.given]} "
            f"(model: {chance(s.p_given)}), the model says {CLASS_NAMES[s.predicted]} "
            f"({s.p_predicted:.1%})"
            for s in shown
        ],
        key=f"{key}_grid",
        columns=6,
        explain=lambda position: saliency_panel(
            classifier, shown_images[position], key=f"{key}_why", fingerprint=fingerprint
        ),
    )


def chance(probability: float) -> str:
    """A probability as a person compares them: 12.3%, 0.4%, then "1 in 25,000" below
    0.1%, where a percentage would round every suspect to 0.0%."""
    if probability >= 0.001:
        return f"{probability:.1%}"
    if probability < 1e-6:
        return "under 1 in a million"
    return f"1 in {round(1 / probability, -int(np.log10(1 / probability)) + 1):,.0f}"


def calibration_panel(classifier: Classifier, fingerprint: str) -> None:
    """The model's ECE (the Evaluate page's figure), then temperature scaling judged on
    the test images it was not fitted on, with a reliability diagram."""
    data = dataset_or_stop()
    evaluation = test_evaluation(classifier, data, fingerprint, data.checksum)
    study = calibration.study_temperature(evaluation.proba, data.y_test)
    st.metric(
        "Expected calibration error",
        f"{evaluation.ece:.3f}",
        help=f"On all {len(data.y_test):,} test images, in {ECE_BINS} confidence bins: "
        "the figure the Evaluate page shows. 0 is perfectly calibrated.",
    )
    st.markdown(
        f"**Temperature scaling**, fitted (minimum log loss) on {study.fitted_on:,} "
        f"test images and judged on the other {study.judged_on:,}:"
    )
    ece, nll, temp = st.columns(3)
    ece.metric(
        f"ECE on those {study.judged_on:,}", f"{study.after.ece:.3f}", **_change(study.before.ece, study.after.ece)
    )
    nll.metric("Log loss", f"{study.nll_after:.3f}", **_change(study.nll_before, study.nll_after))
    temp.metric(
        "Temperature T", f"{study.temperature:.2f}", help="T > 1: the model was over-confident; T < 1: under-confident."
    )
    st.plotly_chart(reliability_figure(study))
    st.caption(
        "Dividing the model's log-probabilities by T and normalising again changes no "
        "prediction, only how sure they are. The diagram shows the judged images."
    )


def _change(before: float, after: float) -> dict[str, Any]:
    """st.metric's delta for a lower-is-better figure shown to 3 decimals: no arrow and no
    colour for a change that rounds to nothing ("-0.000" in green read as a gain)."""
    if f"{after:.3f}" == f"{before:.3f}":
        return {"delta": f"unchanged from {before:.3f}", "delta_color": "off", "delta_arrow": "off"}
    return {"delta": f"{after - before:+.3f} from {before:.3f}", "delta_color": "inverse"}


def report_panel(classifier: Classifier, fingerprint: str, name: str) -> None:
    """One click downloads the model's self-contained HTML report."""
    data = dataset_or_stop()
    html = _report_html(classifier, fingerprint, data, data.checksum, name)
    st.download_button(
        "Download the HTML report",
        html,
        file_name=report_filename(name),
        mime="text/html",
        icon=":material/download:",
        key="insights_report_download",
    )
    st.caption(
        f"One file ({len(html) / 1e6:.1f} MB) that opens in any browser without a "
        "server: configuration, training curves, confusion matrix, per-class metrics, "
        "right and wrong examples, and the published reference figures."
    )
