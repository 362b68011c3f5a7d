"""An assignment's files, its graded exercises, and the program the sandbox runs for a submission.

* :class:`Assignment` — the nbgrader assignment id, its exercises (one per graded test cell,
  :class:`grading.exercise.Exercise`), its sample submissions, and where its files are:
  ``source/<name>/`` (the instructor's notebook), ``release/<name>/`` (the student version),
  ``autograder/<name>/`` (tolerances).
* :class:`Sample` — a sample submission **defined as code**: the solution notebook with some
  solution cells replaced by other code (a wrong function, an attack) and, optionally, extra
  cells inserted; with the points each test cell must get.
* :func:`build_program` — the cells a submission's box runs: the submission's own solution
  cells and added cells, the **release's** version of every locked cell (a submission cannot
  edit the given code or the visible tests), and a :class:`grading.runner.Call` in place of
  each graded test cell; nothing after the last test cell runs.
* :func:`draw_cases` — every exercise's cases from one seed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from util.config.paths import REPO_ROOT

__all__ = ["Assignment", "Sample", "build_program", "draw_cases", "sample_notebook", "strip_solution_markers"]


@dataclass(frozen=True)
class Sample:
    """A sample submission: the solution with ``replace`` applied; its expected points.

    Parameters
    ----------
    student : str
        Its id (a folder name under ``submitted/``).
    why : str
        What is wrong with it, or what it attacks.
    replace : dict
        ``solution grade_id -> source`` that replaces that solution cell.
    expected : dict
        ``test grade_id -> points`` for the test cells that do not get full marks.
    insert : tuple of (str, str)
        ``(after grade_id, source)``: extra code cells a student added, inserted after that cell.
    """

    student: str
    why: str
    replace: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    insert: tuple = ()


@dataclass(frozen=True)
class Assignment:
    """One nbgrader assignment of the course: files, exercises, samples."""

    name: str
    exercises: tuple
    samples: tuple = ()
    solution_ids: tuple = ()
    #: Locked cells that only illustrate (figures, tables) and that nothing graded depends on:
    #: the box skips them, as it skips everything after the last graded cell.
    illustrations: tuple = ()

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
        """``autograder/<name>/``: what the grader documents that students never get."""
        return REPO_ROOT / "autograder" / self.name

    def exercise(self, test):
        """The :class:`~grading.exercise.Exercise` of the graded cell ``test``."""
        for exercise in self.exercises:
            if exercise.test == test:
                return exercise
        raise KeyError(f"{self.name} has no graded cell {test!r}; its graded cells are {self.test_ids()}.")

    def test_ids(self):
        return [exercise.test for exercise in self.exercises]

    def points(self):
        """``test grade_id -> points`` as the release notebook's nbgrader metadata states them."""
        import nbformat

        nb = nbformat.read(self.release_notebook, as_version=4)
        points = {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                points[meta["grade_id"]] = float(meta.get("points", 0))
        if sorted(points) != sorted(self.test_ids()):
            raise ValueError(f"{self.release_notebook} grades {sorted(points)}, but grading/{self.name.lower()}.py "
                             f"checks {sorted(self.test_ids())}; make them agree.")
        return points

    def sample(self, student):
        for sample in self.samples:
            if sample.student == student:
                return sample
        raise KeyError(f"{self.name} has no sample {student!r}; its samples are {[s.student for s in self.samples]}.")

    def expected_points(self, sample):
        """``test -> points`` a :class:`Sample` must get: full marks except where it says."""
        return {test: float(sample.expected.get(test, points)) for test, points in self.points().items()}


def draw_cases(assignment, seed):
    """``test grade_id -> cases`` of every exercise, drawn from ``seed`` (a fresh, secret one per run)."""
    root = np.random.SeedSequence(seed)
    children = root.spawn(len(assignment.exercises))
    return {exercise.test: exercise.draw(np.random.default_rng(child))
            for exercise, child in zip(assignment.exercises, children)}


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def build_program(assignment, notebook, cases, driver_for=None):
    """The box's program for the submitted ``notebook`` (a path or an nbformat notebook).

    Returns
    -------
    list of :class:`grading.runner.Cell` and :class:`grading.runner.Call`
        One ``Call`` per graded test cell, in the submission's order; test cells a submission
        deleted are called at the end; nothing runs after the last test cell, and the locked
        cells listed in ``assignment.illustrations`` do not run.
    """
    import nbformat

    from grading.runner import Call, Cell

    nb = notebook if not isinstance(notebook, (str, Path)) else nbformat.read(notebook, as_version=4)
    release = nbformat.read(assignment.release_notebook, as_version=4)
    locked = {_grade_id(c): c.source for c in release.cells
              if _grade_id(c) and c.cell_type == "code" and not c.metadata["nbgrader"].get("solution")}
    tests = set(assignment.test_ids())
    steps, seen = [], set()
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        gid = _grade_id(cell)
        if gid in tests:
            exercise = assignment.exercise(gid)
            steps.append(Call(gid, exercise.driver, cases[gid]))
            seen.add(gid)
        elif gid in assignment.illustrations:
            continue
        elif gid in locked:
            steps.append(Cell(gid, locked[gid]))
        else:  # a solution cell, or a cell the student added
            steps.append(Cell(gid or f"cell-{index}", cell.get("source", "")))
    for exercise in assignment.exercises:
        if exercise.test not in seen:
            steps.append(Call(exercise.test, exercise.driver, cases[exercise.test]))
    last = max(i for i, step in enumerate(steps) if isinstance(step, Call))
    return steps[:last + 1]


def strip_solution_markers(source):
    """A solution cell's source without nbgrader's ``### BEGIN/END SOLUTION`` lines."""
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def sample_notebook(assignment, sample=None):
    """The release notebook with every solution cell filled in from the source; then ``sample``'s edits.

    With ``sample=None`` this is a correct submission (what a student who solved everything hands in).
    """
    import nbformat

    source = nbformat.read(assignment.source_notebook, as_version=4)
    solutions = {_grade_id(c): strip_solution_markers(c.source) for c in source.cells
                 if _grade_id(c) and c.metadata["nbgrader"].get("solution")}
    nb = copy.deepcopy(nbformat.read(assignment.release_notebook, as_version=4))
    replace = sample.replace if sample else {}
    unknown = sorted(set(replace) - set(solutions))
    if unknown:
        raise ValueError(f"sample {sample.student} of {assignment.name} replaces {unknown}, which are not "
                         f"solution cells ({sorted(solutions)}).")
    cells = []
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid in solutions:
            cell.source = replace.get(gid, solutions[gid]).strip("\n")
        cells.append(cell)
        for after, code in (sample.insert if sample else ()):
            if after == gid:
                cells.append(nbformat.v4.new_code_cell(code.strip("\n")))
    nb.cells = cells
    nb.metadata["medxai_sample"] = sample.why if sample else "a correct submission"
    return nb
