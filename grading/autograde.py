"""Grade every submission of an assignment: sandboxed runs, verdicts, nbgrader's gradebook, feedback.

:func:`autograde` is ``make autograde ASSIGNMENT=<A>``. For a course root that holds
``submitted/<student>/<A>/<A>_Assignment.ipynb`` (nbgrader's layout, or what
``nbgrader collect`` leaves), it

1. records the assignment in the gradebook (``nbgrader generate_assignment``);
2. checks that the sandbox works (:func:`grading.sandbox.isolation_problem`) and refuses
   when it does not, unless unsandboxed grading is explicitly allowed;
3. draws every exercise's cases from a fresh secret seed and computes the solution's
   answers to them, in this process (:func:`grading.assignment.draw_cases`);
4. runs each submission in its own box (:func:`grading.runner.run_submission`), ``jobs`` at a
   time, and judges each test cell from the values its functions return;
5. writes the scores into nbgrader's gradebook (this process is its only writer), an
   autograded notebook per student (the submission with the release's locked cells and, under
   each test cell, the verdict; never the hidden checks or their cases) and the run's log;
6. runs ``nbgrader generate_feedback``.

A submission that crashes, loops or floods loses the points of the test cells from the crash
on; the tests before it keep theirs, and every submission gets a grade record.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from grading import sandbox
from grading.assignment import build_program, draw_cases
from grading.exercise import judge
from grading.runner import run_submission
from grading.sandbox import Limits, SandboxUnavailable

__all__ = ["GradeRun", "autograde", "find_submissions", "record_grades", "write_autograded"]

#: The grader's version, stored with each submission's log.
GRADER_VERSION = "2"


@dataclass
class GradeRun:
    """The outcome of :func:`autograde`: per student, the report of the box and the verdicts."""

    assignment: str
    isolated: bool
    seed_digest: str
    reports: dict = field(default_factory=dict)
    points: dict = field(default_factory=dict)
    seconds: float = 0.0

    def table(self):
        """A DataFrame: one row per student, one column per test cell, then total, seconds, status."""
        import pandas as pd

        rows = {}
        for student, report in sorted(self.reports.items()):
            row = {test: report.verdicts[test].score for test in self.points}
            row["total"] = sum(row.values())
            row["seconds"] = report.seconds
            row["status"] = report.ended
            rows[student] = row
        columns = [*self.points, "total", "seconds", "status"]
        table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
        table.attrs.update(max_score=sum(self.points.values()), isolated=self.isolated, elapsed=self.seconds)
        return table

    def summary(self):
        """The text ``make autograde`` prints: isolation, the table, and why points were lost."""
        lines = [f"{self.assignment}: {len(self.reports)} submission(s) graded in {self.seconds:.0f} s; isolation: "
                 + ("ON (bubblewrap sandbox: no network, no instructor files, resource limits)" if self.isolated
                    else "OFF (unsandboxed grading was allowed explicitly; the limits applied, the isolation did not)")]
        table = self.table()
        lines.append(table.to_string())
        lines.append(f"max score {table.attrs['max_score']:g}")
        for student, report in sorted(self.reports.items()):
            lost = [v.message for v in report.verdicts.values() if not v.passed]
            if lost or report.ended != "finished":
                lines.append(f"- {student}: {report.ended}{': ' + report.detail if report.detail else ''}")
                lines.extend(f"    {message}" for message in lost)
        return "\n".join(lines)


def find_submissions(assignment, root):
    """``student -> notebook path`` of every submission under ``root/submitted``.

    Raises
    ------
    FileNotFoundError
        No submission of this assignment is there (the message says where they belong).
    """
    root = Path(root)
    found = {p.parent.parent.name: p for p in sorted((root / "submitted").glob(f"*/{assignment.name}/"
                                                                              f"{assignment.notebook_name}"))}
    if not found:
        raise FileNotFoundError(
            f"no submissions of {assignment.name} in {root / 'submitted'}: put each student's notebook at "
            f"submitted/<student>/{assignment.name}/{assignment.notebook_name} (nbgrader collect does).")
    return found


def _db_url(root):
    return f"sqlite:///{Path(root).resolve() / 'gradebook.db'}"


def record_grades(db_url, assignment, student, report, timestamp=None):
    """Write one submission's verdicts into nbgrader's gradebook (replacing an earlier grading of it)."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry

    notebook = Path(assignment.notebook_name).stem
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes inside nbgrader's add_submission
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(assignment.name, student)
        except MissingEntry:
            pass
        kwargs = {"timestamp": timestamp} if timestamp else {}
        gb.add_submission(assignment.name, student, **kwargs)
        for test, verdict in report.verdicts.items():
            grade = gb.find_grade(test, notebook, assignment.name, student)
            grade.auto_score = float(verdict.score)
            grade.needs_manual_grade = False
        gb.db.commit()


