"""The IDX reader on tiny synthetic files, the search order, and the real dataset."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fmnist_core import data
from fmnist_core.errors import DatasetError


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fake_dataset(folder: Path, n_train: int = 20, n_test: int = 10, gz: bool = True) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        raw = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


def test_read_idx_good_plain_and_gzip(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "b.gz").write_bytes(gzip.compress(idx_bytes(array)))
    for path in (tmp_path / "a", tmp_path / "b.gz"):
        got, digest = data.read_idx(path, ndim=3)
        np.testing.assert_array_equal(got, array)
        assert digest == hashlib.sha256(idx_bytes(array)).hexdigest()


def test_read_idx_wrong_magic(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.zeros(5, np.uint8)))  # a label file read as images
    with pytest.raises(DatasetError, match="wrong magic number 0x00000801"):
        data.read_idx(path, ndim=3)


def test_read_idx_truncated(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-100]))
    with pytest.raises(DatasetError, match="truncated"):
        data.read_idx(path, ndim=3)


def test_read_idx_broken_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(5, np.uint8)))[:-8])
    with pytest.raises(DatasetError, match="cannot be read or decompressed"):
        data.read_idx(path, ndim=1)


def test_wrong_count_between_images_and_labels(tmp_path):
    write_fake_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(7, np.uint8))))
    with pytest.raises(DatasetError, match="10 t10k images but 7 labels"):
        data.load_folder(tmp_path, "test", verify=False)


def test_bad_checksum_is_refused(tmp_path):
    write_fake_dataset(tmp_path)
    with pytest.raises(DatasetError, match="SHA-256 .* corrupt or not the original"):
        data.load_folder(tmp_path, "test", verify=True)


def test_search_order_prefers_fmnist_data_dir(tmp_path, monkeypatch):
    # Copies of the real files in a private folder: FMNIST_DATA_DIR comes first.
    for name in data.FILES:
        (tmp_path / f"{name}.gz").write_bytes((data.DEBIAN_DIR / f"{name}.gz").read_bytes())
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path))
    loaded = data.load_dataset(allow_download=False)
    assert loaded.source == f"FMNIST_DATA_DIR ({tmp_path})"


def test_search_falls_through_a_broken_first_place(tmp_path, monkeypatch):
    write_fake_dataset(tmp_path)  # wrong checksums: skipped, the Debian copy wins
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path))
    loaded = data.load_dataset(allow_download=False)
    assert loaded.source.startswith("Debian package")


def test_nothing_found_lists_every_place_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DatasetError) as info:
        data.load_dataset(allow_download=False)
    message = str(info.value)
    assert "FMNIST_DATA_DIR" in message and "no-debian" in message and "Keras cache" in message
    assert "make dataset" in message and "apt-get install dataset-fashion-mnist" in message


@pytest.mark.slow
def test_real_dataset_shapes_and_checksums(real_data):
    assert real_data.x_train.shape == (60000, 28, 28) and real_data.x_train.dtype == np.uint8
    assert real_data.x_test.shape == (10000, 28, 28)
    assert real_data.class_counts("train") == [6000] * 10
    assert real_data.class_counts("test") == [1000] * 10
    assert real_data.sha256 == data.KNOWN_SHA256


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fmnist_core", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_info_json_reports_real_counts():
    result = run_cli("info", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["train"] == 60000 and summary["test"] == 10000
    assert summary["train_counts"] == [6000] * 10 and summary["test_counts"] == [1000] * 10
    assert summary["classes"][0] == "T-shirt/top" and len(summary["classes"]) == 10
    assert "dataset-fashion-mnist" in summary["source"]


def test_info_without_data_says_how_to_fix_without_traceback(tmp_path):
    import os

    code = (
        "import sys, pathlib, fmnist_core.data as d; d.DEBIAN_DIR = pathlib.Path(sys.argv[1]);"
        "from fmnist_core.cli import main; sys.exit(main(['info']))"
    )
    env = dict(os.environ, FMNIST_DATA_DIR=str(tmp_path), HOME=str(tmp_path), FMNIST_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "none")], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: Fashion-MNIST was not found")
    assert "make dataset" in result.stderr


def test_every_subcommand_has_help():
    from fmnist_core.cli import COMMANDS

    for name in COMMANDS:
        result = run_cli(name, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout, name


def test_sample_indices_are_distinct_sorted_and_repeatable():
    chosen = data.sample_indices(1000, 30, seed=4)
    assert len(set(chosen.tolist())) == 30 and np.all(np.diff(chosen) > 0) and chosen.max() < 1000
    assert np.array_equal(chosen, data.sample_indices(1000, 30, seed=4))
    assert np.array_equal(data.sample_indices(5, 30), np.arange(5))  # all, when no more
    drawn = data.sample_indices(1000, 30, seed=4, ordered=False)
    assert np.array_equal(np.sort(drawn), chosen)
    rows = data.sample_per_class(np.repeat(np.arange(10), 20), per_class=3, seed=0)
    assert rows.shape == (10, 3) and all((rows[c] // 20 == c).all() for c in range(10))
