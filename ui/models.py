"""Which models a session can use, the session's active model, and loading them once.

A model is named by a key: "bundled" (the model shipped in assets/), "session" (this
session's model from the Train page, not saved yet: nobody else sees it), or
"registry:<name>" (a saved model, shared by everyone using this models folder).
Loaded saved models are cached per server (st.cache_resource), keyed by their folder and
its stamp (the time its meta.json was written), so a rename or an overwrite is never served
stale. A loaded model's `fingerprint` keys everything derived from it (evaluations, maps,
explanations).
Every model the app loads or trains is then moved onto LiteRT for single images in the
background (fmnist_core.lite), while TensorFlow answers.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from fmnist_core import paths, prediction, registry
from fmnist_core.classifier import Classifier
from fmnist_core.errors import RegistryError
from fmnist_core.photo_head import photo_classifier_or_none
from ui import model_work
from ui.heap import freeze_long_lived, skip_keras_reset_after_runs
from ui.text import escape_markdown

LOG = logging.getLogger(__name__)
BUNDLED = "bundled"
SESSION = "session"
REGISTRY_PREFIX = "registry:"
ACTIVE_KEY = "models_active"  # the session's active model key
SESSION_MODEL_KEY = "train_unsaved_model"  # a SessionModel, set by the Train page


@dataclass(frozen=True)
class SessionModel:
    """A model trained in this session, by the run `run_token` names (ui.training.RunState)."""

    classifier: Classifier
    run_token: str


@dataclass(frozen=True)
class LoadedModel:
    key: str
    label: str
    classifier: Classifier
    fingerprint: str  # identifies the model behind `key` for caches: changes whenever it does

    @property
    def meta(self) -> dict[str, Any]:
        return self.classifier.meta


def registry_key(name: str) -> str:
    return REGISTRY_PREFIX + name


def accuracy_text(meta: dict[str, Any] | None) -> str:
    """'93.1% test accuracy', or '' when the model was never evaluated."""
    accuracy = ((meta or {}).get("metrics") or {}).get("accuracy")
    return f"{accuracy:.1%} test accuracy" if isinstance(accuracy, (int, float)) else ""


def _describe(title: str, meta: dict[str, Any] | None) -> str:
    details = ", ".join(part for part in ((meta or {}).get("kind"), accuracy_text(meta)) if part)
    return f"{title} ({details})" if details else title


def model_options() -> dict[str, str]:
    """Every model this session may pick, key -> label; broken saved models left out."""
    options: dict[str, str] = {}
    bundled = registry.read_entry(registry.default_model_path())
    if bundled.meta is not None and not bundled.broken:
        options[BUNDLED] = _describe("Bundled model", bundled.meta)
    session_model = st.session_state.get(SESSION_MODEL_KEY)
    if session_model is not None:
        options[SESSION] = _describe("Unsaved model from Train", session_model.classifier.meta)
    for entry in registry.list_entries():
        if not entry.broken:
            options[registry_key(entry.name)] = _describe(entry.name, entry.meta)
    return options


def _stamp(folder: Path) -> str:
    """Identifies a saved model folder's state: when its meta.json, written last on every
    save, rename or overwrite, was written."""
    try:
        return str((folder / registry.META).stat().st_mtime_ns)
    except OSError:
        return "missing"


def speed_up_in_background(classifier: Classifier) -> Classifier:
    """Start putting the model's single images on LiteRT (about 1 ms instead of 3; seconds
    of converting in a child process the first time): TensorFlow answers until then."""
    threading.Thread(
        target=prediction.speed_up_predict, args=(classifier,), name="litert-speed-up", daemon=True
    ).start()
    return classifier


@st.cache_resource(show_spinner="Loading the model...", max_entries=12)
def _load_folder(folder: str, stamp: str) -> Classifier:
    """One saved model, loaded once per server for each stamp of its folder."""
    return speed_up_in_background(registry.load(Path(folder)))


def load(key: str) -> LoadedModel:
    """The model behind `key`, loaded (or from cache); RegistryError if it cannot be."""
    if key == SESSION:
        session_model = st.session_state.get(SESSION_MODEL_KEY)
        if session_model is None:
            raise RegistryError("this session has no unsaved model: train one on the Train page")
        return _warmed(
            LoadedModel(
                key, "the unsaved model from Train", session_model.classifier, f"session:{session_model.run_token}"
            )
        )
    if key == BUNDLED:
        folder = registry.default_model_path()
        if not folder.is_dir():
            raise RegistryError("no bundled model yet: train one on the Train page, save it and make it active")
        label = "the bundled model"
    elif key.startswith(REGISTRY_PREFIX):
        name = key[len(REGISTRY_PREFIX) :]
        folder = paths.models_dir() / registry.validate_name(name)
        label = f"model '{name}'"
    else:
        raise RegistryError(f"unknown model {key!r}")
    stamp = _stamp(folder)
    return _warmed(LoadedModel(key, label, _load_folder(str(folder), stamp), f"{folder}@{stamp}"))


_preloading = threading.Lock()
_preloaded = False


def preload_bundled(wait: bool = False) -> None:
    """Once per server: load the dataset, TensorFlow and the bundled model (seconds) and
    start their per-model work, so that the first page that needs them finds them loaded.
    In the background, unless `wait` (the server's startup hook): then it returns when all
    of it is done."""
    global _preloaded
    with _preloading:
        if _preloaded:
            return
        _preloaded = True
    if not wait:
        threading.Thread(target=_preload, name="preload", daemon=True).start()
        return
    _preload()
    model_work.wait_until_done()


def _preload() -> None:
    from ui.resources import dataset

    skip_keras_reset_after_runs()
    try:
        dataset()
        load(BUNDLED)
        freeze_long_lived()  # TensorFlow, the dataset and the model stay for good
    except Exception as error:  # noqa: BLE001 - the page that needs them says why
        LOG.warning("preloading the bundled model failed: %s", error)


def _warmed(model: LoadedModel) -> LoadedModel:
    """The model, with its per-model work (test set, similar-image index, map) started in
    the background the first time it is seen."""
    model_work.warm_up(model.classifier, model.fingerprint)
    return model


@st.cache_resource(show_spinner="Loading the photo model...", max_entries=2)
def _photo_classifier(stamp: str, bundled_stamp: str) -> Classifier | None:
    """Loaded once per stamp of the photo model's folder and of the bundled model's."""
    classifier = photo_classifier_or_none()
    return None if classifier is None else speed_up_in_background(classifier)


def photo_classifier() -> Classifier | None:
    """The bundled model's photo-tuned version, or None when there is none (or it was tuned
    from another bundled model). It answers photos when the bundled model is chosen, and
    judges every photo's scope whichever model answers."""
    return _photo_classifier(_stamp(registry.photo_model_path()), _stamp(registry.default_model_path()))


