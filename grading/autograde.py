"""Grade every submission of an assignment: sandboxed runs, verdicts, nbgrader's gradebook, feedback.

:func:`autograde` is ``make autograde ASSIGNMENT=<A>``. For a course root that holds
``submitted/<student>/<A>/<A>_Assignment.ipynb`` (nbgrader's layout, or what
``nbgrader collect`` leaves), it

1. records the assignment in the gradebook (``nbgrader generate_assignment``); the gradebook is
   nbgrader's ``CourseDirectory.db_url`` (``nbgrader_config.py``, or ``db_url=``), by default
   ``gradebook.db`` (sqlite) in the course root;
2. checks that the sandbox works (:func:`grading.sandbox.isolation_problem`) and refuses
   when it does not, unless unsandboxed grading is explicitly allowed (on a Dask cluster each
   worker checks its own machine);
3. draws every exercise's cases from a fresh secret seed and computes the solution's
   answers to them, in this process (:func:`grading.assignment.draw_cases`);
4. skips each submission already graded from the same notebook bytes (SHA-256) by the same
   :data:`GRADER_VERSION` whose grades are in the gradebook (unless ``force``);
5. grades the others, each in its own box, by :func:`grade_task`: ``jobs`` at a time in this
   process's threads, or one task per submission on a Dask cluster (:mod:`grading.cluster`).
   Either way a task returns JSON text (scores, messages, timings, status, logs), never an object
   made in a sandbox. A task that raises (a fault of the grader, a dead worker, a lost machine)
   is retried :data:`RETRIES` times, then recorded as a *grader fault*, with no grade;
6. records each finished submission at once, in this process only (the gradebook's one writer):
   its scores, an autograded notebook per student (the submission with the release's locked
   cells and, under each test cell, the verdict; never the hidden checks or their cases) and
   ``grading-logs/<A>/<student>/grading.json`` (written last: a grader killed before that
   grades the submission again next time). An interruption loses only the submissions in flight;
7. writes ``grading-logs/<A>/grades.csv`` (student, each exercise, total, seconds, status) and
   runs ``nbgrader generate_feedback``.

A submission that crashes, loops or floods loses the points of the test cells from the crash
on; the tests before it keep theirs, and every submission gets a grade record.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import hashlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from grading import sandbox
from grading.assignment import build_program, draw_cases
from grading.exercise import judge
from grading.runner import RunReport, Verdict, run_submission
from grading.sandbox import Limits, SandboxUnavailable

__all__ = ["GRADER_VERSION", "GradeRun", "RETRIES", "autograde", "find_submissions", "grade_task", "gradebook_url",
           "record_grades", "report_from_result", "write_autograded", "write_grades_csv"]

#: The grader's version, stored with each submission's log. A submission graded by another version
#: is graded again; change it whenever what a submission gets could change.
GRADER_VERSION = "2"
#: How many times a submission whose grading raised inside the grader is tried again.
RETRIES = 2
#: Status of a submission the grader could not grade (its grading raised :data:`RETRIES` + 1 times).
GRADER_FAULT = "grader fault"
#: How much of the box's stdout and stderr (each, from the start) a task returns and the log keeps.
LOG_BYTES = 1024 ** 2
#: Status (grades.csv) of a submission folder that holds no notebook of the assignment's name.
NO_NOTEBOOK = "no notebook"
#: Statuses a graded submission can have (the runner's ``RunReport.ended``, and "unreadable").
GRADED_STATUSES = ("finished", "crashed", "timed out", "flooded", "unreadable")


@dataclass
class GradeRun:
    """The outcome of :func:`autograde`.

    ``reports`` holds a :class:`~grading.runner.RunReport` per graded student: graded now, or
    earlier (``skipped``: the same notebook, the same grader version, its grades in the gradebook).
    ``faults`` maps each student the grader could not grade to the error (no grade recorded).
    ``without_notebook`` maps each student whose ``submitted/<student>/<name>/`` folder holds no
    notebook of that name to the files it holds (not graded, no grade recorded).
    """

    assignment: str
    isolated: bool
    seed_digest: str
    reports: dict = field(default_factory=dict)
    points: dict = field(default_factory=dict)
    seconds: float = 0.0
    skipped: list = field(default_factory=list)
    faults: dict = field(default_factory=dict)
    without_notebook: dict = field(default_factory=dict)
    backend: str = ""
    db_url: str = ""
    csv_path: Path | None = None

    @property
    def graded_now(self):
        return sorted(set(self.reports) - set(self.skipped))

    def rows(self, others=None):
        """``student -> row``: each test's score (None if not graded), total, seconds, status.

        ``others`` adds students outside this run: ``student -> RunReport`` or a status string.
        """
        rows = {}
        everyone = {**(others or {}), **{s: NO_NOTEBOOK for s in self.without_notebook},
                    **{s: GRADER_FAULT for s in self.faults}, **self.reports}
        for student in sorted(everyone):
            report = everyone[student]
            if isinstance(report, str):
                row = {test: None for test in self.points}
                row.update(total=None, seconds=None, status=report)
            else:
                row = {test: report.verdicts[test].score for test in self.points}
                row.update(total=sum(row.values()), seconds=report.seconds, status=report.ended)
            rows[student] = row
        return rows

    def table(self):
        """A DataFrame: one row per student, one column per test cell, then total, seconds, status."""
        import pandas as pd

        columns = [*self.points, "total", "seconds", "status"]
        table = pd.DataFrame.from_dict(self.rows(), orient="index", columns=columns)
        table.attrs.update(max_score=sum(self.points.values()), isolated=self.isolated, elapsed=self.seconds)
        return table

    def summary(self):
        """The text ``make autograde`` prints: isolation, the table, and why points were lost."""
        now = self.graded_now
        head = f"{self.assignment}: {len(now)} submission(s) graded in {self.seconds:.0f} s"
        if self.backend:
            head += f" ({self.backend})"
        if self.skipped:
            head += (f", {len(self.skipped)} unchanged since they were graded (same notebook, grader version "
                     f"{GRADER_VERSION}; --force grades them again)")
        if self.faults:
            head += f", {len(self.faults)} GRADER FAULT(S)"
        if self.without_notebook:
            head += f", {len(self.without_notebook)} submission folder(s) WITHOUT THE NOTEBOOK"
        lines = [head + "; isolation: "
                 + ("ON (bubblewrap sandbox: no network, no instructor files, resource limits)" if self.isolated
                    else "OFF (unsandboxed grading was allowed explicitly; the limits applied, the isolation did not)")]
        if not self.reports and not self.faults and not self.without_notebook:
            return "\n".join(lines)
        table = self.table()
        lines.append(table.to_string())
        lines.append(f"max score {table.attrs['max_score']:g}")
        for student, report in sorted(self.reports.items()):
            lost = [v.message for v in report.verdicts.values() if not v.passed]
            if lost or report.ended != "finished":
                lines.append(f"- {student}: {report.ended}{': ' + report.detail if report.detail else ''}")
                lines.extend(f"    {message}" for message in lost)
        for student, error in sorted(self.faults.items()):
            lines.append(f"- {student}: GRADER FAULT, not graded and no grade recorded (the gradebook keeps what it "
                         f"had): {error}")
        for student, names in sorted(self.without_notebook.items()):
            lines.append(f"- {student}: NOT GRADED, {missing_notebook_message(self.assignment, student, names)}")
        if self.faults:
            lines.append(f"{len(self.faults)} submission(s) could not be graded because of a fault of the grader, not "
                         f"of the student (logs: grading-logs/{self.assignment}/<student>/grading.json); run the same "
                         "command again to grade them (graded submissions are skipped).")
        return "\n".join(lines)


def missing_notebook_message(name, student, names):
    """Why ``submitted/<student>/<name>/`` (holding the files ``names``) was not graded, and what to do."""
    notebook = f"{name}_Assignment.ipynb"
    held = f"it holds {', '.join(names)}" if names else "it is empty"
    return (f"submitted/{student}/{name}/ holds no {notebook} ({held}): put the student's notebook there under "
            f"that name and run the same command again.")


def folders_without_notebook(assignment, root):
    """``student -> names of the files in submitted/<student>/<name>/`` for each such folder that holds
    no ``<name>_Assignment.ipynb`` (a renamed notebook, an empty submission)."""
    folders = sorted((Path(root) / "submitted").glob(f"*/{assignment.name}/"))
    return {folder.parent.name: sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
            for folder in folders if folder.is_dir() and not (folder / assignment.notebook_name).is_file()}


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
        lacking = folders_without_notebook(assignment, root)
        raise FileNotFoundError(
            f"no submissions of {assignment.name} in {root / 'submitted'}: put each student's notebook at "
            f"submitted/<student>/{assignment.name}/{assignment.notebook_name} (nbgrader collect does)."
            + "".join(f"\n- {s}: {missing_notebook_message(assignment.name, s, names)}"
                      for s, names in lacking.items()))
    return found


def _db_url(root):
    return f"sqlite:///{Path(root).resolve() / 'gradebook.db'}"


def _configured_db_url(root):
    """``CourseDirectory.db_url`` as ``root/nbgrader_config.py`` sets it, or None."""
    path = Path(root) / "nbgrader_config.py"
    if not path.is_file():
        return None
    from traitlets.config.loader import PyFileConfigLoader

    saved = dict(os.environ)  # the course's config sets variables for nbgrader's kernels, not for us
    try:
        config = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    url = config.CourseDirectory.get("db_url") if "CourseDirectory" in config else None
    return str(url) if url else None


def gradebook_url(root, db_url=None):
    """The gradebook's URL: ``db_url``, else ``CourseDirectory.db_url`` of ``root/nbgrader_config.py``,
    else nbgrader's default, ``gradebook.db`` (sqlite) in the course root."""
    return db_url or _configured_db_url(root) or _db_url(root)


