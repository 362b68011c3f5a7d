"""Shared test settings.

The tests check the repository's own generated data, so an instructor's
``MEDXAI_DATA_DIR`` is ignored here; tests of the real-data mode set it
themselves with ``monkeypatch``.
"""

import os

os.environ.pop("MEDXAI_DATA_DIR", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
