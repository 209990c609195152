"""Where the project's files live, each overridable by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"
EXAMPLES_DIR = ASSETS_DIR / "examples"  # photos and drawings the Classify page offers to try
DATA_DIR = REPO_ROOT / "data"
# Real photos of clothes, kept beside the checkout, not in it (../shared/photos/README.md):
# the photo model is fitted on train/ (and worn/), recipes are compared and measured on dev/.
PHOTOS_DIR = REPO_ROOT.parent / "shared" / "photos"
TRAIN_PHOTOS_DIR = PHOTOS_DIR / "train"
WORN_PHOTOS_DIR = PHOTOS_DIR / "worn"
DEV_PHOTOS_DIR = PHOTOS_DIR / "dev"


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
