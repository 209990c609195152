"""Every model the app can train, each with a description a user can read before choosing.

Keras models take float32 (N, 28, 28) images in 0..255 and rescale inside the model, so a
saved file carries its own preprocessing; they end in a softmax and come compiled (Adam,
sparse categorical cross-entropy, accuracy) so `build()` alone gives a model ready to fit.
scikit-learn models are pipelines over flattened pixels scaled to 0..1 (see
`SklearnClassifier`) and all provide `predict_proba`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import keras
from keras import layers

from fmnist_core.batchnorm import FusedBatchNormalization
from fmnist_core.classes import NUM_CLASSES


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    title: str
    description: str
    family: Literal["keras", "sklearn"]
    build: Callable[..., Any]  # keras: (dropout=None, l2=None) -> compiled model; sklearn: (seed=0)
    train_subset: int | None = None  # sklearn models too slow for all 60,000 images


def compile_model(model: keras.Model, optimizer: Any = "adam", steps_per_execution: int = 1) -> keras.Model:
    """The one loss and metric every Keras model in the zoo is trained with."""
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


def _regularizer(l2: float) -> keras.regularizers.Regularizer | None:
    return keras.regularizers.L2(l2) if l2 else None


def _pixels() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Model input in the dataset's convention (0..255), rescaled inside the model."""
    inputs = keras.Input(shape=(28, 28), name="image")
    return inputs, layers.Rescaling(1 / 255)(inputs)


def _image(x: keras.KerasTensor) -> keras.KerasTensor:
    return layers.Reshape((28, 28, 1))(x)


def _classify(inputs: keras.KerasTensor, x: keras.KerasTensor, name: str) -> keras.Model:
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return compile_model(keras.Model(inputs, outputs, name=name))


