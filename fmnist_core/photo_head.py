"""The bundled CNN tuned for phone photos: the same convolutions, new dense layers after them.

The bundled model learnt catalogue thumbnails. What the photo path makes of a real photo
(flat-lay garments, prints, folds, shadows) lands elsewhere in its feature space, so photos
come out uncertain or wrong. The convolutions stay those learnt from 60,000 images; the
hidden dense layer and the last layer after them are refitted, starting from the bundled
model's, on the convolutions' features of Fashion-MNIST training images (which keep the
dataset accuracy), of labelled photos (../shared/photos/train, each also mirrored,
shifted and randomly altered) and of garments cut out of photos of people (../shared/photos/worn).

Photos of garments Fashion-MNIST has no class for (hats, shorts, skirts) and synthetic
non-garments get uniform targets (outlier exposure, Hendrycks et al. 2019), so the model
learns to spread its belief over them; its `unsure` flag says so when no logit stands
out (the largest logit's lead over the mean logit under a threshold chosen on the training
photos' out-of-fold logits, each scored by layers not fitted on it). Out of fold, that lead
told those photos from garments with a class better than the energy score (log-sum-exp,
Liu et al. 2020) the earlier photo models used, or the largest logit alone: uniform targets
even out the logits, not their level (bench/NOTES.md). Nothing is chosen
on the photos the model is measured on.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.calibration import synthetic_ood
from fmnist_core.classifier import Classifier, KerasClassifier, last_dense
from fmnist_core.data import Dataset, sample_indices
from fmnist_core.errors import FmnistError
from fmnist_core.prediction import LEAD_RULE, logit_lead
from fmnist_core.worn import WornSet

UPPER_BODY = frozenset({0, 2, 4, 6})
# A folder of photos per garment, as in ../shared/photos/README.md: the exact class where
# there is one (strict), the classes that count as right (loose), or neither (no class fits).
STRICT = {"dress": 3, "pants": 1, "t-shirt": 0, "shirt": 6, "outwear": 4}
LOOSE = {
    "dress": frozenset({3}),
    "pants": frozenset({1}),
    "t-shirt": UPPER_BODY,
    "shirt": UPPER_BODY,
    "outwear": UPPER_BODY,
    "longsleeve": UPPER_BODY,
    "shoes": frozenset({5, 7, 9}),
}
OUT_OF_SCOPE = frozenset({"hat", "shorts", "skirt"})
# Loose folders whose photos are fitted towards every class that counts, evenly. A long-sleeved
# top is a pullover, shirt, coat or top by cut; the bundled model's pick among those sent
# three in five of the training photos to Shirt or Coat, blurring the strict classes: spread
# evenly, strict accuracy rose out of fold (bench/NOTES.md, round four). Shoes keep the pick.
SPREAD = frozenset({"longsleeve"})

FMNIST_IMAGES = 20000  # training images whose features keep the head true to the dataset
PHOTO_WEIGHT = 6.0  # a photo (all its views) counts this many dataset images
PHOTO_SHIFT = 2  # pixels: the shifted views of each photo the head is also fitted on
# Randomly altered views of each photo, fitted on too: what a segmentation a little off (zoom,
# a part cut away) or another light makes of it. With SPREAD, out of fold better than the
# fixed views alone (bench/NOTES.md, round four).
AUGMENTED_VIEWS = 10
PHOTO_AUGMENTATION: dict[str, Any] = {"flip": True, "shift": 2, "scale": 0.1, "erase": 0.3, "photo": 0.6}
OUT_OF_SCOPE_WEIGHT = 1.0  # relative to PHOTO_WEIGHT, per photo with no class
WORN_WEIGHT = 1.0  # per garment cut out of a photo of a person (both its views)
SYNTHETIC_WEIGHT = 0.5  # per synthetic non-garment (digits, blobs, noise, outlines)
DROPOUT = 0.3  # on the refitted hidden layer, while the head is fitted
EPOCHS = 16  # out of fold better than 8 on every photo figure (bench/NOTES.md, round three)
LEARNING_RATE = 1e-3
BATCHNORM_EPSILON = 1e-3  # Keras' default, which the head's BatchNorm keeps
# The `unsure` threshold flags at most this share of the training photos of garments with
# a class (out of fold: the target), and as many out-of-scope ones as it can under
# that.
MAX_UNSURE_MAPPED = 0.10
FOLDS = 5
PIPELINE_MODULES = ("image_input.py", "photo.py", "thumbnail.py")  # what a prepared photo depends on
# The targets for new photos of the kind of ../shared/photos/dev.
TARGETS = {
    "strict": (">=", 0.92),
    "loose": (">=", 0.96),
    "unsure_out_of_scope": (">=", 0.85),
    "unsure_mapped": ("<=", 0.10),
}


class PhotoSetError(FmnistError):
    """A folder of labelled photos that cannot be used, explained for a person."""


@dataclass
class PhotoSet:
    """Labelled photos after the photo path: model inputs and the folder each came from."""

    images: np.ndarray  # (N, 28, 28) uint8, as prepare() made them
    folders: np.ndarray  # (N,) folder names, e.g. "t-shirt"
    files: list[str]
    root: str  # the folder holding the class folders
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)

    @property
    def mapped(self) -> np.ndarray:
        return np.array([name in LOOSE for name in self.folders])

    @property
    def out_of_scope(self) -> np.ndarray:
        return np.array([name in OUT_OF_SCOPE for name in self.folders])


def load_photo_set(folder: Path) -> PhotoSet:
    """Every photo in folder/<class>/ through decode and the photo path; unknown folders and
    unreadable files are skipped (and listed), so one bad file costs only itself."""
    from fmnist_core.image_input import SUFFIXES

    files = sorted(
        p
        for p in Path(folder).glob("*/*")
        if p.suffix.lower() in SUFFIXES and (p.parent.name in LOOSE or p.parent.name in OUT_OF_SCOPE)
    )
    if not files:
        known = ", ".join(sorted({*LOOSE, *OUT_OF_SCOPE}))
        where = "does not exist" if not Path(folder).is_dir() else "has no photos in <class>/ folders"
        raise PhotoSetError(f"{folder} {where} (class folders: {known})")
    prepared, reasons = _prepare_all(files)
    images = [prepared[i] for i in sorted(prepared)]
    names = [files[i].parent.name for i in sorted(prepared)]
    kept = [str(files[i]) for i in sorted(prepared)]
    skipped = [(str(files[i]), reasons[i]) for i in sorted(reasons)]
    if not images:
        raise PhotoSetError(
            f"none of the {len(files)} photos in {folder} could be read (first: {skipped[0][0]}: {skipped[0][1]})"
        )
    photos = PhotoSet(np.stack(images), np.array(names), kept, str(Path(folder).resolve()), skipped)
    if not photos.out_of_scope.any() or not photos.mapped.any():
        raise PhotoSetError(
            f"{folder} needs photos of garments with a class (e.g. t-shirt/) and of garments "
            f"with none ({', '.join(sorted(OUT_OF_SCOPE))}/): the unsure threshold is chosen "
            "between the two"
        )
    return photos


def _prepare_all(files: list[Path]) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """The photo path's output for each file by index, or why it failed. GrabCut takes about
    0.1 s a photo, so the result is cached (`paths.cache_dir()`) under a name made of the
    files' names and contents and the photo path's code: a changed photo or pipeline never
    meets an old result."""
    from fmnist_core import paths
    from fmnist_core.image_input import read_image_file
    from fmnist_core.photo import prepare

    digest = hashlib.sha256()
    for module in PIPELINE_MODULES:
        digest.update((Path(__file__).parent / module).read_bytes())
    for path in files:
        digest.update(f"{path.parent.name}/{path.name}:{photo_digest(path)}\n".encode())
    cache = paths.cache_dir() / "photo-sets" / f"{digest.hexdigest()[:32]}.npz"
    try:
        with np.load(cache) as stored:
            return (
                dict(zip(stored["kept"].tolist(), stored["images"])),
                dict(zip(stored["failed"].tolist(), stored["reasons"].tolist())),
            )
    except (OSError, ValueError, KeyError):  # not cached yet, or an unreadable leftover
        pass
    images, reasons = {}, {}
    for i, path in enumerate(files):
        try:
            images[i] = prepare(read_image_file(path)).image28
        except FmnistError as exc:
            reasons[i] = str(exc)
    with contextlib.suppress(OSError):  # a read-only cache only costs the next run time
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.stem}.{os.getpid()}.partial.npz")
        np.savez(
            partial,
            kept=np.array(list(images), int),
            failed=np.array(list(reasons), int),
            images=np.array(list(images.values()), np.uint8).reshape(-1, 28, 28),
            reasons=np.array(list(reasons.values()), str),
        )
        os.replace(partial, cache)
    return images, reasons


# ---------------------------------------------------------------- scores


@dataclass(frozen=True)
class PhotoScores:
    strict: float  # share of strict-folder photos whose top class is their class
    loose: float  # share of mapped photos whose top class is one that counts
    unsure_out_of_scope: float
    unsure_mapped: float
    per_folder: dict[str, dict[str, float]]


def score(photos: PhotoSet, labels: np.ndarray, unsure: np.ndarray) -> PhotoScores:
    """The photo targets' four figures (definitions: ../shared/photos/README.md)."""

    def share(rows: np.ndarray, hits: np.ndarray) -> float:
        return float(hits[rows].mean()) if rows.any() else float("nan")

    strict_rows = np.array([name in STRICT for name in photos.folders])
    strict_hits = np.array([STRICT.get(name) == label for name, label in zip(photos.folders, labels)])
    loose_hits = np.array([label in LOOSE.get(name, ()) for name, label in zip(photos.folders, labels)])
    per_folder = {}
    for name in sorted(set(photos.folders)):
        rows = photos.folders == name
        row = {"photos": int(rows.sum()), "unsure": share(rows, unsure)}
        if name in STRICT:
            row["strict"] = share(rows, strict_hits)
        if name in LOOSE:
            row["loose"] = share(rows, loose_hits)
        per_folder[name] = row
    return PhotoScores(
        share(strict_rows, strict_hits),
        share(photos.mapped, loose_hits),
        share(photos.out_of_scope, unsure),
        share(photos.mapped, unsure),
        per_folder,
    )


