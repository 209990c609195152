"""Faults a user's machine can throw at the app: a save killed half way, a model file
corrupted on disk, the dataset missing, model names that try to escape the registry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from locations import REPO_ROOT

APP_FILE = "../streamlit_app.py"  # AppTest resolves it from this file's folder
APP_TIMEOUT = 120  # s: the CPUs are shared with training runs


def tiny_classifier(seed: int = 0):
    """A 7,850-parameter Keras model (random weights) behind the app's Classifier interface."""
    import keras

    from fmnist_core.classifier import KerasClassifier

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    return KerasClassifier(model, kind="logreg", meta={"test_seed": seed})


def probe_images() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (4, 28, 28)).astype(np.float32)


def app_page_files() -> list[str]:
    from ui.navigation import PAGES

    return [page.path for page in PAGES]


def find_page_file(word: str) -> str:
    matches = [f for f in app_page_files() if word in Path(f).stem]
    if not matches:
        pytest.fail(f"streamlit_app.py routes no page named like '{word}': {app_page_files()}")
    return matches[0]


def page_text(app: AppTest) -> str:
    """Every text-like element of an AppTest run, joined, to search for messages."""
    parts = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "text",
        "code",
        "error",
        "warning",
        "info",
        "success",
        "exception",
    ):
        parts += [str(getattr(el, "value", "")) for el in getattr(app, kind)]
    for table in app.dataframe:
        value = table.value
        parts.append(getattr(value, "data", value).to_string())  # a Styler or a DataFrame
    return "\n".join(parts)


@pytest.fixture
def fresh_streamlit_caches():
    """AppTest runs in this process, so server-wide caches (the dataset, models) would leak
    between tests: clear them before and after."""
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


# ---------------------------------------------------------------------------------------
# Model names that try to leave the registry folder or hide in a terminal


