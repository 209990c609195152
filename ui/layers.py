"""The Layers view: what every layer of a Keras model makes of one image, its first
filters, the training images that excite a channel; and the Train page's live view of the
filters forming, from the snapshots the epoch events carry.

The work is in `fmnist_core.layers`; here it becomes pictures: each stage's feature maps
are ONE mosaic image (a few kilobytes to send, instead of one image per channel), dense
layers are bar charts. Per-image results are cached under the model's `fingerprint` and the
image; the channels' favourite images once per model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fmnist_core import layers
from fmnist_core.classes import CLASS_NAMES
from fmnist_core.data import Dataset
from ui.charts import activation_figure, probability_figure
from ui.images import pixelated, thumbnail_strip
from ui.resources import dataset_or_stop

CHANNEL_CHOICES = (16, 32, 64, 128)
FILTER_TILE = 48  # screen pixels per filter: a 3x3 kernel needs less room than a feature map
COLUMNS = 8  # tiles per row of a mosaic: fits the narrow column of the enlarged-image dialog
NO_LAYERS = (
    "A scikit-learn model has no layers to show: it decides from the 784 pixels "
    "directly (weights, support vectors or trees), with nothing in between to look at."
)
ROLE_WORDS = {layers.CONV: "convolution", layers.POOL: "pooling", layers.DENSE: "dense"}


@dataclass(frozen=True)
class StagePicture:
    """One stage ready to draw: a mosaic (convolution, pooling) or a bar chart (dense)."""

    stage: layers.Stage
    title: str
    caption: str
    picture: np.ndarray | None = None
    figure: go.Figure | None = None


@dataclass(frozen=True)
class LayersView:
    """Everything the view draws for one model, image and number of channels."""

    rows: pd.DataFrame  # the network's column of layers
    filters: np.ndarray | None  # mosaic of the first layer's weights
    filters_caption: str
    stages: list[StagePicture]
    activity: dict[str, np.ndarray]  # stage name -> this image's peak on each channel


def layer_table(model: Any) -> pd.DataFrame:
    rows = layers.layer_rows(model)
    return pd.DataFrame(
        {
            "layer": [r.name for r in rows],
            "kind": [r.kind for r in rows],
            "output shape": [" x ".join(map(str, r.shape)) for r in rows],
            "parameters": [r.params for r in rows],
        }
    )


def _filters_picture(model: Any) -> tuple[np.ndarray | None, str]:
    weights = layers.first_layer_filters(model)
    if weights is None:
        return None, ""
    if len(weights) == len(CLASS_NAMES) and weights.shape[1] == 28:  # logistic regression
        return (
            layers.mosaic(layers.weight_tiles(weights), 5, 3, list(CLASS_NAMES)),
            "Each class's weight on every pixel: white pixels speak for the class, black "
            "against it. The whole model is these ten templates.",
        )
    shown = weights[:64]
    side = shown.shape[1]
    caption = (
        f"The first convolution's {len(weights)} filters ({side}x{side}), mid-grey "
        "for 0: each slides over the image and lights up where the pixels match it."
        if side < 28
        else f"The first dense layer's weights on the 784 pixels, {len(shown)} of its "
        f"{len(weights)} units: what each unit looks for, mid-grey for 0."
    )
    return (
        layers.mosaic(
            layers.weight_tiles(shown),
            COLUMNS,
            layers.tile_scale(side, FILTER_TILE),
            [str(i) for i in range(len(shown))],
        ),
        caption,
    )


def build_view(model: Any, image28: np.ndarray, shown: int) -> LayersView:
    """The view's content: one traced call through every stage, then pictures and charts.
    No Streamlit here: bench/layers.py times it."""
    outputs = layers.stage_outputs(model, image28)
    all_stages = layers.probe_for(model).stages
    pictures, activity = [], {}
    for position, stage in enumerate(all_stages):
        output = outputs[stage.name]
        activity[stage.name] = output.max(axis=(0, 1)) if output.ndim == 3 else output
        covers = " + ".join(stage.layers)
        if stage.role == layers.DENSE:
            last = position == len(all_stages) - 1 and stage.channels == len(CLASS_NAMES)
            pictures.append(
                StagePicture(
                    stage,
                    f"{covers}: {stage.channels} units",
                    "The class scores: the model's own output for this image (without mirror averaging)."
                    if last
                    else "Each bar is one unit's activation.",
                    # list(): the NumPy scalars as they are, as the Sequence the chart asks for
                    figure=probability_figure(list(output), top_k=10) if last else activation_figure(output),
                )
            )
            continue
        order = layers.channel_order(output)[:shown]
        side = stage.shape[0]
        tiles = layers.feature_tiles(output, order)
        which = (
            f"all {stage.channels} channels"
            if len(order) == stage.channels
            else f"the {len(order)} most active of {stage.channels} channels"
        )
        pictures.append(
            StagePicture(
                stage,
                f"{covers}: {side}x{side} x {stage.channels} ({ROLE_WORDS[stage.role]})",
                f"{which.capitalize()}, most active first, labelled with their number; white is "
                "the stage's highest value.",
                picture=layers.mosaic(tiles, COLUMNS, layers.tile_scale(side), [str(c) for c in order]),
            )
        )
    filters, caption = _filters_picture(model)
    return LayersView(layer_table(model), filters, caption, pictures, activity)


@st.cache_data(show_spinner=False, max_entries=32)
def _view(_model: Any, fingerprint: str, image28: np.ndarray, shown: int) -> LayersView:
    return build_view(_model, image28, shown)


@st.cache_resource(show_spinner="Reading training images through every layer (once per model)...", max_entries=4)
def _channel_examples(_model: Any, fingerprint: str, _data: Dataset, checksum: str) -> layers.ChannelExamples:
    return layers.channel_examples(_model, _data.x_train)


def show_picture(picture: np.ndarray, caption: str, width: Literal["stretch", "content"] | int = "content") -> None:
    """A mosaic, by default at its own size (its squares are the values), narrower where the
    container is; in narrow columns "stretch" (a fixed width overflowed a column)."""
    st.image(picture, caption=caption, width=width)


def layers_toggle(model_or_classifier: Any, image28: np.ndarray, key: str, fingerprint: str) -> None:
    """A 'Layers' switch that costs nothing until turned on, then the whole view."""
    if st.toggle("Layers: what each layer of the network makes of this image", key=f"{key}_toggle"):
        layers_panel(model_or_classifier, image28, key, fingerprint)


def layers_panel(model_or_classifier: Any, image28: np.ndarray, key: str, fingerprint: str) -> None:
    """The network as a column of layers, every stage's output for `image28`, the first
    layer's filters, and a channel's favourite training images. `key` must be
    page-prefixed; `fingerprint` names the model version for the caches."""
    model = layers.keras_model(model_or_classifier)
    if model is None:
        st.info(NO_LAYERS, icon=":material/info:")
        return
    image28 = np.asarray(image28, np.float32).reshape(28, 28)
    shown = st.select_slider(
        "Feature maps per layer",
        CHANNEL_CHOICES,
        key=f"{key}_channels",
        help="The channels this image excites most are shown first; a layer with fewer channels shows them all.",
    )
    view = _view(model, fingerprint, image28, shown)
    with st.expander("The network, layer by layer", expanded=True):
        st.dataframe(
            view.rows,
            hide_index=True,
            key=f"{key}_table",
            column_config={"parameters": st.column_config.NumberColumn(format="localized")},
        )
    if view.filters is not None:
        st.markdown("**The first layer's filters**")
        show_picture(view.filters, view.filters_caption)
    for picture in view.stages:
        st.markdown(f"**{picture.title}**")
        if picture.picture is not None:
            show_picture(picture.picture, picture.caption)
        else:
            st.plotly_chart(picture.figure, key=f"{key}_{picture.stage.name}_bars", config={"displayModeBar": False})
            st.caption(picture.caption)
    _examples(model, fingerprint, view, key)


def _examples(model: Any, fingerprint: str, view: LayersView, key: str) -> None:
    """Feature visualisation by examples: the training images a chosen channel likes most."""
    if not st.toggle("Which training images excite a channel most?", key=f"{key}_examples"):
        return
    data = dataset_or_stop()
    examples = _channel_examples(model, fingerprint, data, data.checksum)
    titles = {p.stage.name: p.title for p in view.stages}
    name = st.selectbox("Layer", list(titles), format_func=titles.__getitem__, key=f"{key}_examples_stage")
    activity = view.activity[name]
    channel = st.number_input(
        f"Channel (0 to {len(activity) - 1})",
        0,
        len(activity) - 1,
        value=int(np.argmax(activity)),
        key=f"{key}_examples_channel_{name}",
        help="Starts at the channel this image excites most.",
    )
    chosen, peaks = examples.indices[name][channel], examples.peaks[name][channel]
    thumbnail_strip(data.x_train[chosen], [f"{CLASS_NAMES[data.y_train[i]]} · {p:.2f}" for i, p in zip(chosen, peaks)])
    st.caption(
        f"The {len(chosen)} of {examples.scanned:,} training images (a random sample) "
        f"on which channel {channel} reaches its highest value anywhere in the image; "
        f"this image takes it to {activity[channel]:.2f}. What they share is what the "
        "channel detects."
    )


# ---------------------------------------------------------------- while it learns


def _snapshot_picture(tiles: np.ndarray, labels: Sequence[str], target: int = 84) -> np.ndarray:
    return layers.mosaic(tiles, COLUMNS, layers.tile_scale(tiles.shape[1], target), list(labels))


def training_layers_view(events: Sequence[Any], test_image: np.ndarray, key: str = "train_layers") -> None:
    """Beside the curves: the first layer's filters after the first epoch and now, and one
    fixed test image through a chosen stage, from the latest epoch's snapshot."""
    snapshots = [e for e in events if getattr(e, "layers", None) is not None]
    if not snapshots:
        return
    first, latest = snapshots[0], snapshots[-1]
    snap = latest.layers
    st.markdown(f"**Inside the network after epoch {latest.epoch + 1}**")
    filters_col, maps_col = st.columns([2, 3])
    with filters_col:
        if snap.filters is not None:
            labels = [str(i) for i in range(len(snap.filters))]
            if first is not latest:
                show_picture(
                    _snapshot_picture(first.layers.filters, labels, FILTER_TILE),
                    f"First-layer filters after epoch {first.epoch + 1}",
                    "stretch",
                )
            show_picture(
                _snapshot_picture(snap.filters, labels, FILTER_TILE),
                f"First-layer filters after epoch {latest.epoch + 1} (mid-grey is 0; each on its own scale)",
                "stretch",
            )
    with maps_col:
        titles = {s.name: f"{' + '.join(s.layers)} ({ROLE_WORDS[s.role]}, {s.channels})" for s in snap.stages}
        name = st.selectbox("Layer", list(titles), format_func=titles.__getitem__, key=f"{key}_stage")
        image_col, output_col = st.columns([1, 4])
        image_col.image(pixelated(test_image, 3), caption="Test image 0")
        output = snap.outputs[name]
        if output.ndim == 1:
            figure = (
                probability_figure(output.astype(np.float32), top_k=10)
                if name == snap.stages[-1].name
                else activation_figure(output)
            )
            output_col.plotly_chart(figure, key=f"{key}_bars", config={"displayModeBar": False})
        else:
            with output_col:
                show_picture(
                    _snapshot_picture(output, [str(i) for i in range(len(output))]),
                    f"Its first {len(output)} channels in this layer, the same every epoch",
                    "stretch",
                )
