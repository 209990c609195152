"""`evaluate`: a saved or the bundled model's metrics on the 10,000 real test images."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a model on the test set",
        description="Accuracy, per-class precision/recall/F1, confusion matrix, top-k accuracy "
        "and calibration error of a model on the Fashion-MNIST test set.",
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="a registry name, or the path of a model folder (default: the bundled model)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fmnist_core.data import load_dataset
    from fmnist_core.evaluation import evaluate
    from fmnist_core.registry import default_model_path, load, load_default

    classifier = load(args.model) if args.model else load_default()
    data = load_dataset()
    result = evaluate(classifier.predict_proba(data.x_test), data.y_test)
    summary: dict[str, Any] = {
        "model": args.model or str(default_model_path()),
        "kind": classifier.kind,
        "params": int(classifier.params),
        "dataset": data.source,
        **result.to_dict(),
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    _print_table(summary, result.report)
    return 0


def _print_table(summary: dict[str, Any], report: str) -> None:
    from fmnist_core.classes import CLASS_NAMES, SHORT_NAMES

    top_k = "  ".join(f"top-{k} {acc:.2%}" for k, acc in summary["top_k"].items())
    print(f"model:      {summary['model']} ({summary['kind']}, {summary['params']:,} parameters)")
    print(f"test set:   {summary['count']} images from {summary['dataset']}")
    print(
        f"accuracy:   {summary['accuracy']:.2%}    macro F1: {summary['macro_f1']:.4f}    "
        f"calibration error (ECE): {summary['ece']:.4f}"
    )
    print(f"top-k:      {top_k}\n")
    print(report)
    print("confusion matrix (rows: true class, columns: predicted class)")
    width = max(len(name) for name in CLASS_NAMES)
    cell = max(len(name) for name in SHORT_NAMES) + 1
    print(" " * width + " " + "".join(f"{name:>{cell}}" for name in SHORT_NAMES))
    for name, row in zip(CLASS_NAMES, summary["confusion"]):
        print(f"{name:>{width}} " + "".join(f"{count:>{cell}}" for count in row))
