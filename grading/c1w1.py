"""Hidden tests of the C1W1 assignment ("Chest X-ray medical diagnosis").

The hidden tests of ``source/C1W1/C1W1_Assignment.ipynb`` call the ``check_*``
functions here, e.g. ``from grading.c1w1 import check_leakage``. They run
the student's functions on inputs the visible tests (``source/C1W1/public_tests.py``)
do not use, and compare them with **NumPy references written in this module**.

The references deliberately do not call ``util.models.compute_class_freqs`` or
``util.models.get_weighted_loss``: those are the library's own versions of the
exercises (the course model is trained with them). A check that called them
would share any bug they have, and could not tell them apart from a submission
that imported them; ``tests/test_c1w1_release.py`` checks that the two agree.

Nothing here needs stored reference files, so C1W1 has no
``autograder/C1W1/references/``. Tolerances are explained in
``autograder/C1W1/TOLERANCES.md``. Every check raises ``AssertionError`` with a
message that says what was expected, and writes nothing to stderr when it
passes (nbgrader gives 0 points to a test cell that writes to stderr).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from grading.core import Assignment, quiet  # noqa: E402

__all__ = [
    "ASSIGNMENT",
    "FREQ_ATOL",
    "LOSS_ATOL",
    "LOSS_RTOL",
    "check_class_freqs",
    "check_leakage",
    "check_weighted_loss",
    "check_weighted_loss_epsilon",
    "reference_class_freqs",
    "reference_weighted_loss",
]

#: The cells whose code makes the solution's functions (imports first), in notebook order.
SOLUTION_IDS = ("imports", "check_for_leakage", "compute_class_freqs", "get_weighted_loss")

# ----------------------------------------------------------------------------- tolerances
#: Absolute tolerance on a class frequency (a share in [0, 1]; float32 inputs give ~1e-7 error).
FREQ_ATOL = 1e-6
#: Relative and absolute tolerance on a loss value computed in float32 against the float64 reference.
LOSS_RTOL = 1e-4
LOSS_ATOL = 1e-5


# ----------------------------------------------------------------------------- references (NumPy)
def reference_class_freqs(labels):
    """Share of positive and of negative examples of each column of a 0/1 matrix, in float64."""
    y = np.asarray(labels, dtype=np.float64)
    n = y.shape[0]
    return y.sum(axis=0) / n, (n - y.sum(axis=0)) / n


def reference_weighted_loss(y_true, y_pred, pos_weights, neg_weights, epsilon=1e-7):
    """The weighted binary cross-entropy in float64: per label, the batch mean of
    ``-(w_pos y log(p + eps) + w_neg (1 - y) log(1 - p + eps))``, summed over labels."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float32).astype(np.float64)  # the float32 values the loss sees
    w_pos = np.asarray(pos_weights, dtype=np.float32).astype(np.float64)
    w_neg = np.asarray(neg_weights, dtype=np.float32).astype(np.float64)
    # the float32 sums the loss takes the logarithm of (1 - 1 + 1e-7 is 1e-7 in float32 too)
    log_p = np.log((p + np.float32(epsilon)).astype(np.float32).astype(np.float64))
    log_q = np.log((1.0 - p + np.float32(epsilon)).astype(np.float32).astype(np.float64))
    per_example = w_pos * y * log_p + w_neg * (1.0 - y) * log_q
    return float(-per_example.mean(axis=0).sum())


# ----------------------------------------------------------------------------- check_for_leakage
def _frame(ids, column, index=None, **others):
    data = {column: ids, **others}
    return pd.DataFrame(data, index=index)


def _leakage_cases():
    """(what, df1, df2, patient_col, expected) on inputs the visible test does not use."""
    strings_1 = _frame(["p-07", "p-12", "p-31", "p-12"], "patient")
    return [
        ("string ids, one patient in both", strings_1, _frame(["p-44", "p-12"], "patient"), "patient", True),
        # default row indices overlap here (0, 1, ...) although no patient does
        ("string ids, no patient in both", strings_1, _frame(["p-44", "p-70", "p-71"], "patient"), "patient", False),
        ("Python ints against NumPy int64, one patient in both",
         _frame(pd.Series([101, 205, 317], dtype=object), "subject"),
         _frame(np.array([999, 317], dtype=np.int64), "subject"), "subject", True),
        ("int32 against int64 ids, no patient in both, overlapping row indices",
         _frame(np.array([5, 6, 7], dtype=np.int32), "subject", index=[0, 1, 2]),
         _frame(np.array([8, 9], dtype=np.int64), "subject", index=[1, 2]), "subject", False),
        # one shared patient among 300, and row indices that do not overlap at all
        ("one shared patient among many, disjoint row indices",
         _frame(np.arange(0, 200), "subject", index=np.arange(200)),
         _frame(np.arange(199, 300), "subject", index=np.arange(1000, 1101)), "subject", True),
        ("an empty second frame",
         _frame(np.array([1, 2, 3]), "subject"),
         _frame(np.array([], dtype=np.int64), "subject"), "subject", False),
        # another column shares values; only patient_col counts
        ("patient_col given by name: a PatientId column shares values, the 'subject' column does not",
         _frame([1, 2, 3], "subject", PatientId=[10, 11, 12]),
         _frame([4, 5], "subject", PatientId=[10, 11]), "subject", False),
    ]