# ---------------------------------------------------------------- fitting


@dataclass
class _Features:
    """The convolutions' features of everything the head is fitted on, computed once."""

    dataset: np.ndarray
    dataset_labels: np.ndarray
    photo_views: list[np.ndarray]  # each photo as is, mirrored, then shifted and altered (fitting only)
    photo_targets: np.ndarray  # (N, 10): one-hot, spread over SPREAD's classes, or uniform where no class fits
    photo_outside: np.ndarray  # (N,) photos of garments with no class
    worn_views: list[np.ndarray]  # worn garments as is and mirrored
    worn_targets: np.ndarray
    synthetic: np.ndarray


def _targets(trunk: KerasClassifier, photos: PhotoSet) -> np.ndarray:
    """Strict folders have their class; shoes the shoe class the bundled model finds
    likeliest; long sleeves an even share of the upper-body classes (SPREAD); out-of-scope
    photos uniform."""
    probabilities = trunk.predict_proba(photos.images)
    targets = np.full((len(photos.folders), 10), 0.1, np.float32)
    for i, name in enumerate(photos.folders):
        allowed = sorted(LOOSE.get(name, ()))
        if name in STRICT:
            allowed = [STRICT[name]]
        elif name in LOOSE and name not in SPREAD:
            allowed = [allowed[int(np.argmax(probabilities[i, allowed]))]]
        if allowed:
            targets[i] = 0.0
            targets[i, allowed] = 1 / len(allowed)
    return targets


