"""Home: what the app does, where the data came from, the active model, where to go next."""

import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from ui.images import labelled_rows
from ui.models import model_options, replace_gone_active_model
from ui.navigation import PAGES, ensure_routed, path_of
from ui.resources import dataset_or_stop, samples_per_class
from ui.text import escape_markdown

ensure_routed()

st.title("Fashion-MNIST Studio")
st.write(
    "Browse the 70,000 Fashion-MNIST images, train a model live and watch it learn, "
    "explore its mistakes, and classify your own photos and sketches."
)

data = dataset_or_stop()
st.caption(f"Dataset: {len(data.y_train):,} training and {len(data.y_test):,} test images, from {data.source}.")

options = model_options()
active = replace_gone_active_model(options)
if active in options:  # always, unless there is no model at all
    st.success(f"Your active model: **{escape_markdown(options[active])}**", icon=":material/star:")
else:
    st.info(
        "No bundled model yet, and nothing saved: the **Train** page's quick preset makes a model in about a minute.",
        icon=":material/explore:",
    )

st.subheader("Start here")
with st.container(border=True):
    if active in options:
        st.page_link(path_of("classify"), label="**Classify a photo of your clothes**", icon=":material/photo_camera:")
        st.caption(
            "Upload a photo, draw a sketch or pick a test image: your active model "
            "answers and shows why. Rather make your own model? The Train page's quick "
            "preset trains one in under a minute."
        )
    else:
        st.page_link(path_of("train"), label="**Train your first model**", icon=":material/model_training:")
        st.caption("The quick preset trains one in under a minute; then classify your photos with it.")

st.subheader("Every page")
for row_start in range(1, len(PAGES), 3):  # a row of columns each: the cells line up
    for column, page in zip(st.columns(3), PAGES[row_start : row_start + 3]):
        with column.container(border=True, height="stretch"):
            st.page_link(page.path, label=f"**{page.title}**", icon=page.icon)
            st.caption(page.purpose)

st.subheader("A few images of every class")
indices = samples_per_class(data, data.checksum, per_class=8)
labelled_rows(data.x_train[indices], [f"{label} · {name}" for label, name in enumerate(CLASS_NAMES)])
