"""Photo-head recipes compared out of fold in minutes instead of a `photo-model` rebuild each.

The head's inputs (the bundled model's 1,152 features before its hidden dense layer) of
everything the head is fitted on or measured with are computed once and cached; each recipe
is then fitted on `photo-model`'s own folds of ../shared/photos/train (and once on all of it
for dev/), and its figures appended to a JSON-lines file. Out-of-fold figures decide;
dev/ only reports (bench/NOTES.md, round four).

    .venv/bin/python bench/photo_recipes.py NAME [key=value ...]    # e.g. base, or spread=4

Keys (defaults: round three's recipe; round four's, shipped, is spread=4 aug=10): epochs,
aug (augmented views per photo, added to the ten fitted ones), heads (logits averaged),
balance (photo weights times (mean folder size / folder size) ** balance), spread (targets
of the loose folders: 0 the bundled model's pick, 1 long sleeves as Pullover, 2 the bundled
model's probabilities over the classes that count, 3 even over them, 4 long sleeves only
even over them), tta (views averaged at test time: 2 is the photo and its mirror, 10 adds
the shifted ones).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import fmnist_core.photo_head as ph  # noqa: E402
from fmnist_core.paths import DEV_PHOTOS_DIR, TRAIN_PHOTOS_DIR, WORN_PHOTOS_DIR, cache_dir  # noqa: E402
from fmnist_core.prediction import logit_lead  # noqa: E402

FEATURES = cache_dir() / "photo-recipes" / "features-2.npz"
RESULTS = cache_dir() / "photo-recipes" / "results.jsonl"
DEFAULTS = {"epochs": 16, "aug": 0, "heads": 1, "balance": 0.0, "spread": 0, "tta": 2}  # round three's
AUGMENTED_VIEWS = 10


def cached_features() -> Any:
    """Every array a recipe needs, computed on the first run (about a minute and a half)."""
    if not FEATURES.exists():
        FEATURES.parent.mkdir(parents=True, exist_ok=True)
        np.savez(FEATURES, **compute_features())
    return np.load(FEATURES)


def compute_features() -> dict[str, np.ndarray]:
    from fmnist_core import registry
    from fmnist_core.augment import Augmentation
    from fmnist_core.data import load_dataset
    from fmnist_core.worn import load_worn_set

    trunk, data = registry.load_default(), load_dataset()
    train, dev = ph.load_photo_set(TRAIN_PHOTOS_DIR), ph.load_photo_set(DEV_PHOTOS_DIR)
    f = ph._gather(trunk, data, train, load_worn_set(WORN_PHOTOS_DIR), 0)
    head_input = ph._head_input(trunk)
    augment = Augmentation(flip=True, shift=2, scale=0.1, erase=0.3, photo=0.6)
    rng = np.random.default_rng(1)
    out = {
        "ds": f.dataset,
        "ds_labels": f.dataset_labels,
        "bundled_proba": trunk.predict_proba(train.images),
        "worn0": f.worn_views[0],
        "worn1": f.worn_views[1],
        "worn_targets": f.worn_targets,
        "synthetic": f.synthetic,
        "train_folders": train.folders,
        "dev_folders": dev.folders,
        "test_labels": data.y_test,
    }
    out |= {f"train{i}": f.photo_views[i] for i in range(10)}
    out |= {f"dev{i}": head_input(view) for i, view in enumerate(ph._views(dev.images))}
    out |= {f"test{i}": head_input(view) for i, view in enumerate(ph._views(data.x_test))}
    out |= {f"aug{i}": head_input(np.clip(augment(train.images, rng), 0, 255)) for i in range(AUGMENTED_VIEWS)}
    return {key: value.astype(np.float16) if value.dtype == np.float32 else value for key, value in out.items()}


def fitted_targets(cfg: dict[str, float], F: Any) -> np.ndarray:
    """The photos' targets under the recipe's `spread` (see the module docstring)."""
    folders, likely, spread = F["train_folders"], F["bundled_proba"], int(cfg["spread"])
    targets = np.full((len(folders), 10), 0.1, np.float32)
    for row, name in enumerate(folders):
        allowed = sorted(ph.LOOSE.get(name, ()))
        if name in ph.STRICT:
            allowed = [ph.STRICT[name]]
        elif name == "longsleeve" and spread == 1:
            allowed = [2]
        elif allowed and (spread in (0, 1) or (spread == 4 and name != "longsleeve")):
            allowed = [allowed[int(np.argmax(likely[row, allowed]))]]
        if allowed:
            share = likely[row, allowed] / likely[row, allowed].sum() if spread == 2 else 1 / len(allowed)
            targets[row] = 0.0
            targets[row, allowed] = share
    return targets


def fit(cfg: dict[str, float], F: Any, targets: np.ndarray, rows: np.ndarray, seed: int, model: Any) -> list:
    """One head, as photo_head._fit_head fits it, with the recipe's changes."""
    import keras

    views = [F[f"train{i}"] for i in range(10)] + [F[f"aug{i}"] for i in range(int(cfg["aug"]))]
    folders = F["train_folders"]
    weights = np.full(len(rows), 2 * ph.PHOTO_WEIGHT / len(views))
    if cfg["balance"]:
        sizes = np.array([(folders == name).sum() for name in folders[rows]], float)
        weights *= (sizes.mean() / sizes) ** cfg["balance"]
    uniform = np.full((len(F["synthetic"]), 10), 0.1, np.float32)
    parts = [(F["ds"], np.eye(10, dtype=np.float32)[F["ds_labels"]], np.ones(len(F["ds"])))]
    parts += [(view[rows], targets[rows], weights) for view in views]
    parts += [(F[k], F["worn_targets"], np.full(len(F[k]), ph.WORN_WEIGHT / 2)) for k in ("worn0", "worn1")]
    parts.append((F["synthetic"], uniform, np.full(len(uniform), ph.SYNTHETIC_WEIGHT)))
    x, y, w = (np.concatenate(column) for column in zip(*parts))
    inputs = keras.Input((x.shape[1],))
    head = keras.Model(inputs, ph._head(inputs, 128, ph.DROPOUT)[1])
    head.set_weights(ph._bundled_head_weights(model))
    head.get_layer("photo_dense_bn").trainable = False
    keras.utils.set_random_seed(seed)
    head.compile(keras.optimizers.Adam(ph.LEARNING_RATE), keras.losses.CategoricalCrossentropy(from_logits=True))
    head.fit(x.astype(np.float32), y, sample_weight=w / w.mean(), epochs=int(cfg["epochs"]), batch_size=256, verbose=0)
    return head.get_weights()


