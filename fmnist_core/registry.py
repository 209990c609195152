"""Saved models: one folder per model, written atomically, read defensively.

Layout of the models folder (`fmnist_core.paths.models_dir()`):

    <name>/meta.json      what the model is (kind, config, metrics, history...) + registry fields
    <name>/model.keras    a Keras model, loaded with safe_mode=True, or
    <name>/model.pkl      a scikit-learn estimator, signed (HMAC-SHA256) by this installation
    .tmp-<pid>-<random>/  a save in progress; hidden, never listed

A save writes everything into a hidden folder, fsyncs it, then renames it into place in
one step, so a crash never leaves a half model under a real name. A leftover hidden
folder of a save whose process has died is removed by the next save.

Why pickles are signed: unpickling runs arbitrary code, so the app only loads a model.pkl
whose HMAC was made with this installation's secret key. The key lives in the user's
config folder (`$XDG_CONFIG_HOME/fmnist/registry.key`, default `~/.config/...`, mode
0600), not in the models folder: a models folder copied from elsewhere (or pointed to
with FMNIST_MODELS_DIR) then cannot bring its own key along, and its pickles are refused.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import pickle
import secrets
import shutil
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmnist_core import paths
from fmnist_core.classes import NUM_CLASSES
from fmnist_core.classifier import Classifier, KerasClassifier, SklearnClassifier
from fmnist_core.errors import RegistryError

FORMAT_VERSION = 1
META = "meta.json"
KERAS_FILE = "model.keras"
PICKLE_FILE = "model.pkl"
MAX_NAME = 64
TEMP_PREFIX = ".tmp-"
FORBIDDEN_CHARS = '/\\<>:"|?*'  # path separators, and what Windows refuses in a file name
REGISTRY_FIELDS = ("name", "saved_at", "registry_format", "format", "pickle_hmac")


@dataclass(frozen=True)
class Entry:
    """One folder of the registry; `broken` says, for a person, why it cannot be loaded."""

    name: str
    path: Path
    meta: dict[str, Any] | None
    broken: str | None = None

    def summary(self) -> dict[str, Any]:
        """The few fields a listing shows, as plain JSON types."""
        meta = self.meta or {}
        metrics = meta.get("metrics") or {}
        return {
            "name": self.name,
            "path": str(self.path),
            "kind": meta.get("kind"),
            "params": meta.get("params"),
            "accuracy": metrics.get("accuracy"),
            "macro_f1": metrics.get("macro_f1"),
            "train_seconds": meta.get("train_seconds"),
            "saved_at": meta.get("saved_at"),
            "broken": self.broken,
        }


# ---------------------------------------------------------------- names and places


def validate_name(name: str) -> str:
    """Return `name` if it is safe as a folder name, else raise RegistryError saying why."""
    if not isinstance(name, str) or not name.strip():
        raise RegistryError("a model name cannot be empty")
    if len(name) > MAX_NAME:
        raise RegistryError(f"model name is {len(name)} characters long; the limit is {MAX_NAME}")
    if name.startswith("."):
        raise RegistryError(f"model name {name!r} cannot start with a dot")
    if name != name.strip():
        raise RegistryError(f"model name {name!r} cannot start or end with a space")
    bad = sorted({c for c in name if c in FORBIDDEN_CHARS})
    if bad:
        raise RegistryError(f"model name {name!r} cannot contain {' '.join(bad)}")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise RegistryError(f"model name {name!r} cannot contain control or invisible characters")
    return name


def check_new_name(name: str, folder: Path | None = None) -> str:
    """Return `name` if a model could be saved under it now; checked before a long training
    run, so that a bad or taken name does not throw its result away at the end."""
    validate_name(name)
    if (_folder(folder) / name).exists():
        raise RegistryError(f"a model named {name!r} already exists; pick another name")
    return name


DEFAULT_MODEL = "default_model"  # the bundled model's folder in assets/
PHOTO_MODEL = "photo_model"  # the bundled model tuned for photos (fmnist_core.photo_head)
MODEL_CARD = "MODEL_CARD.md"  # beside a bundled model: `train --bundle`, `photo-model`


def default_model_path() -> Path:
    """The bundled model shipped in assets/, in the same folder layout as a registry entry."""
    return paths.ASSETS_DIR / DEFAULT_MODEL


def photo_model_path() -> Path:
    """The bundled photo model in assets/, made by `python -m fmnist_core photo-model`."""
    return paths.ASSETS_DIR / PHOTO_MODEL


def _folder(folder: Path | None) -> Path:
    return Path(folder) if folder is not None else paths.models_dir()


def _existing(name: str, folder: Path | None) -> Path:
    path = _folder(folder) / validate_name(name)
    if not path.is_dir():
        raise RegistryError(f"no model named {name!r} in {path.parent} (python -m fmnist_core models lists them)")
    return path


# ---------------------------------------------------------------- the signing key


def key_path() -> Path:
    """Where this installation's pickle-signing key lives (see the module docstring)."""
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "fmnist" / "registry.key"