def active_key() -> str:
    return st.session_state.get(ACTIVE_KEY, BUNDLED)


def set_active(key: str) -> None:
    st.session_state[ACTIVE_KEY] = key


def usable_active_key(options: dict[str, str]) -> str:
    """The active model's key, or when that model has gone since it was chosen (another user
    deleted or renamed it, or it broke) the first usable one of `options`. Changes nothing."""
    active = active_key()
    if active in options or not options:
        return active
    return BUNDLED if BUNDLED in options else next(iter(options))


def replace_gone_active_model(options: dict[str, str]) -> str:
    """Make the usable model active when the active one has gone, saying so once in a toast;
    the active key, usable from then on (a page calls this before showing the active model)."""
    active, usable = active_key(), usable_active_key(options)
    if usable != active:
        gone = active.removeprefix(REGISTRY_PREFIX)
        st.toast(
            f"Your active model {escape_markdown(gone)} is no longer available (deleted, "
            f"renamed or broken, perhaps by another user): now using "
            f"{escape_markdown(options[usable])}.",
            icon=":material/info:",
        )
        set_active(usable)
    return usable


def model_picker(label: str, key: str) -> LoadedModel | None:
    """A select box of every usable model, starting at the active one; the loaded choice,
    or None (with a friendly message) when there is none or it cannot be loaded."""
    options = model_options()
    if not options:
        st.info(
            "There is no model yet: no bundled model and nothing saved. Train one on the "
            "**Train** page (the quick preset takes under a minute).",
            icon=":material/explore:",
        )
        return None
    if st.session_state.get(key) not in options:
        st.session_state[key] = replace_gone_active_model(options)
    chosen: str = st.selectbox(label, list(options), format_func=options.__getitem__, key=key)
    try:
        return load(chosen)
    except RegistryError as exc:
        st.error(f"This model cannot be used: {escape_markdown(str(exc))}", icon=":material/error:")
        return None
