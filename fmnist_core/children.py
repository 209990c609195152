"""Fresh Python interpreters for work that must stay out of the app's process.

The Streamlit server runs every session in threads of one process, so heavy TensorFlow work
there (a training run, a model conversion) competes for its interpreter lock and shares its
state with everybody's predictions. Such work runs in a child started with `python -c`:
`multiprocessing` is no use here, since its spawn would re-run the Streamlit page, which the
server installs as `__main__`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # so the child finds fmnist_core from any cwd
NICENESS = 10  # below the server: a person waiting for a page goes before background work


def python_command(code: str, *args: str) -> list[str]:
    """The command running `code` in this interpreter, with `args` in its sys.argv[1:]."""
    return [sys.executable, "-c", code, *args]


def child_environment() -> dict[str, str]:
    """This process's environment, with fmnist_core importable."""
    path = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def step_aside() -> None:
    """Called first thing in a child: lower its priority, so that on a busy machine the
    server's page runs get the cores before a training run or a conversion does (which
    still gets every idle cycle)."""
    if hasattr(os, "nice"):
        os.nice(NICENESS)
