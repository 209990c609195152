"""The model registry: round trips, atomic saves, broken entries, signed pickles, names."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fmnist_core import registry
from fmnist_core.classifier import KerasClassifier, SklearnClassifier
from fmnist_core.errors import RegistryError

from locations import REPO_ROOT


@pytest.fixture(autouse=True)
def private_key_home(tmp_path, monkeypatch):
    """Keep the pickle-signing key of these tests out of the user's real config folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture(scope="module")
def images():
    """100 synthetic images, learnable: class c has a bright block at rows 2c to 2c+4."""
    rng = np.random.default_rng(3)
    y = np.arange(100) % 10
    x = rng.integers(0, 60, (100, 28, 28)).astype(np.uint8)
    for i, label in enumerate(y):
        x[i, 2 * label : 2 * label + 4, 10:14] = 255
    return x, y


def tiny_keras(flip_tta: bool = False, **meta) -> KerasClassifier:
    import keras

    inputs = keras.Input((28, 28))
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    return KerasClassifier(model, "logreg", {"config": {"epochs": 0}, **meta}, flip_tta=flip_tta)


@pytest.fixture(scope="module")
def estimator(images):
    """A fitted scikit-learn logistic regression, shared: each save pickles it afresh."""
    from sklearn.linear_model import LogisticRegression

    x, y = images
    return LogisticRegression(max_iter=200).fit(x.reshape(len(x), -1) / 255.0, y)


def tiny_sklearn(estimator, **meta) -> SklearnClassifier:
    history = {"loss": [np.float32(0.5)]}
    return SklearnClassifier(estimator, "sk_logreg", {"history": history, **meta})


def test_keras_round_trip(models_dir, images):
    original = tiny_keras(flip_tta=True)
    path = registry.save(original, "tiny")
    assert path == models_dir / "tiny"
    assert sorted(p.name for p in path.iterdir()) == ["meta.json", "model.keras"]

    loaded = registry.load("tiny")
    assert isinstance(loaded, KerasClassifier)
    assert loaded.kind == "logreg" and loaded.flip_tta is True  # kept: it changes predictions
    assert loaded.meta["params"] == original.params == 7850
    assert loaded.meta["name"] == "tiny" and loaded.meta["config"] == {"epochs": 0}
    assert loaded.meta["registry_format"] == registry.FORMAT_VERSION
    x = images[0]
    np.testing.assert_array_equal(loaded.predict_proba(x), original.predict_proba(x))
    # The same model through a path to its folder and to its model file.
    for by_path in (path, str(path / "model.keras")):
        np.testing.assert_array_equal(registry.load(by_path).predict_proba(x[:5]), original.predict_proba(x[:5]))


def test_sklearn_round_trip_is_signed(models_dir, images, estimator):
    original = tiny_sklearn(estimator)
    path = registry.save(original, "logistic")
    meta = json.loads((path / "meta.json").read_text())
    assert meta["format"] == "pickle" and len(meta["pickle_hmac"]) == 64
    assert meta["history"] == {"loss": [0.5]}  # NumPy numbers stored as plain JSON
    key_file = registry.key_path()
    assert key_file.is_relative_to(Path(os.environ["XDG_CONFIG_HOME"]))
    assert key_file.stat().st_mode & 0o777 == 0o600

    loaded = registry.load("logistic")
    assert isinstance(loaded, SklearnClassifier)
    x = images[0]
    np.testing.assert_array_equal(loaded.predict_proba(x), original.predict_proba(x))
    assert loaded.meta["params"] == original.params == 7850


class Boom:
    """Runs code when unpickled: what a planted pickle would do."""

    def __reduce__(self):
        return (Path.touch, (Path(os.environ["XDG_CONFIG_HOME"]) / "pwned",))