def _one_hot_or_uniform(labels: np.ndarray) -> np.ndarray:
    targets = np.full((len(labels), 10), 0.1, np.float32)
    known = labels >= 0
    targets[known] = np.eye(10, dtype=np.float32)[labels[known]]
    return targets


def _gather(trunk: KerasClassifier, data: Dataset, photos: PhotoSet, worn: WornSet | None, seed: int) -> _Features:
    rows = sample_indices(len(data.y_train), FMNIST_IMAGES, seed, ordered=False)
    features = _head_input(trunk)
    worn_images = worn.images if worn is not None else np.zeros((0, 28, 28), np.uint8)
    worn_labels = worn.labels if worn is not None else np.zeros(0, int)
    return _Features(
        dataset=features(data.x_train[rows]),
        dataset_labels=data.y_train[rows],
        photo_views=[features(view) for view in _views(photos.images) + _augmented(photos.images, seed)],
        photo_targets=_targets(trunk, photos),
        photo_outside=photos.out_of_scope,
        worn_views=[features(worn_images), features(worn_images[:, :, ::-1])],
        worn_targets=_one_hot_or_uniform(worn_labels),
        synthetic=features(synthetic_ood(seed=seed)),
    )


def _views(images: np.ndarray) -> list[np.ndarray]:
    """The photo and its mirror (what the app averages), then both moved by PHOTO_SHIFT
    pixels in four directions: segmentation crops vary by a few pixels."""
    from fmnist_core.augment import shifted

    both = [images, images[:, :, ::-1]]
    moves = ((PHOTO_SHIFT, 0), (-PHOTO_SHIFT, 0), (0, PHOTO_SHIFT), (0, -PHOTO_SHIFT))
    return both + [shifted(view, dx, dy) for view in both for dx, dy in moves]


