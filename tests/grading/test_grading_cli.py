"""`python -m grading` and `make autograde` as the instructor runs them, on submissions collected the
way nbgrader collects them: ``submitted/<student>/<A>/<A>_Assignment.ipynb`` in a throw-away course root."""

import csv
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grading import autograde as grader
from grading import c1w1
from grading.__main__ import main
from grading.assignment import sample_notebook
from grading.core import make_course
from util.config.paths import REPO_ROOT

A = c1w1.ASSIGNMENT


def grading_cli(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "grading", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def make_autograde(root, *variables):
    """``make autograde <variables>`` in the repository, on the course root ``root`` (GRADE_FLAGS=--root ...),
    with this interpreter's environment (BIN=...) and without re-installing it (-o .venv/.installed)."""
    flags = next((v.split("=", 1)[1] for v in variables if v.startswith("GRADE_FLAGS=")), "")
    others = [v for v in variables if not v.startswith("GRADE_FLAGS=")]
    return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "autograde",
                           f"BIN={Path(sys.executable).parent}", *others,
                           f"GRADE_FLAGS=--root {root} {flags}".strip()],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)


def collected(root, notebooks):
    """Lay out ``student -> notebook`` (or ``{file name: bytes}``: a folder without the notebook) as
    nbgrader collect does, under ``root/submitted``."""
    for student, nb in notebooks.items():
        folder = root / "submitted" / student / A.name
        folder.mkdir(parents=True)
        if not isinstance(nb, nbformat.NotebookNode):
            for name, data in nb.items():
                (folder / name).write_bytes(data)
        else:
            nbformat.write(nb, folder / A.notebook_name)
    return root


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


def test_make_autograde_of_an_unknown_assignment_names_the_known_ones(tmp_path):
    proc = make_autograde(tmp_path, "ASSIGNMENT=C9W9")
    assert proc.returncode != 0
    assert "unknown assignment 'C9W9'; the course's assignments are C1W1, C3W3" in proc.stderr, proc.stderr


def test_make_autograde_without_submissions_fails_and_says_where_they_belong(tmp_path):
    root = make_course(tmp_path, A)
    proc = make_autograde(root, "ASSIGNMENT=C1W1")
    assert proc.returncode != 0  # make's own status (2) for the command's 1, tested above
    assert f"no submissions of C1W1 in {root / 'submitted'}" in proc.stderr, proc.stderr
    assert not (root / "gradebook.db").exists() and not (root / "grading-logs").exists()


def test_folders_without_the_notebook_and_nothing_else_is_nothing_to_grade_and_says_what_they_hold(tmp_path):
    root = collected(make_course(tmp_path, A), {"bob": {"C1W1_Assignment (1).ipynb": b"{}"}, "cy": {}})
    proc = grading_cli("autograde", "C1W1", "--root", str(root))
    assert proc.returncode == 1, proc.stderr
    assert ("- bob: submitted/bob/C1W1/ holds no C1W1_Assignment.ipynb (it holds C1W1_Assignment (1).ipynb)"
            in proc.stderr), proc.stderr
    assert "- cy: submitted/cy/C1W1/ holds no C1W1_Assignment.ipynb (it is empty)" in proc.stderr


def test_grading_one_student_whose_folder_lacks_the_notebook_says_so(tmp_path):
    root = collected(make_course(tmp_path, A), {"ada": sample_notebook(A), "bob": {"notes.txt": b"sorry"}})
    proc = grading_cli("autograde", "C1W1", "--root", str(root), "--student", "bob")
    assert proc.returncode == 1, proc.stderr
    assert "no submission of C1W1 from ['bob']" in proc.stderr
    assert "- bob: submitted/bob/C1W1/ holds no C1W1_Assignment.ipynb (it holds notes.txt)" in proc.stderr


@pytest.mark.parametrize("faults, without_notebook, status", [
    ({}, {}, 0), ({}, {"bob": []}, 4), ({"ada": "OSError: gone"}, {"bob": []}, 3)])
def test_autograde_exit_status_says_what_is_left_to_do(tmp_path, monkeypatch, capsys, faults, without_notebook,
                                                       status):
    def graded(*args, **kwargs):
        return grader.GradeRun("C1W1", True, "0" * 64, points=A.points(), faults=faults,
                               without_notebook=without_notebook, csv_path=tmp_path / "grades.csv")

    monkeypatch.setattr(grader, "autograde", graded)
    assert main(["autograde", "C1W1", "--root", str(tmp_path)]) == status
    assert ("WITHOUT THE NOTEBOOK" in capsys.readouterr().out) == bool(without_notebook)


@pytest.mark.slow
def test_make_autograde_grades_collected_submissions_and_reports_a_folder_without_the_notebook(tmp_path):
    """ada is right, bob's notebook segfaults (a grade, not a grader fault), cy's folder holds a renamed notebook."""
    root = collected(make_course(tmp_path, A), {"ada": sample_notebook(A),
                                                "bob": sample_notebook(A, A.sample("segfault")),
                                                "cy": {"C1W1_Assignment-cy.ipynb": b"{}"}})
    proc = make_autograde(root, "ASSIGNMENT=C1W1", "JOBS=2", "GRADE_FLAGS=--cell-seconds 120")
    out = proc.stdout
    echoed = " ".join(re.sub(r"\\\n\s*", " ", out).splitlines()[0].split())  # the command make ran
    assert "/python -m grading autograde C1W1 --jobs 2 " in echoed and f"--root {root} --cell-seconds 120" in echoed
    assert proc.returncode != 0 and "autograde] Error 4" in proc.stderr, out[-2000:] + proc.stderr[-2000:]
    assert ("- cy: NOT GRADED, submitted/cy/C1W1/ holds no C1W1_Assignment.ipynb (it holds C1W1_Assignment-cy.ipynb)"
            in out)
    with open(root / "grading-logs" / "C1W1" / "grades.csv") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert {s: (r["total"], r["status"]) for s, r in rows.items()} == {
        "ada": ("40", "finished"), "bob": ("10", "crashed"), "cy": ("", "no notebook")}
    assert not (root / "grading-logs" / "C1W1" / "cy").exists()
    assert "isolation: ON" in out
    assert "ada" in out and "40.0" in out and "bob" in out and "10.0" in out
    assert "bob: crashed: the notebook's process ended (exit status 139)" in out
    assert (root / "feedback" / "bob" / "C1W1" / "C1W1_Assignment.html").is_file()
    assert (root / "grading-logs" / "C1W1" / "ada" / "grading.json").is_file()
