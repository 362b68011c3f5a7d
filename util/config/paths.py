"""Where the course finds its data.

By default everything lives under the repository's ``data/`` folder and the
chest X-ray phantoms are generated there on first use.  An instructor who has
the real data sets points the course at them with one environment variable:

``MEDXAI_DATA_DIR``
    A folder laid out like ``data/``::

        $MEDXAI_DATA_DIR/
            chestxray/            NIH ChestX-ray14 layout
                images/*.png
                train-small.csv  valid-small.csv  test.csv
                bbox.csv          (optional, NIH BBox_List_2017 layout)
            nhanes/               NHANES I epidemiologic follow-up (shap's CSVs)
                NHANESI_X.csv  NHANESI_y.csv

When the variable is set, nothing is generated: missing files raise an error
that names the file.

Where the course root is
------------------------
:data:`REPO_ROOT` is the folder that holds the ``util/`` package itself: the
repository for an instructor, the bundle's root (``dist/student/``) for a
student who installed the bundle with ``pip install -e .`` or put it on
``PYTHONPATH``. The shipped model weights are read from
``REPO_ROOT/data/models`` (:data:`MODELS_DIR`, never from ``MEDXAI_DATA_DIR``)
and the generated data is written to ``REPO_ROOT/data``. A non-editable install
(``pip install .``) would copy ``util`` into ``site-packages``, away from
``data/models``: the course is installed in editable mode.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_DATA_DIR",
    "MODELS_DIR",
    "REPO_ROOT",
    "data_dir",
    "using_real_data",
]

#: The course root: the folder that holds this ``util`` package (repository or student bundle).
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / "data"
#: The shipped model weights and their model cards.
MODELS_DIR = DEFAULT_DATA_DIR / "models"
DATA_DIR_ENV = "MEDXAI_DATA_DIR"


def data_dir() -> Path:
    """Return the course's data folder.

    Returns
    -------
    pathlib.Path
        ``$MEDXAI_DATA_DIR`` when that variable is set, else ``<repo>/data``.

    Raises
    ------
    FileNotFoundError
        If ``MEDXAI_DATA_DIR`` is set but is not an existing folder.
    """
    value = os.environ.get(DATA_DIR_ENV)
    if not value:
        return DEFAULT_DATA_DIR
    path = Path(value).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"{DATA_DIR_ENV}={value!r} is not a folder. Point it at a folder that holds "
            f"chestxray/ and/or nhanes/ (see util/config/paths.py), or unset it to use the "
            f"generated data in {DEFAULT_DATA_DIR}."
        )
    return path


def using_real_data() -> bool:
    """Return True when ``MEDXAI_DATA_DIR`` points the course at external data."""
    return bool(os.environ.get(DATA_DIR_ENV))
