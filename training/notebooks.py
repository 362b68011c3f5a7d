"""Execute notebooks in place, so that their stored outputs are current.

The lecture notebooks in ``notebooks/`` are committed with outputs that nbval
compares on every ``make test``; the nbgrader source notebooks in ``source/``
are committed with outputs too. After a change that alters what they show (new
course weights, a new util function), re-execute them::

    python -m training.notebooks                       # every notebooks/*.ipynb (= make notebooks)
    python -m training.notebooks notebooks/01_*.ipynb  # some of them

A notebook is executed in its own folder with inline figures, like JupyterLab
does. Nothing is written when a cell fails or writes to stderr: the error names
the notebook and the cell.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from util.config.paths import REPO_ROOT

__all__ = ["LECTURE_DIR", "execute_notebook", "lecture_notebooks"]

#: Where the lecture notebooks live.
LECTURE_DIR = REPO_ROOT / "notebooks"

# The kernel inherits these: TensorFlow's C++ logging and oneDNN notices would
# otherwise land on stderr, which nbval and nbgrader both treat as output.
_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONHASHSEED": "0"}


def lecture_notebooks():
    """The lecture notebooks, sorted by name (``notebooks/*.ipynb``)."""
    return sorted(LECTURE_DIR.glob("*.ipynb"))


def _display(path):
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def execute_notebook(path, timeout=900):
    """Execute a notebook in place and store its outputs.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.ipynb`` file; it runs with its own folder as working directory.
    timeout : int, default 900
        Seconds allowed for one cell.

    Returns
    -------
    float
        Wall time of the execution in seconds.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    RuntimeError
        A cell raised or wrote to stderr; the file is left unchanged.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}; give the path of an .ipynb file.")
    saved = {k: os.environ.get(k) for k in (*_QUIET_ENV, "MPLBACKEND")}
    os.environ.update(_QUIET_ENV)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    start = time.perf_counter()
    try:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as err:
            raise RuntimeError(f"{_display(path)}: a cell failed; nothing was written.\n{err}") from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    elapsed = time.perf_counter() - start
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                raise RuntimeError(f"{_display(path)}: cell {index} wrote to stderr; nothing was written:\n"
                                   f"{out.get('text', '')[:500]}")
    nbformat.write(nb, path)
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.notebooks", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks to execute (default: every notebooks/*.ipynb)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed for one cell (default 900)")
    args = parser.parse_args(argv)
    paths = args.paths or lecture_notebooks()
    if not paths:
        print(f"no notebooks in {_display(LECTURE_DIR)}", file=sys.stderr)
        return 1
    total = 0.0
    for path in paths:
        seconds = execute_notebook(path, timeout=args.timeout)
        total += seconds
        print(f"executed {_display(path)} in {seconds:.1f} s")
    print(f"total {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
