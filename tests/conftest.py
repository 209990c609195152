"""Shared fixtures: the real dataset once per run, small subsets, private model folders."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

# Nothing in the tests may download: the real data come from Debian's package.
os.environ.setdefault("FMNIST_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# LiteRT conversions of the run's models (fmnist_core.lite) stay out of the repo's data folder.
if "FMNIST_CACHE_DIR" not in os.environ:
    os.environ["FMNIST_CACHE_DIR"] = tempfile.mkdtemp(prefix="fmnist-test-cache-")
    atexit.register(shutil.rmtree, os.environ["FMNIST_CACHE_DIR"], True)
# So do the sweeps' studies (fmnist_core.sweep), unless a test sets its own folder.
if "FMNIST_SWEEPS_DIR" not in os.environ:
    os.environ["FMNIST_SWEEPS_DIR"] = tempfile.mkdtemp(prefix="fmnist-test-sweeps-")
    atexit.register(shutil.rmtree, os.environ["FMNIST_SWEEPS_DIR"], True)
os.environ.pop("FMNIST_SWEEP_STORAGE", None)


@pytest.fixture(scope="session")
def real_data():
    """The real Fashion-MNIST, verified against its checksums."""
    from fmnist_core.data import load_dataset

    return load_dataset()


@pytest.fixture(scope="session")
def small_data(real_data):
    """A stratified slice of the real data: 60 train and 20 test images per class."""
    from fmnist_core.data import Dataset

    def per_class(labels: np.ndarray, count: int) -> np.ndarray:
        return np.sort(np.concatenate([np.flatnonzero(labels == c)[:count] for c in range(10)]))

    train, test = per_class(real_data.y_train, 60), per_class(real_data.y_test, 20)
    return Dataset(
        x_train=real_data.x_train[train],
        y_train=real_data.y_train[train],
        x_test=real_data.x_test[test],
        y_test=real_data.y_test[test],
        source="subset of " + real_data.source,
        directory=real_data.directory,
        sha256=real_data.sha256,
    )


@pytest.fixture
def models_dir(tmp_path, monkeypatch) -> Path:
    """A private, empty model registry for one test."""
    folder = tmp_path / "models"
    monkeypatch.setenv("FMNIST_MODELS_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """An untrained two-layer Keras model saved in a private registry: the contracts of the
    `predict` command and the API do not depend on how good the model is; no training."""
    import keras

    from fmnist_core import registry
    from fmnist_core.classifier import KerasClassifier

    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    classifier = KerasClassifier(
        model, "logreg", {"unsure": {"rule": "max_probability", "threshold": 0.5, "calibrated_on": "test"}}
    )
    return str(registry.save(classifier, "tiny", tmp_path_factory.mktemp("models")))
