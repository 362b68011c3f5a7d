"""Grading time per submission: nbgrader's in-kernel autograde against the sandboxed grader, one run.

Run: ``.venv/bin/python benchmarks/bench_autograde.py [C1W1 C3W3] [--copies N]``. For each assignment,
the same correct submission (the release with the solutions filled in) is graded ``N`` times
(default 2) by

* **before**: ``nbgrader autograde`` (every cell executed in one Jupyter kernel per submission, one
  submission after another; what the course did until the grader moved out of the kernel), and
* **after**: ``grading.autograde`` (each submission in its own bubblewrap box, cells up to the last
  graded one, verdicts from values), with ``--jobs 1`` and with ``--jobs 2``;

and prints seconds per submission and the ratios, measured in this run on this machine. The two
paths grade the same notebooks in separate temporary course roots.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nbformat

import grading
from grading.assignment import sample_notebook
from grading.autograde import autograde
from grading.core import make_course, nbgrader


def _course(assignment, copies, tmp):
    root = make_course(Path(tmp), assignment)
    nb = sample_notebook(assignment)
    for i in range(copies):
        folder = root / "submitted" / f"student{i}" / assignment.name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / assignment.notebook_name)
    return root


def nbgrader_seconds(assignment, copies):
    with tempfile.TemporaryDirectory() as tmp:
        root = _course(assignment, copies, tmp)
        nbgrader("generate_assignment", assignment.name, "--force", root=root)
        start = time.perf_counter()
        nbgrader("autograde", assignment.name, "--create", "--force", root=root)
        return (time.perf_counter() - start) / copies


def sandboxed_seconds(assignment, copies, jobs):
    with tempfile.TemporaryDirectory() as tmp:
        root = _course(assignment, copies, tmp)
        nbgrader("generate_assignment", assignment.name, "--force", root=root)
        start = time.perf_counter()
        run = autograde(assignment, root, jobs=jobs, feedback=False, register=False)
        seconds = (time.perf_counter() - start) / copies
        totals = {s: sum(v.score for v in r.verdicts.values()) for s, r in run.reports.items()}
        assert all(t == sum(assignment.points().values()) for t in totals.values()), totals
        return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=list(grading.ASSIGNMENT_NAMES))
    parser.add_argument("--copies", type=int, default=2, help="submissions graded per path")
    args = parser.parse_args(argv)
    for name in args.assignments:
        assignment = grading.get_assignment(name)
        before = nbgrader_seconds(assignment, args.copies)
        serial = sandboxed_seconds(assignment, args.copies, jobs=1)
        parallel = sandboxed_seconds(assignment, args.copies, jobs=2)
        print(f"{name}, {args.copies} submissions: nbgrader autograde {before:.1f} s/submission; sandboxed grader "
              f"{serial:.1f} s/submission with 1 job ({serial / before:.2f} x nbgrader), {parallel:.1f} s with "
              f"2 jobs ({parallel / before:.2f} x nbgrader)")


if __name__ == "__main__":
    main()
