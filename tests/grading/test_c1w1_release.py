"""C1W1: the release (shared ReleaseSuite), and each exercise's verdict on trusted functions run in
this process (grading.exercise.check_locally: the grader's driver, encoding and check, no sandbox)."""

import numpy as np
import pytest

from assignment_checks import ReleaseSuite
from grading import c1w1
from grading.assignment import draw_cases
from grading.exercise import check_locally

A = c1w1.ASSIGNMENT


class TestC1W1Release(ReleaseSuite):
    A = c1w1.ASSIGNMENT


@pytest.fixture(scope="module", params=[1, 2, 3])
def cases(request):
    """Cases of three grading runs (each run draws its own from a secret seed)."""
    return draw_cases(A, request.param)


def verdict(cases, test, **functions):
    return check_locally(A.exercise(test), functions, cases[test])


def _leakage_by_ids(df1, df2, patient_col):
    return len(set(df1[patient_col]) & set(df2[patient_col])) > 0


def test_leakage_accepts_ids_and_rejects_row_indices_other_columns_and_non_bools(cases):
    assert verdict(cases, "test_check_for_leakage", check_for_leakage=_leakage_by_ids).passed
    for wrong, message in [
        (lambda df1, df2, col: len(set(df1.index) & set(df2.index)) > 0, "not their row indices"),
        (lambda df1, df2, col: len(set(df1["Other"]) & set(df2["Other"])) > 0, "or other columns"),
        (lambda df1, df2, col: len(set(df1[col]) & set(df2[col])), "must return a bool"),
    ]:
        result = verdict(cases, "test_check_for_leakage", check_for_leakage=wrong)
        assert not result.passed and message in result.message, result.message


def test_every_run_catches_row_indices_and_other_columns():
    """Not only the seeds above: on 300 runs' cases the wrong comparisons always fail."""
    exercise = A.exercise("test_check_for_leakage")
    for seed in range(300):
        cases = exercise.draw(np.random.default_rng(seed))
        for wrong in (lambda df1, df2, col: len(set(df1.index) & set(df2.index)) > 0,
                      lambda df1, df2, col: len(set(df1["Other"]) & set(df2["Other"])) > 0):
            assert not check_locally(exercise, {"check_for_leakage": wrong}, cases).passed, seed


def test_leakage_rejects_a_function_that_changes_its_inputs(cases):
    def dropping(df1, df2, col):
        df1.drop(columns=["Other"], inplace=True)
        return _leakage_by_ids(df1, df2, col)

    assert "changed one of the frames" in verdict(cases, "test_check_for_leakage", check_for_leakage=dropping).message


def _freqs(labels):
    y = np.asarray(labels, dtype=float)
    return y.mean(axis=0), 1 - y.mean(axis=0)


def test_class_freqs_accepts_shares_and_rejects_swapped_counts_and_lists(cases):
    assert verdict(cases, "test_compute_class_freqs", compute_class_freqs=_freqs).passed
    for wrong in (lambda labels: _freqs(labels)[::-1], lambda labels: (np.sum(labels, 0), np.sum(1 - labels, 0))):
        result = verdict(cases, "test_compute_class_freqs", compute_class_freqs=wrong)
        assert "positive_frequencies is wrong" in result.message
    result = verdict(cases, "test_compute_class_freqs", compute_class_freqs=lambda labels: list(_freqs(labels)))
    assert "must return two arrays" in result.message


def _loss_factory(reduce="mean", use_epsilon=True, fixed_epsilon=None, numpy=False):
    """A weighted loss written with keras.ops (or NumPy); the variants are the bugs the checks must catch."""
    from keras import ops

    def get_weighted_loss(pos_weights, neg_weights, epsilon=1e-7):
        eps = fixed_epsilon if fixed_epsilon is not None else epsilon
        eps = eps if use_epsilon else 0.0
        w_pos = np.asarray(pos_weights, dtype="float32")
        w_neg = np.asarray(neg_weights, dtype="float32")
        lib = np if numpy else ops

        def weighted_loss(y_true, y_pred):
            if numpy:
                y_true, y_pred = np.asarray(y_true, "float32"), np.asarray(y_pred, "float32")
            else:
                y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
            terms = w_pos * y_true * lib.log(y_pred + eps) + w_neg * (1 - y_true) * lib.log(1 - y_pred + eps)
            return -lib.sum(getattr(lib, reduce)(terms, axis=0))

        return weighted_loss

    return get_weighted_loss