def _augmented(images: np.ndarray, seed: int) -> list[np.ndarray]:
    """AUGMENTED_VIEWS random variants of every photo (fitting only, never scored)."""
    from fmnist_core.augment import Augmentation

    augment, rng = Augmentation(**PHOTO_AUGMENTATION), np.random.default_rng(seed + 1)
    return [np.clip(augment(images, rng), 0, 255) for _ in range(AUGMENTED_VIEWS)]


def _head_input(trunk: KerasClassifier) -> Any:
    """images -> the convolutions' features: the input of the hidden dense layer."""
    import keras

    model = trunk.model
    forward = keras.Model(model.inputs, _hidden_dense(model).input)
    return lambda images: forward.predict(np.asarray(images, np.float32), batch_size=512, verbose=0)


def _hidden_dense(model: Any) -> Any:
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(dense) < 2:
        raise PhotoSetError(f"a photo model is tuned from a CNN with a hidden dense layer, not {model.name}")
    return dense[-2]


def _head(inputs: Any, units: int, dropout: float) -> tuple[Any, Any]:
    """The layers refitted for photos, as the bundled strong CNN has them: dense, BatchNorm,
    ReLU, then the logits (dropout only while fitting)."""
    from keras import layers

    x = layers.Dropout(dropout, seed=0)(inputs) if dropout else inputs
    x = layers.Dense(units, use_bias=False, name="photo_dense")(x)
    x = layers.BatchNormalization(name="photo_dense_bn")(x)
    x = layers.ReLU(name="photo_dense_relu")(x)
    x = layers.Dropout(dropout, seed=1)(x) if dropout else x
    return x, layers.Dense(10, name="photo_logits")(x)


def _fit_head(trunk: KerasClassifier, f: _Features, photo_rows: np.ndarray, seed: int) -> list[np.ndarray]:
    """The head's weights, started from the bundled model's dense layers, fitted on the
    dataset, the given photos (all their views), the worn garments and the non-garments."""
    import keras

    model = trunk.model
    hidden = _hidden_dense(model)
    inputs = keras.Input((f.dataset.shape[1],))
    _, logits = _head(inputs, hidden.units, DROPOUT)
    head = keras.Model(inputs, logits)
    head.set_weights(_bundled_head_weights(model))
    head.get_layer("photo_dense_bn").trainable = False  # keep the dataset's statistics
    views = len(f.photo_views)
    weight = 2 * PHOTO_WEIGHT / views  # a photo's views weigh 2 x PHOTO_WEIGHT
    photo_weights = np.where(f.photo_outside[photo_rows], weight * OUT_OF_SCOPE_WEIGHT, weight)
    parts = [(f.dataset, np.eye(10, dtype=np.float32)[f.dataset_labels], np.ones(len(f.dataset)))]
    parts += [(view[photo_rows], f.photo_targets[photo_rows], photo_weights) for view in f.photo_views]
    parts += [(view, f.worn_targets, np.full(len(view), WORN_WEIGHT / 2)) for view in f.worn_views]
    parts.append(
        (f.synthetic, np.full((len(f.synthetic), 10), 0.1, np.float32), np.full(len(f.synthetic), SYNTHETIC_WEIGHT))
    )
    x, y, weights = (np.concatenate(column) for column in zip(*parts))
    keras.utils.set_random_seed(seed)
    head.compile(keras.optimizers.Adam(LEARNING_RATE), keras.losses.CategoricalCrossentropy(from_logits=True))
    head.fit(x, y, sample_weight=weights / weights.mean(), epochs=EPOCHS, batch_size=256, shuffle=True, verbose=0)
    return head.get_weights()