def shown_url(url):
    """``url`` with its password hidden (for messages and reports)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  (not a URL SQLAlchemy reads: show it as it is)
        return str(url)


@contextlib.contextmanager
def _gradebook(db):
    """``db`` when it is an open nbgrader ``Gradebook``, else a Gradebook opened (and closed) on the URL ``db``."""
    from nbgrader.api import Gradebook

    if isinstance(db, Gradebook):
        yield db
    else:
        with Gradebook(db) as gb:
            yield gb


def record_grades(db_url, assignment, student, report, timestamp=None):
    """Write one submission's verdicts into nbgrader's gradebook (replacing an earlier grading of it).

    ``db_url`` is the gradebook's URL or an open ``nbgrader.api.Gradebook``. Like ``nbgrader autograde``,
    a submission already in the gradebook is updated, not replaced, so manual grades and comments
    given to it are kept; ``timestamp`` (the submission time, from nbgrader's ``timestamp.txt``) is
    stored when given. The scores of one submission are committed together.
    """
    import warnings

    notebook = Path(assignment.notebook_name).stem
    with warnings.catch_warnings(), _gradebook(db_url) as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes inside nbgrader's add_submission
        gb.update_or_create_student(student)
        kwargs = {"timestamp": timestamp} if timestamp else {}
        gb.update_or_create_submission(assignment.name, student, **kwargs)
        for test, verdict in report.verdicts.items():
            grade = gb.find_grade(test, notebook, assignment.name, student)
            grade.auto_score = float(verdict.score)
            grade.needs_manual_grade = False
        gb.db.commit()


#: Files nbgrader's submit and collect leave beside a submitted notebook, kept through autograded/ and feedback/.
SUBMISSION_RECORDS = ("timestamp.txt", "submission_secret.txt")


def _release_cells(assignment):
    import nbformat

    release = nbformat.read(assignment.release_notebook, as_version=4)
    return release, {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in release.cells}


def write_autograded(path, assignment, submitted, report):
    """The autograded notebook: the submission as it ran, each test cell showing its verdict.

    Locked cells are the release's (as the box ran them); the test cells hold only the visible
    tests and, as their output, the verdict message; no cell holds hidden checks or cases. A
    submission that cannot be read as a notebook is shown as the release with the verdicts.
    """
    import nbformat

    release, by_id = _release_cells(assignment)
    try:
        nb = copy.deepcopy(nbformat.read(submitted, as_version=4))
        nb.cells  # noqa: B018  (a JSON file that is not a notebook fails here)
    except Exception:  # noqa: BLE001  (unreadable: shown as the release)
        nb = copy.deepcopy(release)
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


# ----------------------------------------------------------------------------- one submission, anywhere
def available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _box_threads(shared):
    """Threads per box on a Dask worker: the client's plan for this worker, else its cores / its threads."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not in a Dask worker
        return available_cores()
    planned = (shared.get("threads_by_worker") or {}).get(worker.address)
    if planned:
        return int(planned)
    nthreads = getattr(getattr(worker, "state", None), "nthreads", None) or getattr(worker, "nthreads", 1)
    return max(1, available_cores() // max(1, int(nthreads)))


def _worker_name():
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()} (pid {os.getpid()})"


def _head(path, limit=LOG_BYTES):
    try:
        with open(path, "rb") as fh:
            return fh.read(limit).decode(errors="replace")
    except OSError:
        return ""


def _report_data(report):
    return {
        "ended": report.ended, "detail": report.detail, "seconds": report.seconds, "isolated": report.isolated,
        "verdicts": {t: {"score": v.score, "max_score": v.max_score, "message": v.message}
                     for t, v in report.verdicts.items()},
        "cells": [{"cell": name, "ok": ok, "error": error, "seconds": s} for name, ok, error, s in report.cells],
        "stdout_tail": report.stdout_tail, "stderr_tail": report.stderr_tail,
        "box_uid": getattr(report, "box_uid", -1),
    }


def grade_task(task, shared):
    """Grade one submission here (a thread of the grader, or a Dask worker); return JSON text.

    Parameters
    ----------
    task : dict
        ``student``, ``notebook`` (the submitted file's bytes) and ``notebook_sha256``.
    shared : dict
        What every task of a run shares (built by :func:`autograde`): the assignment's name, the
        SHA-256 of the client's release notebook, the cases and the solution's answers to them,
        points, the files placed in the box, the limits (a dict), ``isolated`` (None: decide here)
        and ``allow_unsandboxed``, the threads per box (None: decide here).

    Returns
    -------
    str
        JSON of plain data: the verdicts, the cells, status, seconds, the first :data:`LOG_BYTES`
        of the box's stdout and stderr, where it ran. Nothing the box made but these values.

    Raises
    ------
    Exception
        Only for faults of the grader (this machine's checkout differs from the client's, the
        sandbox cannot start, an error of the grader's own); the caller retries, then records a
        grader fault. A submission's own failures are verdicts.
    """
    import nbformat

    from grading import get_assignment

    assignment = get_assignment(shared["assignment"])
    release = hashlib.sha256(assignment.release_notebook.read_bytes()).hexdigest()
    if release != shared["release_sha256"]:
        raise RuntimeError(f"{_worker_name()} has another release/{assignment.name}/{assignment.notebook_name} than "
                           "the grader that sent the task: give every grading machine the same checkout (the same "
                           "commit), its .venv and `make data`.")
    isolated = shared["isolated"]
    if isolated is None:
        problem = sandbox.isolation_problem()
        if problem and not shared["allow_unsandboxed"]:
            raise SandboxUnavailable(f"the grading sandbox cannot start on {_worker_name()}: {problem}")
        isolated = problem is None
    threads = shared["threads"] or _box_threads(shared)
    data = task["notebook"]
    digest = hashlib.sha256(data).hexdigest()
    if digest != task["notebook_sha256"]:
        raise RuntimeError(f"the notebook of {task['student']} arrived damaged (SHA-256 {digest[:12]}..., "
                           f"sent {task['notebook_sha256'][:12]}...).")
    cases, expected, points = shared["cases"], shared["expected"], shared["points"]

    def verdict(call, results, problem):
        exercise = assignment.exercise(call.test)
        return judge(exercise, cases[call.test], expected[call.test], results, problem, points[call.test])

    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        program = build_program(assignment, notebook, cases)
    except Exception as err:  # noqa: BLE001  (the student's file is not a notebook of this assignment)
        problem = f"the submitted file could not be read as a notebook ({type(err).__name__}: {str(err)[:200]})"
        report = RunReport(ended="unreadable", detail=problem, isolated=isolated)
        report.verdicts = {e.test: verdict(e, None, problem) for e in assignment.exercises}
        stdout = stderr = ""
    else:
        with tempfile.TemporaryDirectory(prefix="medxai-logs-") as keep:
            report = run_submission(program, verdict, files=shared["files"], limits=Limits(**shared["limits"]),
                                    isolated=isolated, threads=threads, keep_dir=keep)
            stdout, stderr = _head(Path(keep) / "stdout.txt"), _head(Path(keep) / "stderr.txt")
    result = _report_data(report)
    result.update(student=task["student"], notebook_sha256=digest, grader_version=GRADER_VERSION,
                  worker=_worker_name(), threads=threads, stdout=stdout, stderr=stderr)
    return json.dumps(result)


def _number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} is not a finite number: {value!r}")
    return float(value)