def _conv_bn(x: keras.KerasTensor, filters: int, l2: float, name: str) -> keras.KerasTensor:
    """3x3 convolution, BatchNorm (fused: 18% off a fast_cnn training step), ReLU. Layers are
    named explicitly: Keras' automatic names come from per-thread counters, and a model built
    in the app's training thread once came out with two layers called "conv2d", which Keras
    refuses."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=_regularizer(l2), name=name)(x)
    x = FusedBatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_logreg(dropout: float | None = None, l2: float | None = None) -> keras.Model:
    inputs, x = _pixels()
    x = layers.Flatten()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", kernel_regularizer=_regularizer(l2 or 0))(x)
    return compile_model(keras.Model(inputs, outputs, name="logreg"))


def build_mlp(dropout: float | None = None, l2: float | None = None) -> keras.Model:
    inputs, x = _pixels()
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", kernel_regularizer=_regularizer(l2 or 0))(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return _classify(inputs, x, "mlp")


def build_deep_mlp(dropout: float | None = None, l2: float | None = None) -> keras.Model:
    dropout, l2 = 0.3 if dropout is None else dropout, 1e-4 if l2 is None else l2
    inputs, x = _pixels()
    x = layers.Flatten()(x)
    for units in (512, 256, 128):
        x = layers.Dense(units, activation="relu", kernel_regularizer=_regularizer(l2), name=f"dense{units}")(x)
        x = layers.Dropout(dropout, name=f"dropout{units}")(x)
    return _classify(inputs, x, "deep_mlp")


def build_simple_cnn(dropout: float | None = None, l2: float | None = None) -> keras.Model:
    dropout = 0.25 if dropout is None else dropout
    inputs, x = _pixels()
    x = _image(x)
    for filters in (32, 64):
        x = layers.Conv2D(
            filters, 3, activation="relu", kernel_regularizer=_regularizer(l2 or 0), name=f"conv{filters}"
        )(x)
        x = layers.MaxPooling2D(name=f"pool{filters}")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(128, activation="relu", kernel_regularizer=_regularizer(l2 or 0))(x)
    return _classify(inputs, x, "simple_cnn")


def _light_cnn(name: str, widths: tuple[int, int, int], dropout: float | None, l2: float | None) -> keras.Model:
    """Built for live training on a CPU: a plain convolution at full resolution, where each
    channel costs most (BatchNorm there adds about a sixth to an epoch), then two with
    BatchNorm, which allows a high learning rate; each stage halves the resolution."""
    dropout, l2 = 0.2 if dropout is None else dropout, l2 or 0
    inputs, x = _pixels()
    x = _image(x)
    first, second, third = widths
    x = layers.Conv2D(
        first, 3, padding="same", activation="relu", kernel_regularizer=_regularizer(l2), name=f"conv{first}"
    )(x)
    x = layers.MaxPooling2D(name=f"pool{first}")(x)
    for filters in (second, third):
        x = _conv_bn(x, filters, l2, name=f"conv{filters}")
        x = layers.MaxPooling2D(name=f"pool{filters}")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(128, activation="relu", kernel_regularizer=_regularizer(l2))(x)
    return _classify(inputs, x, name)


def build_fast_cnn(dropout: float | None = None, l2: float | None = None) -> keras.Model:
    return _light_cnn("fast_cnn", (8, 24, 64), dropout, l2)


def build_standard_cnn(dropout: float | None = None, l2: float | None = None) -> keras.Model:
    """fast_cnn with twice the full-resolution channels: about 1.2 times its epoch time, and
    with mirrored images in training it passes 93% where fast_cnn stays near 92.5%."""
    return _light_cnn("standard_cnn", (16, 32, 64), dropout, l2)


def build_strong_cnn(dropout: float | None = None, l2: float | None = None) -> keras.Model:
    """Two VGG-style pairs of 3x3 convolutions and a fifth convolution, all with BatchNorm,
    then a BatchNorm dense layer: 288k weights, most of them in the dense layer."""
    dropout, l2 = 0.3 if dropout is None else dropout, l2 or 0
    inputs, x = _pixels()
    x = _image(x)
    for block, filters in enumerate((32, 64), start=1):
        x = _conv_bn(x, filters, l2, name=f"conv{block}a")
        x = _conv_bn(x, filters, l2, name=f"conv{block}b")
        x = layers.MaxPooling2D(name=f"pool{block}")(x)
    x = _conv_bn(x, 128, l2, name="conv3")
    x = layers.MaxPooling2D(name="pool3")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout, name="dropout_features")(x)
    x = layers.Dense(128, use_bias=False, kernel_regularizer=_regularizer(l2), name="dense")(x)
    x = layers.BatchNormalization(name="dense_bn")(x)
    x = layers.ReLU(name="dense_relu")(x)
    x = layers.Dropout(dropout, name="dropout_dense")(x)
    return _classify(inputs, x, "strong_cnn")


def build_sk_logreg(seed: int = 0) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.1, max_iter=200, random_state=seed)


def build_sk_svm(seed: int = 0) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    # An SVC has no probabilities of its own: calibrate its scores on 3 internal folds.
    svc = SVC(C=10, kernel="rbf", gamma="scale", random_state=seed)
    return make_pipeline(PCA(n_components=50, random_state=seed), CalibratedClassifierCV(svc, ensemble=False, cv=3))


def build_sk_forest(seed: int = 0) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, min_samples_leaf=2, n_jobs=-1, random_state=seed)


def sklearn_param_count(estimator: Any) -> int:
    """Numbers the fitted estimator stores to decide: weights, support vectors, tree nodes."""
    if hasattr(estimator, "steps"):
        return sum(sklearn_param_count(step) for _, step in estimator.steps)
    if hasattr(estimator, "calibrated_classifiers_"):
        return sum(sklearn_param_count(c.estimator) for c in estimator.calibrated_classifiers_)
    if hasattr(estimator, "estimators_"):
        return int(sum(tree.tree_.node_count for tree in estimator.estimators_))
    fitted = ("coef_", "intercept_", "components_", "mean_", "support_vectors_", "dual_coef_")
    return int(sum(getattr(estimator, name).size for name in fitted if hasattr(estimator, name)))


ZOO: dict[str, ModelSpec] = {
    spec.kind: spec
    for spec in (
        ModelSpec(
            "logreg",
            "Logistic regression (Keras)",
            "One softmax layer over the 784 pixels: each class is a single weighted template. "
            "Trains in seconds and shows how far pixel templates go (published: about 84%); it cannot "
            "combine features, so shirts, coats and pullovers blur together.",
            "keras",
            build_logreg,
        ),
        ModelSpec(
            "mlp",
            "Seed MLP",
            "The starter network: Flatten, Dense(128, relu), Dense(10, softmax), trained with "
            "Adam. About 100k weights and under a second per epoch here; around 88% test accuracy, "
            "because a dense layer ignores that nearby pixels belong together.",
            "keras",
            build_mlp,
        ),
        ModelSpec(
            "deep_mlp",
            "Deeper MLP with dropout and L2",
            "Three dense layers (512, 256, 128) with dropout and L2 weight decay so the extra "
            "capacity does not just memorise the training set. A point or so better than the "
            "seed MLP at several times the cost; still blind to image structure.",
            "keras",
            build_deep_mlp,
        ),
        ModelSpec(
            "simple_cnn",
            "Simple CNN",
            "Two convolution + max-pooling stages and a dense layer, as in the seed projects. "
            "Convolutions share weights across the image, so it learns edges and textures "
            "once; published results for such networks are 91.6-92.5%.",
            "keras",
            build_simple_cnn,
        ),
        ModelSpec(
            "fast_cnn",
            "Fast CNN (quick preset)",
            "Three small convolution stages, only 8 channels at full resolution where each "
            "channel costs most, BatchNorm on the later two. Built for live training: the quick "
            "preset (3 epochs in batches of 256, mirrored images, no dropout) reaches "
            "about 91% in well under a minute on a CPU; it gives up a few points to the "
            "strong CNN.",
            "keras",
            build_fast_cnn,
        ),
        ModelSpec(
            "standard_cnn",
            "Standard CNN (standard preset)",
            "The fast CNN with twice the channels at full resolution (16) and 32 in the middle "
            "stage. Trained with mirrored images and no dropout, and averaged with the mirror at "
            "test time, 14 epochs in batches of 256 reach about 93% in a few minutes on a CPU; "
            "about 1.2 times the fast CNN's time per epoch.",
            "keras",
            build_standard_cnn,
        ),
        ModelSpec(
            "strong_cnn",
            "Strong CNN (the bundled model)",
            "Five 3x3 convolutions with BatchNorm (VGG style) and a BatchNorm dense layer "
            "with dropout, trained with light augmentation (flips, shifts, erasing, a little "
            "photo-like contrast and blur) and a one-cycle schedule. 288k weights and the "
            "most accurate model here (94.7% in 60 epochs), at the price of about 75 minutes of "
            "training on 2 CPU cores.",
            "keras",
            build_strong_cnn,
        ),
        ModelSpec(
            "sk_logreg",
            "Logistic regression (scikit-learn)",
            "scikit-learn's multinomial logistic regression on the 784 scaled pixels, with L2 "
            "regularisation. A classical baseline (published: 84.2%); the Keras version learns "
            "the same kind of model by gradient descent instead of L-BFGS.",
            "sklearn",
            build_sk_logreg,
        ),
        ModelSpec(
            "sk_svm",
            "SVM (RBF kernel on PCA features)",
            "A support vector machine with an RBF kernel, C=10. A full SVC on 60,000 images of "
            "784 pixels takes far too long on 2 cores, so this one trades some accuracy for "
            "time: the pixels are first reduced to 50 PCA components and it trains on a "
            "stratified 15,000-image subset, with probabilities calibrated on 3 folds "
            "(Zalando's full SVC reaches 89.7%).",
            "sklearn",
            build_sk_svm,
            train_subset=15000,
        ),
        ModelSpec(
            "sk_forest",
            "Random forest",
            "100 decision trees voting on raw pixels. Robust and needs no tuning (published: 87.3%), "
            "but trees split on single pixels, so they cannot learn shapes that move around; "
            "the saved model is large because it stores every node.",
            "sklearn",
            build_sk_forest,
        ),
    )
}
