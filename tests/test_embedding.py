"""Penultimate features, 2-D maps and nearest images, on small untrained zoo models."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core import embedding


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def cnn():
    """A zoo CNN (functional), untrained: its features are random but fixed."""
    import keras

    from fmnist_core import zoo
    from fmnist_core.classifier import KerasClassifier

    keras.utils.set_random_seed(0)
    return KerasClassifier(zoo.build_simple_cnn(), "simple_cnn")


@pytest.fixture(scope="module")
def reloaded_sequential(tmp_path_factory):
    """A Sequential model saved and loaded again: its layers then carry several symbolic
    nodes, which once made `layer.output` point into a graph the model never runs."""
    import keras

    from fmnist_core.classifier import KerasClassifier

    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Reshape((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    path = tmp_path_factory.mktemp("sequential") / "model.keras"
    model.save(path)
    return KerasClassifier(keras.models.load_model(path), "simple_cnn")


@pytest.mark.parametrize("which", ["cnn", "reloaded_sequential"])
def test_features_are_what_the_output_layer_reads(which, request, small_data):
    classifier = request.getfixturevalue(which)
    images = small_data.x_test[:50]
    values = embedding.features(classifier, images)
    dense = embedding.last_layer(classifier, "Dense")
    assert values.shape == (50, dense.kernel.shape[0])
    rebuilt = _softmax(values @ np.asarray(dense.kernel) + np.asarray(dense.bias))
    np.testing.assert_allclose(rebuilt, classifier.predict_proba(images), atol=1e-5)
    assert "features" in embedding.feature_source(classifier)


def test_scikit_learn_models_fall_back_to_pixels_and_say_so(small_data):
    from fmnist_core.classifier import SklearnClassifier

    classifier = SklearnClassifier(estimator=None, kind="sk_forest")
    values = embedding.features(classifier, small_data.x_test[:5])
    np.testing.assert_allclose(values, small_data.x_test[:5].reshape(5, -1) / 255.0)
    assert "pixels" in embedding.feature_source(classifier)


def test_a_training_image_is_its_own_nearest_neighbour(cnn, small_data):
    index = embedding.build_index(cnn, small_data.x_train, size=300, seed=0)
    assert len(index.indices) == 300 and len(set(index.indices.tolist())) == 300
    for position in (0, 150, 299):
        source = int(index.indices[position])
        nearest, similarity = embedding.nearest_training_images(
            cnn, small_data.x_train[source], small_data, k=4, index=index
        )
        assert nearest[0] == source and similarity[0] == pytest.approx(1.0, abs=1e-5)
        assert len(nearest) == 4 and np.all(np.diff(similarity) <= 1e-7)


def test_pca_map_places_a_map_image_on_its_own_point(cnn, small_data):
    emap = embedding.embed(cnn, small_data.x_test, method="PCA", max_points=150)
    assert emap.points.shape == (150, 2) and emap.indices.shape == (150,)
    assert len(set(emap.indices.tolist())) == 150 and emap.indices.max() < len(small_data.x_test)
    row = 7
    placed = emap.place(cnn, small_data.x_test[emap.indices[row]])
    np.testing.assert_allclose(placed, emap.points[row], atol=1e-3)
    assert "PCA" in emap.note


def test_tsne_map_places_new_images_among_their_neighbours(cnn, small_data):
    emap = embedding.embed(cnn, small_data.x_test, method="t-SNE", max_points=60)
    assert emap.points.shape == (60, 2)
    assert "cannot place new points" in emap.note
    image = small_data.x_test[emap.indices[3]]
    rows, _ = emap.index.nearest(embedding.features(cnn, image)[0], embedding.PLACE_NEIGHBOURS)
    np.testing.assert_allclose(emap.place(cnn, image), emap.points[rows].mean(axis=0))
    assert 3 in rows  # the image itself is one of its neighbours


def test_unknown_projection_is_refused(cnn, small_data):
    with pytest.raises(ValueError, match="UMAP"):
        embedding.embed(cnn, small_data.x_test, method="UMAP")


@pytest.mark.parametrize("method", embedding.METHODS)
def test_the_dataset_map_takes_every_class_evenly_from_the_pixels(method, small_data):
    emap = embedding.pixel_map(small_data.x_test, small_data.y_test, method, per_class=6)
    assert emap.points.shape == (60, 2) and np.all(np.diff(emap.indices) > 0)
    assert np.bincount(small_data.y_test[emap.indices], minlength=10).tolist() == [6] * 10
    assert emap.note.startswith(f"{method} of raw pixels, 60 images.")
