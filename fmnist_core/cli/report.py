"""`report`: write a model's self-contained HTML report (opens in a browser, no server)."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_NAME = "bundled"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a model's report as one self-contained HTML file",
        description="Evaluate a model on the test set and write config, training curves, "
        "confusion matrix, per-class metrics, example predictions and the "
        "published reference figures into one HTML file.",
    )
    parser.add_argument(
        "--model", metavar="NAME_OR_PATH", help="a registry name or a model folder (default: the bundled model)"
    )
    parser.add_argument("--out", metavar="FILE", type=Path, help="where to write (default: ./report-<model name>.html)")
    parser.set_defaults(run=run)


def report_name(model: str | None) -> str:
    """The model's name for the title and the default file name: a registry name as given,
    a folder's name for a path, "bundled" for the bundled model."""
    if not model:
        return DEFAULT_NAME
    path = Path(model)
    if path.suffix in (".keras", ".pkl", ".json"):
        path = path.parent
    return path.name or DEFAULT_NAME


def run(args: argparse.Namespace) -> int:
    from fmnist_core import registry
    from fmnist_core.data import load_dataset
    from fmnist_core.errors import FmnistError
    from fmnist_core.report import build_report_html, report_filename

    classifier = registry.load(args.model) if args.model else registry.load_default()
    name = report_name(args.model)
    html = build_report_html(classifier, load_dataset(), name=name)
    out = args.out or Path(report_filename(name))
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise FmnistError(f"cannot write the report to {out} ({exc.strerror or exc})") from None
    print(f"report of {name} written to {out} ({len(html) / 1e6:.1f} MB)")
    return 0
