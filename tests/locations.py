"""Paths the tests share (a plain module: `from conftest import` is ambiguous with two conftests)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The development photos, kept beside the checkout (see ../shared/photos/README.md).
PHOTOS_DIR = REPO_ROOT.parent / "shared" / "photos" / "dev"
