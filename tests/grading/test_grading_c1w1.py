"""C1W1 graded end to end in the sandbox: samples, attacks, crashes and limits (see grading_suite)."""

import json

from grading import c1w1
from grading_suite import GradingSuite, pytest_generate_tests  # noqa: F401  (parametrises `student`)


class TestC1W1(GradingSuite):
    A = c1w1.ASSIGNMENT

    def case_markers(self, cases_json):
        """The drawn patient ids (``p-01234``) of the leakage cases."""
        cases = json.loads(cases_json)["test_check_for_leakage"]
        return sorted({v for case in cases for df in ("df1", "df2") for v in case[df]["columns"][0][1]
                       if isinstance(v, str)})[:20]
