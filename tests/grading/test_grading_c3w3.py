"""C3W3 graded end to end in the sandbox: right variants, wrong maps, wrong importances, attacks (see grading_suite)."""

import json

from grading import c3w3
from grading_suite import GradingSuite, pytest_generate_tests  # noqa: F401  (parametrises `student`)


class TestC3W3(GradingSuite):
    A = c3w3.ASSIGNMENT

    def case_markers(self, cases_json):
        """The films and layers drawn for the Grad-CAM cases that the notebook itself never names."""
        cases = json.loads(cases_json)
        shown = self.A.release_notebook.read_text()
        drawn = {case[key] for test in ("test_grad_cam", "test_compute_gradcam") for case in cases[test]
                 for key in ("film", "layer")}
        return sorted(m for m in drawn if m not in shown)