def check_leakage(check_for_leakage):
    """Hidden test of Exercise 1: ``check_for_leakage`` on ids of several types and edge cases."""
    for what, df1, df2, column, expected in _leakage_cases():
        before = (df1.copy(deep=True), df2.copy(deep=True))
        with quiet():
            result = check_for_leakage(df1, df2, column)
        assert isinstance(result, (bool, np.bool_)), (
            f"check_for_leakage must return a bool (True or False); on {what} it returned "
            f"{type(result).__name__} {result!r}."
        )
        assert bool(result) == expected, (
            f"check_for_leakage on {what}: expected {expected}, got {bool(result)}. Compare the values of "
            f"the column patient_col of the two frames (not their row indices)."
        )
        pd.testing.assert_frame_equal(df1, before[0], obj="df1 (check_for_leakage must not change its inputs)")
        pd.testing.assert_frame_equal(df2, before[1], obj="df2 (check_for_leakage must not change its inputs)")
    print("All hidden check_for_leakage tests passed.")


# ----------------------------------------------------------------------------- compute_class_freqs
def _freq_cases():
    """Label matrices the visible test does not use: int and float32 (what a generator's .labels holds)."""
    rng = np.random.default_rng(3)
    prevalence = np.array([0.05, 0.2, 0.5, 0.8, 0.35, 0.0, 1.0])
    ints = (rng.random((23, prevalence.size)) < prevalence).astype(np.int64)
    floats = (rng.random((40, 14)) < 0.15).astype(np.float32)
    return [("a 23 x 7 int matrix (one label never present, one always)", ints),
            ("a 40 x 14 float32 matrix", floats)]


def check_class_freqs(compute_class_freqs):
    """Hidden test of Exercise 2: ``compute_class_freqs`` against :func:`reference_class_freqs`."""
    for what, labels in _freq_cases():
        before = labels.copy()
        with quiet():
            result = compute_class_freqs(labels)
        assert isinstance(result, tuple) and len(result) == 2, (
            "compute_class_freqs must return two arrays: (positive_frequencies, negative_frequencies)."
        )
        expected = reference_class_freqs(labels)
        for name, got, want in zip(("positive_frequencies", "negative_frequencies"), result, expected):
            got = np.asarray(got, dtype=np.float64)
            assert got.shape == want.shape, (
                f"on {what}: {name} must have one value per label, shape {want.shape}; got {got.shape}."
            )
            assert np.allclose(got, want, rtol=0, atol=FREQ_ATOL), (
                f"on {what}: {name} should be {np.round(want, 4).tolist()}, got {np.round(got, 4).tolist()}. "
                f"The positive frequency of a label is the share of examples that have it."
            )
        np.testing.assert_array_equal(labels, before, err_msg="compute_class_freqs must not change labels.")
    print("All hidden compute_class_freqs tests passed.")


# ----------------------------------------------------------------------------- get_weighted_loss
def _as_tensor(x):
    import keras

    return keras.ops.convert_to_tensor(np.asarray(x, dtype=np.float32))


def _loss_value(loss_fn, y_true, y_pred, what):
    """Call a submitted loss on float32 tensors (as Keras does); return its value as a float."""
    import keras

    assert callable(loss_fn), (
        f"get_weighted_loss must return a function weighted_loss(y_true, y_pred); got {type(loss_fn).__name__}."
    )
    with quiet():
        value = loss_fn(_as_tensor(y_true), _as_tensor(y_pred))
    assert value is not None, f"{what}: weighted_loss returned None; return the loss."
    try:
        arr = np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)
    except Exception as err:
        raise AssertionError(f"{what}: the loss cannot be read as a number ({err}).") from None
    assert arr.size == 1, (
        f"{what}: weighted_loss must return one number (sum over labels of the batch means); "
        f"got an array of shape {arr.shape}."
    )
    return float(arr.reshape(()))


def _loss_case(seed, batch, n_labels):
    rng = np.random.default_rng(seed)
    y_true = (rng.random((batch, n_labels)) < 0.4).astype(np.float32)
    y_pred = rng.uniform(0.02, 0.98, (batch, n_labels)).astype(np.float32)
    pos_weights = rng.uniform(0.1, 0.9, n_labels)
    neg_weights = rng.uniform(0.1, 0.9, n_labels)
    return y_true, y_pred, pos_weights, neg_weights


