"""The training engine: any zoo model from a plain config, reporting progress as events.

`train(config, data, on_event, stop)` is shared by the app (through `jobs.TrainingJob`, in a
child process), the command line and the tests. Events are small frozen dataclasses,
so a caller can store them, show them or print them without knowing Keras. Setting `stop`
ends a Keras fit after the current group of steps and keeps the weights learnt so far.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from fmnist_core.augment import AUGMENTATIONS, Augmentation
from fmnist_core.batchnorm import with_keras_layers
from fmnist_core.calibration import calibrate_unsure
from fmnist_core.classifier import Classifier, KerasClassifier, SklearnClassifier
from fmnist_core.data import Dataset
from fmnist_core.errors import FmnistError
from fmnist_core.evaluation import cross_validate_sklearn, evaluate
from fmnist_core.layers import LayerSnapshot, snapshot
from fmnist_core.zoo import ZOO, ModelSpec, compile_model

SCHEDULES = ("constant", "cosine", "onecycle")
OPTIMIZERS = ("adam", "adamw", "sgd")


class TrainingError(FmnistError):
    """A configuration that cannot be trained, explained for a person."""


@dataclass(frozen=True)
class TrainConfig:
    model: str = "mlp"  # a key of fmnist_core.zoo.ZOO
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    schedule: str = "constant"  # constant | cosine | onecycle (warm up 30%, cosine down)
    optimizer: str = "adam"  # adam | adamw | sgd (momentum 0.9, Nesterov)
    dropout: float | None = None  # None: the model's own default
    l2: float | None = None  # None: the model's own default
    augment: Augmentation = field(default_factory=Augmentation)
    validation_split: float = 0.1  # held out from the training images, never the test set
    early_stopping_patience: int | None = None  # epochs without val_loss progress
    seed: int = 0
    train_limit: int | None = None  # only the first N images of a stratified order
    preview_count: int = 16  # test images whose live predictions EpochEnd carries
    flip_tta: bool = False  # the returned classifier averages each image with its mirror
    steps_per_execution: int = 16  # steps per compiled call; BatchProgress comes this often
    devices: tuple[str, ...] | None = None  # e.g. ("/cpu:0", "/cpu:1"); None: all GPUs if >1
    cv_folds: int | None = None  # scikit-learn models: k-fold cross-validation on the training images

    def model_options(self) -> dict[str, float]:
        """The dropout and L2 this config sets; the model's own defaults stand for the rest."""
        return {k: v for k, v in (("dropout", self.dropout), ("l2", self.l2)) if v is not None}

    def validate(self) -> None:
        problems = []
        family = ZOO[self.model].family if self.model in ZOO else None
        if family is None:
            problems.append(f"unknown model {self.model!r} (choose from {', '.join(ZOO)})")
        if self.epochs < 1 or self.batch_size < 1:
            problems.append("epochs and batch size must be at least 1")
        if not 0 < self.learning_rate <= 10:
            problems.append("the learning rate must be above 0 and at most 10")
        if self.schedule not in SCHEDULES:
            problems.append(f"unknown schedule {self.schedule!r} (choose from {', '.join(SCHEDULES)})")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"unknown optimizer {self.optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
        if not 0 <= self.validation_split < 0.5:
            problems.append("the validation split must be between 0 and 0.5")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            problems.append("dropout must be at least 0 and below 1")
        if self.l2 is not None and not 0 <= self.l2 <= 1:
            problems.append("L2 must be from 0 to 1")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 0:
            problems.append("the early-stopping patience must not be negative (0 or none: off)")
        if self.early_stopping_patience and not self.validation_split and family == "keras":
            problems.append("early stopping watches the validation loss: it needs a validation split above 0")
        if not 0 <= self.seed < 2**32:
            problems.append("the seed must be a whole number from 0 to 4294967295")
        if self.flip_tta and family == "sklearn":
            problems.append("averaging with the mirror image is for the Keras models")
        if self.cv_folds is not None and family == "keras":
            problems.append("k-fold cross-validation is for the scikit-learn models (sk_...)")
        if self.cv_folds is not None and not 2 <= self.cv_folds <= 10:
            problems.append("cross-validation needs 2 to 10 folds")
        if self.train_limit is not None and self.train_limit < 20:
            problems.append("train_limit must be at least 20 images")
        if problems:
            raise TrainingError("; ".join(problems))


