"""nbgrader's gradebook on a real PostgreSQL server: the grader and every nbgrader command it runs use it.

A throw-away server (Debian's postgresql binaries; ``make system-deps`` installs them on CI) runs as an
unprivileged user on a free loopback port for this module only. Three C1W1 submissions are graded
into it, through ``MEDXAI_DB_URL`` as ``nbgrader_config.py`` reads it, and into the default sqlite
gradebook, with the same seed: the grades must be equal, and the expected points. Where PostgreSQL
cannot start, the tests fail (they do not skip) and say why.
"""

from __future__ import annotations

import csv
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from grading import c1w1
from grading import autograde as grader
from grading.__main__ import expected_points
from grading.assignment import sample_notebook
from grading.core import make_course, nbgrader
from grading.sandbox import Limits

A = c1w1.ASSIGNMENT
STUDENTS = ["correct", "row_indices", "segfault"]
SEED = 20261212
LIMITS = Limits(cell_seconds=120, submission_seconds=400, memory_bytes=4 * 1024 ** 3)
#: The unprivileged user PostgreSQL runs as when the tests run as root (it refuses root).
NOBODY = 65534


def _bindir():
    """The folder holding initdb, pg_ctl and postgres, or None."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                           key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                                           else 0, reverse=True)]
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A fresh PostgreSQL server with an empty database; its URL. Stopped and removed afterwards."""
    bindir = _bindir()
    if bindir is None:
        pytest.fail("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: run `make system-deps` as root "
                    "(it runs apt-get install postgresql), or install Debian's/Ubuntu's postgresql package.")
    tmp = Path(tempfile.mkdtemp(prefix="medxai-pg-"))
    as_user = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        os.chown(tmp, NOBODY, NOBODY)
        as_user = (["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
                   if shutil.which("setpriv") else ["runuser", "-u", "nobody", "--"])
    env = dict(os.environ, LC_ALL="C", LANG="C")
    data, log = tmp / "data", tmp / "server.log"
    port = _free_port()

    def run(*args):
        proc = subprocess.run([*as_user, *map(str, args)], cwd=tmp, env=env, capture_output=True, text=True,
                              timeout=120)
        if proc.returncode != 0:
            server = log.read_text() if log.exists() else ""
            pytest.fail(f"PostgreSQL could not start: {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                        f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}\n{server[-2000:]}")

    try:
        run(bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8")
        run(bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60",
            "-o", f"-h 127.0.0.1 -p {port} -k {tmp} -c fsync=off", "start")
        import psycopg

        for attempt in range(20):
            try:
                conn = psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                       autocommit=True)
                break
            except psycopg.OperationalError as err:
                if attempt == 19:
                    pytest.fail(f"PostgreSQL started but takes no connection on port {port}: {err}")
                time.sleep(0.5)
        with conn:
            conn.execute("CREATE DATABASE medxai")
        yield f"postgresql://postgres@127.0.0.1:{port}/medxai"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           cwd=tmp, env=env, capture_output=True, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)


def _course(root):
    root = make_course(root, A)
    for student in STUDENTS:
        nb = sample_notebook(A) if student == "correct" else sample_notebook(A, A.sample(student))
        folder = root / "submitted" / student / A.name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / A.notebook_name)
    return root


def _gradebook(url):
    """``student -> {test: auto_score}`` and ``student -> total`` of the C1W1 submissions in the gradebook at ``url``."""
    from nbgrader.api import Gradebook

    scores, totals = {}, {}
    with Gradebook(url) as gb:
        for submission in gb.assignment_submissions(A.name):
            student = submission.student.id
            notebook = gb.find_submission_notebook(Path(A.notebook_name).stem, A.name, student)
            scores[student] = {g.name: g.auto_score for g in notebook.grades}
            totals[student] = submission.score
    return scores, totals


def test_grades_in_postgresql_equal_the_sqlite_gradebooks_and_the_expected_points(postgres_url, tmp_path,
                                                                                  monkeypatch):
    sqlite_root = _course(tmp_path / "sqlite")
    grader.autograde(A, sqlite_root, jobs=2, limits=LIMITS, seed=SEED, feedback=False)
    sqlite_scores, _ = _gradebook(f"sqlite:///{sqlite_root / 'gradebook.db'}")

    # The PostgreSQL course: the URL reaches the grader and every nbgrader command through nbgrader_config.py.
    monkeypatch.setenv("MEDXAI_DB_URL", postgres_url)
    root = _course(tmp_path / "postgres")
    assert grader.gradebook_url(root) == postgres_url
    run = grader.autograde(A, root, jobs=2, limits=LIMITS, seed=SEED, feedback=True)
    pg_scores, pg_totals = _gradebook(postgres_url)

    assert pg_scores == sqlite_scores == {s: expected_points(A, s) for s in STUDENTS}
    assert not (root / "gradebook.db").exists(), "something wrote the default sqlite gradebook instead"
    assert run.db_url == postgres_url
    # generate_feedback read the grades from PostgreSQL (with no sqlite gradebook it would have found none)
    for student in STUDENTS:
        html = (root / "feedback" / student / A.name / f"{Path(A.notebook_name).stem}.html").read_text()
        assert f"Score: {pg_totals[student]:.1f} / 40.0" in html, student
    # the CSV agrees with the gradebook
    with open(root / "grading-logs" / A.name / "grades.csv") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert {s: float(rows[s]["total"]) for s in rows} == pg_totals
    # nbgrader's own export reads the same gradebook
    out = tmp_path / "export.csv"
    nbgrader("export", f"--to={out}", root=root)
    with open(out) as fh:
        exported = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(fh)}
    assert exported == pg_totals
    # a re-run finds every grade in PostgreSQL and grades nothing again
    again = grader.autograde(A, root, jobs=2, limits=LIMITS, feedback=False, register=False)
    assert sorted(again.skipped) == STUDENTS and not again.graded_now


def test_db_url_comes_from_the_option_then_nbgrader_config_then_sqlite(tmp_path, monkeypatch):
    root = make_course(tmp_path, A)
    monkeypatch.delenv("MEDXAI_DB_URL", raising=False)
    assert grader.gradebook_url(root) == f"sqlite:///{root.resolve() / 'gradebook.db'}"
    monkeypatch.setenv("MEDXAI_DB_URL", "postgresql://grader@db.example/course")
    assert grader.gradebook_url(root) == "postgresql://grader@db.example/course"
    assert grader.gradebook_url(root, "postgresql://other@db/x") == "postgresql://other@db/x"
    assert os.environ.get("MPLBACKEND") != "module://matplotlib_inline.backend_inline", \
        "reading nbgrader_config.py changed the grader's own environment"
    assert grader.shown_url("postgresql://grader:s3cret@db/x") == "postgresql://grader:***@db/x"