def test_tampered_or_foreign_pickle_is_refused(models_dir, estimator):
    path = registry.save(tiny_sklearn(estimator), "victim")
    (path / "model.pkl").write_bytes(pickle.dumps(Boom()))  # swapped for a hostile pickle
    with pytest.raises(RegistryError, match="not signed by this installation"):
        registry.load("victim")
    assert not (Path(os.environ["XDG_CONFIG_HOME"]) / "pwned").exists()
    assert "not signed" in registry.list_entries()[0].broken

    # A correctly signed model copied to an installation with another key is refused too.
    good = registry.save(tiny_sklearn(estimator), "good")
    registry.key_path().unlink()
    with pytest.raises(RegistryError, match="not saved by this installation"):
        registry.load(good)
    registry.save(tiny_sklearn(estimator), "other")  # makes a new key
    with pytest.raises(RegistryError, match="not signed by this installation"):
        registry.load("good")


def test_overwrite_only_when_asked(models_dir, estimator):
    registry.save(tiny_sklearn(estimator, note="first"), "m")
    with pytest.raises(RegistryError, match="already exists"):
        registry.save(tiny_sklearn(estimator, note="second"), "m")
    assert registry.load("m").meta["note"] == "first"
    registry.save(tiny_sklearn(estimator, note="second"), "m", overwrite=True)
    assert registry.load("m").meta["note"] == "second"
    assert [e.name for e in registry.list_entries()] == ["m"]
    assert sorted(p.name for p in models_dir.iterdir()) == ["m"]  # nothing hidden left over


@pytest.mark.parametrize("failing", ["rename", "fsync"])
def test_failed_save_leaves_no_half_model(models_dir, estimator, monkeypatch, failing):
    registry.save(tiny_sklearn(estimator), "kept")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(registry.os, failing, boom)
        with pytest.raises(RegistryError, match="could not be saved.*No space left"):
            registry.save(tiny_sklearn(estimator), "new")

    assert [(e.name, e.broken) for e in registry.list_entries()] == [("kept", None)]
    assert sorted(p.name for p in models_dir.iterdir()) == ["kept"]


def test_failed_overwrite_keeps_the_previous_model(models_dir, estimator, monkeypatch):
    registry.save(tiny_sklearn(estimator, note="first"), "m")
    real_rename, calls = os.rename, []

    def second_rename_fails(source, target):
        calls.append(target)
        if len(calls) == 2:  # the old model is aside, the new one is about to take its name
            raise OSError(5, "Input/output error")
        real_rename(source, target)

    with monkeypatch.context() as patch:
        patch.setattr(registry.os, "rename", second_rename_fails)
        with pytest.raises(RegistryError, match="could not be saved"):
            registry.save(tiny_sklearn(estimator, note="second"), "m", overwrite=True)
    assert len(calls) == 3  # aside, (failed) into place, back
    assert registry.load("m").meta["note"] == "first"
    assert sorted(p.name for p in models_dir.iterdir()) == ["m"]


SAVE_THEN_HANG = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from fmnist_core import registry
    from fmnist_core.classifier import SklearnClassifier

    x = np.random.default_rng(0).random((20, 784))
    model = SklearnClassifier(LogisticRegression().fit(x, np.arange(20) % 10), "sk_logreg", {})
    model.params  # import what counting parameters needs before the save starts
    real_fsync = os.fsync

    def hang(fd):  # the first flush of the save: files are written, nothing renamed yet
        real_fsync(fd)
        print("saving", flush=True)
        time.sleep(600)

    os.fsync = hang
    registry.save(model, "half")