# The quick and standard networks underfit in so few epochs, so they train without dropout
# (which cost them accuracy); batches of 256 cost less per image than 128 and still train
# stably (512 did not), which buys the standard preset two more epochs in the same time.
# The figures behind these choices, seed by seed, are in bench/RESULTS.md and bench/NOTES.md.
# The lowest test accuracy each preset reached over the seeds measured there: a run of the
# same model far below it is no success, whatever its settings.
PRESET_ACCURACY: dict[str, float] = {"quick": 0.906, "standard": 0.928, "best": 0.947}

PRESETS: dict[str, TrainConfig] = {
    # Mirrored images in training and flip averaging at test time go together: averaging
    # alone, for a model that never saw a mirror image, cost 3 points (88.8% against 92.2%).
    "quick": TrainConfig(
        model="fast_cnn",
        epochs=3,
        batch_size=256,
        learning_rate=1.6e-2,
        schedule="onecycle",
        dropout=0.0,
        augment=AUGMENTATIONS["flip"],
        validation_split=0.05,
        flip_tta=True,
    ),
    "standard": TrainConfig(
        model="standard_cnn",
        epochs=14,
        batch_size=256,
        learning_rate=1.2e-2,
        schedule="onecycle",
        dropout=0.0,
        augment=AUGMENTATIONS["flip"],
        validation_split=0.05,
        flip_tta=True,
    ),
    # 60 epochs and dropout 0.25: with fewer epochs or more dropout the model still fitted
    # its augmented training images no better than the validation images (it underfitted).
    "best": TrainConfig(
        model="strong_cnn",
        epochs=60,
        batch_size=128,
        learning_rate=3e-3,
        schedule="onecycle",
        dropout=0.25,
        augment=AUGMENTATIONS["light"],
        validation_split=0.05,
        flip_tta=True,
    ),
}


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class PhaseChange:
    phase: str  # setting up | fitting | evaluating | cross-validating
    detail: str


@dataclass(frozen=True)
class BatchProgress:
    epoch: int  # 0-based
    step: int  # steps done in this epoch
    steps_per_epoch: int
    loss: float
    accuracy: float
    learning_rate: float
    images_per_second: float


@dataclass(frozen=True)
class EpochEnd:
    epoch: int  # 0-based
    epochs: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float
    elapsed: float  # seconds since fit began
    eta_seconds: float
    preview_predictions: tuple[int, ...]  # labels for the first preview_count test images
    layers: LayerSnapshot | None = None  # first-layer filters, the first preview image's maps


@dataclass(frozen=True)
class FitProgress:
    """A fit without epochs that grows in stages (a forest, tree by tree)."""

    done: int
    total: int
    unit: str  # what is counted: "trees"
    elapsed: float  # seconds since the fit began


@dataclass(frozen=True)
class TrainingDone:
    elapsed: float
    stopped_early: bool
    reason: str  # completed | stopped | early stopping


Event = PhaseChange | BatchProgress | EpochEnd | FitProgress | TrainingDone
EventHandler = Callable[[Event], None]


# ---------------------------------------------------------------- data


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices shuffled, then interleaved class by class: every prefix is nearly balanced."""
    shuffled = np.random.default_rng(seed).permutation(len(labels))
    rank = np.empty(len(labels), np.int64)
    for c in np.unique(labels):
        members = shuffled[labels[shuffled] == c]
        rank[members] = np.arange(len(members))
    return shuffled[np.argsort(rank[shuffled], kind="stable")]


def split_train(config: TrainConfig, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices) into data.x_train, both stratified, from the seed."""
    order = stratified_order(data.y_train, config.seed)
    if config.train_limit:
        order = order[: config.train_limit]
    held = int(round(len(order) * config.validation_split))
    # The interleaved order puts one of each class first, so a prefix is a stratified sample.
    return np.sort(order[held:]), np.sort(order[:held])


# ---------------------------------------------------------------- Keras