def _bundled_head_weights(model: Any) -> list[np.ndarray]:
    """The bundled model's hidden dense layer, its BatchNorm and last layer, as _head orders them."""
    import keras

    hidden = _hidden_dense(model)
    norms = [
        layer
        for layer in model.layers[model.layers.index(hidden) :]
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    if not norms or hidden.use_bias:
        raise PhotoSetError(f"a photo model is tuned from the bundled strong CNN, not {model.name}")
    return [*hidden.get_weights(), *norms[0].get_weights(), *last_dense(model).get_weights()]


def _logits(f_views: list[np.ndarray], rows: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """Logits of the photos at `rows`, averaged with their mirror images (as the app does):
    the head's inference pass in NumPy (BatchNorm with its moving statistics)."""
    kernel, gamma, beta, mean, variance, out_kernel, out_bias = weights

    def forward(features: np.ndarray) -> np.ndarray:
        hidden = (features @ kernel - mean) / np.sqrt(variance + BATCHNORM_EPSILON) * gamma + beta
        return np.maximum(hidden, 0) @ out_kernel + out_bias

    return (forward(f_views[0][rows]) + forward(f_views[1][rows])) / 2


def choose_threshold(mapped: np.ndarray, out_of_scope: np.ndarray) -> float:
    """The threshold (4 decimals, as stored) under which `unsure` is said, from out-of-fold
    scores (logit leads) of training photos: of the thresholds flagging at most
    MAX_UNSURE_MAPPED of the photos of garments with a class, the one flagging the most
    out-of-scope photos more. Candidates lie midway between neighbouring scores, so new
    photos near either side keep a margin."""
    values = np.unique(np.concatenate([mapped, out_of_scope]))
    candidates = np.round((values[1:] + values[:-1]) / 2, 4) if len(values) > 1 else values
    flagged_mapped = (mapped[None] < candidates[:, None]).mean(axis=1)
    flagged_outside = (out_of_scope[None] < candidates[:, None]).mean(axis=1)
    gain = np.where(flagged_mapped <= MAX_UNSURE_MAPPED, flagged_outside - flagged_mapped, -np.inf)
    return round(float(candidates[int(np.argmax(gain))]), 4)


def _folds(photos: PhotoSet, folds: int, seed: int) -> list[np.ndarray]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(photos.images, photos.folders)]


@dataclass
class PhotoHeadResult:
    classifier: KerasClassifier
    out_of_fold: PhotoScores  # the training photos, each scored by a head not fitted on it
    threshold: float


def fit_photo_model(
    trunk: KerasClassifier,
    data: Dataset,
    photos: PhotoSet,
    worn: WornSet | None = None,
    folds: int = FOLDS,
    seed: int = 0,
) -> PhotoHeadResult:
    """Fit the head `folds` times on all but one fold of `photos` to score each photo out of
    fold, choose the `unsure` threshold on those scores, then fit it on every photo and
    build the model. `worn` garments are in every fit."""
    if not isinstance(trunk, KerasClassifier):
        raise PhotoSetError(f"a photo model is tuned from a Keras model, not {trunk.kind}")
    smallest = min(int((photos.folders == name).sum()) for name in set(photos.folders))
    if not 2 <= folds <= smallest:
        raise PhotoSetError(
            f"cross-validation needs 2 to {smallest} folds here (the smallest "
            f"class folder has {smallest} photos), not {folds}"
        )
    _bundled_head_weights(trunk.model)  # refuse a trunk of another shape before the slow part
    features = _gather(trunk, data, photos, worn, seed)
    every = np.arange(len(photos.folders))
    out_of_fold = np.zeros((len(every), 10), np.float32)
    for test in _folds(photos, folds, seed):
        head = _fit_head(trunk, features, np.setdiff1d(every, test), seed)
        out_of_fold[test] = _logits(features.photo_views, test, head)
    scores = logit_lead(out_of_fold)
    threshold = choose_threshold(scores[photos.mapped], scores[photos.out_of_scope])
    oof = score(photos, out_of_fold.argmax(axis=1), scores < threshold)
    classifier = KerasClassifier(
        _with_head(trunk.model, _fit_head(trunk, features, every, seed)), trunk.kind, flip_tta=True
    )
    classifier.meta.update(
        photo_head=_describe(photos, worn, oof, folds),
        unsure={
            "rule": LEAD_RULE,
            "threshold": threshold,
            "calibrated_on": f"out-of-fold logit leads of {len(every)} labelled training photos "
            f"({int(photos.out_of_scope.sum())} of garments with no class)",
            "unsure_rate_out_of_scope": round(oof.unsure_out_of_scope, 4),
            "unsure_rate_mapped": round(oof.unsure_mapped, 4),
        },
    )
    return PhotoHeadResult(classifier, oof, threshold)


def _describe(photos: PhotoSet, worn: WornSet | None, oof: PhotoScores, folds: int) -> dict[str, Any]:
    return {
        "folder": photos.root,
        "photos": len(photos.folders),
        "per_folder": {name: int((photos.folders == name).sum()) for name in sorted(set(photos.folders))},
        "worn_garments": 0 if worn is None else len(worn.labels),
        "worn_photos": 0 if worn is None else worn.photos,
        "folds": folds,
        "out_of_fold": _figures(oof),
        "recipe": {
            "dataset_images": FMNIST_IMAGES,
            "photo_weight": PHOTO_WEIGHT,
            "photo_shift": PHOTO_SHIFT,
            "augmented_views": AUGMENTED_VIEWS,
            "spread": sorted(SPREAD),
            "out_of_scope_weight": OUT_OF_SCOPE_WEIGHT,
            "worn_weight": WORN_WEIGHT,
            "synthetic_weight": SYNTHETIC_WEIGHT,
            "dropout": DROPOUT,
            "epochs": EPOCHS,
            "learning_rate": LEARNING_RATE,
            "max_unsure_mapped": MAX_UNSURE_MAPPED,
        },
        # Which photos it was fitted on, by content: a benchmark on any folder can tell
        # in-sample figures from honest ones, wherever the photos are.
        "fitted_digests": sorted(photo_digest(Path(path)) for path in photos.files),
    }


def _figures(scores: PhotoScores) -> dict[str, Any]:
    """A PhotoScores as stored in meta, rounded to what anyone reads."""

    def rounded(value: float) -> float:
        return round(value, 4)

    return {
        "strict": rounded(scores.strict),
        "loose": rounded(scores.loose),
        "unsure_out_of_scope": rounded(scores.unsure_out_of_scope),
        "unsure_mapped": rounded(scores.unsure_mapped),
        "per_folder": {
            name: {key: rounded(value) if isinstance(value, float) else value for key, value in row.items()}
            for name, row in scores.per_folder.items()
        },
    }


def measure(classifier: Classifier, photos: PhotoSet) -> PhotoScores:
    """The photo figures of a model on photos, as the app predicts them."""
    from fmnist_core.prediction import predict

    predictions = predict(classifier, photos.images)
    return score(photos, np.array([p.label for p in predictions]), np.array([p.unsure for p in predictions]))


def measured_on(classifier: Classifier, photos: PhotoSet) -> dict[str, Any]:
    """`measure` as stored in meta, with the folder, its size and its weakest folders."""
    scores = measure(classifier, photos)
    hardest = sorted(
        (row.get("strict", row.get("loose", 1.0)), name) for name, row in scores.per_folder.items() if name in LOOSE
    )[:3]
    weakest = ", ".join(f"{name} {value:.0%} {'strict' if name in STRICT else 'loose'}" for value, name in hardest)
    return {"folder": Path(photos.root).name, "photos": len(photos.folders), **_figures(scores), "weakest": weakest}


def photo_digest(path: Path) -> str:
    """A photo's identity by content (12 hex digits of SHA-256), wherever the file lives."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def fitted_on(classifier: Classifier, files: list[str]) -> int | None:
    """How many of `files` the photo model was fitted on: 0 for a model not fitted on photos,
    None for an older photo model that does not record which photos it saw."""
    head = (classifier.meta or {}).get("photo_head")
    if not head:
        return 0
    if "fitted_digests" not in head:
        return None
    digests = set(head["fitted_digests"])
    return sum(photo_digest(Path(path)) in digests for path in files)


def _with_head(model: Any, weights: list[np.ndarray]) -> Any:
    """The trunk up to its hidden dense layer's input, then the refitted head and a softmax."""
    import keras
    from keras import layers

    hidden = _hidden_dense(model)
    _, logits = _head(hidden.input, hidden.units, 0.0)
    tuned = keras.Model(model.inputs, layers.Softmax(name="photo_probabilities")(logits), name=f"{model.name}_photo")
    kernel, *norm, out_kernel, out_bias = weights
    tuned.get_layer("photo_dense").set_weights([kernel])
    tuned.get_layer("photo_dense_bn").set_weights(norm)
    tuned.get_layer("photo_logits").set_weights([out_kernel, out_bias])
    return tuned


def photo_classifier_or_none() -> Classifier | None:
    """The bundled photo model, or None when it is missing, broken or tuned from another
    bundled model than the current one (photos then go to the bundled model itself, which is
    worse at them but still answers)."""
    from fmnist_core import registry

    bundled = registry.read_entry(registry.default_model_path()).meta or {}
    try:
        tuned = registry.load(registry.photo_model_path())
    except FmnistError:
        return None
    return tuned if tuned.meta.get("trunk_saved_at") == bundled.get("saved_at") else None
