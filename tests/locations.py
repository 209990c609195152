"""Paths the tests share (a plain module: `from conftest import` is ambiguous with two conftests)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fmnist_core.paths import (
    DEV_PHOTOS_DIR,  # noqa: F401 - re-exported
    REPO_ROOT,  # noqa: F401 - re-exported
)

# A few CC0 photos shipped with the tests (their README says where from), for tests that
# need a real photo on a machine without ../shared/photos.
FIXTURE_PHOTOS_DIR = REPO_ROOT / "tests" / "fixtures" / "photos"
# CI sets it: there the photo folders must be present, so their tests never silently skip.
REQUIRE_PHOTOS = "FMNIST_REQUIRE_PHOTOS"


def shared_photos(folder: Path) -> Path:
    """`folder` (under ../shared/photos) when it holds photos; otherwise the test is skipped,
    or fails where FMNIST_REQUIRE_PHOTOS is set."""
    if folder.is_dir() and any(folder.glob("*/*")):
        return folder
    message = f"the real photos are not at {folder} (see ../shared/photos/README.md)"
    if os.environ.get(REQUIRE_PHOTOS):
        pytest.fail(f"{message}, and {REQUIRE_PHOTOS} says they must be", pytrace=False)
    pytest.skip(message)
