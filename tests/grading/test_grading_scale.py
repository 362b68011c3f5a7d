"""Grading many submissions: a Dask cluster, a killed grader, grader faults, the report (grading/autograde.py).

* The same C1W1 submissions graded by this machine's threads and by a real ``distributed.LocalCluster``
  (2 worker processes) get the same grades, which are the expected points; the CSV agrees with the gradebook.
* A grader killed (SIGKILL) after its first submission, then run again, ends with every submission graded
  exactly once: the re-run skips the recorded one (its log untouched) and ``--force`` grades it again.
* A submission whose grading raises inside the grader is tried 1 + RETRIES times, then recorded as a
  grader fault with no grade; the run goes on and the command exits 3; an interruption keeps what was recorded.
  (These replace the runner by a stand-in: no box starts.)
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grading import autograde as grader
from grading import c1w1
from grading.__main__ import expected_points, main
from grading.assignment import sample_notebook
from grading.core import make_course
from grading.runner import Call, Cell, RunReport, Verdict
from grading.sandbox import Limits
from util.config.paths import REPO_ROOT

A = c1w1.ASSIGNMENT
SEED = 20261213
LIMITS = Limits(cell_seconds=120, submission_seconds=400, memory_bytes=4 * 1024 ** 3)
STUDENTS = ["correct", "row_indices", "segfault"]
STEM = Path(A.notebook_name).stem


def _notebook(student):
    if student == "correct":
        return sample_notebook(A)
    if student == "release":
        return nbformat.read(A.release_notebook, as_version=4)
    return sample_notebook(A, A.sample(student))


def _course(root, students, notebooks=None):
    root = make_course(root, A)
    for student in students:
        folder = root / "submitted" / student / A.name
        folder.mkdir(parents=True)
        nb = (notebooks or {}).get(student) or _notebook(student)
        if isinstance(nb, bytes):
            (folder / A.notebook_name).write_bytes(nb)
        else:
            nbformat.write(nb, folder / A.notebook_name)
    return root


def _scores(run):
    return {s: {t: v.score for t, v in r.verdicts.items()} for s, r in run.reports.items()}


def _gradebook(root):
    """``student -> {test: auto_score}`` and ``student -> total`` in the course's sqlite gradebook."""
    from nbgrader.api import Gradebook

    scores, totals = {}, {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for submission in gb.assignment_submissions(A.name):
            student = submission.student.id
            notebook = gb.find_submission_notebook(STEM, A.name, student)
            scores[student] = {g.name: g.auto_score for g in notebook.grades}
            totals[student] = submission.score
    return scores, totals


def _csv(root):
    with open(root / "grading-logs" / A.name / "grades.csv") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def _assert_csv_agrees_with_gradebook(root):
    scores, totals = _gradebook(root)
    rows = _csv(root)
    graded = {s: row for s, row in rows.items() if row["status"] in grader.GRADED_STATUSES}
    assert sorted(graded) == sorted(scores)
    for student, row in graded.items():
        assert float(row["total"]) == totals[student], student
        assert {t: float(row[t]) for t in A.test_ids()} == scores[student], student
    return rows


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    root = _course(tmp_path_factory.mktemp("serial"), STUDENTS)
    run = grader.autograde(A, root, jobs=2, limits=LIMITS, seed=SEED, feedback=False)
    return root, run


def test_threads_on_this_machine_give_the_expected_points_and_the_csv_agrees_with_the_gradebook(serial):
    root, run = serial
    assert _scores(run) == {s: expected_points(A, s) for s in STUDENTS}
    assert _gradebook(root)[0] == _scores(run)
    rows = _assert_csv_agrees_with_gradebook(root)
    assert list(rows["segfault"]) == ["student", *A.test_ids(), "total", "seconds", "status"]
    assert rows["segfault"]["status"] == "crashed" and rows["correct"]["status"] == "finished"
    log = json.loads((root / "grading-logs" / A.name / "correct" / "grading.json").read_text())
    submitted = (root / "submitted" / "correct" / A.name / A.notebook_name).read_bytes()
    import hashlib

    assert log["notebook_sha256"] == hashlib.sha256(submitted).hexdigest()
    assert log["grader_version"] == grader.GRADER_VERSION and log["status"] == "finished"


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_same_grades_as_this_machine(serial, tmp_path):
    from distributed import LocalCluster

    root = _course(tmp_path, STUDENTS)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        workers = set(cluster.scheduler_info["workers"])
        run = grader.autograde(A, root, limits=LIMITS, seed=SEED, feedback=False, scheduler=cluster)
    assert _scores(run) == _scores(serial[1])
    assert _gradebook(root)[0] == _gradebook(serial[0])[0]
    _assert_csv_agrees_with_gradebook(root)
    assert "Dask at tcp://" in run.backend and "2 worker(s)" in run.backend
    used = set()
    for student in STUDENTS:
        folder = root / "grading-logs" / A.name / student
        log = json.loads((folder / "grading.json").read_text())
        assert log["worker"] in workers, log["worker"]  # graded in a worker process, not here
        used.add(log["worker"])
        assert (folder / "stdout.txt").is_file()  # the box's output came back as data
    assert used == workers, f"only {used} of the two workers graded"


def _cli(root, *args):
    return [sys.executable, "-m", "grading", "autograde", "C1W1", "--root", str(root), "--jobs", "1",
            "--no-feedback", "--cell-seconds", "120", *args]


def _logs(root):
    return {p.parent.name: p for p in (root / "grading-logs" / A.name).glob("*/grading.json")}


@pytest.mark.slow
def test_a_killed_grader_loses_only_what_was_in_flight_and_a_rerun_grades_each_submission_once(tmp_path):
    students = ["correct", "segfault"]  # graded in this order with --jobs 1
    root = _course(tmp_path, students)
    proc = subprocess.Popen(_cli(root), cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while not _logs(root) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, f"the grader ended before it could be killed: {proc.stderr.read()[-2000:]}"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert sorted(_logs(root)) == ["correct"], "the submission in flight was recorded, or the first one was not"
    first = _logs(root)["correct"]
    before = (first.read_bytes(), first.stat().st_mtime_ns)
    assert _gradebook(root)[0] == {"correct": expected_points(A, "correct")}

    again = subprocess.run(_cli(root), cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "1 unchanged since they were graded" in again.stdout
    assert "] segfault:" in again.stdout and "] correct:" not in again.stdout  # graded once, not twice
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before
    assert _gradebook(root)[0] == {s: expected_points(A, s) for s in students}
    _assert_csv_agrees_with_gradebook(root)

    forced = subprocess.run(_cli(root, "--force", "--student", "correct"), cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=900)
    assert forced.returncode == 0, forced.stdout[-2000:] + forced.stderr[-2000:]
    assert "] correct:" in forced.stdout
    assert json.loads(first.read_text())["graded_at"] != json.loads(before[0])["graded_at"]
    assert _gradebook(root)[0] == {s: expected_points(A, s) for s in students}
    _assert_csv_agrees_with_gradebook(root)


class FakeRunner:
    """Stands in for :func:`grading.runner.run_submission`: full marks, or a fault where a cell says so."""

    def __init__(self):
        self.calls = {}
        self.broken = True

    def __call__(self, program, judge, files=(), limits=None, isolated=True, threads=1, keep_dir=None):
        code = "\n".join(step.code for step in program if isinstance(step, Cell))
        for marker in ("LOST_MACHINE", "INTERRUPT", "OK"):
            if f"# {marker}" in code:
                self.calls[marker] = self.calls.get(marker, 0) + 1
                break
        if "# INTERRUPT" in code:
            raise KeyboardInterrupt
        if "# LOST_MACHINE" in code and self.broken:
            raise OSError("the grading machine went away")
        points = A.points()
        return RunReport(verdicts={s.test: Verdict(points[s.test], points[s.test], "passed (stand-in)")
                                   for s in program if isinstance(s, Call)}, isolated=isolated, seconds=0.1)


def _marked(marker):
    nb = sample_notebook(A)
    nb.cells.insert(1, nbformat.v4.new_code_cell(f"# {marker}"))
    return nb


def test_a_grader_fault_is_retried_then_recorded_without_a_grade_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    fake = FakeRunner()
    monkeypatch.setattr(grader, "run_submission", fake)
    root = _course(tmp_path, ["ada", "bob", "dan"],
                   {"ada": _marked("OK"), "bob": _marked("LOST_MACHINE"), "dan": b"{not a notebook"})
    argv = ["autograde", "C1W1", "--root", str(root), "--jobs", "2", "--no-feedback"]
    assert main(argv) == 3
    out = capsys.readouterr().out
    assert fake.calls == {"OK": 1, "LOST_MACHINE": 1 + grader.RETRIES}
    assert "bob: GRADER FAULT" in out and "the grading machine went away" in out
    log = json.loads((root / "grading-logs" / A.name / "bob" / "grading.json").read_text())
    assert log["status"] == "grader fault" and log["attempts"] == 1 + grader.RETRIES
    assert "the grading machine went away" in log["errors"][-1]
    scores, _ = _gradebook(root)
    assert sorted(scores) == ["ada", "dan"]  # no grade invented for bob
    rows = _assert_csv_agrees_with_gradebook(root)
    assert rows["bob"]["status"] == "grader fault" and rows["bob"]["total"] == ""
    # a file that is not a notebook is the student's problem: 0 points, a grade record, no fault
    assert rows["dan"]["status"] == "unreadable" and rows["dan"]["total"] == "0"
    assert (root / "autograded" / "dan" / A.name / A.notebook_name).is_file()

    fake.broken = False  # the machine is back: a re-run grades bob and leaves ada alone
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 unchanged since they were graded" in out and fake.calls == {"OK": 1, "LOST_MACHINE": 2 + grader.RETRIES}
    assert _gradebook(root)[1] == {"ada": 40.0, "bob": 40.0, "dan": 0.0}
    assert _csv(root)["bob"]["status"] == "finished"


def test_an_interrupted_run_keeps_what_it_recorded_and_shows_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(grader, "run_submission", FakeRunner())
    root = _course(tmp_path, ["ada", "carl"], {"ada": _marked("OK"), "carl": _marked("INTERRUPT")})
    lines = []
    with pytest.raises(KeyboardInterrupt):
        grader.autograde(A, root, jobs=1, feedback=False, progress=lines.append, bar=True)
    assert sorted(_logs(root)) == ["ada"] and sorted(_gradebook(root)[0]) == ["ada"]
    assert lines and lines[0].startswith("[1/2] ada: 40/40") and "remaining 1" in lines[0]
    err = capsys.readouterr().err
    assert "done 1, failed 0, remaining 1" in err  # the progress bar, on stderr


def test_the_default_grader_imports_no_dask():
    code = ("import sys, grading.autograde, grading.__main__; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
