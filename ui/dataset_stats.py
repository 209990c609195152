"""Tables derived from the dataset, each computed once per server (st.cache_data).

The dataset itself is passed with a leading underscore (not hashed); `checksum` identifies it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES
from fmnist_core.data import Dataset
from fmnist_core.embedding import EmbeddingMap, pixel_map

SPLITS = {"train": "Training set", "test": "Test set"}
PROJECTIONS = {
    "PCA": "PCA (linear, all classes' main directions)",
    "t-SNE": "t-SNE (non-linear, keeps neighbours together)",
}


def split_arrays(data: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of 'train' or 'test'."""
    return (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)


def browse_order(data: Dataset, split: str, label: int | None, shuffle_seed: int | None) -> np.ndarray:
    """Indices to browse: one class or all, in file order or shuffled by `shuffle_seed`.
    The shuffle is not cached: every Shuffle click brings a new random seed, so a cache
    keyed by it grew by an entry per click, for good, and a shuffle takes a millisecond."""
    indices = file_order(data, data.checksum, split, label)
    if shuffle_seed is not None:
        indices = np.random.default_rng(shuffle_seed).permutation(indices)
    return indices


@st.cache_data(show_spinner=False)
def file_order(_data: Dataset, checksum: str, split: str, label: int | None) -> np.ndarray:
    """The indices of one class, or all, in file order (22 entries at most per dataset)."""
    _, labels = split_arrays(_data, split)
    return np.arange(len(labels)) if label is None else np.flatnonzero(labels == label)


@st.cache_data(show_spinner=False)
def class_counts(_data: Dataset, checksum: str) -> pd.DataFrame:
    """Images per class and split, long format (class, split, images)."""
    rows = [
        {"class": CLASS_NAMES[label], "split": SPLITS[split], "images": count}
        for split in SPLITS
        for label, count in enumerate(_data.class_counts(split))
    ]
    return pd.DataFrame(rows)


@st.cache_data(show_spinner=False)
def mean_images(_data: Dataset, checksum: str, split: str) -> np.ndarray:
    """(10, 28, 28) average image of every class: the shape a model sees as typical."""
    images, labels = split_arrays(_data, split)
    return np.stack([images[labels == label].mean(axis=0) for label in range(NUM_CLASSES)])


@st.cache_data(show_spinner=False)
def intensity_histogram(_data: Dataset, checksum: str, split: str) -> pd.DataFrame:
    """Share of pixels at each intensity 0..255, per class and for all images (long format)."""
    images, labels = split_arrays(_data, split)
    frames = []
    for name, mask in [("all images", slice(None))] + [
        (CLASS_NAMES[label], labels == label) for label in range(NUM_CLASSES)
    ]:
        counts = np.bincount(images[mask].ravel(), minlength=256)
        frames.append(pd.DataFrame({"intensity": np.arange(256), "share": counts / counts.sum(), "group": name}))
    return pd.concat(frames, ignore_index=True)


@st.cache_data(show_spinner=False, max_entries=8, persist="disk")
def projection(_data: Dataset, checksum: str, split: str, method: str, per_class: int, seed: int = 0) -> EmbeddingMap:
    """The 2-D map of the pixels of `per_class` random images of every class of a split."""
    images, labels = split_arrays(_data, split)
    return pixel_map(images, labels, method, per_class, seed)
