"""Classify: upload photos, draw a garment, or pick a test image, and see what the model
makes of it and why."""

import numpy as np
import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from ui import canvas, classify
from ui.examples import STATE_KEY as EXAMPLE_KEY
from ui.examples import example_picker
from ui.layout import lazy_tabs
from ui.models import model_picker
from ui.navigation import ensure_routed
from ui.resources import dataset_or_stop

ensure_routed()

data = dataset_or_stop()
st.title("Classify")
model = model_picker("Model", key="classify_model")
if model is None:
    st.stop()


def uploads() -> None:
    """One photo in detail; several as a gallery with a CSV of the predictions."""
    files = st.file_uploader(
        "Photos of garments (one or many)",
        type=classify.UPLOAD_TYPES,
        accept_multiple_files=True,
        key="classify_uploads",
        help="Best: one garment, flat or worn, on a plain background, filling the frame.",
    )
    if not files:
        st.caption("Your photos stay on this server only for this session. No photo at hand? Try one of these:")
        example = example_picker()
        if example is not None:
            classify.show_prediction(model, classify.example_outcome(model, example), key="classify_example")
        return
    st.session_state.pop(EXAMPLE_KEY, None)  # an upload of their own replaces the example
    outcomes = classify.classify_files(model, [(f.name, f.getvalue()) for f in files])
    if len(outcomes) == 1:
        classify.show_prediction(model, outcomes[0], key="classify_upload")
        return
    for outcome in outcomes:
        if outcome.error:
            classify.show_error(outcome)
    readable = [o for o in outcomes if o.result is not None]
    if readable:
        st.image(
            [classify.photo_thumbnail(o) for o in readable],
            caption=[f"{classify.short_name(o.name)}: {classify.prediction_caption(o)}" for o in readable],
        )
    table = classify.outcomes_table(outcomes, model.label)
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "confidence": st.column_config.NumberColumn(format="percent"),
            "second confidence": st.column_config.NumberColumn(format="percent"),
        },
    )
    st.download_button(
        "Download the predictions (CSV)",
        classify.table_csv(table),
        icon=":material/download:",
        file_name="predictions.csv",
        mime="text/csv",
        on_click="ignore",
        key="classify_csv",
    )
    if readable:
        chosen = st.selectbox(
            "Look at one in detail",
            range(len(readable)),
            format_func=lambda i: f"{i + 1}. {readable[i].name}",
            key="classify_detail",
        )
        classify.show_prediction(model, readable[chosen], key="classify_gallery_detail")


@st.fragment
def drawing() -> None:
    """A canvas: draw a garment in white on black, as the dataset shows them."""
    brush_col, clear_col = st.columns([3, 1], vertical_alignment="bottom")
    brush = brush_col.slider("Brush size", 5, 40, 18, key="classify_brush")
    if clear_col.button("Clear", icon=":material/ink_eraser:", key="classify_clear"):
        st.session_state.classify_canvas_version = st.session_state.get("classify_canvas_version", 0) + 1
    # The canvas keeps its full width; the answer goes beside it, or below on a narrow screen.
    with st.container(horizontal=True, gap="medium"):
        with st.container(width=canvas.CANVAS_SIDE + 20):
            rgba = canvas.draw(
                f"classify_canvas_{st.session_state.get('classify_canvas_version', 0)}", stroke_width=brush
            )
            st.caption("Undo and redo are in the canvas toolbar. Fill the square, like the dataset's thumbnails.")
        with st.container(width="stretch"):
            if rgba is None or not np.asarray(rgba)[..., :3].any():
                st.info("Draw a garment to see the model's guess.", icon=":material/draw:")
                return
            classify.show_prediction(model, classify.drawing_outcome(model, rgba), key="classify_drawing")


def _random_position(pool_size: int, key: str) -> None:
    st.session_state[key] = int(np.random.default_rng().integers(pool_size))


@st.fragment
def test_image() -> None:
    """Any of the 10,000 test images, by number, or browsing one class, or at random."""
    class_col, index_col, random_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    wanted = class_col.selectbox("Class", ["any", *CLASS_NAMES], key="classify_test_class")
    if wanted == "any":
        pool, key, label = np.arange(len(data.y_test)), "classify_test_index", "Test image number"
    else:
        pool = np.flatnonzero(data.y_test == CLASS_NAMES.index(wanted))
        key, label = f"classify_test_position_{wanted}", f"{wanted} number (of {len(pool):,})"
    random_col.button(
        "Random", icon=":material/casino:", key="classify_test_random", on_click=_random_position, args=(len(pool), key)
    )
    position = index_col.number_input(
        label, 0, len(pool) - 1, key=key, help="With a class chosen, the number browses that class's test images only."
    )
    index = int(pool[position])
    if wanted != "any":
        st.caption(f"Test image #{index}")
    outcome = classify.test_image_outcome(model, data.x_test[index], index)
    classify.show_prediction(model, outcome, key="classify_test", true_label=int(data.y_test[index]), test_index=index)


lazy_tabs(
    "classify_tab", {classify.UPLOAD_TAB: uploads, classify.DRAW_TAB: drawing, classify.TEST_IMAGE_TAB: test_image}
)
