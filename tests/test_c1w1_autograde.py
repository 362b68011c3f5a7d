"""C1W1 end to end through nbgrader: validate, validate --invert, and one autograde of the source,
the release and the sample submissions in a temporary course root (nothing is written to the
repository). Each run of the notebook takes about two minutes on two CPU cores."""

import pytest

import assignment_checks as checks
from util.grading import c1w1

pytestmark = pytest.mark.slow

A = c1w1.ASSIGNMENT


@pytest.fixture(scope="module")
def grades(tmp_path_factory):
    """One `nbgrader autograde` run over every submission (source, release, samples)."""
    return checks.autograde_all(A, tmp_path_factory.mktemp("c1w1-course"))


def test_validate_passes_on_source(tmp_path):
    checks.assert_validate_passes_on_source(A, tmp_path)


def test_validate_invert_on_release_shows_every_test_failing(tmp_path):
    checks.assert_validate_invert_fails_every_test_of_release(A, tmp_path)


def test_source_gets_full_marks(grades):
    checks.assert_source_full_marks(A, grades)


def test_release_gets_zero_without_crashing(grades):
    checks.assert_release_zero(grades)


@pytest.mark.parametrize("student", sorted(A.expected_grades()["submissions"]))
def test_each_submission_gets_its_stated_points(grades, student):
    checks.assert_stated_points(A, grades, student)
