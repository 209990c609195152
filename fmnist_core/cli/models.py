"""`models`: the saved models (broken ones marked, with why) and the bundled default."""

from __future__ import annotations

import argparse
import json
from typing import Any

from fmnist_core.cli import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list saved models and the bundled default",
        description="List the model registry (FMNIST_MODELS_DIR, default data/models), newest "
        "first. Entries that cannot be loaded are marked broken, with the reason.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fmnist_core.paths import models_dir
    from fmnist_core.registry import default_model_path, list_entries, read_entry

    listing: dict[str, Any] = {
        "folder": str(models_dir()),
        "models": [entry.summary() for entry in list_entries()],
        "default": read_entry(default_model_path()).summary(),
    }
    if args.json:
        print(json.dumps(listing))
        return 0
    print(f"models folder: {listing['folder']}")
    if not listing["models"]:
        print("  (no saved models yet)")
    for row in listing["models"]:
        print(_line(row))
    print("bundled default:")
    print(_line(listing["default"]))
    return 0


def _line(row: dict[str, Any]) -> str:
    if row["broken"]:
        return f"  {printable(row['name']):<24} BROKEN: {printable(row['broken'])}"
    accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.2%}"
    params = "-" if row["params"] is None else f"{row['params']:,}"
    return (
        f"  {printable(row['name']):<24} {printable(row['kind']):<12} {params:>10} params  "
        f"accuracy {accuracy:>7}  saved {printable(row['saved_at'])[:19]}"
    )