def _assert_loss_close(got, want, what):
    assert np.isfinite(got), (
        f"{what}: the loss is {got}; add epsilon inside both logarithms, log(p + epsilon) and "
        f"log(1 - p + epsilon), so that predictions of exactly 0 or 1 give a finite loss."
    )
    assert np.isclose(got, want, rtol=LOSS_RTOL, atol=LOSS_ATOL), (
        f"{what}: expected a loss of {want:.6f}, got {got:.6f}. For each label take the mean over the "
        f"batch of the weighted terms, then add the labels up."
    )


def check_weighted_loss(get_weighted_loss):
    """Hidden test of Exercise 3: the loss on random data (two shapes) against a NumPy reference."""
    for seed, batch, n_labels in [(21, 9, 5), (22, 16, 14)]:
        y_true, y_pred, w_pos, w_neg = _loss_case(seed, batch, n_labels)
        what = f"weighted loss on a random batch of {batch} examples x {n_labels} labels"
        with quiet():
            loss_fn = get_weighted_loss(w_pos, w_neg)
        got = _loss_value(loss_fn, y_true, y_pred, what)
        _assert_loss_close(got, reference_weighted_loss(y_true, y_pred, w_pos, w_neg), what)
    # the weights must follow their labels: swap them and the loss changes as the reference does
    y_true, y_pred, w_pos, w_neg = _loss_case(23, 12, 4)
    with quiet():
        swapped = get_weighted_loss(w_neg, w_pos)
    what = "weighted loss with pos_weights and neg_weights exchanged"
    _assert_loss_close(_loss_value(swapped, y_true, y_pred, what),
                       reference_weighted_loss(y_true, y_pred, w_neg, w_pos), what)
    print("All hidden get_weighted_loss tests passed.")


def _extreme_case():
    """Predictions of exactly 0 and 1, on examples that have the label and on examples that do not."""
    y_true = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=np.float32)
    y_pred = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.5, 1.0], [0.25, 1.0, 0.0]], dtype=np.float32)
    return y_true, y_pred, np.array([0.8, 0.6, 0.3]), np.array([0.2, 0.4, 0.7])


def check_weighted_loss_epsilon(get_weighted_loss):
    """Hidden test of epsilon: predictions of exactly 0 and 1 give the finite reference loss, with the
    default epsilon (1e-7) and with another one passed by keyword."""
    y_true, y_pred, w_pos, w_neg = _extreme_case()
    for kwargs in ({}, {"epsilon": 1e-3}):
        epsilon = kwargs.get("epsilon", 1e-7)
        what = (f"weighted loss with predictions of exactly 0 and 1 and "
                f"{'epsilon=%g' % epsilon if kwargs else 'the default epsilon (1e-7)'}")
        with quiet():
            loss_fn = get_weighted_loss(w_pos, w_neg, **kwargs)
        got = _loss_value(loss_fn, y_true, y_pred, what)
        _assert_loss_close(got, reference_weighted_loss(y_true, y_pred, w_pos, w_neg, epsilon), what)
    print("All hidden epsilon tests passed.")


# ----------------------------------------------------------------------------- samples
#: Sample submissions: student id -> (what is wrong, {grade_id: [(old, new), ...]}).
SAMPLES = {
    "row_indices": (
        "check_for_leakage compares the frames' row indices instead of their patient ids",
        {"check_for_leakage": [("df1[patient_col].tolist()", "df1.index.tolist()"),
                               ("df2[patient_col].tolist()", "df2.index.tolist()")]},
    ),
    "swapped_freqs": (
        "compute_class_freqs returns the negative frequencies as the positive ones and vice versa",
        {"compute_class_freqs": [("positive_frequencies = np.mean(labels == 1, axis=0)",
                                  "positive_frequencies = np.mean(labels == 0, axis=0)"),
                                 ("negative_frequencies = np.mean(labels == 0, axis=0)",
                                  "negative_frequencies = np.mean(labels == 1, axis=0)")]},
    ),
    "no_epsilon": (
        "get_weighted_loss leaves epsilon out of the logarithms: a prediction of exactly 0 or 1 gives inf or nan",
        {"get_weighted_loss": [("ops.log(y_pred + epsilon)", "ops.log(y_pred)"),
                               ("ops.log(1 - y_pred + epsilon)", "ops.log(1 - y_pred)")]},
    ),
    "loss_sum": (
        "get_weighted_loss adds the terms over the batch instead of averaging them",
        {"get_weighted_loss": [("ops.mean(weighted_terms, axis=0)", "ops.sum(weighted_terms, axis=0)")]},
    ),
}

#: The assignment's record: its files, solution cells and samples (no stored references).
ASSIGNMENT = Assignment("C1W1", SOLUTION_IDS, SAMPLES)
