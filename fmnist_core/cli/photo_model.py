"""`photo-model`: tune the bundled model for phone photos and bundle it with a card.

The photo model in assets/photo_model/ is made by exactly one command:

    python -m fmnist_core photo-model    # photos from ../shared/photos/dev

It refits the bundled CNN's last layer on its features of Fashion-MNIST and of labelled
real photos (see fmnist_core.photo_head), after cross-validating that recipe on the photos.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fmnist_core.registry import MODEL_CARD, PHOTO_MODEL


def register(subparsers: argparse._SubParsersAction) -> None:
    from fmnist_core.paths import DEV_PHOTOS_DIR

    parser = subparsers.add_parser(
        "photo-model", help="tune the bundled model for phone photos (a new last layer)",
        description="Refit the bundled model's last layer on Fashion-MNIST plus labelled photos "
                    "in FOLDER/<class>/ (dress, pants, t-shirt, shirt, outwear, longsleeve, "
                    "shoes; hat, shorts, skirt as garments with no class), report "
                    "cross-validated photo figures, and write assets/photo_model/.",
    )
    parser.add_argument("--photos", type=Path, default=DEV_PHOTOS_DIR, metavar="FOLDER",
                        help=f"labelled photos (default: {DEV_PHOTOS_DIR})")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument("--name", help="save in the model registry under NAME instead of bundling")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.set_defaults(run=run)


def model_card(meta: dict[str, Any], command: str) -> str:
    """What the photo model is, how it was made and how well it does, photos and test set."""
    from fmnist_core.photo_head import TARGET_UNSURE_OUT_OF_SCOPE

    head, metrics, rule = meta["photo_head"], meta["metrics"], meta["unsure"]
    cv = head["cross_validated"]
    folders = ", ".join(f"{name} {count}" for name, count in head["per_folder"].items())
    return f"""# Bundled photo model: the bundled CNN tuned for phone photos

Made by one command, from the repository root:

    {command}

The bundled model's convolutions unchanged, with a new last layer fitted on its features of
{head['recipe']['dataset_images']:,} Fashion-MNIST training images and of {head['photos']} labelled
phone photos, each also mirrored and shifted by {head['recipe']['photo_shift']} pixels ({folders}). Photos of hats, shorts and skirts (no
Fashion-MNIST class) and synthetic non-garments were given uniform targets, so the model
spreads its belief over such inputs. See `fmnist_core/photo_head.py`.

The app and `predict` use it for inputs the photo path prepared; drawings and
Fashion-MNIST-like images go to the bundled model itself.

## Photos ({head['folds']}-fold cross-validation: each photo scored by a layer not fitted on it)

| measure | value |
|---|---|
| strict accuracy | {cv['strict']:.1%} |
| loose accuracy | {cv['loose']:.1%} |
| `unsure` on hat, shorts, skirt | {cv['unsure_out_of_scope']:.1%} |
| `unsure` on photos with a class | {cv['unsure_mapped']:.1%} |

`unsure` rule: energy (log-sum-exp of the logits, averaged with the mirror image) under
{rule['threshold']}, the value that flags {TARGET_UNSURE_OUT_OF_SCOPE:.0%} of the out-of-scope photos' out-of-fold
energies (the target is 70%; the margin is for new photos).

## Fashion-MNIST test set (10,000 images)

| | |
|---|---|
| test accuracy | {metrics['accuracy']:.4f} (the bundled model: {meta['trunk_accuracy']:.4f}) |
| macro F1 | {metrics['macro_f1']:.4f} |
| trainable parameters | {meta['params']:,} |
| fitting time | {meta['train_seconds']:.0f} s (loading, features, {head['folds']} folds and the final layer) |
| created | {meta['created']} |
"""


def run(args: argparse.Namespace) -> int:
    from fmnist_core import registry
    from fmnist_core.data import load_dataset
    from fmnist_core.evaluation import evaluate
    from fmnist_core.paths import ASSETS_DIR
    from fmnist_core.photo_head import fit_photo_model, load_photo_set

    start = time.perf_counter()
    if args.name:
        registry.check_new_name(args.name)
    trunk = registry.load_default()
    data = load_dataset()
    photos = load_photo_set(args.photos)
    fitted = fit_photo_model(trunk, data, photos, folds=args.folds)
    classifier = fitted.classifier
    classifier.meta.update(
        title="Strong CNN tuned for photos", dataset_checksum=data.checksum,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        train_seconds=round(time.perf_counter() - start, 1), trunk=trunk.meta.get("title"),
        trunk_saved_at=trunk.meta.get("saved_at"),
        trunk_accuracy=trunk.meta["metrics"]["accuracy"],
        metrics=evaluate(classifier.predict_proba(data.x_test), data.y_test).to_dict(),
        params=int(classifier.params), history={}, stopped_early=False, stop_reason="completed",
    )
    if args.name:
        path = registry.save(classifier, args.name)
    else:
        path = registry.save(classifier, PHOTO_MODEL, folder=ASSETS_DIR, overwrite=True)
        command = shlex.join(["python", "-m", "fmnist_core", *sys.argv[1:]])
        (path / MODEL_CARD).write_text(model_card(classifier.meta, command))
    cv = fitted.cross_validated
    result = {"path": str(path), "photos": len(photos.folders), "skipped": len(photos.skipped),
              "strict": cv.strict, "loose": cv.loose, "unsure_out_of_scope": cv.unsure_out_of_scope,
              "unsure_mapped": cv.unsure_mapped, "threshold": fitted.threshold,
              "test_accuracy": classifier.meta["metrics"]["accuracy"]}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{len(photos.folders)} photos ({len(photos.skipped)} skipped), "
              f"{args.folds}-fold cross-validated: strict {cv.strict:.1%}, loose {cv.loose:.1%}, "
              f"unsure on no-class photos {cv.unsure_out_of_scope:.1%}, on the others "
              f"{cv.unsure_mapped:.1%}; test accuracy {result['test_accuracy']:.4f}; saved to {path}")
    return 0