BAD_NAMES = [
    "",
    ".",
    "..",
    "../evil",
    "../../etc/passwd",
    "a/b",
    "/abs",
    "a\\b",
    "..\\evil",
    "name\x00null",
    "line\nbreak",
    "tab\there",
    "bell\x07",
    "esc\x1b[31mred",
    "del\x7f",
    "x" * 300,
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_validate_name_refuses_escaping_and_control_characters(name):
    from fmnist_core.errors import RegistryError
    from fmnist_core.registry import validate_name

    with pytest.raises(RegistryError):
        validate_name(name)


@pytest.mark.parametrize("name", ["cnn-small", "mlp_2", "Model 7", "v1.2"])
def test_validate_name_accepts_plain_names(name):
    from fmnist_core.registry import validate_name

    validate_name(name)


def test_save_with_a_bad_name_writes_nothing_anywhere(tmp_path):
    from fmnist_core import registry
    from fmnist_core.errors import RegistryError

    registry_dir = tmp_path / "deep" / "models"
    registry_dir.mkdir(parents=True)
    for name in ("../escaped", "sub/dir", "ctl\x01"):
        with pytest.raises(RegistryError):
            registry.save(tiny_classifier(), name, folder=registry_dir)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# ---------------------------------------------------------------------------------------
# The process killed in the middle of saving a model

SAVE_FOREVER = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from test_faults import probe_images, tiny_classifier
    from fmnist_core import registry

    folder, attempt = sys.argv[1], int(sys.argv[3])
    classifier = tiny_classifier(seed=7)
    np.save(f"{folder}/../reference.npy", classifier.predict_proba(probe_images()))
    print("ready", flush=True)
    for number in range(10_000):
        name = f"run{attempt}-model{number:03d}"
        registry.save(classifier, name, folder=folder)
        print("saved", name, flush=True)
""")


def save_until_killed(folder: Path, attempt: int, kill_after: float) -> list[str]:
    """Run a process that saves models in a loop, SIGKILL it `kill_after` seconds after it
    is ready (nearly always inside a save), and return the names it reported as saved."""
    process = subprocess.Popen(
        [sys.executable, "-c", SAVE_FOREVER, str(folder), str(Path(__file__).parent), str(attempt)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    try:
        ready = process.stdout.readline()
        assert ready.strip() == "ready", ready + process.stderr.read()
        time.sleep(kill_after)
    finally:
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate(timeout=60)
    return [line.split()[1] for line in out.splitlines() if line.startswith("saved ")]


@pytest.mark.slow  # kills many saving processes
def test_save_killed_at_random_moments_leaves_only_complete_models(tmp_path):
    from fmnist_core import registry

    folder = tmp_path / "models"
    folder.mkdir()
    rng = np.random.default_rng(2024)
    reported: list[str] = []
    interrupted = 0
    for attempt in range(3):
        saved = save_until_killed(folder, attempt, kill_after=float(rng.uniform(0.3, 1.5)))
        reported += saved
        listed = {e.name for e in registry.list_entries(folder) if e.name.startswith(f"run{attempt}-")}
        # Every reported save is there; at most one more, finished just before the kill.
        assert set(saved) <= listed
        assert len(listed - set(saved)) <= 1
        interrupted += any(folder.glob(f"{registry.TEMP_PREFIX}*"))
    assert reported, "the saving process never finished a save: nothing was tested"
    assert interrupted, "no kill landed inside a save: nothing was tested"

    # "After a restart": this process reads the folder the killed ones left behind.
    entries = registry.list_entries(folder)
    assert {e.name for e in entries} >= set(reported)
    assert [e.name for e in entries if e.broken] == []
    reference = np.load(tmp_path / "reference.npy")
    for entry in entries:
        probabilities = registry.load(entry.path).predict_proba(probe_images())
        np.testing.assert_allclose(probabilities, reference, atol=1e-6)

    # The next save clears what the killed saves left behind.
    registry.save(tiny_classifier(), "after-restart", folder=folder)
    assert list(folder.glob(f"{registry.TEMP_PREFIX}*")) == []
    assert "after-restart" in {e.name for e in registry.list_entries(folder)}


# ---------------------------------------------------------------------------------------
# A model file corrupted on disk


def corrupt(model_folder: Path) -> None:
    """Damage the weights of a saved model the way a bad disk does: the biggest file of
    its folder gets garbage in the middle (meta.json is left alone)."""
    biggest = max((p for p in model_folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(biggest.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xde\xad\xbe\xef" * 16
    biggest.write_bytes(bytes(data))


def test_corrupted_model_is_listed_as_broken_and_the_rest_still_loads(models_dir):
    from fmnist_core import registry

    good = registry.save(tiny_classifier(1), "good-model")
    bad = registry.save(tiny_classifier(2), "bad-model")
    corrupt(bad)

    entries = {entry.name: entry for entry in registry.list_entries()}
    assert set(entries) == {"good-model", "bad-model"}
    assert entries["bad-model"].broken
    assert not entries["good-model"].broken
    expected = tiny_classifier(1).predict_proba(probe_images())
    np.testing.assert_allclose(registry.load("good-model").predict_proba(probe_images()), expected, atol=1e-6)
    assert good.exists()


def test_models_page_renders_with_a_broken_model(models_dir, fresh_streamlit_caches):
    from fmnist_core import registry

    registry.save(tiny_classifier(1), "good-model")
    corrupt(registry.save(tiny_classifier(2), "bad-model"))

    app = AppTest.from_file(APP_FILE, default_timeout=APP_TIMEOUT)
    app.run()
    app.switch_page(find_page_file("model")).run()

    assert not app.exception
    text = page_text(app)
    assert "good-model" in text and "bad-model" in text
    assert "broken" in text.lower()


# ---------------------------------------------------------------------------------------
# The dataset missing


@pytest.fixture
def no_dataset(tmp_path, monkeypatch, fresh_streamlit_caches):
    """Every place fmnist_core.data searches is empty and downloading is off."""
    from fmnist_core import data

    empty = tmp_path / "empty-data"
    empty.mkdir()
    monkeypatch.setenv("FMNIST_DATA_DIR", str(empty))
    monkeypatch.setenv("FMNIST_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path))  # no Keras cache
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian-package")
    return empty


def test_app_without_dataset_starts_and_says_how_to_get_it(no_dataset, models_dir):
    from fmnist_core.data import FIX_COMMAND

    app = AppTest.from_file(APP_FILE, default_timeout=APP_TIMEOUT)
    app.run()
    assert not app.exception
    assert FIX_COMMAND in page_text(app)

    for page_file in app_page_files():
        app.switch_page(page_file).run()
        assert not app.exception, f"{page_file}: {app.exception}"


def test_cli_without_dataset_says_the_same(no_dataset, tmp_path):
    from fmnist_core.data import FIX_COMMAND

    code = (
        "import sys, pathlib, fmnist_core.data as d; d.DEBIAN_DIR = pathlib.Path(sys.argv[1]);"
        "from fmnist_core.cli import main; sys.exit(main(['info']))"
    )
    env = dict(os.environ, FMNIST_DATA_DIR=str(no_dataset), HOME=str(tmp_path), FMNIST_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "none")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Fashion-MNIST was not found" in result.stderr
    assert FIX_COMMAND in result.stderr
