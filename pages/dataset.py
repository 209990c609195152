"""Dataset: browse the images by split and class, their statistics, and a 2-D map of them."""

import numpy as np
import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from ui import charts
from ui.dataset_stats import (
    PROJECTIONS,
    SPLITS,
    browse_order,
    class_counts,
    intensity_histogram,
    mean_images,
    projection,
    split_arrays,
)
from ui.images import image_grid, pixelated
from ui.layout import lazy_tabs
from ui.navigation import ensure_routed
from ui.resources import dataset_or_stop
from ui.text import unbroken

ensure_routed()

PAGE_SIZE = 40
ALL_CLASSES = "All classes"

data = dataset_or_stop()


@st.fragment
def browse() -> None:
    """A page of thumbnails of one split and class, in file order or shuffled."""
    split_col, class_col, shuffle_col = st.columns([1, 2, 1], vertical_alignment="bottom")
    split = (
        split_col.segmented_control("Split", list(SPLITS), format_func=SPLITS.get, default="train", key="dataset_split")
        or "train"
    )
    chosen_class = class_col.selectbox("Class", [ALL_CLASSES, *CLASS_NAMES], key="dataset_class")
    if shuffle_col.button(
        "Shuffle", icon=":material/shuffle:", key="dataset_shuffle", help="Show the images in a new random order"
    ):
        st.session_state.dataset_shuffle_seed = int(np.random.default_rng().integers(1 << 31))
        st.session_state.dataset_page = 1

    label = None if chosen_class == ALL_CLASSES else CLASS_NAMES.index(chosen_class)
    order = browse_order(data, split, label, st.session_state.get("dataset_shuffle_seed"))
    page_count = max(1, -(-len(order) // PAGE_SIZE))
    page = st.columns([1, 5])[0].number_input(
        f"Page (of {page_count:,})", min_value=1, max_value=page_count, step=1, key="dataset_page"
    )
    shown = order[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    images, labels = split_arrays(data, split)
    image_grid(
        images[shown],
        captions=[f"#{index} · {unbroken(CLASS_NAMES[labels[index]])}" for index in shown],
        details=[f"{SPLITS[split]}, image {index} · {CLASS_NAMES[labels[index]]}" for index in shown],
        key="dataset_grid",
        columns=10,
    )
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button(
            "Previous",
            icon=":material/chevron_left:",
            key="dataset_previous",
            disabled=page <= 1,
            on_click=turn_page,
            args=(-1,),
        )
        st.caption(f"Page {page:,} of {page_count:,}")
        st.button(
            "Next",
            icon=":material/chevron_right:",
            key="dataset_next",
            disabled=page >= page_count,
            on_click=turn_page,
            args=(1,),
        )


def turn_page(step: int) -> None:
    """The buttons under the grid: the next or previous page, without scrolling up."""
    st.session_state.dataset_page += step


def statistics() -> None:
    """Class balance, the mean image of every class, and the pixel-intensity histogram."""
    st.subheader("Images per class")
    st.plotly_chart(charts.class_counts_figure(class_counts(data, data.checksum)))
    st.caption(
        "Both splits are perfectly balanced: 6,000 training and 1,000 test images "
        "per class, so plain accuracy is a fair summary."
    )

    split = (
        st.segmented_control(
            "Statistics of", list(SPLITS), format_func=SPLITS.get, default="train", key="dataset_stats_split"
        )
        or "train"
    )
    st.subheader("The mean image of every class")
    st.plotly_chart(charts.mean_images_figure(mean_images(data, data.checksum, split)))
    st.caption("Shirt, T-shirt/top, Pullover and Coat share one silhouette: most of a model's mistakes are among them.")

    st.subheader("Pixel intensities")
    log_scale = st.toggle("Logarithmic scale", value=True, key="dataset_histogram_log")
    st.plotly_chart(charts.intensity_histogram_figure(intensity_histogram(data, data.checksum, split), log_scale))
    st.caption("Half the pixels are pure black background; click a class in the legend to hide or show it.")


@st.fragment
def projection_map() -> None:
    """Test images as dots in 2-D, coloured by class; a click shows the image beside it."""
    method_col, size_col = st.columns(2)
    method = method_col.radio(
        "Projection", list(PROJECTIONS), format_func=PROJECTIONS.get, key="dataset_map_method", horizontal=True
    )
    per_class = size_col.select_slider(
        "Images per class",
        [50, 100, 200],
        value=100,
        key="dataset_map_per_class",
        help="t-SNE of 1,000 images takes tens of seconds, once: the map is cached on disk",
    )
    with st.spinner(f"Computing the {method} map of {10 * per_class:,} test images..."):
        emap = projection(data, data.checksum, "test", method, per_class)
    map_col, detail_col = st.columns([3, 1])
    with map_col:
        event = st.plotly_chart(
            charts.map_figure(
                emap.points,
                emap.indices,
                data.y_test[emap.indices],
                title=f"{method} of {len(emap.indices):,} test images",
            ),
            on_select="rerun",
            selection_mode="points",
            key="dataset_map_chart",
        )
    with detail_col:
        index = charts.clicked_index(event)
        if index is not None:
            st.image(
                pixelated(data.x_test[index], 8), caption=f"Test image #{index} · {CLASS_NAMES[data.y_test[index]]}"
            )
        else:
            st.info(
                "Click a dot to see its image here. Drag to pan, scroll to zoom, "
                "click a class in the legend to hide it."
            )


st.title("The dataset")
st.caption(
    f"{len(data.y_train):,} training and {len(data.y_test):,} test images, 28x28 "
    f"grey levels, ten classes. Source: {data.source}."
)
lazy_tabs("dataset_tab", {"Browse": browse, "Statistics": statistics, "2-D map": projection_map})
