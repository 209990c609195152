"""`export`: a model for the serving engines that take over beyond one machine."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model for TensorFlow Serving, a v2 server or LiteRT",
        description="Write OUT/NAME/1/: a SavedModel in TensorFlow Serving's layout whose "
        "serving signature gives the app's probabilities, or the LiteRT file the app "
        "makes (model.tflite).",
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="a saved model's name or folder (default: the bundled model, exported as 'fashion-mnist')",
    )
    parser.add_argument("--format", choices=("savedmodel", "tflite"), default="savedmodel", help="default savedmodel")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="the model repository to write into (made if missing)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fmnist_core import registry
    from fmnist_core.export import export
    from fmnist_core.serving import served_name

    classifier = registry.load(args.model) if args.model else registry.load_default()
    target = export(classifier, served_name(args.model), args.format, Path(args.out))
    print(f"wrote {target}")
    return 0
