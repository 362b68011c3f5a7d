"""The nbgrader machinery every assignment shares.

An :class:`Assignment` names one nbgrader assignment and where its files are:

* ``source/<name>/<name>_Assignment.ipynb`` — the instructor's notebook (solutions, hidden tests);
* ``release/<name>/`` — the student version, generated from the source (``make release``);
* ``autograder/<name>/samples/`` — sample submissions and ``expected_grades.json``;
* ``autograder/<name>/references/`` — reference outputs, for assignments that need stored ones.

The functions here run nbgrader's own commands (``generate_assignment``, ``autograde``,
``generate_feedback``, ``validate``) on an assignment, in the repository or in a temporary course
root, and read the grades back from nbgrader's gradebook. What is particular to an assignment (its
``check_*`` functions, its sample bugs, its references) lives in its own module
(:mod:`grading.c1w1`, :mod:`grading.c3w3`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from util.paths import REPO_ROOT

__all__ = [
    "Assignment",
    "NBGRADER_TIMEOUT",
    "NullIO",
    "autograde",
    "autograde_collected",
    "generate_release",
    "grade_samples",
    "make_course",
    "nbgrader",
    "normalize_release",
    "quiet",
    "sample_submissions",
    "solution_cells",
    "solution_namespace",
    "write_samples",
]

#: Seconds allowed for one nbgrader command (the per-cell timeout is in nbgrader_config.py).
NBGRADER_TIMEOUT = 3600

#: Where :func:`grade_samples` grades by default (git-ignored); one course root per assignment.
GRADING_DIR = REPO_ROOT / "output" / "grading"


@dataclass(frozen=True)
class Assignment:
    """One nbgrader assignment of the course and the files that belong to it.

    Parameters
    ----------
    name : str
        The nbgrader assignment id, e.g. ``"C1W1"``; its notebook is ``<name>_Assignment.ipynb``.
    solution_ids : tuple of str
        ``grade_id`` of the cells :func:`solution_namespace` executes, in order: the imports, then
        each exercise's solution cell (the reference writers and the samples use them).
    samples : mapping
        Sample submissions: ``student id -> (what is wrong, {grade_id: [(old, new), ...]})``; each
        is the release filled with the solutions, with the ``old`` text of a solution replaced by
        ``new`` (:func:`write_samples`).
    write_references : callable, optional
        Writes ``autograder/<name>/references/`` (``python -m grading references``); None when
        the hidden checks compute their references themselves.
    references_current : callable, optional
        Returns False when the stored references are stale (``python -m grading check``).
    """

    name: str
    solution_ids: tuple
    samples: Mapping = field(default_factory=dict)
    write_references: Callable | None = None
    references_current: Callable | None = None

    @property
    def notebook_name(self):
        """File name of the assignment's notebook, e.g. ``C1W1_Assignment.ipynb``."""
        return f"{self.name}_Assignment.ipynb"

    @property
    def source_dir(self):
        return REPO_ROOT / "source" / self.name

    @property
    def release_dir(self):
        return REPO_ROOT / "release" / self.name

    @property
    def source_notebook(self):
        return self.source_dir / self.notebook_name

    @property
    def release_notebook(self):
        return self.release_dir / self.notebook_name

    @property
    def autograder_dir(self):
        """``autograder/<name>/``: everything the grader needs that students never get."""
        return REPO_ROOT / "autograder" / self.name

    @property
    def samples_dir(self):
        return self.autograder_dir / "samples"

    @property
    def references_dir(self):
        return self.autograder_dir / "references"

    @property
    def expected_grades_file(self):
        return self.samples_dir / "expected_grades.json"

    def expected_grades(self):
        """The parsed ``expected_grades.json``: ``max_score``, ``points`` per cell, ``submissions``."""
        return json.loads(self.expected_grades_file.read_text())


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


def _strip_solution_markers(source):
    return "\n".join(
        line for line in source.splitlines() if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
    )


