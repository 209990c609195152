"""The Models page's tables, downloads and actions: the registry as rows, a model folder as
a zip, a model card, a saved model's training history, rename and delete."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from fmnist_core import registry, report
from fmnist_core.errors import FmnistError
from fmnist_core.registry import Entry
from ui import tables
from ui.models import BUNDLED, active_key, registry_key, set_active
from ui.text import escape_markdown

REGISTRY_FORMATS = {
    "accuracy": tables.PERCENT,
    "macro F1": tables.PERCENT,
    "parameters": tables.COUNT,
    "training (s)": tables.SECONDS,
}
REGISTRY_COLUMNS = {"name": tables.wide_text(), "status": tables.wide_text("large"), "kind": tables.wide_text("small")}


def all_entries() -> dict[str, Entry]:
    """Model key -> registry entry, the bundled model first (if there is one)."""
    entries: dict[str, Entry] = {}
    bundled = registry.default_model_path()
    if bundled.is_dir():
        entries[BUNDLED] = registry.read_entry(bundled)
    entries.update({registry_key(entry.name): entry for entry in registry.list_entries()})
    return entries


def registry_table(entries: dict[str, Entry], active: str) -> pd.DataFrame:
    """One row per model with its stored metrics and whether it can be loaded; a broken
    model shows no figures (whatever its meta.json says, it cannot deliver them)."""
    rows = []
    for key, entry in entries.items():
        summary = {} if entry.broken else entry.summary()
        rows.append(
            {
                "": "active" if key == active else "",
                "name": "bundled model" if key == BUNDLED else entry.name,
                "status": f"broken: {entry.broken}" if entry.broken else "ok",
                "kind": summary.get("kind"),
                "accuracy": summary.get("accuracy"),
                "macro F1": summary.get("macro_f1"),
                "parameters": summary.get("params"),
                "training (s)": summary.get("train_seconds"),
                "saved": (summary.get("saved_at") or "")[:16] or None,
            }
        )
    return pd.DataFrame(rows)


@st.cache_data(show_spinner="Packing the model...", max_entries=4)
def folder_zip(folder: str, stamp: str) -> bytes:
    """Every file of a model folder in one zip (`stamp`, from folder_stamp, keys the cache)."""
    root = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, Path(root.name) / path.relative_to(root))
    return buffer.getvalue()


def folder_stamp(folder: Path) -> str:
    """Identifies the state of every file in a folder: the newest modification time among them."""
    try:
        return str(max(p.stat().st_mtime_ns for p in folder.iterdir()))
    except (OSError, ValueError):
        return "missing"


def model_card(entry: Entry) -> str:
    """The folder's own card if it has one, else a card written from its meta.json."""
    card = entry.path / registry.MODEL_CARD
    if card.is_file():
        return card.read_text(encoding="utf-8", errors="replace")
    return report.model_card(entry.meta or {}, f"Model card: {entry.name}")


def history_table(meta: dict[str, Any]) -> pd.DataFrame:
    """A saved model's per-epoch history in the Train page's epoch-table layout."""
    history = meta.get("history") or {}
    epochs = len(history.get("loss", []))
    columns = {
        "loss": "loss",
        "accuracy": "accuracy",
        "val_loss": "val_loss",
        "val_accuracy": "val_accuracy",
        "learning_rate": "learning rate",
    }
    table = pd.DataFrame({"epoch": range(1, epochs + 1)})
    for source, column in columns.items():
        values = history.get(source)
        table[column] = values if values and len(values) == epochs else None
    return table


# ---------------------------------------------------------------- actions (widget callbacks)
# They run before the page is drawn, so they may change the selection and the active model;
# their outcome is kept in FLASH_KEY and shown by `show_outcome` on the next run.

FLASH_KEY = "models_flash"
SELECTED_KEY = "models_selected"


def new_name_key(name: str) -> str:
    """The Rename field's key, one per model: picking another model shows its own name."""
    return f"models_new_name:{name}"


def confirm_delete_key(name: str) -> str:
    """The delete box's key, one per model: a tick never carries over to another model."""
    return f"models_confirm_delete:{name}"


def rename_model(old_name: str) -> None:
    """on_click of Rename: the new name is in the form's text input."""
    new_name = st.session_state.get(new_name_key(old_name), "")
    try:
        registry.rename(old_name, new_name)
    except FmnistError as exc:
        st.session_state[FLASH_KEY] = ("error", f"Not renamed: {exc}")
        return
    if active_key() == registry_key(old_name):
        set_active(registry_key(new_name))
    st.session_state[SELECTED_KEY] = registry_key(new_name)
    st.session_state[FLASH_KEY] = ("success", f"Renamed {old_name} to {new_name}.")


def delete_model(name: str) -> None:
    """on_click of Delete: only when the confirmation box is ticked."""
    if not st.session_state.pop(confirm_delete_key(name), False):
        st.session_state[FLASH_KEY] = ("warning", "Tick the box first: deleting cannot be undone.")
        return
    try:
        registry.delete(name)
    except FmnistError as exc:
        st.session_state[FLASH_KEY] = ("error", f"Not deleted: {exc}")
        return
    if active_key() == registry_key(name):
        set_active(BUNDLED)
    st.session_state.pop(SELECTED_KEY, None)
    st.session_state[FLASH_KEY] = ("success", f"Deleted {name}.")


def show_outcome() -> None:
    """The last action's result, once, with user-given names shown literally."""
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash is not None:
        kind, message = flash
        getattr(st, kind)(escape_markdown(message))