def endless_batches(
    images: np.ndarray, labels: np.ndarray, batch_size: int, augmentation: Augmentation | None = None, seed: int = 0
) -> tf.data.Dataset:
    """Batches in a fresh random order every pass, without end; a pass is ceil(N / batch_size)
    batches (an epoch may take a few more, see epoch_steps), freshly augmented if asked (in
    NumPy, see augment.py). Images stay uint8 in memory and become float32 per batch."""
    stored_images, stored_labels = tf.constant(images), tf.constant(labels)

    def one_pass(_: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.shuffle(tf.range(len(images), dtype=tf.int64))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    def gather(rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.cast(tf.gather(stored_images, rows), tf.float32), tf.gather(stored_labels, rows)

    dataset = tf.data.Dataset.range(1).repeat().flat_map(one_pass).map(gather)
    if augmentation is not None and augmentation.active:
        rng = np.random.default_rng(seed)

        def augment(batch: tf.Tensor, batch_labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            altered = tf.numpy_function(lambda x: augmentation(x, rng), [batch], tf.float32)
            return tf.ensure_shape(altered, [None, 28, 28]), batch_labels

        dataset = dataset.map(augment)  # one batch at a time: the generator is not thread-safe
    return _without_autotune(dataset)


def in_batches(images: np.ndarray, labels: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """The images once, in order (for validation)."""
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    return _without_autotune(dataset.map(lambda x, y: (tf.cast(x, tf.float32), y)))


def _without_autotune(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """tf.data's autotuner runs in a thread that sleeps for growing periods (seconds, then
    tens of seconds) and an iterator's destructor waits for it to wake: Keras makes a new
    iterator for every epoch of an array input, so training stalled with idle cores at each
    epoch start and after the last epoch (seconds per stall). A pipeline
    without the autotuner does not stall; batches are gathered fast enough to need no tuning."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(2).with_options(options)


def _strategy(config: TrainConfig) -> tf.distribute.Strategy:
    """All GPUs (or the configured devices) when more than one: same code, more devices."""
    devices = list(config.devices or [d.name for d in tf.config.list_logical_devices("GPU")])
    if len(devices) > 1:
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def _learning_rate(config: TrainConfig, total_steps: int) -> Any:
    lr = config.learning_rate
    if config.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, total_steps, alpha=0.01)
    if config.schedule == "onecycle":
        warmup = max(1, int(0.3 * total_steps))
        return keras.optimizers.schedules.CosineDecay(
            lr / 25, max(1, total_steps - warmup), alpha=0.004, warmup_target=lr, warmup_steps=warmup
        )
    return lr


def _optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    lr = _learning_rate(config, total_steps)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=1e-4)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True)
    return keras.optimizers.Adam(lr)


def _current_lr(model: keras.Model) -> float:
    return float(np.asarray(model.optimizer.learning_rate))


class StopOnEvent(keras.callbacks.Callback):
    """Ends fit at the next step boundary once `stop` is set, keeping the weights."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.stop.is_set():
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """A stop asked for at an epoch's end (a sweep's pruner reads EpochEnd) ends the fit
        there, before another epoch begins."""
        self.on_train_batch_end(0)


class ReportBatches(keras.callbacks.Callback):
    """BatchProgress after each compiled call (every `steps_per_execution` steps)."""

    def __init__(self, emit: EventHandler, steps_per_epoch: int, batch_size: int) -> None:
        super().__init__()
        self.emit, self.steps_per_epoch, self.batch_size = emit, steps_per_epoch, batch_size
        self.epoch, self.last_step, self.last_time = 0, 0, time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch, self.last_step, self.last_time = epoch, 0, time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        logs, now, step = logs or {}, time.perf_counter(), batch + 1
        rate = (step - self.last_step) * self.batch_size / max(now - self.last_time, 1e-9)
        self.last_step, self.last_time = step, now
        self.emit(
            BatchProgress(
                self.epoch,
                step,
                self.steps_per_epoch,
                float(logs.get("loss", math.nan)),
                float(logs.get("accuracy", math.nan)),
                _current_lr(self.model),
                rate,
            )
        )


class ReportEpochs(keras.callbacks.Callback):
    """EpochEnd with the live predictions for the preview images, the network's first
    filters and the first preview image's way through it, and the history."""

    def __init__(self, emit: EventHandler, epochs: int, preview: np.ndarray) -> None:
        super().__init__()
        self.emit, self.epochs, self.preview = emit, epochs, preview
        self.start = time.perf_counter()
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {**(logs or {}), "learning_rate": _current_lr(self.model)}
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        elapsed = time.perf_counter() - self.start
        labels = self.model(self.preview, training=False).numpy().argmax(axis=1) if len(self.preview) else ()
        self.emit(
            EpochEnd(
                epoch,
                self.epochs,
                float(logs["loss"]),
                float(logs["accuracy"]),
                _maybe(logs.get("val_loss")),
                _maybe(logs.get("val_accuracy")),
                logs["learning_rate"],
                elapsed,
                elapsed / (epoch + 1) * (self.epochs - epoch - 1),
                tuple(int(v) for v in labels),
                snapshot(self.model, self.preview[0]) if len(self.preview) else None,
            )
        )


def _maybe(value: Any) -> float | None:
    return None if value is None else float(value)


def epoch_steps(images: int, batch_size: int, per_call: int) -> tuple[int, int]:
    """Steps per epoch and steps per compiled call, the first a multiple of the second.

    Keras runs whole calls: with 223 steps an epoch and 16 a call it runs 224, past the end
    of the learning-rate schedule and of the progress count. So an epoch is rounded up to
    whole calls (taking the next batches of the endless stream) when that adds at most 2%
    of its steps; otherwise fewer steps go in a call.
    """
    steps = math.ceil(images / batch_size)
    if steps < 1 or per_call < 1:
        raise TrainingError(f"no training steps: {images} images in batches of {batch_size}")
    for candidate in range(min(per_call, steps), 1, -1):
        rounded = math.ceil(steps / candidate) * candidate
        if rounded - steps <= 0.02 * steps:
            return rounded, candidate
    return steps, 1


def planned_steps(config: TrainConfig, available: int) -> int:
    """The optimiser steps a Keras run of `config` takes when `available` training images
    exist (before its validation share is held out), as `_fit_keras` counts them."""
    images = min(config.train_limit or available, available)
    train_images = images - int(round(images * config.validation_split))
    return epoch_steps(train_images, config.batch_size, config.steps_per_execution)[0] * config.epochs


def epochs_for_full_steps(config: TrainConfig, available: int) -> int:
    """Epochs that give a run on `config.train_limit` images at least the optimiser steps of
    the same run on all `available` images. Fewer images in as many epochs means fewer
    steps, and those, not the images, decide how far a network gets: the quick preset
    reached 90.8% on 60,000 images but 48.8% on 10,000 in its 3 epochs."""
    full = planned_steps(replace(config, train_limit=None), available)
    return max(config.epochs, math.ceil(full / planned_steps(replace(config, epochs=1), available)))


def _fit_keras(
    config: TrainConfig, spec: ModelSpec, data: Dataset, emit: EventHandler, stop: threading.Event
) -> tuple[KerasClassifier, dict[str, Any]]:
    train_idx, val_idx = split_train(config, data)
    x_train, y_train = data.x_train[train_idx], data.y_train[train_idx]
    strategy = _strategy(config)
    # Keras 3.15 fails under MirroredStrategy with steps_per_execution > 1 (a placeholder
    # error inside multi_step_on_iterator, seen here on two logical CPUs): one step per call.
    per_call = config.steps_per_execution if strategy.num_replicas_in_sync == 1 else 1
    steps_per_epoch, per_call = epoch_steps(len(train_idx), config.batch_size, per_call)
    with strategy.scope():
        model = spec.build(**config.model_options())
        compile_model(model, _optimizer(config, steps_per_epoch * config.epochs), per_call)
    preview = data.x_test[: config.preview_count].astype(np.float32)
    epochs_cb = ReportEpochs(emit, config.epochs, preview)
    callbacks = [ReportBatches(emit, steps_per_epoch, config.batch_size), epochs_cb, StopOnEvent(stop)]
    early = None
    if config.early_stopping_patience and len(val_idx):
        early = keras.callbacks.EarlyStopping(patience=config.early_stopping_patience, restore_best_weights=True)
        callbacks.append(early)
    validation = None
    if len(val_idx):
        validation = in_batches(data.x_train[val_idx], data.y_train[val_idx], config.batch_size)
    batches = endless_batches(x_train, y_train, config.batch_size, config.augment, config.seed)
    devices = strategy.num_replicas_in_sync
    emit(
        PhaseChange(
            "fitting",
            f"{len(train_idx):,} training images, {len(val_idx):,} for "
            f"validation{f', on {devices} devices' if devices > 1 else ''}",
        )
    )
    model.fit(
        batches,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,
        epochs=config.epochs,
        validation_data=validation,
        callbacks=callbacks,
        verbose=0,
    )
    reason = (
        "stopped"
        if stop.is_set()
        else "early stopping"
        if early is not None and early.stopped_epoch > 0
        else "completed"
    )
    extra = {
        "history": epochs_cb.history,
        "reason": reason,
        "replicas": strategy.num_replicas_in_sync,
        "train_images": len(train_idx),
        "validation_images": len(val_idx),
        "steps_per_epoch": steps_per_epoch,
        "optimizer_steps": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
    }
    return KerasClassifier(with_keras_layers(model), spec.kind, flip_tta=config.flip_tta), extra


# ---------------------------------------------------------------- scikit-learn


def _sklearn_train_indices(config: TrainConfig, spec: ModelSpec, data: Dataset) -> np.ndarray:
    """Every training image (no validation split), or the model's stratified subset."""
    train_idx, _ = split_train(replace(config, validation_split=0.0), data)
    if spec.train_subset and len(train_idx) > spec.train_subset:
        order = stratified_order(data.y_train[train_idx], config.seed)
        train_idx = np.sort(train_idx[order[: spec.train_subset]])
    return train_idx


TREES_PER_STAGE = 10  # a forest grows this many trees between progress events


def _fit_sklearn(
    config: TrainConfig, spec: ModelSpec, data: Dataset, emit: EventHandler, stop: threading.Event
) -> tuple[SklearnClassifier, dict[str, Any]]:
    train_idx = _sklearn_train_indices(config, spec, data)
    estimator = spec.build(seed=config.seed)
    flat = data.x_train[train_idx].reshape(len(train_idx), -1) / 255.0
    labels = data.y_train[train_idx]
    extra: dict[str, Any] = {
        "history": {},
        "reason": "completed",
        "train_images": len(train_idx),
        "validation_images": 0,
    }
    if "warm_start" in estimator.get_params() and "n_estimators" in estimator.get_params():
        emit(PhaseChange("fitting", f"{len(train_idx):,} training images, {TREES_PER_STAGE} trees at a time"))
        extra["reason"] = _grow_forest(estimator, flat, labels, emit, stop)
        extra["trees"] = len(estimator.estimators_)  # fewer than planned after a stop
    else:
        emit(
            PhaseChange(
                "fitting",
                f"{len(train_idx):,} training images; this model cannot "
                "report progress inside its fit, nor stop part-way",
            )
        )
        estimator.fit(flat, labels)
    return SklearnClassifier(estimator, spec.kind), extra


def _grow_forest(
    estimator: Any, images: np.ndarray, labels: np.ndarray, emit: EventHandler, stop: threading.Event
) -> str:
    """Fit a forest a few trees at a time, so it reports progress and a stop keeps the trees
    grown so far. The trees are the ones a single fit grows, because the zoo gives the forest
    an integer random_state: each stage re-seeds from it and skips the seeds of the trees
    already grown."""
    total, start = estimator.n_estimators, time.perf_counter()
    images = images.astype(np.float32)  # what every fit would convert to, once instead
    estimator.set_params(warm_start=True)
    try:
        for trees in range(TREES_PER_STAGE, total + TREES_PER_STAGE, TREES_PER_STAGE):
            estimator.set_params(n_estimators=min(trees, total))
            estimator.fit(images, labels)
            emit(FitProgress(estimator.n_estimators, total, "trees", time.perf_counter() - start))
            if stop.is_set() and estimator.n_estimators < total:
                return "stopped"
        return "completed"
    finally:
        estimator.set_params(warm_start=False)


def _cross_validate(
    config: TrainConfig, folds: int, spec: ModelSpec, data: Dataset, emit: EventHandler
) -> dict[str, Any]:
    """`folds` (config.cv_folds, when set) fits on the training images the model will use,
    kept out of the training time: how much the score moves with the split, which the one
    test figure hides."""
    train_idx = _sklearn_train_indices(config, spec, data)
    fewest = int(np.bincount(data.y_train[train_idx]).min())
    if fewest < folds:
        raise TrainingError(
            f"{folds}-fold cross-validation needs at least "
            f"{folds} training images of every class; one class has {fewest}"
        )
    emit(
        PhaseChange(
            "cross-validating", f"{folds} folds of {len(train_idx):,} training images (the test set is not used)"
        )
    )
    return cross_validate_sklearn(
        lambda: spec.build(seed=config.seed),
        data.x_train[train_idx],
        data.y_train[train_idx],
        folds=folds,
        seed=config.seed,
    )


# ---------------------------------------------------------------- entry point


def _test_set_figures(
    config: TrainConfig, spec: ModelSpec, classifier: Classifier, data: Dataset, emit: EventHandler
) -> dict[str, Any]:
    """Test metrics (with the accuracy without mirror averaging) and the `unsure` rule."""
    emit(PhaseChange("evaluating", f"{len(data.y_test):,} test images"))
    figures: dict[str, Any] = {"metrics": evaluate(classifier.predict_proba(data.x_test), data.y_test).to_dict()}
    if config.flip_tta and isinstance(classifier, KerasClassifier):  # validate(): Keras only
        plain = KerasClassifier(classifier.model, spec.kind).predict_proba(data.x_test)
        figures["accuracy_without_tta"] = float((plain.argmax(axis=1) == data.y_test).mean())
    _, val_idx = split_train(config, data)
    if spec.family == "keras" and len(val_idx):
        # The `unsure` threshold is chosen on images the model never trained on; a
        # scikit-learn model trains on every image, so it keeps the default rule.
        figures["unsure"] = calibrate_unsure(classifier, data.x_train[val_idx], data.y_train[val_idx])
    return figures


def train(
    config: TrainConfig,
    data: Dataset,
    on_event: EventHandler | None = None,
    stop: threading.Event | None = None,
    test_set: bool = True,
) -> Classifier:
    """Train `config.model`, evaluate it on the test set and return it with its meta filled.

    `test_set=False` leaves the test images alone (no metrics, no `unsure` calibration): a
    sweep's trials are chosen on validation accuracy, and the test set must stay unseen until
    the chosen configuration is trained for good (set `preview_count=0` too)."""
    config.validate()
    emit = on_event or (lambda event: None)
    stop = stop or threading.Event()
    spec = ZOO[config.model]
    emit(PhaseChange("setting up", f"{spec.title}: seed {config.seed}"))
    keras.utils.set_random_seed(config.seed)
    # Before the fit, so that folds that cannot be made fail before the long part.
    cross_validation = _cross_validate(config, config.cv_folds, spec, data, emit) if config.cv_folds else None
    start = time.perf_counter()
    fit = _fit_keras if spec.family == "keras" else _fit_sklearn
    classifier, extra = fit(config, spec, data, emit, stop)
    if cross_validation is not None:
        extra["cross_validation"] = cross_validation
    train_seconds = time.perf_counter() - start
    if test_set:
        extra.update(_test_set_figures(config, spec, classifier, data, emit))
    reason = extra.pop("reason")
    classifier.meta.update(
        kind=spec.kind,
        title=spec.title,
        description=spec.description,  # the model card says what the model traded, e.g. the SVM
        config=asdict(config),
        params=int(classifier.params),
        dataset_checksum=data.checksum,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        train_seconds=round(train_seconds, 2),
        stopped_early=reason != "completed",
        stop_reason=reason,
        flip_tta=bool(getattr(classifier, "flip_tta", False)),
        **extra,
    )
    emit(TrainingDone(train_seconds, reason != "completed", reason))
    return classifier
