"""`python -m grading` as the instructor runs it (make autograde runs `python -m grading autograde`)."""

import subprocess
import sys

import nbformat
import pytest

from grading import c1w1
from grading.assignment import sample_notebook
from grading.core import make_course
from util.paths import REPO_ROOT


def grading_cli(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "grading", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.parametrize("args, message", [
    (["autograde"], "autograde takes one assignment"),
    (["autograde", "C1W1", "C3W3"], "autograde takes one assignment"),
    (["autograde", "C9W9"], "unknown assignment 'C9W9'"),
    (["grade"], "grade takes one assignment"),
    (["autograde", "C1W1", "--jobs", "0"], "--jobs must be at least 1"),
])
def test_usage_errors_name_what_was_wrong(args, message):
    proc = grading_cli(*args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_no_submissions_is_an_error_that_says_where_they_belong(tmp_path):
    root = make_course(tmp_path, c1w1.ASSIGNMENT)
    proc = grading_cli("autograde", "C1W1", "--root", str(root))
    assert proc.returncode == 1
    assert "no submissions of C1W1" in proc.stderr and "submitted/<student>/C1W1/C1W1_Assignment.ipynb" in proc.stderr


def test_samples_writes_every_sample_notebook(tmp_path):
    proc = grading_cli("samples", "C1W1", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.parent.parent.name for p in tmp_path.glob("*/C1W1/C1W1_Assignment.ipynb"))
    assert written == sorted(["correct", "release", *[s.student for s in c1w1.ASSIGNMENT.samples]])


@pytest.mark.slow
def test_autograde_prints_the_table_and_isolation_and_a_student_crash_is_not_a_grader_fault(tmp_path):
    A = c1w1.ASSIGNMENT
    root = make_course(tmp_path, A)
    for student, nb in (("ada", sample_notebook(A)), ("bob", sample_notebook(A, A.sample("segfault")))):
        folder = root / "submitted" / student / A.name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / A.notebook_name)
    proc = grading_cli("autograde", "C1W1", "--root", str(root), "--jobs", "2", "--cell-seconds", "120")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    assert "isolation: ON" in out
    assert "ada" in out and "40.0" in out and "bob" in out and "10.0" in out
    assert "bob: crashed: the notebook's process ended (exit status 139)" in out
    assert (root / "feedback" / "bob" / "C1W1" / "C1W1_Assignment.html").is_file()
    assert (root / "grading-logs" / "C1W1" / "ada" / "grading.json").is_file()
