"""Where the project's files live, each overridable by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"
DATA_DIR = REPO_ROOT / "data"
# Real photos of clothes for developing and measuring the photo path, kept beside the
# checkout, not in it (see ../shared/photos/README.md); tests and benchmarks read them.
DEV_PHOTOS_DIR = REPO_ROOT.parent / "shared" / "photos" / "dev"


def models_dir() -> Path:
    """The model registry folder: `FMNIST_MODELS_DIR`, else `data/models` in the repo."""
    return Path(os.environ.get("FMNIST_MODELS_DIR") or DATA_DIR / "models")


def cache_dir() -> Path:
    """Files derived from others and safe to delete (LiteRT conversions of models):
    `FMNIST_CACHE_DIR`, else `data/cache` in the repo."""
    return Path(os.environ.get("FMNIST_CACHE_DIR") or DATA_DIR / "cache")


def sweeps_dir() -> Path:
    """Where sweeps keep their studies by default: `FMNIST_SWEEPS_DIR`, else `data/sweeps`."""
    return Path(os.environ.get("FMNIST_SWEEPS_DIR") or DATA_DIR / "sweeps")
