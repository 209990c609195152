"""`models` and `evaluate` as a user runs them: a separate process, a private registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from fmnist_core import registry
from fmnist_core.classes import SHORT_NAMES
from fmnist_core.classifier import SklearnClassifier
from fmnist_core.evaluation import evaluate

from locations import REPO_ROOT


@pytest.fixture(autouse=True)
def private_key_home(tmp_path, monkeypatch):
    """Keep the pickle-signing key of these tests out of the user's real config folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture(scope="module")
def logistic(small_data) -> SklearnClassifier:
    """A real (if small) model: logistic regression on 600 training images."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    x = small_data.x_train.reshape(len(small_data.x_train), -1) / 255.0
    with warnings.catch_warnings():  # a few iterations are enough for these tests
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = LogisticRegression(C=0.1, max_iter=100).fit(x, small_data.y_train)
    return SklearnClassifier(estimator, "sk_logreg", {"train_seconds": 1.0})


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fmnist_core", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_models_json_marks_broken_entries(models_dir, logistic):
    registry.save(logistic, "good")
    broken = models_dir / "broken"
    broken.mkdir()
    (broken / "meta.json").write_text("{ truncated")
    (models_dir / ".tmp-999999-abc").mkdir()  # an interrupted save: never listed

    result = cli("models", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing["folder"] == str(models_dir)
    rows = {row["name"]: row for row in listing["models"]}
    assert set(rows) == {"good", "broken"}
    assert rows["good"]["broken"] is None
    assert rows["good"]["kind"] == "sk_logreg" and rows["good"]["params"] == 7850
    assert "meta.json cannot be read" in rows["broken"]["broken"]
    assert listing["default"]["path"] == str(registry.default_model_path())

    text = cli("models")
    assert text.returncode == 0, text.stderr
    assert "BROKEN: meta.json cannot be read" in text.stdout and "good" in text.stdout


@pytest.mark.slow  # a model over the 10,000 real test images
def test_evaluate_json_on_the_real_test_set(models_dir, logistic, real_data):
    path = registry.save(logistic, "logistic")
    result = cli("evaluate", "--json", "--model", str(path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    expected = evaluate(logistic.predict_proba(real_data.x_test), real_data.y_test)
    assert report["model"] == str(path) and report["params"] == 7850
    assert report["count"] == 10_000
    assert report["accuracy"] == pytest.approx(expected.accuracy)
    assert 0.6 < report["accuracy"] < 0.95  # a real model on the real test images
    assert report["macro_f1"] == pytest.approx(expected.macro_f1)
    assert np.array_equal(np.array(report["confusion"]), expected.confusion)
    assert report["per_class"]["Trouser"]["support"] == 1000
    assert set(report["top_k"]) == {"1", "2", "3", "5"} and 0 <= report["ece"] <= 1

    table = cli("evaluate", "--model", "logistic")  # by registry name, readable output
    assert table.returncode == 0, table.stderr
    assert f"{expected.accuracy:.2%}" in table.stdout and "Ankle boot" in table.stdout
    header = next(line for line in table.stdout.splitlines() if "Pullover" in line and "Boot" in line)
    assert header.split() == list(SHORT_NAMES)  # columns named like rows


def corrupt_keras(models_dir: Path) -> str:
    folder = models_dir / "corrupt"
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text('{"kind": "mlp"}')
    (folder / "model.keras").write_bytes(b"PK\x03\x04 truncated archive")
    return str(folder)


def tampered_pickle(models_dir: Path, logistic: SklearnClassifier) -> str:
    path = registry.save(logistic, "tampered")
    (path / "model.pkl").write_bytes((path / "model.pkl").read_bytes() + b"\x00")
    return "tampered"


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "error: no model named 'nothing'"),
        ("corrupt", "error: model 'corrupt' is broken: model.keras cannot be read"),
        ("tampered", "error: model 'tampered' is broken: model.pkl is not signed"),
        ("traversal", "error: model name '..' cannot start with a dot"),
    ],
)
def test_evaluate_bad_model_is_one_line_and_exit_1(models_dir, logistic, case, message):
    model = {
        "missing": lambda: "nothing",
        "corrupt": lambda: corrupt_keras(models_dir),
        "tampered": lambda: tampered_pickle(models_dir, logistic),
        "traversal": lambda: "..",
    }[case]()
    result = cli("evaluate", "--json", "--model", model)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_a_reader_that_leaves_early_gets_no_error_message():
    """`python -m fmnist_core info | head -1`: the pipe is closed before the tool writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "FMNIST_OFFLINE": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fmnist_core", "info"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert done.stderr == ""