def mean_logits(heads: list, F: Any, prefix: str, count: int, tta: int) -> np.ndarray:
    """Logits averaged over the heads and the first `tta` views (pairs, as _logits takes them)."""
    views = [F[f"{prefix}{i}"].astype(np.float32) for i in range(tta)]
    rows = np.arange(count)
    return np.mean([ph._logits(views[i : i + 2], rows, w) for w in heads for i in range(0, tta, 2)], axis=0)


def figures(folders: np.ndarray, logits: np.ndarray, threshold: float) -> dict[str, Any]:
    photos = ph.PhotoSet(np.zeros((len(folders), 28, 28), np.uint8), folders, [], "")
    s = ph.score(photos, logits.argmax(axis=1), logit_lead(logits) < threshold)
    per = {name: row.get("strict", row.get("loose", row["unsure"])) for name, row in s.per_folder.items()}
    return {"strict": s.strict, "loose": s.loose, "oos": s.unsure_out_of_scope, "mapped": s.unsure_mapped, "per": per}


def run(name: str, cfg: dict[str, float]) -> dict[str, Any]:
    from fmnist_core import registry

    start = time.perf_counter()
    F = cached_features()
    model = registry.load_default().model
    targets = fitted_targets(cfg, F)
    folders, tta = F["train_folders"], int(cfg["tta"])
    every, out_of_fold = np.arange(len(folders)), np.zeros((len(folders), 10), np.float32)
    splits = ph._folds(ph.PhotoSet(np.zeros((len(folders), 1)), folders, [], ""), ph.FOLDS, 0)
    for test in splits:
        heads = [fit(cfg, F, targets, np.setdiff1d(every, test), seed, model) for seed in range(int(cfg["heads"]))]
        out_of_fold[test] = mean_logits(heads, F, "train", len(folders), tta)[test]
    heads = [fit(cfg, F, targets, every, seed, model) for seed in range(int(cfg["heads"]))]
    lead = logit_lead(out_of_fold)
    mapped = np.array([n in ph.LOOSE for n in folders])
    threshold = ph.choose_threshold(lead[mapped], lead[~mapped])
    test_logits = mean_logits(heads, F, "test", len(F["test_labels"]), tta)
    return {
        "name": name,
        "recipe": cfg,
        "threshold": threshold,
        "out_of_fold": figures(folders, out_of_fold, threshold),
        "dev": figures(F["dev_folders"], mean_logits(heads, F, "dev", len(F["dev_folders"]), tta), threshold),
        "test": float((test_logits.argmax(axis=1) == F["test_labels"]).mean()),
        "seconds": round(time.perf_counter() - start),
    }


def main() -> None:
    name, settings = sys.argv[1], dict(arg.split("=") for arg in sys.argv[2:])
    cfg = {key: float(settings.pop(key, default)) for key, default in DEFAULTS.items()}
    if settings:
        raise SystemExit(f"unknown keys {sorted(settings)}; known: {sorted(DEFAULTS)}")
    result = run(name, cfg)
    print(json.dumps(result))
    with RESULTS.open("a") as out:
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
