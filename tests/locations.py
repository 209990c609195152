"""Paths the tests share (a plain module: `from conftest import` is ambiguous with two conftests)."""

from fmnist_core.paths import DEV_PHOTOS_DIR as PHOTOS_DIR  # noqa: F401 - re-exported
from fmnist_core.paths import REPO_ROOT  # noqa: F401 - re-exported