""")


@pytest.mark.slow  # a child process that fits and saves a model, killed
def test_process_killed_mid_save(models_dir, estimator):
    registry.save(tiny_sklearn(estimator), "kept")
    child = subprocess.Popen(
        [sys.executable, "-c", SAVE_THEN_HANG],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "saving"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    leftovers = [p for p in models_dir.iterdir() if p.name.startswith(".")]
    assert len(leftovers) == 1 and (leftovers[0] / "model.pkl").exists()  # it died mid-save

    assert [(e.name, e.broken) for e in registry.list_entries()] == [("kept", None)]
    with pytest.raises(RegistryError, match="no model named 'half'"):
        registry.load("half")
    registry.save(tiny_sklearn(estimator), "after")  # the next save sweeps the dead one's folder
    assert sorted(p.name for p in models_dir.iterdir()) == ["after", "kept"]


def test_corrupt_entries_are_listed_broken_and_the_rest_loads(models_dir, images, estimator):
    registry.save(tiny_keras(), "good_keras")
    registry.save(tiny_sklearn(estimator), "good_sklearn")
    for name in ("flipped", "truncated", "garbage"):
        registry.save(tiny_keras(), name)
    keras_file = models_dir / "flipped" / "model.keras"
    data = bytearray(keras_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one damaged byte inside the archive
    keras_file.write_bytes(bytes(data))
    truncated = models_dir / "truncated" / "model.keras"
    truncated.write_bytes(truncated.read_bytes()[:500])
    (models_dir / "garbage" / "model.keras").write_bytes(b"not a zip at all")
    (models_dir / "no_meta").mkdir()
    (models_dir / "bad_meta").mkdir()
    (models_dir / "bad_meta" / "meta.json").write_text("{ not json")
    (models_dir / "no_model").mkdir()
    (models_dir / "no_model" / "meta.json").write_text('{"kind": "mlp"}')
    (models_dir / "stray_file.txt").write_text("ignored: not a folder")

    entries = {e.name: e for e in registry.list_entries()}
    assert set(entries) == {
        "good_keras",
        "good_sklearn",
        "flipped",
        "truncated",
        "garbage",
        "no_meta",
        "bad_meta",
        "no_model",
    }
    assert entries["good_keras"].broken is None and entries["good_sklearn"].broken is None
    assert "model.keras" in entries["garbage"].broken
    assert "meta.json is missing" in entries["no_meta"].broken
    assert "meta.json cannot be read" in entries["bad_meta"].broken
    assert "neither model.keras nor model.pkl" in entries["no_model"].broken
    for name in ("flipped", "truncated", "garbage", "no_meta", "bad_meta", "no_model"):
        assert entries[name].broken, name
        with pytest.raises(RegistryError, match=f"model '{name}' is broken"):
            registry.load(name)
    assert registry.load("good_keras").predict_proba(images[0][:3]).shape == (3, 10)
    assert registry.load("good_sklearn").predict_proba(images[0][:3]).shape == (3, 10)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"params": "many"}, "'params' is not a number"),
        ({"metrics": [0.9]}, "'metrics' is not an object"),
        ({"metrics": {"accuracy": None}}, "metrics 'accuracy' is not a number"),
        ({"metrics": {"per_class": {"Bag": {"precision": "high"}}}}, "metrics 'per_class' is not a table"),
        ({"history": {"loss": ["low"]}}, "'history' is not lists of numbers"),
        ({"config": "fast"}, "'config' is not an object"),
    ],
)
def test_a_malformed_meta_breaks_only_its_own_entry(models_dir, estimator, change, reason):
    """Listings and cards format these fields; a hand-edited meta.json must not break them."""
    registry.save(tiny_sklearn(estimator), "good")
    path = registry.save(tiny_sklearn(estimator), "edited")
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, **change}))
    entries = {e.name: e for e in registry.list_entries()}
    assert entries["good"].broken is None
    assert entries["edited"].broken.startswith(f"meta.json is malformed: {reason}")
    with pytest.raises(RegistryError, match="model 'edited' is broken: meta.json is malformed"):
        registry.load("edited")


def test_hostile_entries_neither_crash_nor_hang_a_listing(models_dir, estimator):
    """A meta.json nested deeper than the JSON parser can go, a named pipe where the model
    file should be (reading it would block forever), a Keras archive whose config.json is
    not JSON: each is one broken entry, found without loading anything."""
    registry.save(tiny_sklearn(estimator), "good")
    (models_dir / "deep").mkdir()
    (models_dir / "deep" / "meta.json").write_text("[" * 100_000 + "]" * 100_000)
    piped = registry.save(tiny_keras(), "piped")
    (piped / "model.keras").unlink()
    os.mkfifo(piped / "model.keras")
    (models_dir / "piped_meta").mkdir()
    os.mkfifo(models_dir / "piped_meta" / "meta.json")
    bad_config = registry.save(tiny_keras(), "bad_config")
    with zipfile.ZipFile(bad_config / "model.keras", "w") as archive:
        archive.writestr("config.json", "{bad")

    entries = {e.name: e for e in registry.list_entries()}
    assert entries["good"].broken is None
    assert "meta.json cannot be read (nested too deeply)" in entries["deep"].broken
    assert entries["piped"].broken == "model.keras is not a regular file"
    assert "meta.json cannot be read (not a regular file)" in entries["piped_meta"].broken
    assert "model.keras cannot be read (JSONDecodeError" in entries["bad_config"].broken
    for name in ("deep", "piped", "piped_meta", "bad_config"):
        with pytest.raises(RegistryError, match=f"model '{name}' is broken"):
            registry.load(name)


def _patch_central_header(archive: Path, entry: str, offset: int, size: int, value) -> None:
    """Overwrite one field of `entry`'s central-directory record in a zip file."""
    data = bytearray(archive.read_bytes())
    start = 0
    while (at := data.find(b"PK\x01\x02", start)) != -1:
        name_length = int.from_bytes(data[at + 28 : at + 30], "little")
        if data[at + 46 : at + 46 + name_length] == entry.encode():
            old = int.from_bytes(data[at + offset : at + offset + size], "little")
            data[at + offset : at + offset + size] = value(old).to_bytes(size, "little")
        start = at + 4
    archive.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "offset, size, value, reason",
    [
        (8, 2, lambda flags: flags | 1, "RuntimeError"),  # marked encrypted
        (10, 2, lambda method: 99, "NotImplementedError"),  # an unknown compression method
        (24, 4, lambda length: 0xFFFF_FFF0, "claims"),  # 4 GB unpacked: a zip bomb's claim
    ],
)
def test_a_hostile_keras_archive_is_a_broken_entry(models_dir, offset, size, value, reason):
    registry.save(tiny_keras(), "good")
    path = registry.save(tiny_keras(), "hostile")
    _patch_central_header(path / "model.keras", "config.json", offset, size, value)
    entries = {e.name: e for e in registry.list_entries()}
    assert entries["good"].broken is None
    assert entries["hostile"].broken.startswith("model.keras") and reason in entries["hostile"].broken
    with pytest.raises(RegistryError, match="model 'hostile' is broken"):
        registry.load("hostile")


