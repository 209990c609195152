"""Helpers shared by the AppTest page tests (tests/test_pages_*.py)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from streamlit.testing.v1 import AppTest

if TYPE_CHECKING:
    import pandas as pd

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
TIMEOUT = 120  # the first run of a page may import TensorFlow and load a model


def open_page(page: str | None = None, active_model: str | None = None) -> AppTest:
    """A fresh session of the app, switched to `page` (a script path, from
    ui.navigation.path_of) and run; `active_model` (a ui.models key such as
    "registry:tiny") is set before the first run."""
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if active_model is not None:
        app.session_state["models_active"] = active_model
    app.run()
    if page is not None:
        app.switch_page(page).run()
    return app


@functools.cache
def tiny_classifier():
    """A seed MLP trained for one epoch on 2,000 images (a few seconds), once per run."""
    from fmnist_core.data import load_dataset
    from fmnist_core.training import TrainConfig, train

    return train(TrainConfig(model="mlp", epochs=1, train_limit=2000, validation_split=0.1), load_dataset())


def save_tiny_model(name: str = "tiny") -> Path:
    """The tiny model saved under `name` in the current FMNIST_MODELS_DIR."""
    from fmnist_core import registry

    return registry.save(tiny_classifier(), name)


def evaluation_of(name: str):
    """Model `name` of the current FMNIST_MODELS_DIR evaluated on the real test set with
    fmnist_core alone: what a page's figures are checked against, never read off the page."""
    from fmnist_core import registry
    from fmnist_core.data import load_dataset
    from fmnist_core.evaluation import evaluate

    data = load_dataset()
    return evaluate(registry.load(name).predict_proba(data.x_test), data.y_test)


def probability_bars(app: AppTest) -> list[str]:
    """The HTML of every "most likely classes" block the page shows (ui.charts.probability_bars)."""
    return [e.proto.body for e in app.get("html") if 'aria-label="Most likely classes"' in e.proto.body]


def texts(elements) -> list[str]:
    """The `value` of every element of an AppTest element list, for assertions."""
    return [str(element.value) for element in elements]


def shown_cells(dataframe) -> pd.DataFrame:
    """The text a browser shows in each cell of a styled AppTest dataframe (its Styler's
    display values), for assertions on formats and empty cells."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    return convert_arrow_bytes_to_pandas_df(dataframe.proto.arrow_data.styler.display_values)
