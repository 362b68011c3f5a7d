"""The nbgrader machinery every assignment shares: nbgrader's commands, releases, solutions.

The functions here run nbgrader's own commands (``generate_assignment``, ``generate_feedback``,
``validate``, ``release_assignment``...) in the repository or in a temporary course root, make a
release byte-for-byte reproducible, and execute a source notebook's solution cells in the
grader's own process (the solution is trusted; a submission never runs here). What is
particular to an assignment lives in its own module (:mod:`grading.c1w1`, :mod:`grading.c3w3`);
grading itself is :mod:`grading.autograde`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from util.config.paths import REPO_ROOT

__all__ = [
    "NBGRADER_TIMEOUT",
    "NullIO",
    "generate_release",
    "make_course",
    "nbgrader",
    "normalize_release",
    "quiet",
    "solution_cells",
    "solution_namespace",
]

#: Seconds allowed for one nbgrader command (the per-cell timeout is in nbgrader_config.py).
NBGRADER_TIMEOUT = 3600

#: Where ``python -m grading grade`` grades the samples (git-ignored); one course root per assignment.
GRADING_DIR = REPO_ROOT / "output" / "grading"


# ----------------------------------------------------------------------------- quiet execution
@contextlib.contextmanager
def quiet():
    """Silence Python warnings (they go to stderr, which nbgrader scores as a failure)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class NullIO:
    """A text stream that discards what is written (to silence a submitted function's prints)."""

    def write(self, s):
        return len(s)

    def flush(self):
        pass


# ----------------------------------------------------------------------------- solutions and samples
def solution_cells(path):
    """``grade_id -> cell`` of every nbgrader cell of the notebook at ``path``."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return {
        cell.metadata.get("nbgrader", {}).get("grade_id"): cell
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id")
    }


def solution_namespace(assignment):
    """Execute the source notebook's cells ``assignment.solution_ids``; return their namespace.

    IPython magics (lines starting with ``%``) are skipped. The notebook's folder is on ``sys.path``
    meanwhile, so that its ``from public_tests import *`` works.
    """
    path = assignment.source_notebook
    cells = solution_cells(path)
    ns = {"__name__": f"{assignment.name.lower()}_solution"}
    sys.path.insert(0, str(path.parent))
    try:
        for grade_id in assignment.solution_ids:
            if grade_id not in cells:
                raise KeyError(f"{path} has no cell with grade_id {grade_id!r}; "
                               f"update solution_ids of {assignment.name} in grading/.")
            code = "\n".join(line for line in cells[grade_id].source.splitlines()
                             if not line.lstrip().startswith("%"))
            exec(compile(code, f"<{path.name}:{grade_id}>", "exec"), ns)
    finally:
        sys.path.remove(str(path.parent))
    return ns


def _shown(path):
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- nbgrader
def nbgrader(*args, root=REPO_ROOT, check=True, capture=True):
    """Run ``nbgrader <args> --CourseDirectory.root=<root>`` in ``root``.

    Parameters
    ----------
    *args : str
        The nbgrader command and its arguments, e.g. ``"autograde", "C1W1", "--create"``.
    root : path, default the repository
        Course root (it holds ``nbgrader_config.py``).
    check : bool, default True
        Raise ``RuntimeError`` with the end of nbgrader's output when it fails.
    capture : bool, default True
        Capture nbgrader's output (False: let it print, as ``make autograde`` does).

    Returns
    -------
    subprocess.CompletedProcess
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # nbgrader runs `alembic`
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=capture, text=True, timeout=NBGRADER_TIMEOUT)
    if check and proc.returncode != 0:
        tail = f"\n{(proc.stdout or '')[-3000:]}\n{(proc.stderr or '')[-3000:]}" if capture else ""
        raise RuntimeError(f"{' '.join(cmd[2:])} failed ({proc.returncode}).{tail}")
    return proc


def normalize_release(folder):
    """Make a generated release byte-for-byte reproducible: no outputs, no machine-dependent metadata."""
    import nbformat

    for path in sorted(Path(folder).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb.metadata = nbformat.from_dict({
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        })
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
            cell.metadata.pop("collapsed", None)
            cell.metadata.pop("scrolled", None)
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        nbformat.write(nb, path)
    for junk in list(Path(folder).rglob("__pycache__")) + list(Path(folder).rglob(".ipynb_checkpoints")):
        shutil.rmtree(junk, ignore_errors=True)


def generate_release(assignment, root=REPO_ROOT):
    """``nbgrader generate_assignment <name> --force --no-db`` in ``root``, then :func:`normalize_release`.

    ``--no-db``: making the release records nothing in a gradebook, so ``make release`` leaves no
    ``gradebook.db`` in the repository. Returns the release folder.
    """
    nbgrader("generate_assignment", assignment.name, "--force", "--no-db", root=root)
    out = Path(root) / "release" / assignment.name
    normalize_release(out)
    return out


def make_course(root, assignment):
    """A course root at ``root`` holding this repository's nbgrader_config.py and ``source/<name>``."""
    root = Path(root)
    (root / "source").mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(assignment.source_dir, root / "source" / assignment.name, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return root