def report_from_result(result, points):
    """The :class:`~grading.runner.RunReport` of a task's result (JSON text or its dict), checked.

    Raises
    ------
    ValueError
        The result is not what :func:`grade_task` returns for this assignment.
    """
    data = json.loads(result) if isinstance(result, (str, bytes)) else result
    if not isinstance(data, dict) or not isinstance(data.get("verdicts"), dict):
        raise ValueError("a grading task returned something that is not a grading result")
    if sorted(data["verdicts"]) != sorted(points):
        raise ValueError(f"a grading task graded {sorted(data['verdicts'])}, not {sorted(points)}")
    verdicts = {}
    for test, v in data["verdicts"].items():
        score, max_score = _number(v["score"], f"{test} score"), _number(v["max_score"], f"{test} max_score")
        if not 0 <= score <= max_score or max_score != points[test]:
            raise ValueError(f"{test}: score {score} out of {max_score} does not fit the {points[test]} points")
        verdicts[test] = Verdict(score, max_score, str(v["message"]))
    if data.get("ended") not in GRADED_STATUSES:
        raise ValueError(f"a grading task ended with an unknown status {data.get('ended')!r}")
    report = RunReport(verdicts=verdicts, ended=data["ended"], detail=str(data.get("detail", "")),
                       seconds=_number(data.get("seconds", 0.0), "seconds"), isolated=bool(data.get("isolated")),
                       stdout_tail=str(data.get("stdout_tail", "")), stderr_tail=str(data.get("stderr_tail", "")))
    report.cells = [(str(c["cell"]), bool(c["ok"]), c.get("error"), c.get("seconds")) for c in data.get("cells", [])]
    if isinstance(data.get("box_uid"), int) and hasattr(report, "box_uid"):
        report.box_uid = data["box_uid"]
    return report


