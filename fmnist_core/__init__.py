"""Shared core of the Fashion-MNIST app: data, models, training, evaluation, image input.

Nothing in this package imports streamlit, so the app, the command line and the tests
all run the same code.
"""

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES

__all__ = ["CLASS_NAMES", "NUM_CLASSES"]
