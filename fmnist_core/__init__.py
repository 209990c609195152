"""Shared core of the Fashion-MNIST app: data, models, training, evaluation, image input.

Nothing in this package imports streamlit, so the app, the command line and the tests
all run the same code.
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes) means nothing to a user of the
# app or the CLI; real errors still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512 or AMX. On an
# AVX2-only CPU they still train the CNNs about 30% faster (bench/results.txt); they must be
# chosen before TensorFlow is first imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from fmnist_core.classes import CLASS_NAMES, NUM_CLASSES

__all__ = ["CLASS_NAMES", "NUM_CLASSES"]
