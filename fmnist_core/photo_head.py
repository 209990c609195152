"""The bundled CNN tuned for phone photos: the same convolutions, a new last layer.

The bundled model learnt catalogue thumbnails. What the photo path makes of a real photo
(flat-lay garments, prints, folds, shadows) lands elsewhere in its feature space, so photos
come out uncertain or wrong. Refitting only the last layer, on the CNN's features of
Fashion-MNIST training images plus labelled real photos (each also mirrored and shifted),
moves the decision boundaries to where photos land, while the features stay those learnt
from 60,000 images.

Photos of garments Fashion-MNIST has no class for (hats, shorts, skirts) and synthetic
non-garments get uniform targets (outlier exposure, Hendrycks et al. 2019), so the model
learns to spread its belief over them; its `unsure` flag uses the energy score
(log-sum-exp of the logits, Liu et al. 2020) with a threshold chosen on cross-validated
photos. Every figure about photos comes from folds the scored photos were not fitted on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.classifier import Classifier, KerasClassifier, last_dense
from fmnist_core.data import Dataset
from fmnist_core.errors import FmnistError
from fmnist_core.prediction import ENERGY_RULE, energy, synthetic_ood

UPPER_BODY = frozenset({0, 2, 4, 6})
# A folder of photos per garment, as in ../shared/photos/README.md: the exact class where
# there is one (strict), the classes that count as right (loose), or neither (no class fits).
STRICT = {"dress": 3, "pants": 1, "t-shirt": 0, "shirt": 6, "outwear": 4}
LOOSE = {"dress": frozenset({3}), "pants": frozenset({1}), "t-shirt": UPPER_BODY,
         "shirt": UPPER_BODY, "outwear": UPPER_BODY, "longsleeve": UPPER_BODY,
         "shoes": frozenset({5, 7, 9})}
OUT_OF_SCOPE = frozenset({"hat", "shorts", "skirt"})

FMNIST_IMAGES = 20000  # training images whose features anchor the head to the dataset
PHOTO_WEIGHT = 20.0  # a photo (and its mirror) counts this many dataset images
PHOTO_SHIFT = 2  # pixels: the shifted views of each photo the layer is also fitted on
OUT_OF_SCOPE_WEIGHT = 1.0  # relative to PHOTO_WEIGHT, per photo with no class
SYNTHETIC_WEIGHT = 0.5  # per synthetic non-garment (digits, blobs, noise, outlines)
C = 0.1  # inverse L2 strength of the refitted layer: strong, 128 inputs from few photos
# The threshold flags this share of the out-of-scope photos' out-of-fold energies: above
# the 70% target, since a threshold set exactly there flags fewer on new photos about half
# the time. It leaves 13.1% of the photos of garments unsure (`photo-model` output).
TARGET_UNSURE_OUT_OF_SCOPE = 0.8
FOLDS = 5


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
    from fmnist_core.image_input import SUFFIXES, read_image_file
    from fmnist_core.photo import prepare

    files = sorted(p for p in Path(folder).glob("*/*") if p.suffix.lower() in SUFFIXES
                   and (p.parent.name in LOOSE or p.parent.name in OUT_OF_SCOPE))
    if not files:
        known = ", ".join(sorted({*LOOSE, *OUT_OF_SCOPE}))
        where = "does not exist" if not Path(folder).is_dir() else "has no photos in <class>/ folders"
        raise PhotoSetError(f"{folder} {where} (class folders: {known})")
    images, names, kept, skipped = [], [], [], []
    for path in files:
        try:
            images.append(prepare(read_image_file(path)).image28)
        except FmnistError as exc:
            skipped.append((str(path), str(exc)))
            continue
        names.append(path.parent.name)
        kept.append(str(path))
    if not images:
        raise PhotoSetError(f"none of the {len(files)} photos in {folder} could be read "
                            f"(first: {skipped[0][0]}: {skipped[0][1]})")
    photos = PhotoSet(np.stack(images), np.array(names), kept, str(Path(folder).resolve()), skipped)
    if not photos.out_of_scope.any() or not photos.mapped.any():
        raise PhotoSetError(
            f"{folder} needs photos of garments with a class (e.g. t-shirt/) and of garments "
            f"with none ({', '.join(sorted(OUT_OF_SCOPE))}/): the unsure threshold is chosen "
            "between the two")
    return photos


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
    return PhotoScores(share(strict_rows, strict_hits), share(photos.mapped, loose_hits),
                       share(photos.out_of_scope, unsure), share(photos.mapped, unsure),
                       per_folder)


# ---------------------------------------------------------------- fitting


@dataclass
class _Features:
    """The trunk's features of everything the head is fitted on, computed once."""

    dataset: np.ndarray
    dataset_labels: np.ndarray
    photo_views: list[np.ndarray]  # each photo as is, mirrored, then shifted (fitting only)
    photo_labels: np.ndarray  # -1: no class fits (uniform target)
    synthetic: np.ndarray