def test_a_huge_meta_json_is_not_read(models_dir):
    (models_dir / "huge").mkdir(parents=True)
    with open(models_dir / "huge" / "meta.json", "wb") as meta:
        meta.truncate(registry.MAX_JSON_BYTES + 1)  # sparse: no disk space used
    assert "meta.json cannot be read (larger than 16 MB)" in registry.list_entries()[0].broken


def test_a_keras_file_with_code_in_it_is_not_run(models_dir):
    """A Lambda layer carries Python bytecode; safe mode refuses to deserialize it."""
    import keras

    inputs = keras.Input((28, 28))
    x = keras.layers.Lambda(lambda t: t * 1.0)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    registry.save(KerasClassifier(model, "logreg", {}), "with_code")
    assert registry.list_entries()[0].broken is None  # a sound archive: only loading tells
    with pytest.raises(RegistryError, match="model 'with_code' is broken: .*(?i:safe)"):
        registry.load("with_code")


def test_a_keras_model_that_is_no_fashion_mnist_classifier_is_refused(models_dir):
    import keras

    inputs = keras.Input((28, 28))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    registry.save(KerasClassifier(model, "logreg", {}), "three_classes")
    with pytest.raises(
        RegistryError,
        match=r"model 'three_classes' is not a Fashion-MNIST "
        r"classifier: it maps \(None, 28, 28\) to \(None, 3\)",
    ):
        registry.load("three_classes")


