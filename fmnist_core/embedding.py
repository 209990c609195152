"""Where images live in a model's mind: penultimate-layer features, 2-D maps, nearest images;
and the same 2-D maps of the raw pixels, for the dataset itself (`pixel_map`).

Keras models are read at the input of their last Dense layer (what the classifier sees
just before deciding). scikit-learn models have no such layer, so their maps use the
pixels themselves, and `feature_source` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.classifier import Classifier, KerasClassifier, as_batch
from fmnist_core.data import Dataset, sample_indices, stratified_subset

METHODS = ("PCA", "t-SNE")
MAP_POINTS = 2000  # enough to see every cluster, few enough for a responsive scatter
TSNE_MAX_POINTS = 1500  # t-SNE's cost grows fast with the points: more would take minutes
TSNE_ITERATIONS = 500  # the clusters have settled by then; the default 1,000 doubles the cost
PLACE_NEIGHBOURS = 5


def layers_of(model: Any, class_name: str) -> list[Any]:
    """The top-level layers of a Keras model with that class name, in order."""
    return [layer for layer in model.layers if type(layer).__name__ == class_name]


def last_layer(classifier: Classifier, class_name: str) -> Any | None:
    """The last top-level layer of a Keras classifier with that class name (e.g. "Conv2D")."""
    model = getattr(classifier, "model", None)
    found = layers_of(model, class_name) if model is not None else []
    return found[-1] if found else None


def forward(model: Any, batch: Any, watch: Any | None = None) -> tuple[Any, Any]:
    """Run `model` up to the input of its last Dense layer, eagerly (so a GradientTape sees
    every step); return (output of `watch` or None, features).

    Sequential models are run layer by layer: a loaded Sequential's layers carry several
    symbolic nodes, so `layer.output` may belong to a graph the model never runs.
    """
    import keras

    dense = layers_of(model, "Dense")[-1]
    if isinstance(model, keras.Sequential):
        watched, x = None, batch
        for layer in model.layers:
            if layer is dense:
                return watched, x
            x = layer(x, training=False)
            if layer is watch:
                watched = x
    probe = keras.Model(model.inputs, [(watch or dense).output, dense.input])
    watched, features = probe(batch, training=False)
    return (watched if watch is not None else None), features


def feature_source(classifier: Classifier) -> str:
    """Words for the map's caption: which numbers the points are made of."""
    dense = last_layer(classifier, "Dense")
    if dense is None:
        return f"raw pixels (a {classifier.kind} model has no hidden layer to read)"
    width = int(dense.kernel.shape[0])
    if width == 28 * 28:
        return f"raw pixels (a {classifier.kind} model has no hidden layer before its output)"
    return f"the {width} features feeding the model's output layer"


def features(classifier: Classifier, images: np.ndarray) -> np.ndarray:
    """(N, D) float32 features of many images, in batches; pixels/255 for non-Keras models."""
    batch = as_batch(images)
    if not isinstance(classifier, KerasClassifier) or last_layer(classifier, "Dense") is None:
        return batch.reshape(len(batch), -1) / 255.0
    # The classifier's traced pass: running the layers eagerly costs about ten times more
    # and would hold up every click that shows similar images.
    return classifier.predict_features(batch).reshape(len(batch), -1)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


