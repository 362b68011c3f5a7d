"""The grading end to end, shared by both assignments (tests/grading/test_grading_c1w1.py, tests/grading/test_grading_c3w3.py).

One class-scoped grading run per assignment, in a temporary course root, through the same code
as ``make autograde`` (two jobs): first the correct submission and the bare release, then every
sample and attack of :mod:`grading.c1w1` / :mod:`grading.c3w3`. Every test below reads that run.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import nbformat
import pytest

from grading import autograde as grader
from grading.__main__ import expected_points, write_samples
from grading.assignment import draw_cases
from grading.core import make_course, nbgrader
from grading.sandbox import Limits
from util.config.paths import REPO_ROOT

#: Short limits, so that the loops, sleeps and bombs of the attack suite cost little.
LIMITS = Limits(cell_seconds=45, submission_seconds=400, memory_bytes=4 * 1024 ** 3)
#: The seed of the run (the tests need it to know the cases; a real run draws a secret one).
SEED = 20261201
#: The instructor's files no submission may change.
INSTRUCTOR_PATHS = ("source", "release", "grading", "autograder", "nbgrader_config.py", "util", "data/models")


def tree_digest(*roots):
    """SHA-256 over every file under ``roots`` (path and bytes), ignoring caches."""
    digest = hashlib.sha256()
    for root in roots:
        root = Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or ".ipynb_checkpoints" in path.parts:
                continue
            digest.update(str(path).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def gradebook_rows(root, assignment, student):
    """``(test, auto_score)`` of one student's submission in the course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(Path(assignment.notebook_name).stem, assignment.name, student)
        return sorted((g.name, g.auto_score) for g in sub.grades)


class GradingSuite:
    """Subclass with ``A = <assignment record>``."""

    A = None

    @classmethod
    def students(cls):
        return ["correct", "release", *[s.student for s in cls.A.samples]]

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory):
        root = make_course(tmp_path_factory.mktemp(f"{cls.A.name.lower()}-course"), cls.A)
        write_samples(cls.A, root / "submitted")
        watched = [REPO_ROOT / p for p in INSTRUCTOR_PATHS] + [root / "source", root / "nbgrader_config.py"]
        before = tree_digest(*watched)
        first = grader.autograde(cls.A, root, students=["correct", "release"], jobs=2, limits=LIMITS, seed=SEED,
                                 feedback=False)
        correct_rows = gradebook_rows(root, cls.A, "correct")
        others = [s for s in cls.students() if s not in ("correct", "release")]
        second = grader.autograde(cls.A, root, students=others, jobs=2, limits=LIMITS, seed=SEED)
        reports = {**first.reports, **second.reports}
        print(f"\n{second.summary()}", file=sys.stderr)
        return {"root": root, "reports": reports, "before": before, "after": tree_digest(*watched),
                "correct_rows": correct_rows, "run": second}

    def test_each_submission_gets_exactly_its_expected_points(self, graded, student):
        report = graded["reports"][student]
        got = {test: verdict.score for test, verdict in report.verdicts.items()}
        why = "correct" if student in ("correct", "release") else self.A.sample(student).why
        assert got == expected_points(self.A, student), (
            f"{student} ({why}): {report.ended} {report.detail}; "
            + "; ".join(v.message for v in report.verdicts.values()))

    def test_every_submission_has_a_grade_record_in_nbgrader_gradebook(self, graded):
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{graded['root'] / 'gradebook.db'}") as gb:
            for student, report in graded["reports"].items():
                total = gb.find_submission(self.A.name, student).score
                assert total == sum(v.score for v in report.verdicts.values()), student

    def test_no_submission_runs_past_its_wall_limit(self, graded):
        slowest = max(report.seconds for report in graded["reports"].values())
        assert slowest <= LIMITS.submission_seconds + 30

    def test_the_instructor_tree_is_byte_identical_afterwards(self, graded):
        assert graded["after"] == graded["before"]

    def test_grading_others_leaves_a_students_grades_unchanged(self, graded):
        assert gradebook_rows(graded["root"], self.A, "correct") == graded["correct_rows"]
        assert all(score == points for (_, score), points in
                   zip(graded["correct_rows"], [self.A.points()[t] for t, _ in graded["correct_rows"]]))

    def test_the_attacks_found_nothing_from_inside_the_box(self, graded):
        logs = graded["root"] / "grading-logs" / self.A.name
        cheater = (logs / "cheater" / "stdout.txt").read_text()
        assert "secrets found: none" in cheater and "wrote into nothing" in cheater, cheater[-2000:]
        assert "forged the channel" in cheater
        assert "imported grading" not in cheater and f"found {self.A.name}" not in cheater
        noisy = (logs / "noisy_correct" / "stdout.txt").read_text()
        assert "network: unreachable" in noisy and "loopback: unreachable" in noisy, noisy[-2000:]
        assert "a warning a student left in" in (logs / "noisy_correct" / "stderr.txt").read_text()

    def test_feedback_shows_each_verdict_but_no_hidden_check_or_case(self, graded):
        cases = json.dumps(draw_cases(self.A, SEED), default=str)
        secrets = ["BEGIN HIDDEN TESTS", "def drive(", "build_frame", "grading.", *self.case_markers(cases)]
        for student in graded["run"].reports:
            html = (graded["root"] / "feedback" / student / self.A.name /
                    f"{Path(self.A.notebook_name).stem}.html").read_text()
            for verdict in graded["reports"][student].verdicts.values():
                assert verdict.message.split(":")[0] in html
            found = [s for s in secrets if s in html]
            assert not found or student == "cheater", f"feedback of {student} shows {found}"

    def case_markers(self, cases_json):
        """Strings of the drawn cases that must not appear in feedback (per assignment)."""
        return []

    def test_nbgrader_export_reads_the_grades(self, graded, tmp_path):
        import csv

        out = tmp_path / "grades.csv"
        nbgrader("export", f"--to={out}", root=graded["root"])
        rows = {row["student_id"]: row for row in csv.DictReader(out.open())}
        for student, report in graded["reports"].items():
            assert float(rows[student]["raw_score"]) == sum(v.score for v in report.verdicts.values()), student

    def test_the_autograded_notebook_holds_the_submission_and_the_verdicts_only(self, graded):
        def autograded(student):
            return nbformat.read(graded["root"] / "autograded" / student / self.A.name / self.A.notebook_name,
                                 as_version=4)

        def outputs(nb, kind):
            return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == kind]

        correct = autograded("correct")
        assert "HIDDEN TESTS" not in json.dumps(correct) and "def drive(" not in json.dumps(correct)
        assert not outputs(correct, "error")
        assert [o.text.split(":")[0] for o in outputs(correct, "stream")] == [e.title for e in self.A.exercises]
        cheater = autograded("cheater")
        assert len(outputs(cheater, "error")) == len(self.A.exercises)
        given = [c for c in cheater.cells if c.metadata.get("nbgrader", {}).get("locked")]
        assert not any("HIDDEN TESTS" in c.source or "def drive(" in c.source for c in given)


def pytest_generate_tests(metafunc):
    """Parametrise ``student`` over the submissions a :class:`GradingSuite` subclass states points for."""
    if "student" in metafunc.fixturenames and metafunc.cls is not None:
        metafunc.parametrize("student", metafunc.cls.students())
