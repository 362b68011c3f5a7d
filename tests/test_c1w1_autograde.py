"""C1W1 end to end through nbgrader (tests in assignment_checks.AutogradeSuite): validate, validate
--invert, and one autograde of the source, the release and the sample submissions in a temporary
course root (nothing is written to the repository). Each run of the notebook takes two to three
minutes on two CPU cores."""

import pytest

from assignment_checks import AutogradeSuite, pytest_generate_tests  # noqa: F401  (the hook parametrises student)
from grading import c1w1

pytestmark = pytest.mark.slow


class TestC1W1(AutogradeSuite):
    A = c1w1.ASSIGNMENT
