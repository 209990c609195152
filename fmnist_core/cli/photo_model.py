"""`photo-model`: tune the bundled model for phone photos and bundle it with a card.

The photo model in assets/photo_model/ is made by exactly one command:

    python -m fmnist_core photo-model    # fitted on ../shared/photos/train and worn

It refits the bundled CNN's dense layers on its features of Fashion-MNIST, of labelled
real photos and of garments cut out of photos of people (see fmnist_core.photo_head),
scoring each training photo out of fold to choose the `unsure` threshold, then measures
the result on ../shared/photos/dev, which it is never fitted on.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmnist_core.registry import MODEL_CARD, PHOTO_MODEL


def register(subparsers: argparse._SubParsersAction) -> None:
    from fmnist_core.paths import DEV_PHOTOS_DIR, TRAIN_PHOTOS_DIR, WORN_PHOTOS_DIR

    parser = subparsers.add_parser(
        "photo-model",
        help="tune the bundled model for phone photos (new dense layers)",
        description="Refit the bundled model's dense layers on Fashion-MNIST plus labelled photos "
        "in FOLDER/<class>/ (dress, pants, t-shirt, shirt, outwear, longsleeve, "
        "shoes; hat, shorts, skirt as garments with no class) and garments cut out "
        "of photos of people, choose the unsure threshold on out-of-fold scores of "
        "the photos, measure on the development photos, and write assets/photo_model/.",
    )
    parser.add_argument(
        "--photos",
        type=Path,
        default=TRAIN_PHOTOS_DIR,
        metavar="FOLDER",
        help=f"labelled photos to fit on (default: {TRAIN_PHOTOS_DIR})",
    )
    parser.add_argument(
        "--worn",
        type=Path,
        default=WORN_PHOTOS_DIR,
        metavar="FOLDER",
        help=f"photos of people with pixel masks to fit on (default: {WORN_PHOTOS_DIR})",
    )
    parser.add_argument("--no-worn", action="store_true", help="fit on --photos only")
    parser.add_argument(
        "--dev",
        type=Path,
        default=DEV_PHOTOS_DIR,
        metavar="FOLDER",
        help="labelled photos to measure on, never fitted on (default: "
        f"{DEV_PHOTOS_DIR}; skipped when it does not exist)",
    )
    parser.add_argument("--folds", type=int, default=5, help="folds for the out-of-fold scores (default 5)")
    parser.add_argument("--name", help="save in the model registry under NAME instead of bundling")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.set_defaults(run=run)


def _table(figures: dict[str, Any]) -> str:
    return "\n".join(
        [
            "| measure | value |",
            "|---|---|",
            f"| strict accuracy | {figures['strict']:.1%} |",
            f"| loose accuracy | {figures['loose']:.1%} |",
            f"| `unsure` on hat, shorts, skirt | {figures['unsure_out_of_scope']:.1%} |",
            f"| `unsure` on photos with a class | {figures['unsure_mapped']:.1%} |",
        ]
    )


def model_card(meta: dict[str, Any], command: str) -> str:
    """What the photo model is, how it was made and how well it does, photos and test set:
    every figure from its meta."""
    from fmnist_core.report import model_card as card

    head, rule = meta["photo_head"], meta["unsure"]
    recipe = head["recipe"]
    folders = ", ".join(f"{name} {count}" for name, count in head["per_folder"].items())
    dev = head.get("dev")
    dev_section = (
        f"""## Development photos ({dev["photos"]} photos of `{dev["folder"]}`, never fitted on)

Optimistic for new photos: the recipe's settings were chosen by comparing recipes on them.

{_table(dev)}

Weakest folders: {dev["weakest"]}.
"""
        if dev
        else "## Development photos\n\nNot measured (no development folder was given).\n"
    )
    about = f"""The bundled model's convolutions unchanged; its hidden dense layer and last layer refitted