def write_samples(assignment, out_dir=None):
    """Write ``<out_dir>/<id>/<notebook>`` for each of ``assignment.samples``.

    Each sample is the release with every solution cell filled in from the source notebook, then
    one bug edited in. ``out_dir`` defaults to ``autograder/<name>/samples``.

    Raises
    ------
    ValueError
        A sample's ``old`` text is not in the solution it edits (the solution changed: update the
        sample in grading/<assignment>.py).
    """
    import nbformat

    out_dir = Path(out_dir) if out_dir is not None else assignment.samples_dir
    solutions = {k: _strip_solution_markers(c.source) for k, c in solution_cells(assignment.source_notebook).items()
                 if c.metadata["nbgrader"].get("solution")}
    for student, (why, edits) in assignment.samples.items():
        unknown = sorted(set(edits) - set(solutions))
        if unknown:
            raise ValueError(f"sample {student} of {assignment.name} edits {unknown}, which are not solution cells.")
        nb = nbformat.read(assignment.release_notebook, as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in solutions:
                src = solutions[gid]
                for old, new in edits.get(gid, []):
                    if old not in src:
                        raise ValueError(f"sample {student} of {assignment.name}: {old!r} is not in the "
                                         f"solution of {gid}; update the sample in grading/.")
                    src = src.replace(old, new)
                compile(src, f"<sample {student}: {gid}>", "exec")  # a sample's bug is in its logic, not its syntax
                cell.source = src
        nb.metadata["medxai_sample"] = why
        out = out_dir / student / assignment.notebook_name
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
        print(f"wrote {_shown(out)} ({why})")


def sample_submissions(assignment):
    """``student id -> notebook``: the source (full marks), the release (zero) and the samples."""
    subs = {"source": assignment.source_notebook, "release": assignment.release_notebook}
    subs.update({p.parent.name: p for p in sorted(assignment.samples_dir.glob(f"*/{assignment.notebook_name}"))})
    return subs


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


def autograde(root, submissions, assignment, feedback=False):
    """Autograde ``submissions`` (student id -> notebook path) through nbgrader in the course ``root``.

    Makes the course (:func:`make_course`), runs ``nbgrader generate_assignment`` (which fills
    ``root/gradebook.db``), copies each notebook to ``root/submitted/<id>/<name>/``, runs **one**
    ``nbgrader autograde <name> --create --force`` and, with ``feedback=True``,
    ``nbgrader generate_feedback``.

    Returns
    -------
    pandas.DataFrame
        One row per student: the score of each graded cell, ``total`` and ``seconds`` (the time its
        notebook took, from the autograded files' modification times). ``df.attrs`` holds
        ``elapsed`` (the autograde command's wall time), ``max_score`` and ``log``.
    """
    import pandas as pd
    from nbgrader.api import Gradebook

    name, notebook = assignment.name, assignment.notebook_name
    root = make_course(root, assignment)
    nbgrader("generate_assignment", name, "--force", root=root)
    for student, nb in submissions.items():
        dest = root / "submitted" / student / name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(nb, dest / notebook)
    start = time.time()
    proc = nbgrader("autograde", name, "--create", "--force", root=root)
    elapsed = time.time() - start
    if feedback:
        nbgrader("generate_feedback", name, "--force", root=root)
    rows = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        max_score = gb.find_assignment(name).max_score
        for student in submissions:
            sub = gb.find_submission_notebook(Path(notebook).stem, name, student)
            row = {g.name: g.score for g in sub.grades if g.max_score > 0}
            row["total"] = gb.find_submission(name, student).score
            rows[student] = row
    done = sorted((p.stat().st_mtime, p.parent.parent.name)
                  for p in (root / "autograded").glob(f"*/{name}/{notebook}"))
    previous = start
    for mtime, student in done:
        rows[student]["seconds"] = round(mtime - previous, 1)
        previous = mtime
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.attrs.update(elapsed=elapsed, max_score=max_score, log=proc.stdout + proc.stderr)
    return table


def grade_samples(assignment, root=None, feedback=True, students=None):
    """Grade the source, the release and the sample submissions of ``assignment``.

    Parameters
    ----------
    assignment : Assignment
    root : path, default ``output/grading/<name>`` (git-ignored)
        Course root to grade in; its earlier submissions, grades and feedback are removed first.
    feedback : bool, default True
        Also run ``nbgrader generate_feedback`` (HTML under ``root/feedback/<student>/<name>/``).
    students : list of str, optional
        Subset of :func:`sample_submissions`' ids (each costs one run of the notebook); default all.

    Returns the table of :func:`autograde`.
    """
    root = Path(root) if root is not None else GRADING_DIR / assignment.name
    submissions = sample_submissions(assignment)
    if students is not None:
        unknown = sorted(set(students) - set(submissions))
        if unknown:
            raise ValueError(f"unknown submissions {unknown} of {assignment.name}; choose from {sorted(submissions)}.")
        submissions = {k: v for k, v in submissions.items() if k in students}
    for sub in ("submitted", "autograded", "feedback", "gradebook.db"):
        target = root / sub
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    return autograde(root, submissions, assignment, feedback=feedback)


def autograde_collected(assignment, root=REPO_ROOT):
    """The instructor's ``make autograde``: grade ``submitted/<student>/<name>/`` in the course root.

    Runs ``nbgrader generate_assignment`` (it records the assignment in ``gradebook.db``; the
    release it rewrites is normalised again), ``nbgrader autograde <name> --create`` and
    ``nbgrader generate_feedback <name>``, printing nbgrader's own log. Writes ``autograded/``,
    ``feedback/`` and ``gradebook.db`` in ``root`` (git-ignored).

    Raises
    ------
    FileNotFoundError
        No submission of this assignment in ``root/submitted/``.
    """
    root = Path(root)
    found = sorted((root / "submitted").glob(f"*/{assignment.name}/{assignment.notebook_name}"))
    if not found:
        raise FileNotFoundError(
            f"no submissions of {assignment.name} in {root / 'submitted'}: put each student's notebook at "
            f"submitted/<student>/{assignment.name}/{assignment.notebook_name} (or collect them with nbgrader)."
        )
    nbgrader("generate_assignment", assignment.name, "--force", root=root, capture=False)
    normalize_release(root / "release" / assignment.name)
    nbgrader("autograde", assignment.name, "--create", root=root, capture=False)
    nbgrader("generate_feedback", assignment.name, root=root, capture=False)
    return found