def test_a_name_is_checked_before_the_work_that_needs_it(models_dir, estimator):
    assert registry.check_new_name("free") == "free"
    registry.save(tiny_sklearn(estimator), "taken")
    with pytest.raises(RegistryError, match="'taken' already exists"):
        registry.check_new_name("taken")
    with pytest.raises(RegistryError, match="cannot contain"):
        registry.check_new_name("a/b")


def test_keras_file_that_passes_the_archive_check_but_fails_to_load(models_dir):
    path = registry.save(tiny_keras(), "odd")
    with zipfile.ZipFile(path / "model.keras", "w") as archive:
        archive.writestr("config.json", '{"class_name": "NoSuchLayer", "config": {}}')
    assert registry.list_entries()[0].broken is None  # only loading can tell
    with pytest.raises(RegistryError, match="model 'odd' is broken: model.keras cannot be read"):
        registry.load("odd")


def test_listing_is_newest_first_and_survives_a_missing_folder(models_dir, estimator):
    assert registry.list_entries() == []  # the folder does not exist yet
    for name in ("one", "two", "three"):
        registry.save(tiny_sklearn(estimator), name)
    assert [e.name for e in registry.list_entries()] == ["three", "two", "one"]
    summary = registry.list_entries()[0].summary()
    assert (summary["name"], summary["kind"], summary["broken"]) == ("three", "sk_logreg", None)
    assert json.loads(json.dumps(summary))["params"] == 7850


def test_delete_and_rename(models_dir, estimator):
    registry.save(tiny_sklearn(estimator), "a")
    registry.save(tiny_sklearn(estimator), "b")
    with pytest.raises(RegistryError, match="already exists"):
        registry.rename("a", "b")
    new_path = registry.rename("a", "c")
    assert new_path == models_dir / "c"
    assert registry.load("c").meta["name"] == "c"
    with pytest.raises(RegistryError, match="no model named 'a'"):
        registry.load("a")
    registry.delete("b")
    assert [e.name for e in registry.list_entries()] == ["c"]
    assert sorted(p.name for p in models_dir.iterdir()) == ["c"]
    with pytest.raises(RegistryError, match="no model named 'b'"):
        registry.delete("b")
    with pytest.raises(RegistryError, match="cannot contain"):
        registry.rename("c", "sub/escaped")
    (models_dir / "broken").mkdir()
    registry.delete("broken")  # broken entries can be cleaned up too
    assert not (models_dir / "broken").exists()


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "..",
        ".",
        "../x",
        "a/b",
        "a\\b",
        "x\n",
        "tab\there",
        "nul\x00",
        ".hidden",
        "x" * 65,
        "bidi\u202etxt",
        " padded",
        "c:drive",
    ],
)
def test_bad_names_are_refused(models_dir, estimator, name):
    with pytest.raises(RegistryError, match="model name"):
        registry.validate_name(name)
    with pytest.raises(RegistryError):
        registry.save(tiny_sklearn(estimator), name)
    assert not models_dir.parent.joinpath("x").exists()
    assert registry.list_entries() == []


@pytest.mark.parametrize("name", ["mlp-1", "CNN 93.4% (aug)", "x" * 64, "modèle_été", "a.b"])
def test_good_names_are_kept(name):
    assert registry.validate_name(name) == name


def test_missing_default_model_has_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(registry.paths, "ASSETS_DIR", tmp_path / "assets")
    assert registry.default_model_path() == tmp_path / "assets" / "default_model"
    with pytest.raises(RegistryError, match="bundled default model is not there yet"):
        registry.load_default()
    assert registry.read_entry(registry.default_model_path()).broken.endswith("does not exist")


def test_unknown_names_and_paths(models_dir):
    with pytest.raises(RegistryError, match="no model named 'nope'"):
        registry.load("nope")
    with pytest.raises(RegistryError, match="not a model folder \\(it does not exist\\)"):
        registry.load(str(models_dir / "nowhere"))
    stray = models_dir / "stray.keras"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"not a model")
    with pytest.raises(RegistryError, match="stray.keras is a file, not a model folder"):
        registry.load(str(stray))
