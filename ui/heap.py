"""Keep the work Streamlit does at the end of every script run cheap.

After each run Streamlit calls `keras.backend.clear_session()` once Keras is imported,
which runs a full `gc.collect()`. With TensorFlow, the dataset and a model in memory, a
full collection walks some 400,000 objects: about 200 ms holding the GIL, so every user's
click waits for it and for anyone else's. Two defences:

- Objects that live as long as the server (modules, the dataset, loaded models, their
  per-model work) are moved out of the collector's sight once they exist, so a collection
  only walks what the runs since then made. The price: a cycle among objects frozen before
  it became garbage is never freed, which for a model dropped from the cache is a few
  megabytes.
- The reset itself is skipped. It is a leftover from TensorFlow 1's global graph; a Keras 3
  model needs nothing reset between runs, and in a server where every session shares the
  loaded models, resetting Keras' global state after one user's run can only harm the
  others. Even on a frozen heap it still cost 20-40 ms of held GIL per click, as the
  sessions' own objects piled up (bench/RESULTS.md, 2026-12-08).
"""

from __future__ import annotations

import gc
import sys


def freeze_long_lived() -> None:
    """Hide everything alive now from future collections (`gc.freeze`)."""
    gc.collect()
    gc.freeze()


def skip_keras_reset_after_runs() -> None:
    """Stop Streamlit from calling `keras.backend.clear_session()` after every script run.

    Streamlit 1.67 does it in `script_runner._clean_problem_modules` (which otherwise only
    closes matplotlib figures, which this app never makes); the function is looked up at
    each call, so replacing it takes effect for every later run.
    """
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = _close_pyplot_figures


def _close_pyplot_figures() -> None:
    """What Streamlit's clean-up does besides the Keras reset."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
