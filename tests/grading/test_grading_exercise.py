"""grading.exercise.judge: how the box's answers become a verdict (the grader's own unit)."""

import pytest

from grading.exercise import Exercise, judge
from grading.harness import encode


def _exercise(check):
    return Exercise("test_thing", "Exercise 9 (thing)", "def drive(ns, case, cache): pass",
                    lambda rng: [{}], check)


def _results(*values):
    return [{"value": encode(v)} for v in values]


def test_full_points_only_when_the_check_finds_nothing():
    verdict = judge(_exercise(lambda cases, expected, values: None), [{}, {}], None, _results(1, 2), None, 10)
    assert (verdict.score, verdict.max_score) == (10.0, 10)
    assert "passed on 2 case(s)" in verdict.message


def test_a_failing_check_gives_zero_with_its_sentence():
    verdict = judge(_exercise(lambda cases, expected, values: "the sum is off by one."), [{}], None,
                    _results(3), None, 10)
    assert verdict.score == 0.0 and verdict.message == "Exercise 9 (thing): the sum is off by one."


@pytest.mark.parametrize("error", [TypeError("unsupported operand"), KeyError("cams"), IndexError("out of range")])
def test_a_check_that_crashes_on_the_answer_gives_zero_not_points(error):
    def check(cases, expected, values):
        raise error

    verdict = judge(_exercise(check), [{}], None, _results({"unexpected": "shape"}), None, 10)
    assert verdict.score == 0.0
    assert f"not what the exercise asks for ({type(error).__name__}" in verdict.message


def test_an_error_raised_by_the_students_code_gives_zero_and_names_it():
    verdict = judge(_exercise(lambda *a: None), [{}], None, [{"error": "ZeroDivisionError: division by zero"}],
                    None, 10)
    assert verdict.score == 0.0 and "your code raised ZeroDivisionError" in verdict.message


def test_no_results_means_not_graded_and_why():
    verdict = judge(_exercise(lambda *a: None), [{}], None, None, "the notebook ran past its time limit", 10)
    assert verdict.score == 0.0 and "not graded, because the notebook ran past its time limit." in verdict.message


def test_a_malformed_answer_gives_zero():
    verdict = judge(_exercise(lambda *a: None), [{}], None, ["not a dict"], None, 10)
    assert verdict.score == 0.0 and "malformed" in verdict.message