@dataclass
class FeatureIndex:
    """Unit-length features of a set of images, for cosine nearest-neighbour look-ups."""

    indices: np.ndarray  # which images of the source array each row describes
    unit: np.ndarray  # (n, D)

    def nearest(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Source indices and cosine similarities of the k rows closest to `vector`."""
        similarity = self.unit @ _unit(np.asarray(vector, np.float32).reshape(1, -1))[0]
        order = np.argsort(-similarity, kind="stable")[:k]
        return self.indices[order], similarity[order]


def build_index(classifier: Classifier, images: np.ndarray, size: int = 10_000, seed: int = 0) -> FeatureIndex:
    """Features of a random subset of `images` (all if fewer than `size`)."""
    chosen = sample_indices(len(images), size, seed)
    return FeatureIndex(chosen, _unit(features(classifier, images[chosen])))


def nearest_training_images(
    classifier: Classifier,
    image28: np.ndarray,
    data: Dataset,
    k: int = 8,
    index: FeatureIndex | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into `data.x_train` of the k training images most similar to `image28` in the
    model's feature space, with their cosine similarities.

    Pass a prebuilt `index` (from `build_index(classifier, data.x_train)`) in interactive
    code: building one reads 10,000 images through the model.
    """
    index = index if index is not None else build_index(classifier, data.x_train)
    return index.nearest(features(classifier, image28)[0], k)


@dataclass
class EmbeddingMap:
    """A 2-D map of a set of images, and what is needed to place a new image on it."""

    method: str  # one of METHODS
    indices: np.ndarray  # which images of the source array are on the map
    points: np.ndarray  # (n, 2)
    index: FeatureIndex  # the same images' features, rows in map order
    pca: Any | None  # the fitted 2-D PCA of a "PCA" map, None for t-SNE
    note: str  # how the map was made, for a caption

    def place(self, classifier: Classifier, image28: np.ndarray) -> np.ndarray:
        """(x, y) of a new image: projected for PCA; for t-SNE, which cannot place new
        points, the mean position of its nearest neighbours on the map."""
        vector = features(classifier, image28)
        if self.pca is not None:  # a PCA map
            return self.pca.transform(vector)[0, :2]
        rows, _ = self.index.nearest(vector[0], PLACE_NEIGHBOURS)
        return self.points[rows].mean(axis=0)


def embed(
    classifier: Classifier,
    images: np.ndarray,
    method: str = "PCA",
    max_points: int = MAP_POINTS,
    seed: int = 0,
) -> EmbeddingMap:
    """Project the model's features of a random subset of at most `max_points` images (at
    most TSNE_MAX_POINTS for t-SNE) to 2-D."""
    check_method(method)
    limit = min(max_points, TSNE_MAX_POINTS) if method == "t-SNE" else max_points
    chosen = sample_indices(len(images), limit, seed)
    return map_of(features(classifier, images[chosen]), chosen, method, feature_source(classifier), seed)


def pixel_map(images: np.ndarray, labels: np.ndarray, method: str, per_class: int, seed: int = 0) -> EmbeddingMap:
    """Project the pixels of `per_class` random images of every class to 2-D: the dataset
    itself, no model."""
    check_method(method)
    chosen = stratified_subset(labels, per_class, seed)
    pixels = images[chosen].reshape(len(chosen), -1).astype(np.float32) / 255.0
    return map_of(pixels, chosen, method, "raw pixels", seed)


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")


def map_of(values: np.ndarray, indices: np.ndarray, method: str, source: str, seed: int = 0) -> EmbeddingMap:
    """The map of the images at `indices`, whose rows of `values` describe them; `source`
    says what the values are, for the note."""
    points, pca = project(values, method, seed)
    index = FeatureIndex(np.arange(len(indices)), _unit(values))
    note = f"{method} of {source}, {len(indices):,} images."
    if pca is None:
        note += (
            " t-SNE cannot place new points: a new image is drawn at the mean position "
            f"of its {PLACE_NEIGHBOURS} nearest neighbours."
        )
    return EmbeddingMap(method, indices, points, index, pca, note)


def project(values: np.ndarray, method: str, seed: int = 0) -> tuple[np.ndarray, Any | None]:
    """(n, 2) points of the rows of `values`, and the fitted PCA of a "PCA" map (None for
    t-SNE). t-SNE runs on the first 50 principal components: faster and less noisy."""
    from sklearn.decomposition import PCA

    check_method(method)
    if method == "PCA":
        pca = PCA(n_components=2, random_state=seed).fit(values)
        return pca.transform(values), pca
    from sklearn.manifold import TSNE

    reduced = PCA(n_components=min(50, *values.shape), random_state=seed).fit_transform(values)
    perplexity = float(min(30, max(2, (len(values) - 1) // 3)))
    points = TSNE(
        n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=TSNE_ITERATIONS, n_jobs=1
    ).fit_transform(reduced)
    return points, None