def write_autograded(path, assignment, submitted, report):
    """The autograded notebook: the submission as it ran, each test cell showing its verdict.

    Locked cells are the release's (as the box ran them); the test cells hold only the visible
    tests and, as their output, the verdict message; no cell holds hidden checks or cases.
    """
    import nbformat

    release = nbformat.read(assignment.release_notebook, as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in release.cells}
    nb = copy.deepcopy(nbformat.read(submitted, as_version=4))
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        meta = by_id[gid].metadata["nbgrader"] if gid in by_id else None
        if meta is not None and not meta.get("solution"):
            cell.source = by_id[gid].source
            cell.metadata["nbgrader"] = copy.deepcopy(meta)
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        verdict = report.verdicts.get(gid)
        if verdict is None:
            continue
        if verdict.passed:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=verdict.message + "\n")]
        else:
            cell.outputs = [nbformat.v4.new_output("error", ename="NotPassed", evalue=verdict.message,
                                                   traceback=[verdict.message])]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _write_log(folder, student, report, digest):
    folder.mkdir(parents=True, exist_ok=True)
    log = {
        "student": student, "grader_version": GRADER_VERSION, "isolated": report.isolated, "ended": report.ended,
        "detail": report.detail, "seconds": report.seconds, "seed_sha256": digest,
        "verdicts": {t: {"score": v.score, "max_score": v.max_score, "message": v.message}
                     for t, v in report.verdicts.items()},
        "cells": [{"cell": name, "ok": ok, "error": error, "seconds": s} for name, ok, error, s in report.cells],
        "stdout_tail": report.stdout_tail, "stderr_tail": report.stderr_tail,
    }
    (folder / "grading.json").write_text(json.dumps(log, indent=1) + "\n")


def autograde(assignment, root, students=None, jobs=1, limits=Limits(), allow_unsandboxed=False, seed=None,
              feedback=True, register=True, progress=None):
    """Grade ``root/submitted/*/<name>/`` into ``root``'s gradebook (see the module docstring).

    Parameters
    ----------
    assignment : grading.assignment.Assignment
    root : path
        The course root (holds ``nbgrader_config.py``, ``source/<name>``, ``submitted/``).
    students : list of str, optional
        Grade only these (default: every submission found).
    jobs : int, default 1
        Submissions graded at once; each box gets ``cores // jobs`` threads.
    limits : grading.sandbox.Limits
    allow_unsandboxed : bool, default False
        Grade without the sandbox where it cannot start (the summary says so) instead of refusing.
    seed : int, optional
        The case seed; default a fresh secret one. Only its SHA-256 is logged.
    feedback : bool, default True
        Run ``nbgrader generate_feedback`` afterwards.
    register : bool, default True
        Run ``nbgrader generate_assignment`` first (records the assignment in the gradebook).
    progress : callable, optional
        Called with one line per finished submission.

    Returns
    -------
    GradeRun

    Raises
    ------
    SandboxUnavailable
        The sandbox cannot start here and ``allow_unsandboxed`` is False.
    FileNotFoundError
        No submissions (or one of ``students`` has none).
    """
    import hashlib

    from grading.core import nbgrader, normalize_release

    root = Path(root)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer; got {jobs!r}.")
    problem = sandbox.isolation_problem()
    if problem and not allow_unsandboxed:
        raise SandboxUnavailable(f"the grading sandbox cannot start here: {problem} Fix that, or grade without "
                                 "isolation on purpose with --allow-unsandboxed (every report will say so).")
    isolated = problem is None
    found = find_submissions(assignment, root)
    if students is not None:
        missing = sorted(set(students) - set(found))
        if missing:
            raise FileNotFoundError(f"no submission of {assignment.name} from {missing} in {root / 'submitted'}.")
        found = {s: found[s] for s in students}
    if register:
        nbgrader("generate_assignment", assignment.name, "--force", root=root)
        normalize_release(root / "release" / assignment.name)
    start = time.monotonic()
    seed = secrets.randbits(128) if seed is None else seed
    digest = hashlib.sha256(str(seed).encode()).hexdigest()
    cases = draw_cases(assignment, seed)
    expected = {e.test: e.expect(cases[e.test]) for e in assignment.exercises}
    points = assignment.points()
    files = [(p.name, p.read_bytes()) for p in sorted(assignment.release_dir.glob("*.py"))]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    run = GradeRun(assignment.name, isolated, digest, points=points)
    db_url = _db_url(root)

    def grade_one(student, notebook):
        program = build_program(assignment, notebook, cases)

        def verdict(call, results, problem):
            exercise = assignment.exercise(call.test)
            return judge(exercise, cases[call.test], expected[call.test], results, problem, points[call.test])

        return run_submission(program, verdict, files=files, limits=limits, isolated=isolated, threads=threads,
                              keep_dir=root / "grading-logs" / assignment.name / student)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(grade_one, s, nb): s for s, nb in found.items()}
        for future in as_completed(futures):
            student = futures[future]
            report = future.result()
            run.reports[student] = report
            record_grades(db_url, assignment, student, report)
            write_autograded(root / "autograded" / student / assignment.name / assignment.notebook_name,
                             assignment, found[student], report)
            _write_log(root / "grading-logs" / assignment.name / student, student, report, digest)
            if progress:
                total = sum(v.score for v in report.verdicts.values())
                progress(f"[{len(run.reports)}/{len(found)}] {student}: {total:g}/{sum(points.values()):g} "
                         f"({report.ended}, {report.seconds:.0f} s)")
    run.seconds = time.monotonic() - start
    if feedback:
        nbgrader("generate_feedback", assignment.name, "--force", root=root)
    return run


def clean(root):
    """Remove what grading wrote in ``root``: gradebook, autograded, feedback, logs (not submissions)."""
    root = Path(root)
    for name in ("autograded", "feedback", "grading-logs"):
        shutil.rmtree(root / name, ignore_errors=True)
    (root / "gradebook.db").unlink(missing_ok=True)
