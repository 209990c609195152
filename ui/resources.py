"""Server-wide cached resources: loaded once per server process, shared by every session."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fmnist_core.data import Dataset, load_dataset, sample_per_class
from fmnist_core.errors import DatasetError


@st.cache_resource(show_spinner="Loading Fashion-MNIST...")
def dataset() -> Dataset:
    return load_dataset()


def dataset_or_stop() -> Dataset:
    """The dataset, or a friendly page explaining how to get it (and the page stops)."""
    try:
        return dataset()
    except DatasetError as exc:
        st.error("The Fashion-MNIST files were not found, so this page cannot run.")
        st.code(str(exc), language=None)
        st.stop()


@st.cache_data(show_spinner=False)
def samples_per_class(_data: Dataset, checksum: str, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` training images of every class, as a (10, per_class) array."""
    return sample_per_class(_data.y_train, per_class, seed)
