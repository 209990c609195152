"""Fashion-MNIST from the original IDX files, found where a user's machine keeps them.

Search order (the first complete, valid copy wins, and `Dataset.source` says which):
1. the folder named by `FMNIST_DATA_DIR`;
2. Debian's `dataset-fashion-mnist` package, `/usr/share/datasets/fashion-mnist`;
3. the Keras cache, `~/.keras/datasets/fashion-mnist`;
4. a download through `keras.datasets.fashion_mnist` (skipped when `FMNIST_OFFLINE=1`).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmnist_core.classes import NUM_CLASSES
from fmnist_core.errors import DatasetError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FIX_COMMAND = "make dataset   (installs Debian's package: apt-get install dataset-fashion-mnist)"

# SHA-256 of the decompressed original Zalando files.
KNOWN_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FILES = tuple(KNOWN_SHA256)
IMAGE_SIDE = 28
_IDX_UBYTE = 0x08


@dataclass(frozen=True)
class Dataset:
    """The four arrays plus where they came from."""

    x_train: np.ndarray  # (60000, 28, 28) uint8, bright garment on black
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) uint8
    source: str
    directory: Path
    sha256: dict[str, str] = field(default_factory=dict)

    @property
    def checksum(self) -> str:
        """Identifies the dataset: a short hash of its four files' SHA-256s, stored with every
        trained model and keying the app's caches of dataset results."""
        joined = "".join(self.sha256[name] for name in FILES)
        return hashlib.sha256(joined.encode()).hexdigest()[:16]

    def class_counts(self, split: str) -> list[int]:
        labels = self.y_train if split == "train" else self.y_test
        return np.bincount(labels, minlength=NUM_CLASSES).tolist()


# ---------------------------------------------------------------- random subsets


def sample_indices(n_total: int, n: int, seed: int | np.random.Generator = 0, ordered: bool = True) -> np.ndarray:
    """`n` distinct random indices below `n_total` (all of them when there are no more), in
    increasing order, or as drawn when not `ordered`. `seed` may be a generator, to draw
    several subsets from one stream."""
    if ordered and n_total <= n:
        return np.arange(n_total)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    chosen = rng.choice(n_total, min(n, n_total), replace=False)
    return np.sort(chosen) if ordered else chosen


def sample_per_class(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """(10, per_class) random indices into `labels`, row c all of class c, none repeated."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in range(NUM_CLASSES):
        members = np.flatnonzero(labels == label)
        rows.append(members[sample_indices(len(members), per_class, rng, ordered=False)])
    return np.stack(rows)


def stratified_subset(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """`per_class` random indices of every class, sorted: all classes evenly."""
    return np.sort(sample_per_class(labels, per_class, seed).ravel())


def read_idx(path: Path, ndim: int) -> tuple[np.ndarray, str]:
    """Read one IDX file (gzip'd or plain) of unsigned bytes; return the array and its SHA-256.

    Raises DatasetError naming the file and what is wrong with it.
    """
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path}: cannot be read or decompressed ({exc})") from None
    if len(raw) < 4:
        raise DatasetError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype, dims = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or dtype != _IDX_UBYTE or dims != ndim:
        raise DatasetError(
            f"{path}: wrong magic number 0x{raw[:4].hex()} "
            f"(expected 0x000008{ndim:02x}: unsigned bytes, {ndim} dimension(s))"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DatasetError(f"{path}: header truncated")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64))
    actual = len(raw) - header_len
    if actual != expected:
        raise DatasetError(
            f"{path}: header says shape {shape} ({expected} bytes of data) but the file holds "
            f"{actual} bytes; it is truncated or not a Fashion-MNIST file"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)
    return array, hashlib.sha256(raw).hexdigest()


def _find_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def load_folder(folder: Path, source: str, verify: bool = True) -> Dataset:
    """Load the four files from one folder, checking headers, counts and (if `verify`) SHA-256."""
    arrays: dict[str, np.ndarray] = {}
    digests: dict[str, str] = {}
    missing = [name for name in FILES if _find_file(folder, name) is None]
    if missing:
        raise DatasetError(f"{folder}: missing {', '.join(missing)} (.gz or plain)")
    for name in FILES:
        path = _find_file(folder, name)
        assert path is not None
        arrays[name], digests[name] = read_idx(path, ndim=3 if "images" in name else 1)
        if verify and digests[name] != KNOWN_SHA256[name]:
            raise DatasetError(
                f"{path}: SHA-256 of the decompressed data is {digests[name][:12]}..., "
                f"expected {KNOWN_SHA256[name][:12]}...; the file is corrupt or not the original"
            )
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
        if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise DatasetError(f"{folder}: {split} images are {images.shape[1:]}, expected 28x28")
        if len(images) != len(labels):
            raise DatasetError(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
        if labels.size and labels.max() >= NUM_CLASSES:
            raise DatasetError(f"{folder}: {split} labels go up to {labels.max()}, expected 0..9")
    return Dataset(
        x_train=arrays["train-images-idx3-ubyte"],
        y_train=arrays["train-labels-idx1-ubyte"],
        x_test=arrays["t10k-images-idx3-ubyte"],
        y_test=arrays["t10k-labels-idx1-ubyte"],
        source=source,
        directory=folder,
        sha256=digests,
    )


def candidate_folders() -> list[tuple[str, Path]]:
    """The places searched, in order, each with a description for messages."""
    places: list[tuple[str, Path]] = []
    env_dir = os.environ.get("FMNIST_DATA_DIR")
    if env_dir:
        places.append(("FMNIST_DATA_DIR", Path(env_dir).expanduser()))
    places.append(("Debian package dataset-fashion-mnist", DEBIAN_DIR))
    places.append(("Keras cache", Path.home() / ".keras" / "datasets" / "fashion-mnist"))
    return places


def _download_with_keras() -> None:
    """Last resort on a connected machine: let Keras fetch the files into its cache."""
    from keras.datasets import fashion_mnist  # heavy import, only on this rare path

    fashion_mnist.load_data()


def load_dataset(verify: bool = True, allow_download: bool | None = None) -> Dataset:
    """Find and load Fashion-MNIST, or raise DatasetError listing every place tried and the fix."""
    if allow_download is None:
        allow_download = os.environ.get("FMNIST_OFFLINE", "") not in ("1", "true", "yes")
    problems: list[str] = []
    for description, folder in candidate_folders():
        if not folder.is_dir():
            problems.append(f"{description}: {folder} does not exist")
            continue
        try:
            return load_folder(folder, f"{description} ({folder})", verify=verify)
        except DatasetError as exc:
            problems.append(f"{description}: {exc}")
    if allow_download:
        try:
            _download_with_keras()
            keras_dir = candidate_folders()[-1][1]
            return load_folder(keras_dir, f"downloaded by Keras ({keras_dir})", verify=verify)
        except Exception as exc:  # noqa: BLE001 - any network or file failure is reported below
            problems.append(f"download through keras.datasets.fashion_mnist failed: {exc}")
    else:
        problems.append("download through keras.datasets: skipped (FMNIST_OFFLINE is set)")
    raise DatasetError(
        "Fashion-MNIST was not found. Places searched:\n"
        + "\n".join(f"  - {p}" for p in problems)
        + f"\nFix: {FIX_COMMAND}\n"
        "or set FMNIST_DATA_DIR to a folder holding the four original IDX files."
    )
