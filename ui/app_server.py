"""The app as an ASGI server that is ready only once it can answer at once.

`streamlit run ui/app_server.py` (what `make run` does) serves streamlit_app.py like
`streamlit run streamlit_app.py` would, but first, in Streamlit's lifespan hook (st.App),
imports TensorFlow, loads the dataset and the bundled model and does the model's background
work (test-set evaluation, similar-image index, map), and imports every module the pages
use. That is seconds of work a server's
first visitor would otherwise wait for; here the server only accepts connections after it.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `streamlit run ui/app_server.py` puts only ui/ there
    sys.path.insert(0, str(REPO_ROOT))


def _import_ui() -> None:
    """Every module the pages are built from (plotly, pandas, Optuna come with them)."""
    import ui

    for module in pkgutil.iter_modules(ui.__path__):
        if module.name != __name__.rpartition(".")[2]:
            importlib.import_module(f"ui.{module.name}")


def _get_ready() -> None:
    from ui.models import preload_bundled

    _import_ui()
    preload_bundled(wait=True)


@asynccontextmanager
async def _ready_first(_app: st.App) -> AsyncIterator[None]:
    await asyncio.to_thread(_get_ready)
    yield


app = st.App(REPO_ROOT / "streamlit_app.py", lifespan=_ready_first)
