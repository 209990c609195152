"""Home: what the app does, where the data came from, a few images of every class."""

import streamlit as st

from fmnist_core.classes import CLASS_NAMES
from ui.resources import dataset_or_stop, samples_per_class

st.title("Fashion-MNIST Studio")
st.write(
    "Browse the 70,000 Fashion-MNIST images, train a model live and watch it learn, "
    "explore its mistakes, and classify your own photos and sketches."
)

data = dataset_or_stop()
st.caption(f"Dataset: {len(data.y_train):,} training and {len(data.y_test):,} test images, "
           f"from {data.source}.")

st.subheader("A few images of every class")
indices = samples_per_class(data, data.checksum, per_class=8)
for label, name in enumerate(CLASS_NAMES):
    cols = st.columns([2] + [1] * indices.shape[1])
    cols[0].markdown(f"**{label} · {name}**")
    for col, index in zip(cols[1:], indices[label]):
        col.image(data.x_train[index], width=56)