(started from the bundled model's) on the convolutions' features of
{recipe["dataset_images"]:,} Fashion-MNIST training images, of {head["photos"]} labelled phone
photos, each also mirrored, shifted by {recipe["photo_shift"]} pixels and {recipe["augmented_views"]} times
altered at random ({folders}), and of {head["worn_garments"]:,} garments cut out of
{head["worn_photos"]:,} photos of people by their pixel labels. Photos of hats, shorts and skirts
(no Fashion-MNIST class) and synthetic non-garments were given uniform targets, so the model
spreads its belief over such inputs; photos in {", ".join(recipe["spread"])} (tops with no
class of their own) were fitted towards all the classes that count for them, evenly.
See `fmnist_core/photo_head.py`.

The app and `predict` use it for inputs the photo path prepared; drawings and
Fashion-MNIST-like images go to the bundled model itself.
"""
    folds = f"{head['folds']} folds: each photo scored by layers not fitted on it"
    out_of_fold = f"""## Training photos, out of fold ({folds})

{_table(head["out_of_fold"])}

`unsure` rule: the largest logit's lead over the mean logit (logits averaged with the mirror
image) under
{rule["threshold"]:.4f}: of the thresholds that flag at most {recipe["max_unsure_mapped"]:.0%} of these
photos of garments with a class, the one that flags the most out-of-scope photos more.
"""
    return card(
        meta,
        "Bundled photo model: the bundled CNN tuned for phone photos",
        command,
        about=about,
        sections=[dev_section, out_of_fold],
        facts=[f"fitting: the photo path or its cache, features, {head['folds']} folds, final fit"],
    )


def run(args: argparse.Namespace) -> int:
    from fmnist_core import registry
    from fmnist_core.classifier import KerasClassifier
    from fmnist_core.data import load_dataset
    from fmnist_core.errors import FmnistError
    from fmnist_core.evaluation import evaluate
    from fmnist_core.paths import ASSETS_DIR
    from fmnist_core.photo_head import fit_photo_model, load_photo_set, measured_on
    from fmnist_core.worn import load_worn_set

    start = time.perf_counter()
    if args.name:
        registry.check_new_name(args.name)
    trunk = registry.load_default()
    if not isinstance(trunk, KerasClassifier):
        raise FmnistError(f"the bundled model is a {trunk.kind} model: it has no dense layers to refit")
    data = load_dataset()
    photos = load_photo_set(args.photos)
    worn = None if args.no_worn else load_worn_set(args.worn)
    fitted = fit_photo_model(trunk, data, photos, worn, folds=args.folds)
    classifier = fitted.classifier
    classifier.meta.update(
        title="Strong CNN tuned for photos",
        dataset_checksum=data.checksum,
        train_seconds=round(time.perf_counter() - start, 1),
        trunk=trunk.meta.get("title"),
        trunk_saved_at=trunk.meta.get("saved_at"),
        trunk_accuracy=trunk.meta["metrics"]["accuracy"],
        metrics=evaluate(classifier.predict_proba(data.x_test), data.y_test).to_dict(),
        params=int(classifier.params),
        history={},
        stopped_early=False,
        stop_reason="completed",
    )
    dev = None
    if args.dev.is_dir():
        dev = measured_on(classifier, load_photo_set(args.dev))
        classifier.meta["photo_head"]["dev"] = dev
    classifier.meta["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    if args.name:
        path = registry.save(classifier, args.name)
    else:
        path = registry.save(classifier, PHOTO_MODEL, folder=ASSETS_DIR, overwrite=True)
        command = shlex.join(["python", "-m", "fmnist_core", *sys.argv[1:]])
        (path / MODEL_CARD).write_text(model_card(classifier.meta, command))
    oof = fitted.out_of_fold
    result = {
        "path": str(path),
        "photos": len(photos.folders),
        "skipped": len(photos.skipped),
        "worn_garments": 0 if worn is None else len(worn.labels),
        "out_of_fold": {
            "strict": oof.strict,
            "loose": oof.loose,
            "unsure_out_of_scope": oof.unsure_out_of_scope,
            "unsure_mapped": oof.unsure_mapped,
        },
        "dev": dev and {key: dev[key] for key in ("strict", "loose", "unsure_out_of_scope", "unsure_mapped")},
        "threshold": fitted.threshold,
        "seconds": classifier.meta["train_seconds"],
        "test_accuracy": classifier.meta["metrics"]["accuracy"],
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"fitted on {len(photos.folders)} photos ({len(photos.skipped)} skipped) and "
        f"{result['worn_garments']} worn garments in {result['seconds']:.0f} s; out of fold: "
        f"strict {oof.strict:.1%}, loose {oof.loose:.1%}, unsure on no-class photos "
        f"{oof.unsure_out_of_scope:.1%}, on the others {oof.unsure_mapped:.1%}"
    )
    if dev:
        print(
            f"development photos ({dev['photos']}, never fitted on): strict {dev['strict']:.1%}, "
            f"loose {dev['loose']:.1%}, unsure on no-class photos {dev['unsure_out_of_scope']:.1%}, "
            f"on the others {dev['unsure_mapped']:.1%}; weakest: {dev['weakest']}"
        )
    print(f"test accuracy {result['test_accuracy']:.4f}; saved to {path}")
    return 0