def _photo_labels(trunk: KerasClassifier, photos: PhotoSet) -> np.ndarray:
    """Strict folders have their class; loose ones (long sleeves, shoes) the class among
    those that count which the bundled model finds likeliest; out-of-scope photos -1."""
    probabilities = trunk.predict_proba(photos.images)
    labels = np.full(len(photos.folders), -1)
    for i, name in enumerate(photos.folders):
        if name in STRICT:
            labels[i] = STRICT[name]
        elif name in LOOSE:
            allowed = sorted(LOOSE[name])
            labels[i] = allowed[int(np.argmax(probabilities[i, allowed]))]
    return labels


def _gather(trunk: KerasClassifier, data: Dataset, photos: PhotoSet, seed: int) -> _Features:
    rows = np.random.default_rng(seed).choice(len(data.y_train), min(FMNIST_IMAGES, len(data.y_train)),
                                              replace=False)
    return _Features(
        dataset=trunk.predict_features(data.x_train[rows]), dataset_labels=data.y_train[rows],
        photo_views=[trunk.predict_features(view) for view in _views(photos.images)],
        photo_labels=_photo_labels(trunk, photos),
        synthetic=trunk.predict_features(synthetic_ood(seed=seed)),
    )


def _views(images: np.ndarray) -> list[np.ndarray]:
    """The photo and its mirror (what the app averages), then both moved by PHOTO_SHIFT
    pixels in four directions: segmentation crops vary by a few pixels, and 341 photos
    are few, so the layer is fitted on all ten views."""
    from fmnist_core.augment import shifted

    both = [images, images[:, :, ::-1]]
    moves = ((PHOTO_SHIFT, 0), (-PHOTO_SHIFT, 0), (0, PHOTO_SHIFT), (0, -PHOTO_SHIFT))
    return both + [shifted(view, dx, dy) for view in both for dx, dy in moves]


