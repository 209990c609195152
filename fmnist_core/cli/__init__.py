"""The command-line tool: one module per subcommand, each with `register(subparsers)`.

A subcommand module keeps heavy imports (TensorFlow, scikit-learn) inside its `run`
function, so `--help` and `info` stay fast. Errors meant for people (FmnistError) are
printed as one message; no traceback ever reaches the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator

# Subcommands in the order `--help` lists them; each is fmnist_core.cli.<name>.
COMMANDS = (
    "info",
    "report",
    "train",
    "sweep",
    "photo-model",
    "evaluate",
    "models",
    "bench",
    "predict",
    "serve",
    "export",
)


def whole_number(letter: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, refused in plain words."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{letter} must be between {low} and {high}")
        return value

    return parse


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
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's own start-up messages on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"fmnist_core.cli.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from fmnist_core.errors import FmnistError

    args = build_parser().parse_args(argv)
    quiet = not args.verbose and sys.stderr is sys.__stderr__  # not when a caller took stderr
    try:
        with native_stderr_silenced() if quiet else contextlib.nullcontext():
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


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """TensorFlow's C++ start-up lines ("oneDNN custom operations are on", and on a machine
    without a GPU an alarming "failed call to cuInit ... CUDA error") are written to file
    descriptor 2 before its log settings apply, so TF_CPP_MIN_LOG_LEVEL cannot hide them.
    Point that descriptor at /dev/null meanwhile, and Python's stderr (this tool's messages,
    warnings) at a copy of the real one."""
    sys.stderr.flush()
    real = os.dup(2)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)
    python_stderr = sys.stderr
    sys.stderr = open(real, "w", encoding=python_stderr.encoding, errors="backslashreplace", buffering=1, closefd=False)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr = python_stderr
        os.dup2(real, 2)
        os.close(real)