def test_weighted_loss_accepts_the_mean_and_rejects_the_sum_exchanged_weights_and_numpy(cases):
    assert verdict(cases, "test_get_weighted_loss", get_weighted_loss=_loss_factory()).passed
    assert "expected a loss of" in verdict(cases, "test_get_weighted_loss",
                                           get_weighted_loss=_loss_factory(reduce="sum")).message

    def exchanged(pos_weights, neg_weights, epsilon=1e-7):
        return _loss_factory()(neg_weights, pos_weights, epsilon)

    assert "expected a loss of" in verdict(cases, "test_get_weighted_loss", get_weighted_loss=exchanged).message
    numpy_loss = verdict(cases, "test_get_weighted_loss", get_weighted_loss=_loss_factory(numpy=True))
    assert not numpy_loss.passed and "symbolic" in numpy_loss.message, numpy_loss.message


def test_epsilon_rejects_no_epsilon_and_a_fixed_epsilon(cases):
    assert verdict(cases, "test_weighted_loss_epsilon", get_weighted_loss=_loss_factory()).passed
    assert verdict(cases, "test_get_weighted_loss", get_weighted_loss=_loss_factory(use_epsilon=False)).passed
    assert "add epsilon inside both logarithms" in verdict(
        cases, "test_weighted_loss_epsilon", get_weighted_loss=_loss_factory(use_epsilon=False)).message
    assert "expected a loss of" in verdict(cases, "test_weighted_loss_epsilon",
                                           get_weighted_loss=_loss_factory(fixed_epsilon=1e-7)).message


def test_the_maintainers_training_loss_passes_the_checks(cases):
    """training.losses (which trains the course model) passes; its references are written separately."""
    from training.losses import compute_class_freqs, get_weighted_loss

    assert verdict(cases, "test_compute_class_freqs", compute_class_freqs=compute_class_freqs).passed
    assert verdict(cases, "test_get_weighted_loss", get_weighted_loss=get_weighted_loss).passed
    assert verdict(cases, "test_weighted_loss_epsilon", get_weighted_loss=get_weighted_loss).passed


def test_each_run_draws_other_cases():
    one, two = draw_cases(A, 1), draw_cases(A, 2)
    assert one == draw_cases(A, 1)
    assert all(one[test] != two[test] for test in A.test_ids())


def test_the_visible_loss_test_names_swapped_weights():
    """A weighted loss with pos_weights and neg_weights exchanged is told so, with its measured error."""
    import importlib.util
    import io
    from contextlib import redirect_stdout
    from pathlib import Path

    from keras import ops

    path = Path(__file__).resolve().parents[2] / "release" / "C1W1" / "public_tests.py"
    spec = importlib.util.spec_from_file_location("c1w1_public_tests", path)
    public = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(public)

    def get_weighted_loss(pos_weights, neg_weights, epsilon=1e-7):
        pos_weights, neg_weights = np.asarray(pos_weights, "float32"), np.asarray(neg_weights, "float32")

        def weighted_loss(y_true, y_pred):
            y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
            terms = (neg_weights * y_true * ops.log(y_pred + epsilon)
                     + pos_weights * (1 - y_true) * ops.log(1 - y_pred + epsilon))
            return -ops.sum(ops.mean(terms, axis=0))

        return weighted_loss

    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(AssertionError, match="the weights are swapped"):
        public.get_weighted_loss_test(get_weighted_loss)
    assert "relative error 3.4e-02 (tolerance 1e-04)" in out.getvalue()
