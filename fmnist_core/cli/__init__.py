"""The command-line tool: one module per subcommand, each with `register(subparsers)`.

A subcommand module keeps heavy imports (TensorFlow, scikit-learn) inside its `run`
function, so `--help` and `info` stay fast. Errors meant for people (FmnistError) are
printed as one message; no traceback ever reaches the terminal.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Subcommands in the order `--help` lists them; each is fmnist_core.cli.<name>.
COMMANDS = ("info", "report", "train", "sweep", "photo-model", "evaluate", "models", "bench",
            "predict")


def printable(text: object) -> str:
    """A name or message safe to print on this terminal: control characters (an escape
    sequence in a file name) and unencodable characters escaped; None as "-"."""
    text = "-" if text is None else str(text)
    safe = text if text.isprintable() else repr(text)[1:-1]
    encoding = sys.stdout.encoding or "utf-8"
    return safe.encode(encoding, errors="backslashreplace").decode(encoding)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_core",
        description="Fashion-MNIST: data, training, evaluation and prediction from the terminal.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"fmnist_core.cli.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from fmnist_core.errors import FmnistError

    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except FmnistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left early (`... | head -1`): the rest is not wanted. Point stdout at
        # /dev/null so that the interpreter's last flush does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command whose pipe closed
    except Exception as exc:  # noqa: BLE001 - last line of defence: a message, not a traceback
        if os.environ.get("FMNIST_DEBUG"):
            raise
        print(f"unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("(set FMNIST_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 1