# ----------------------------------------------------------------------------- logs, CSV, resuming
def _log_dir(root, assignment, student):
    return Path(root) / "grading-logs" / assignment.name / student


def _write_json(path, data):
    """Write ``path`` whole or not at all (a killed grader never leaves half a log)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def _write_log(folder, student, report, seed_digest, result):
    """``stdout.txt``, ``stderr.txt`` (the first :data:`LOG_BYTES` of each) and, last, ``grading.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("stdout", "stderr"):
        (folder / f"{name}.txt").write_bytes(str(result.get(name, "")).encode("utf-8", "replace"))
    log = {"student": student, "status": report.ended, "grader_version": GRADER_VERSION,
           "notebook_sha256": result["notebook_sha256"], "graded_at": datetime.now(timezone.utc).isoformat(),
           "worker": result.get("worker"), "threads": result.get("threads"), "seed_sha256": seed_digest,
           **_report_data(report)}
    _write_json(folder / "grading.json", log)


def _write_fault(folder, student, digest, seed_digest, errors):
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / "grading.json", {
        "student": student, "status": GRADER_FAULT, "grader_version": GRADER_VERSION, "notebook_sha256": digest,
        "graded_at": datetime.now(timezone.utc).isoformat(), "seed_sha256": seed_digest, "attempts": len(errors),
        "errors": errors, "note": "not graded because of a fault of the grader; no grade was recorded"})


