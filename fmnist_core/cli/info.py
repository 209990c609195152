"""`info`: where the data came from, split sizes, classes and per-class counts."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show where the dataset was found and what it holds",
        description="Find the Fashion-MNIST files, verify them and summarise them.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fmnist_core.classes import CLASS_NAMES
    from fmnist_core.data import load_dataset

    data = load_dataset()
    summary: dict[str, Any] = {
        "source": data.source,
        "train": int(len(data.y_train)),
        "test": int(len(data.y_test)),
        "classes": list(CLASS_NAMES),
        "train_counts": data.class_counts("train"),
        "test_counts": data.class_counts("test"),
        "checksum": data.checksum,
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"source:  {summary['source']}")
    print(f"train:   {summary['train']} images    test: {summary['test']} images")
    print(f"{'label':>5}  {'class':<12} {'train':>6} {'test':>6}")
    for label, name in enumerate(CLASS_NAMES):
        print(f"{label:>5}  {name:<12} {summary['train_counts'][label]:>6} {summary['test_counts'][label]:>6}")
    return 0
