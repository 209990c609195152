"""Every zoo model trains a short epoch on a few hundred real images and predicts probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core.cli.train import MODEL_NAMES
from fmnist_core.zoo import ZOO


def test_every_spec_is_described_and_keyed_by_its_kind():
    assert set(ZOO) == set(MODEL_NAMES)  # the command line offers exactly the zoo's kinds
    for kind, spec in ZOO.items():
        assert spec.kind == kind
        assert spec.family in ("keras", "sklearn")
        assert spec.title and spec.description.count(".") >= 2


@pytest.mark.parametrize("kind", [k for k, s in ZOO.items() if s.family == "keras"])
def test_keras_models_take_dataset_images_and_end_in_softmax(kind):
    model = ZOO[kind].build()
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    assert model.optimizer is not None and model.loss == "sparse_categorical_crossentropy"


def test_strong_cnn_fits_the_parameter_budget():
    assert ZOO["strong_cnn"].build().count_params() <= 300_000


@pytest.mark.slow  # trains every model of the zoo for an epoch
@pytest.mark.parametrize("kind", list(ZOO))
def test_each_model_trains_one_short_epoch(kind, small_data):
    from fmnist_core.training import TrainConfig, train

    classifier = train(TrainConfig(model=kind, epochs=1, batch_size=64, preview_count=4), small_data)
    proba = classifier.predict_proba(small_data.x_test)
    assert proba.shape == (len(small_data.x_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    assert classifier.kind == kind and classifier.params > 0
    if ZOO[kind].family == "keras":  # trained models hand back Keras' own layers
        from fmnist_core.batchnorm import FusedBatchNormalization

        layers = classifier.model.layers
        assert not any(isinstance(layer, FusedBatchNormalization) for layer in layers)
    assert classifier.meta["metrics"]["count"] == len(small_data.y_test)