def _read_json(path):
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _earlier_report(gb, assignment, student, digest, log, points):
    """The report of an earlier grading of these notebook bytes, if it counts (else None).

    It counts when its log says it was graded (not a grader fault) from the same bytes by this
    :data:`GRADER_VERSION`, and the gradebook holds the same automatic scores for it.
    """
    from nbgrader.api import MissingEntry

    if not log or log.get("grader_version") != GRADER_VERSION or log.get("notebook_sha256") != digest:
        return None
    if log.get("status") not in GRADED_STATUSES:
        return None
    try:
        report = report_from_result(log, points)
        notebook = gb.find_submission_notebook(Path(assignment.notebook_name).stem, assignment.name, student)
    except (MissingEntry, ValueError, KeyError, TypeError):
        return None
    stored = {g.name: g.auto_score for g in notebook.grades}
    if any(stored.get(test) is None or float(stored[test]) != v.score for test, v in report.verdicts.items()):
        return None
    return report


def _timestamp(folder):
    """The submission time nbgrader's ``submit``/``collect`` left in ``timestamp.txt``, or None."""
    path = Path(folder) / "timestamp.txt"
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text:
        return None
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text)
    except ValueError:
        return None


def _other_submissions(gb, assignment, root, graded, points):
    """The CSV rows of submissions this run left alone (``--student``): their grading, if it still counts."""
    others = {}
    for student, path in find_submissions(assignment, root).items():
        if student in graded:
            continue
        log = _read_json(_log_dir(root, assignment, student) / "grading.json")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        report = _earlier_report(gb, assignment, student, digest, log, points)
        if report is not None:
            others[student] = report
        elif log and log.get("status") == GRADER_FAULT and log.get("notebook_sha256") == digest:
            others[student] = GRADER_FAULT
        else:
            others[student] = "not graded"
    return others


