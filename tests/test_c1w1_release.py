"""C1W1: the release is what `make release` makes, holds no solution or hidden test, the samples
are current, and each hidden check accepts a correct function and rejects a wrong one. Fast:
nothing here executes the notebook."""

import numpy as np
import pytest

import assignment_checks as checks
from grading import c1w1

A = c1w1.ASSIGNMENT
SOLUTION_IDS = ["check_for_leakage", "compute_class_freqs", "get_weighted_loss"]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    return checks.fresh_release(A, tmp_path_factory.mktemp("course"))


def test_release_is_byte_for_byte_what_make_release_produces(regenerated):
    checks.assert_release_is_fresh(A, regenerated)


def test_release_holds_no_solution_hidden_test_or_grader_file():
    checks.assert_release_keeps_secrets(A, ["check_leakage(", "check_class_freqs", "patients_1 & patients_2",
                                            "np.mean(labels == 1, axis=0)", "ops.mean(weighted_terms, axis=0)"])


def test_release_cells_are_graded_as_documented():
    checks.assert_cells_graded_as_documented(A, SOLUTION_IDS)


def test_source_solutions_sit_inside_code_here_blocks():
    checks.assert_solutions_inside_code_here(A)


def test_source_notebook_is_executed_without_errors_or_stderr():
    checks.assert_source_executed_cleanly(A)


def test_samples_are_current(tmp_path):
    checks.assert_samples_current(A, tmp_path)


# --------------------------------------------------------------------------- the checks themselves


def _leakage_by_ids(df1, df2, patient_col):
    return len(set(df1[patient_col]) & set(df2[patient_col])) > 0


def _leakage_by_row_index(df1, df2, patient_col):
    return len(set(df1.index) & set(df2.index)) > 0


def _leakage_hard_coded_column(df1, df2, patient_col):
    return len(set(df1["PatientId"]) & set(df2["PatientId"])) > 0 if "PatientId" in df1 else \
        _leakage_by_ids(df1, df2, patient_col)


def test_check_leakage_accepts_ids_and_rejects_row_indices_and_a_fixed_column():
    c1w1.check_leakage(_leakage_by_ids)
    with pytest.raises(AssertionError, match="expected False, got True"):
        c1w1.check_leakage(_leakage_by_row_index)
    with pytest.raises(AssertionError, match="PatientId column"):
        c1w1.check_leakage(_leakage_hard_coded_column)
    with pytest.raises(AssertionError, match="must return a bool"):
        c1w1.check_leakage(lambda df1, df2, col: len(set(df1[col]) & set(df2[col])))


def _freqs(labels):
    y = np.asarray(labels, dtype=float)
    return y.mean(axis=0), 1 - y.mean(axis=0)


def test_check_class_freqs_accepts_shares_and_rejects_swapped_or_counts():
    c1w1.check_class_freqs(_freqs)
    with pytest.raises(AssertionError, match="positive_frequencies should be"):
        c1w1.check_class_freqs(lambda labels: _freqs(labels)[::-1])
    with pytest.raises(AssertionError, match="positive_frequencies should be"):
        c1w1.check_class_freqs(lambda labels: (np.sum(labels, axis=0), np.sum(1 - labels, axis=0)))


def _loss_factory(reduce="mean", use_epsilon=True, fixed_epsilon=None):
    """A weighted loss written with keras.ops; the variants are the bugs the checks must catch."""
    from keras import ops

    def get_weighted_loss(pos_weights, neg_weights, epsilon=1e-7):
        eps = fixed_epsilon if fixed_epsilon is not None else epsilon
        eps = eps if use_epsilon else 0.0
        w_pos = np.asarray(pos_weights, dtype="float32")
        w_neg = np.asarray(neg_weights, dtype="float32")

        def weighted_loss(y_true, y_pred):
            y_true = ops.cast(y_true, "float32")
            y_pred = ops.cast(y_pred, "float32")
            terms = w_pos * y_true * ops.log(y_pred + eps) + w_neg * (1 - y_true) * ops.log(1 - y_pred + eps)
            return -ops.sum(getattr(ops, reduce)(terms, axis=0))

        return weighted_loss

    return get_weighted_loss


def test_check_weighted_loss_accepts_the_mean_and_rejects_the_sum():
    c1w1.check_weighted_loss(_loss_factory())
    with pytest.raises(AssertionError, match="expected a loss of"):
        c1w1.check_weighted_loss(_loss_factory(reduce="sum"))


def test_check_weighted_loss_rejects_exchanged_weights():
    def exchanged(pos_weights, neg_weights, epsilon=1e-7):
        return _loss_factory()(neg_weights, pos_weights, epsilon)

    with pytest.raises(AssertionError, match="expected a loss of"):
        c1w1.check_weighted_loss(exchanged)


def test_check_weighted_loss_epsilon_rejects_no_epsilon_and_a_fixed_epsilon():
    c1w1.check_weighted_loss_epsilon(_loss_factory())
    c1w1.check_weighted_loss(_loss_factory(use_epsilon=False))  # interior predictions: no difference
    with pytest.raises(AssertionError, match="add epsilon inside both logarithms"):
        c1w1.check_weighted_loss_epsilon(_loss_factory(use_epsilon=False))
    with pytest.raises(AssertionError, match="epsilon=0.001"):
        c1w1.check_weighted_loss_epsilon(_loss_factory(fixed_epsilon=1e-7))


def test_checks_agree_with_the_library_versions_in_util_models():
    """util.models' compute_class_freqs and get_weighted_loss (which train the course model) pass the
    checks, whose references are written independently in grading.c1w1."""
    from util.models import compute_class_freqs, get_weighted_loss

    c1w1.check_class_freqs(compute_class_freqs)
    c1w1.check_weighted_loss(get_weighted_loss)
    c1w1.check_weighted_loss_epsilon(get_weighted_loss)


def test_checks_write_nothing_to_stderr(capfd):
    c1w1.check_leakage(_leakage_by_ids)
    c1w1.check_class_freqs(_freqs)
    c1w1.check_weighted_loss(_loss_factory())
    c1w1.check_weighted_loss_epsilon(_loss_factory())
    assert capfd.readouterr().err == ""