def _read_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise RegistryError(f"the registry key {path} cannot be read ({exc})") from None
    if len(key) < 32:
        raise RegistryError(f"the registry key {path} is too short; delete it to make a new one")
    return key


def _existing_key() -> bytes | None:
    """The secret key, or None before this installation has saved its first pickle."""
    path = key_path()
    return _read_key(path) if path.exists() else None


def _signing_key() -> bytes:
    """The secret key, made on first use; atomically, so two processes end up with one key."""
    path = key_path()
    if path.exists():
        return _read_key(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)  # fails if another process made the key meanwhile: use theirs
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    except OSError as exc:
        raise RegistryError(
            f"cannot create the key that signs saved scikit-learn models at {path} ({exc}); "
            "set XDG_CONFIG_HOME to a writable folder"
        ) from None
    return _read_key(path)


def _signature(data: bytes, key: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _verified_pickle(path: Path) -> tuple[bytes | None, str | None]:
    """(the pickle's bytes, None) if this installation signed it, else (None, the reason)."""
    try:
        data = path.read_bytes()
        meta = _read_json(path.parent / META)
    except (OSError, ValueError) as exc:
        return None, f"{path.name} cannot be read ({exc})"
    try:
        key = _existing_key()
    except RegistryError as exc:
        return None, str(exc)
    if key is None:
        return None, f"{path.name} was not saved by this installation (it has no signing key yet)"
    expected = meta.get("pickle_hmac") if isinstance(meta, dict) else None
    if not isinstance(expected, str) or not hmac.compare_digest(expected, _signature(data, key)):
        return None, (
            f"{path.name} is not signed by this installation (tampered, or copied "
            "from elsewhere); it is not unpickled because that could run any code"
        )
    return data, None


# ---------------------------------------------------------------- reading entries


MAX_JSON_BYTES = 16 * 2**20  # a meta.json or a Keras config; far larger means hostile
MAX_ARCHIVE_BYTES = 2**31  # what a .keras archive may unpack to before checking its CRCs


def _parse_json(text: str | bytes) -> Any:
    """json.loads, with nesting too deep for the parser a ValueError like any bad JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _read_json(path: Path) -> Any:
    """A JSON file's content; OSError or ValueError for anything a listing must survive:
    a pipe or device in its place (reading would block), a huge file, hostile nesting."""
    status = path.stat()  # FileNotFoundError when it is missing, as from reading it
    if not stat.S_ISREG(status.st_mode):
        raise ValueError("not a regular file")
    if status.st_size > MAX_JSON_BYTES:
        raise ValueError(f"larger than {MAX_JSON_BYTES // 2**20} MB")
    return _parse_json(path.read_bytes())


def _problem(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Cheap checks that need no TensorFlow: (meta or None, reason it is broken or None)."""
    if not path.is_dir():
        return None, f"{path} does not exist"
    try:
        meta = _read_json(path / META)
    except FileNotFoundError:
        return None, f"{META} is missing (an unfinished or foreign folder)"
    except (OSError, ValueError) as exc:
        return None, f"{META} cannot be read ({exc})"
    if not isinstance(meta, dict) or not isinstance(meta.get("kind"), str):
        return None, f"{META} does not describe a model (no 'kind')"
    shape = _meta_shape_problem(meta)
    if shape:
        return meta, f"{META} is malformed: {shape}"
    version = meta.get("registry_format", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        return meta, f"saved in registry format {version!r}, which this version cannot read"
    keras_file, pickle_file = path / KERAS_FILE, path / PICKLE_FILE
    for model_file in (keras_file, pickle_file):
        if model_file.exists() and not model_file.is_file():
            return meta, f"{model_file.name} is not a regular file"
    if keras_file.exists():
        return meta, _keras_archive_problem(keras_file)
    if pickle_file.exists():
        return meta, _verified_pickle(pickle_file)[1]
    return meta, f"neither {KERAS_FILE} nor {PICKLE_FILE} is there"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _meta_shape_problem(meta: dict[str, Any]) -> str | None:
    """The fields listings and cards read must have their types, so that one hand-edited
    meta.json marks its own entry broken instead of breaking every page that lists models."""
    for key in ("params", "train_seconds"):
        if key in meta and not _is_number(meta[key]):
            return f"'{key}' is not a number"
    if not isinstance(meta.get("config", {}), dict):
        return "'config' is not an object"
    metrics = meta.get("metrics", {})
    if not isinstance(metrics, dict):
        return "'metrics' is not an object"
    for key in ("accuracy", "macro_f1", "ece"):
        if key in metrics and not _is_number(metrics[key]):
            return f"metrics '{key}' is not a number"
    if not isinstance(metrics.get("top_k", {}), dict):
        return "metrics 'top_k' is not an object"
    per_class = metrics.get("per_class", {})
    if not isinstance(per_class, dict) or not all(
        isinstance(c, dict) and all(_is_number(c.get(k)) for k in ("precision", "recall", "f1", "support"))
        for c in per_class.values()
    ):
        return "metrics 'per_class' is not a table of numbers per class"
    history = meta.get("history", {})
    if not isinstance(history, dict) or not all(
        isinstance(v, list) and all(_is_number(x) for x in v) for v in history.values()
    ):
        return "'history' is not lists of numbers"
    return None


def _keras_archive_problem(path: Path) -> str | None:
    """A .keras file is a zip archive: check its entries, their CRCs and that its config
    parses, without loading it."""
    try:
        with zipfile.ZipFile(path) as archive:
            if "config.json" not in archive.namelist():
                return f"{KERAS_FILE} is not a Keras model archive (no config.json)"
            unpacked = sum(info.file_size for info in archive.infolist())
            config_size = archive.getinfo("config.json").file_size
            if unpacked > MAX_ARCHIVE_BYTES or config_size > MAX_JSON_BYTES:
                return f"{KERAS_FILE} claims {unpacked:,} bytes unpacked: not a model of this app"
            damaged = archive.testzip()
            if damaged is not None:
                return f"{KERAS_FILE} is damaged ({damaged} fails its checksum)"
            config = _parse_json(archive.read("config.json"))
    # RuntimeError: an encrypted entry, or (NotImplementedError) an unknown compression method.
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, ValueError, RuntimeError) as exc:
        return f"{KERAS_FILE} cannot be read ({type(exc).__name__}: {exc})"
    if not isinstance(config, dict):
        return f"{KERAS_FILE} is not a Keras model archive (its config.json is not an object)"
    return None


def read_entry(path: Path) -> Entry:
    """Describe one model folder; never raises (a problem is reported in `broken`)."""
    path = Path(path)
    meta, broken = _problem(path)
    return Entry(name=path.name, path=path, meta=meta, broken=broken)


def _registry_entry(path: Path) -> Entry:
    """An entry of the models folder, which must also be loadable by its name."""
    entry = read_entry(path)
    try:
        validate_name(path.name)
    except RegistryError as exc:
        return Entry(entry.name, entry.path, entry.meta, entry.broken or str(exc))
    return entry


def _timestamp(entry: Entry) -> float:
    try:
        return datetime.fromisoformat(str((entry.meta or {})["saved_at"])).timestamp()
    except (KeyError, ValueError):
        try:
            return entry.path.stat().st_mtime
        except OSError:
            return 0.0


def list_entries(folder: Path | None = None) -> list[Entry]:
    """Every model folder, newest first; broken ones included and marked, hidden ones
    (saves in progress or interrupted) left out. Never raises."""
    try:
        children = [p for p in _folder(folder).iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return []
    return sorted((_registry_entry(p) for p in children), key=_timestamp, reverse=True)


# ---------------------------------------------------------------- loading


def _resolve(name_or_path: str | Path) -> Path:
    """A registry name is a bare word; anything with a separator, or a Path, is a path."""
    if isinstance(name_or_path, Path) or any(sep in str(name_or_path) for sep in "/\\"):
        path = Path(name_or_path).expanduser()
        if path.name in (KERAS_FILE, PICKLE_FILE, META):
            path = path.parent
        if not path.exists():
            raise RegistryError(f"{path} is not a model folder (it does not exist)")
        if not path.is_dir():
            raise RegistryError(
                f"{path} is a file, not a model folder: give the folder that "
                f"holds {META} and {KERAS_FILE} or {PICKLE_FILE}"
            )
        return path
    return _existing(str(name_or_path), None)


def load(name_or_path: str | Path) -> Classifier:
    """A registry name, or the path of a model folder (or of its model file), as a Classifier."""
    path = _resolve(name_or_path)
    entry = read_entry(path)
    label = f"model '{entry.name}'"
    if entry.meta is None or entry.broken:
        raise RegistryError(f"{label} is broken: {entry.broken}")
    if (path / KERAS_FILE).exists():
        return _load_keras(path / KERAS_FILE, entry.meta, label)
    return _load_pickle(path / PICKLE_FILE, entry.meta, label)


def _load_keras(path: Path, meta: dict[str, Any], label: str) -> Classifier:
    import keras

    try:
        model = keras.saving.load_model(str(path), safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad file
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise RegistryError(f"{label} is broken: {KERAS_FILE} cannot be read ({reason})") from None
    shapes = (tuple(model.input_shape), tuple(model.output_shape))
    if shapes != ((None, 28, 28), (None, NUM_CLASSES)):
        raise RegistryError(
            f"{label} is not a Fashion-MNIST classifier: it maps {shapes[0]} to "
            f"{shapes[1]}, not (None, 28, 28) images to (None, {NUM_CLASSES}) classes"
        )
    return KerasClassifier(model, meta["kind"], meta, flip_tta=bool(meta.get("flip_tta", False)))


def _load_pickle(path: Path, meta: dict[str, Any], label: str) -> Classifier:
    data, reason = _verified_pickle(path)
    if data is None:
        raise RegistryError(f"{label} is refused: {reason}")
    try:
        estimator = pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - e.g. a scikit-learn version that cannot read it
        reason = f"{PICKLE_FILE} cannot be unpickled ({exc})"
        raise RegistryError(f"{label} is broken: {reason}") from None
    return SklearnClassifier(estimator, meta["kind"], meta)


def load_default() -> Classifier:
    """The bundled model, with a clear message when it has not been produced yet."""
    path = default_model_path()
    if not path.is_dir():
        raise RegistryError(
            f"the bundled default model is not there yet ({path}); "
            "pass --model NAME_OR_PATH, or train and save a model first"
        )
    return load(path)


# ---------------------------------------------------------------- writing


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's list of names, to disk (folders: POSIX only)."""
    flags = os.O_RDONLY
    if path.is_dir():
        if os.name != "posix":
            return
        flags |= os.O_DIRECTORY
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _json_default(value: Any) -> Any:
    """NumPy numbers and arrays (in histories and metrics) as plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} cannot be stored in {META}")


def _write_json(path: Path, meta: dict[str, Any]) -> None:
    path.write_text(json.dumps(meta, indent=2, default=_json_default), encoding="utf-8")


def _write_model(classifier: Classifier, temp: Path) -> dict[str, Any]:
    """Write the model file; return the registry fields that depend on its format."""
    if isinstance(classifier, KerasClassifier):
        classifier.model.save(str(temp / KERAS_FILE))
        return {"format": "keras", "flip_tta": bool(classifier.flip_tta)}
    if isinstance(classifier, SklearnClassifier):
        data = pickle.dumps(classifier.estimator, protocol=pickle.HIGHEST_PROTOCOL)
        (temp / PICKLE_FILE).write_bytes(data)
        return {"format": "pickle", "pickle_hmac": _signature(data, _signing_key())}
    raise RegistryError(f"cannot save a {type(classifier).__name__}: not a Keras or scikit-learn model")


def _remove_stale_temps(folder: Path) -> None:
    """Delete hidden save folders whose writing process has died (a crash mid-save).
    POSIX only: elsewhere os.kill(pid, 0) would terminate the process, not probe it."""
    if os.name != "posix":
        return
    for temp in folder.glob(f"{TEMP_PREFIX}*"):
        try:
            pid = int(temp.name[len(TEMP_PREFIX) :].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(temp, ignore_errors=True)
        except (ValueError, OSError):
            continue  # a live process (maybe another user's), or a name we did not make


def _temp_dir(folder: Path) -> Path:
    return folder / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"


def save(classifier: Classifier, name: str, folder: Path | None = None, overwrite: bool = False) -> Path:
    """Save under `name` atomically; return the model's folder. An existing name is kept
    unless `overwrite`."""
    validate_name(name)
    folder = _folder(folder)
    target = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RegistryError(f"cannot create the models folder {folder} ({exc})") from None
    if target.exists() and not overwrite:
        raise RegistryError(f"a model named {name!r} already exists; pick another name")
    _remove_stale_temps(folder)
    temp = _temp_dir(folder)
    try:
        temp.mkdir()
        fields = _write_model(classifier, temp)
        meta = {
            **{k: v for k, v in classifier.meta.items() if k not in REGISTRY_FIELDS},
            "kind": classifier.kind,
            "params": int(classifier.params),
            "name": name,
            "saved_at": datetime.now(UTC).isoformat(),
            "registry_format": FORMAT_VERSION,
            **fields,
        }
        _write_json(temp / META, meta)
        for path in (*temp.iterdir(), temp):
            _fsync(path)
        _move_into_place(temp, target, overwrite)
        _fsync(folder)
    except RegistryError:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    except Exception as exc:  # noqa: BLE001 - disk full, permissions, a model Keras cannot save
        shutil.rmtree(temp, ignore_errors=True)
        raise RegistryError(f"model {name!r} could not be saved ({exc})") from None
    return target


def _move_into_place(temp: Path, target: Path, overwrite: bool) -> None:
    """One rename makes the new model visible. Overwriting first moves the old one aside
    (hidden), so at every moment the name holds a complete model or nothing."""
    if overwrite and target.exists():
        old = _temp_dir(target.parent)
        os.rename(target, old)
        try:
            os.rename(temp, target)
        except OSError:
            os.rename(old, target)  # put the previous model back
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    try:
        os.rename(temp, target)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):  # another save took the name meanwhile
            raise RegistryError(f"a model named {target.name!r} already exists") from None
        raise


def delete(name: str, folder: Path | None = None) -> None:
    """Remove a model, broken or not; it disappears from listings in one step."""
    path = _existing(name, folder)
    hidden = _temp_dir(path.parent)
    try:
        os.rename(path, hidden)
    except OSError as exc:
        raise RegistryError(f"model {name!r} could not be deleted ({exc})") from None
    shutil.rmtree(hidden, ignore_errors=True)


def rename(old: str, new: str, folder: Path | None = None) -> Path:
    """Give a model a new name (also recorded in its meta.json); return its new folder."""
    source = _existing(old, folder)
    target = source.parent / validate_name(new)
    if target.exists():
        raise RegistryError(f"a model named {new!r} already exists")
    try:
        os.rename(source, target)
    except OSError as exc:
        raise RegistryError(f"model {old!r} could not be renamed ({exc})") from None
    try:
        meta = _read_json(target / META)
        if isinstance(meta, dict):
            temp = target / f"{TEMP_PREFIX}{META}"
            _write_json(temp, {**meta, "name": new})
            _fsync(temp)
            os.replace(temp, target / META)
    except (OSError, ValueError):
        pass  # a broken entry keeps its broken meta.json; the folder name is what counts
    return target