def write_grades_csv(path, run, others=None):
    """``grades.csv``: student, each exercise's score, total, seconds, status (empty scores: not graded).

    One row per student of ``run`` and of ``others`` (see :meth:`GradeRun.rows`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", *run.points, "total", "seconds", "status"])
        for student, row in run.rows(others).items():
            writer.writerow([student, *("" if row[t] is None else f"{row[t]:g}" for t in run.points),
                             "" if row["total"] is None else f"{row['total']:g}",
                             "" if row["seconds"] is None else f"{row['seconds']:.2f}", row["status"]])
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- backends
class LocalBackend:
    """``jobs`` boxes at once on this machine, each driven by a thread of this process."""

    def __init__(self, jobs):
        self.jobs = jobs
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade")

    def describe(self):
        return f"{self.jobs} job(s) on this machine"

    def share(self, shared):
        return shared

    def submit(self, task, shared):
        return self.pool.submit(grade_task, task, shared)

    def wait(self, futures):
        return wait(futures, return_when=FIRST_COMPLETED).done

    def release(self, future):
        pass

    def abort(self):
        """Drop the queued submissions and kill the boxes in flight (their runs are lost)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        _kill_boxes()

    def close(self):
        self.pool.shutdown(wait=True)


def _is_box(pid):
    """Whether process ``pid`` is a box of :func:`grading.runner.run_submission` (bwrap, or the bare harness)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    try:
        bwrap = str(sandbox.bwrap_binary()).encode()
    except SandboxUnavailable:
        bwrap = None
    harness = Path(__file__).with_name("harness.py").read_bytes()[:200]
    return (bwrap is not None and argv[0] == bwrap) or (len(argv) > 2 and argv[1] == b"-c"
                                                         and argv[2].startswith(harness))


def _kill_boxes():
    """SIGKILL the boxes this process started (children leading their own session) and their processes."""
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid, ppid, pgid = int(stat.parent.name), int(fields[1]), int(fields[2])
        except (OSError, ValueError, IndexError):
            continue
        if ppid != me or pgid != pid or not _is_box(pid):  # a box leads its own session (grading.sandbox.start)
            continue
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _progress_bar(total, enabled):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, unit="submission", dynamic_ncols=True, leave=True)


def _eta(seconds):
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


# ----------------------------------------------------------------------------- the run
def autograde(assignment, root, students=None, jobs=1, limits=Limits(), allow_unsandboxed=False, seed=None,
              feedback=True, register=True, progress=None, scheduler=None, db_url=None, force=False, bar=None,
              retries=RETRIES):
    """Grade ``root/submitted/*/<name>/`` into the course's gradebook (see the module docstring).

    Parameters
    ----------
    assignment : grading.assignment.Assignment
    root : path
        The course root (holds ``nbgrader_config.py``, ``source/<name>``, ``submitted/``).
    students : list of str, optional
        Grade only these (default: every submission found).
    jobs : int, default 1
        Submissions graded at once on this machine; each box gets ``cores // jobs`` threads.
        Ignored with ``scheduler``.
    limits : grading.sandbox.Limits
    allow_unsandboxed : bool, default False
        Grade without the sandbox where it cannot start (the summary says so) instead of refusing.
    seed : int, optional
        The case seed; default a fresh secret one. Only its SHA-256 is logged.
    feedback : bool, default True
        Run ``nbgrader generate_feedback`` afterwards (when something was graded, or feedback is missing).
    register : bool, default True
        Run ``nbgrader generate_assignment`` first (records the assignment in the gradebook).
    progress : callable, optional
        Called with one line per finished submission (done, failed, remaining, ETA).
    scheduler : str or distributed.Client or a Dask cluster, optional
        Grade on this Dask cluster (e.g. ``"tcp://host:8786"``) instead of this machine's threads;
        needs ``pip install .[cluster]`` (:mod:`grading.cluster`).
    db_url : str, optional
        The gradebook (e.g. ``postgresql://grader@dbhost/medxai``); default
        ``CourseDirectory.db_url`` of ``nbgrader_config.py``, else ``gradebook.db`` in ``root``.
        Passed to every nbgrader command the grader runs.
    force : bool, default False
        Grade again submissions already graded from the same bytes by this grader version.
    bar : bool, optional
        A progress bar on stderr; default: when ``progress`` is given and stderr is a terminal.
    retries : int, default :data:`RETRIES`
        Times a submission whose grading raised inside the grader is tried again before it is
        recorded as a grader fault.

    Returns
    -------
    GradeRun

    Raises
    ------
    SandboxUnavailable
        The sandbox cannot start here and ``allow_unsandboxed`` is False.
    FileNotFoundError
        No submissions (or one of ``students`` has none).
    KeyboardInterrupt
        Interrupted: every submission recorded before stays recorded; the ones in flight are lost.
    """
    from grading.core import nbgrader, normalize_release

    root = Path(root)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer; got {jobs!r}.")
    if scheduler is None:
        problem = sandbox.isolation_problem()
        if problem and not allow_unsandboxed:
            raise SandboxUnavailable(f"the grading sandbox cannot start here: {problem} Fix that, or grade without "
                                     "isolation on purpose with --allow-unsandboxed (every report will say so).")
        isolated = problem is None
    else:
        isolated = None  # each worker checks its own machine
    found = find_submissions(assignment, root)
    lacking = folders_without_notebook(assignment, root)
    if students is not None:
        missing = sorted(set(students) - set(found))
        if missing:
            raise FileNotFoundError(
                f"no submission of {assignment.name} from {missing} in {root / 'submitted'}."
                + "".join(f"\n- {s}: {missing_notebook_message(assignment.name, s, lacking[s])}"
                          for s in missing if s in lacking))
        found = {s: found[s] for s in students}
        lacking = {}
    url = gradebook_url(root, db_url)
    db_args = [f"--CourseDirectory.db_url={url}"] if db_url else []
    if register:
        nbgrader("generate_assignment", assignment.name, "--force", *db_args, root=root)
        normalize_release(root / "release" / assignment.name)
    start = time.monotonic()
    seed = secrets.randbits(128) if seed is None else seed
    seed_digest = hashlib.sha256(str(seed).encode()).hexdigest()
    points = assignment.points()
    run = GradeRun(assignment.name, isolated is not False, seed_digest, points=points, db_url=shown_url(url),
                   without_notebook=lacking)
    data = {s: path.read_bytes() for s, path in found.items()}
    digests = {s: hashlib.sha256(b).hexdigest() for s, b in data.items()}

    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        todo = []
        for student in found:
            earlier = None if force else _earlier_report(
                gb, assignment, student, digests[student],
                _read_json(_log_dir(root, assignment, student) / "grading.json"), points)
            if earlier is None:
                todo.append(student)
            else:
                run.reports[student] = earlier
                run.skipped.append(student)
        if run.skipped and progress:
            progress(f"{len(run.skipped)} submission(s) unchanged since they were graded (same notebook, grader "
                     f"version {GRADER_VERSION}): skipped; --force grades them again")
        if todo:
            _grade(run, assignment, root, found, data, digests, todo, gb, seed, isolated, jobs, limits,
                   allow_unsandboxed, scheduler, progress, bar, retries)
        others = _other_submissions(gb, assignment, root, set(found), points)
    run.seconds = time.monotonic() - start
    if run.reports:  # graded now (on whichever machine) or earlier: isolated only if every one was
        run.isolated = all(r.isolated for r in run.reports.values())
    run.csv_path = write_grades_csv(root / "grading-logs" / assignment.name / "grades.csv", run, others)
    stem = Path(assignment.notebook_name).stem
    missing_feedback = any(not (root / "feedback" / s / assignment.name / f"{stem}.html").is_file()
                           for s in run.reports)
    if feedback and run.reports and (run.graded_now or missing_feedback):
        nbgrader("generate_feedback", assignment.name, "--force", *db_args, root=root)
    return run


def _grade(run, assignment, root, found, data, digests, todo, gb, seed, isolated, jobs, limits, allow_unsandboxed,
           scheduler, progress, bar, retries):
    """Grade ``todo`` on the chosen backend, recording each submission as soon as it is graded."""
    cases = draw_cases(assignment, seed)
    expected = {e.test: e.expect(cases[e.test]) for e in assignment.exercises}
    shared = {
        "assignment": assignment.name,
        "release_sha256": hashlib.sha256(assignment.release_notebook.read_bytes()).hexdigest(),
        "cases": cases, "expected": expected, "points": run.points,
        "files": [(p.name, p.read_bytes()) for p in sorted(assignment.release_dir.glob("*.py"))],
        "limits": dataclasses.asdict(limits), "isolated": isolated, "allow_unsandboxed": bool(allow_unsandboxed),
        "threads": max(1, available_cores() // jobs) if scheduler is None else None,
    }
    if scheduler is None:
        backend = LocalBackend(jobs)
    else:
        from grading.cluster import DaskBackend

        backend = DaskBackend(scheduler)
        shared["threads_by_worker"] = backend.threads_by_worker()
    run.backend = backend.describe()
    max_score = sum(run.points.values())
    bar = _progress_bar(len(todo), progress is not None and sys.stderr.isatty() if bar is None else bar)
    started = time.monotonic()
    done = failed = 0
    errors = {s: [] for s in todo}

    def say(line):
        if progress is None:
            return
        if bar is not None:
            with bar.external_write_mode():
                progress(line)
        else:
            progress(line)

    def counts(eta=True):
        remaining = len(todo) - done - failed
        rate = (time.monotonic() - started) / (done + failed) if done + failed else None
        eta = f", ETA {_eta(rate * remaining)}" if eta and rate is not None and remaining else ""
        return f"done {done}, failed {failed}, remaining {remaining}{eta}"

    try:
        ref = backend.share(shared)
        pending = {}
        for student in todo:
            task = {"student": student, "notebook": data[student], "notebook_sha256": digests[student]}
            pending[backend.submit(task, ref)] = (student, task)
        while pending:
            for future in backend.wait(list(pending)):
                student, task = pending.pop(future)
                try:
                    raw = future.result()
                    backend.release(future)
                    if not isinstance(raw, str):
                        raise TypeError(f"a grading task returned {type(raw).__name__}, not JSON text")
                    result = json.loads(raw)
                    report = report_from_result(result, run.points)
                except Exception as err:  # noqa: BLE001  (a fault of the grader: retried, then recorded)
                    errors[student].append("".join(traceback.format_exception(err)).strip()[-4000:])
                    if len(errors[student]) <= retries:
                        say(f"{student}: the grader failed ({type(err).__name__}: {str(err)[:200]}); trying again "
                            f"({len(errors[student])}/{retries})")
                        pending[backend.submit(task, ref)] = (student, task)
                        continue
                    folder = _log_dir(root, assignment, student)
                    _write_fault(folder, student, digests[student], run.seed_digest, errors[student])
                    run.faults[student] = f"{type(err).__name__}: {str(err)[:300]} ({len(errors[student])} attempts)"
                    failed += 1
                    line = f"[{done + failed}/{len(todo)}] {student}: GRADER FAULT after {len(errors[student])} attempts"
                else:
                    _record(root, assignment, student, found[student], report, result, gb, run)
                    done += 1
                    total = sum(v.score for v in report.verdicts.values())
                    line = (f"[{done + failed}/{len(todo)}] {student}: {total:g}/{max_score:g} "
                            f"({report.ended}, {report.seconds:.0f} s)")
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(counts(eta=False), refresh=True)  # the bar shows its own ETA
                say(f"{line}; {counts()}")
    except BaseException:
        backend.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    backend.close()


def _record(root, assignment, student, submitted, report, result, gb, run):
    """Record one graded submission at once: gradebook, autograded notebook, logs (``grading.json`` last)."""
    folder = _log_dir(root, assignment, student)
    (folder / "grading.json").unlink(missing_ok=True)  # from here until it is rewritten, the submission is ungraded
    record_grades(gb, assignment, student, report, timestamp=_timestamp(submitted.parent))
    graded = root / "autograded" / student / assignment.name
    write_autograded(graded / assignment.notebook_name, assignment, submitted, report)
    # as nbgrader's autograde does: generate_feedback copies them into feedback/, where release_feedback
    # needs both (the time stamp, and the secret that names the feedback file the student can fetch)
    for name in SUBMISSION_RECORDS:
        if (submitted.parent / name).is_file():
            shutil.copy2(submitted.parent / name, graded / name)
    _write_log(folder, student, report, run.seed_digest, result)
    run.reports[student] = report


def clean(root):
    """Remove what grading wrote in ``root``: gradebook, autograded, feedback, logs (not submissions)."""
    root = Path(root)
    for name in ("autograded", "feedback", "grading-logs"):
        shutil.rmtree(root / name, ignore_errors=True)
    (root / "gradebook.db").unlink(missing_ok=True)
