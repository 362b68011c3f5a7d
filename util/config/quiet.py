"""TensorFlow without its start-up chatter: the environment it reads, and a quiet import of Keras.

TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` and ``TF_ENABLE_ONEDNN_OPTS`` once, when it is first
imported. ``util/__init__`` calls :func:`quiet_environment` (so any ``import util...`` sets them
first); modules that need Keras call :func:`import_keras` inside the function that needs it, so
importing the library never imports TensorFlow.
"""

from __future__ import annotations

import logging
import os

__all__ = ["TF_ENVIRONMENT", "import_keras", "quiet_environment"]

#: Environment defaults that keep TensorFlow's C++ logging and oneDNN notices off stderr.
TF_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}


def quiet_environment():
    """Set :data:`TF_ENVIRONMENT` where the environment does not already say otherwise."""
    for name, value in TF_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def import_keras():
    """Import and return ``keras`` with TensorFlow's and absl's Python loggers at ERROR."""
    quiet_environment()
    try:  # absl is a TensorFlow dependency; it logs to stderr before it is configured
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover
        pass
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    return keras
