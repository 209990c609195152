"""`predict`: classify image files (photos, drawings, dataset samples) from the terminal.

Every file gets an answer line, in the order given; a bad file gets a one-line error and
never stops the others. All readable files go through the model in one batch.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fmnist_core.cli import printable, whole_number

if TYPE_CHECKING:
    from fmnist_core.thumbnail import PipelineResult


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="classify image files with a saved or the bundled model",
        description="Classify each FILE (PNG, JPEG, WebP, GIF, BMP, TIFF): photos of clothes "
        "are segmented and laid out like Fashion-MNIST first. Exit status: 0 when every "
        "file was classified, 1 when any failed, 2 for a usage error.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="image files to classify")
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="a saved model's name or folder (default: the bundled model, with its photo-tuned version for photos)",
    )
    parser.add_argument(
        "--top-k",
        type=whole_number("K", 1, 10),
        default=3,
        metavar="K",
        help="how many classes to list per file, 1 to 10 (default 3)",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per file, one per line, in the order given"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fmnist_core import registry
    from fmnist_core.image_input import read_image_file
    from fmnist_core.photo_head import photo_classifier_or_none
    from fmnist_core.routing import predict_images, prepared_input

    if args.model:  # the model asked for answers everything
        classifier, photo_classifier = registry.load(args.model), None
    else:  # the bundled model, and its photo-tuned version for photos
        classifier, photo_classifier = registry.load_default(), photo_classifier_or_none()
    names = {False: args.model or "bundled", True: "bundled, tuned for photos"}

    def reader(name: str) -> Callable[[], PipelineResult]:
        """Reads and prepares file `name` when called: a bad file fails only its own answer."""
        return lambda: prepared_input(read_image_file(name))

    answers = predict_images(classifier, [reader(name) for name in args.files], photo_classifier, top_k=args.top_k)
    rows: list[dict[str, Any]] = [
        {"file": name, **answer.prediction.as_dict(), "model": names[answer.prediction.by_photo_model]}
        if answer.prediction
        else {"file": name, "error": str(answer.error)}
        for name, answer in zip(args.files, answers)
    ]
    if args.json:
        _print_json(rows)
    else:
        _print_table(rows)
    return 1 if any("error" in row for row in rows) else 0


def _print_json(rows: list[dict[str, Any]]) -> None:
    for row in rows:  # ASCII escapes: safe for any terminal, any file name
        print(json.dumps(row), flush=True)


def _print_table(rows: list[dict[str, Any]]) -> None:
    width = max(len(printable(row["file"])) for row in rows)
    print(f"{'file':<{width}}  {'prediction':<12} {'conf':>6}  {'unsure':<6}  {'others':<30}  model")
    for row in rows:
        name = printable(row["file"])
        if "error" in row:
            print(f"{name:<{width}}  ERROR: {printable(row['error'])}")
            continue
        others = ", ".join(f"{item['name']} {item['probability']:.0%}" for item in row["top_k"][1:])
        print(
            f"{name:<{width}}  {row['name']:<12} {row['confidence']:>6.1%}  "
            f"{'yes' if row['unsure'] else 'no':<6}  {others:<30}  {printable(row['model'])}"
        )
