"""Keep the garbage collections at the end of every script run cheap.

After each run Streamlit calls `keras.backend.clear_session()` once Keras is imported,
which runs a full `gc.collect()`. With TensorFlow, the dataset and a model in memory, a
full collection walks some 400,000 objects: about 200 ms holding the GIL, so every user's
click waits for it and for anyone else's. Objects that live as long as the server (modules,
the dataset, loaded models, their per-model work) are moved out of the collector's sight
once they exist, so each collection only walks what the runs since then made. The price:
a cycle among objects frozen before it became garbage is never freed, which for a model
dropped from the cache is a few megabytes.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Hide everything alive now from future collections (`gc.freeze`)."""
    gc.collect()
    gc.freeze()