def _uniform(features: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform targets as ten copies, one per class, each with a tenth of the weight: the
    cross-entropy against a uniform distribution, in a solver that takes hard labels."""
    return (np.repeat(features, 10, axis=0), np.tile(np.arange(10), len(features)),
            np.full(10 * len(features), weight / 10))


def _fit_layer(f: _Features, photo_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The new last layer (kernel (D, 10), bias (10,)) from the dataset and the given photos."""
    from sklearn.linear_model import LogisticRegression

    labels = f.photo_labels[photo_rows]
    garments, others = photo_rows[labels >= 0], photo_rows[labels < 0]
    weight = 2 * PHOTO_WEIGHT / len(f.photo_views)  # a photo's views weigh 2 x PHOTO_WEIGHT
    parts = [(f.dataset, f.dataset_labels, np.ones(len(f.dataset_labels)))]
    for view in f.photo_views:
        parts.append((view[garments], f.photo_labels[garments], np.full(len(garments), weight)))
        parts.append(_uniform(view[others], weight * OUT_OF_SCOPE_WEIGHT))
    parts.append(_uniform(f.synthetic, SYNTHETIC_WEIGHT))
    x, y, weights = (np.concatenate(column) for column in zip(*parts))
    fitted = LogisticRegression(C=C, max_iter=500).fit(x, y, sample_weight=weights)
    return fitted.coef_.T.astype(np.float32), fitted.intercept_.astype(np.float32)


def _logits(f: _Features, rows: np.ndarray, layer: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Logits of the photos at `rows`, averaged with their mirror images (as the app does)."""
    kernel, bias = layer
    return sum(view[rows] @ kernel + bias for view in f.photo_views[:2]) / 2


def _flagging(scores: np.ndarray, share: float) -> float:
    """A threshold (4 decimals, as stored) with at least `share` of `scores` under it."""
    ranked = np.sort(scores)
    wanted = int(np.ceil(share * len(ranked)))
    threshold = float(ranked[wanted]) if wanted < len(ranked) else float(ranked[-1]) + 1e-3
    return math.ceil(threshold * 1e4) / 1e4


def _folds(photos: PhotoSet, folds: int, seed: int) -> list[np.ndarray]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(photos.images, photos.folders)]


@dataclass
class PhotoHeadResult:
    classifier: KerasClassifier
    cross_validated: PhotoScores  # each photo scored by a head not fitted on it
    threshold: float


def fit_photo_model(trunk: KerasClassifier, data: Dataset, photos: PhotoSet,
                    folds: int = FOLDS, seed: int = 0) -> PhotoHeadResult:
    """Cross-validate the recipe on `photos`, choose the `unsure` threshold on the
    out-of-fold energies, then fit the head on every photo and build the model."""
    if not isinstance(trunk, KerasClassifier):
        raise PhotoSetError(f"a photo model is tuned from a Keras model, not {trunk.kind}")
    smallest = min(int((photos.folders == name).sum()) for name in set(photos.folders))
    if not 2 <= folds <= smallest:
        raise PhotoSetError(f"cross-validation needs 2 to {smallest} folds here (the smallest "
                            f"class folder has {smallest} photos), not {folds}")
    features = _gather(trunk, data, photos, seed)
    every = np.arange(len(photos.folders))
    out_of_fold = np.zeros((len(every), 10), np.float32)
    for test in _folds(photos, folds, seed):
        out_of_fold[test] = _logits(features, test, _fit_layer(features, np.setdiff1d(every, test)))
    scores_oof = energy(out_of_fold)
    outside = photos.out_of_scope
    threshold = _flagging(scores_oof[outside], TARGET_UNSURE_OUT_OF_SCOPE)
    cross_validated = score(photos, out_of_fold.argmax(axis=1), scores_oof < threshold)
    layer = _fit_layer(features, every)
    classifier = KerasClassifier(_with_head(trunk.model, layer), trunk.kind, flip_tta=True)
    classifier.meta.update(
        photo_head=_describe(photos, cross_validated, folds),
        unsure={"rule": ENERGY_RULE, "threshold": threshold,
                "calibrated_on": f"out-of-fold energies of {len(every)} labelled photos "
                                 f"({int(outside.sum())} of garments with no class)",
                "unsure_rate_out_of_scope": round(cross_validated.unsure_out_of_scope, 4),
                "unsure_rate_mapped": round(cross_validated.unsure_mapped, 4)},
    )
    return PhotoHeadResult(classifier, cross_validated, threshold)


def _describe(photos: PhotoSet, cv: PhotoScores, folds: int) -> dict[str, Any]:
    return {
        "folder": photos.root,
        "photos": len(photos.folders),
        "per_folder": {name: int((photos.folders == name).sum()) for name in sorted(set(photos.folders))},
        "folds": folds,
        "cross_validated": {"strict": cv.strict, "loose": cv.loose,
                            "unsure_out_of_scope": cv.unsure_out_of_scope,
                            "unsure_mapped": cv.unsure_mapped},
        "recipe": {"dataset_images": FMNIST_IMAGES, "photo_weight": PHOTO_WEIGHT,
                   "photo_shift": PHOTO_SHIFT,
                   "out_of_scope_weight": OUT_OF_SCOPE_WEIGHT,
                   "synthetic_weight": SYNTHETIC_WEIGHT, "C": C},
    }


def _with_head(model: Any, layer: tuple[np.ndarray, np.ndarray]) -> Any:
    """The trunk up to its last Dense layer's input, then the refitted layer and a softmax."""
    import keras
    from keras import layers

    logits = layers.Dense(10, name="photo_logits")
    outputs = layers.Softmax(name="photo_probabilities")(logits(last_dense(model).input))
    tuned = keras.Model(model.inputs, outputs, name=f"{model.name}_photo")
    logits.set_weights(list(layer))
    return tuned


def photo_classifier_or_none() -> Classifier | None:
    """The bundled photo model, or None when it is missing, broken or tuned from another
    bundled model than today's (photos then go to the bundled model itself, which is
    worse at them but still answers)."""
    from fmnist_core import registry

    bundled = registry.read_entry(registry.default_model_path()).meta or {}
    try:
        tuned = registry.load(registry.photo_model_path())
    except FmnistError:
        return None
    return tuned if tuned.meta.get("trunk_saved_at") == bundled.get("saved_at") else None
