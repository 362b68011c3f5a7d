"""Visible tests of the C1W1 assignment ("Chest X-ray medical diagnosis").

Each test prints what it measured next to what it expects, and "All tests passed." when the
function behaves as the notebook asks; otherwise it raises an ``AssertionError`` that says which
step looks wrong. The expected values are stored as numbers (worked out by hand for the small
examples, or computed once from a correct solution and rounded). Passing these tests is necessary,
not sufficient: the course's grader checks your functions again, outside this notebook, on cases it
draws when it grades (other ids and column names, other label matrices, other weights and batches).
"""

import warnings

import numpy as np
import pandas as pd

#: Loss values are computed in float32: compare them with this relative tolerance.
LOSS_RTOL = 1e-4
#: Frequencies: absolute tolerance.
FREQ_ATOL = 1e-6


#: The course's example: three labels, four examples, weights balanced for its label frequencies.
_COURSE_EXAMPLE = (np.array([[1, 1, 1], [1, 1, 0], [0, 1, 0], [1, 0, 1]]), [0.25, 0.25, 0.5], [0.75, 0.75, 0.5])


def _quiet_call(fn, *args, **kwargs):
    """Call ``fn`` without warnings; a variable the exercise never assigned becomes a clear message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except NameError as err:
        name = getattr(err, "name", None)
        if name in ("positive_frequencies", "negative_frequencies", "leakage", "loss"):
            raise AssertionError(f"{getattr(fn, '__name__', 'the function')} never assigned {name}: compute it "
                                 f"between START CODE HERE and END CODE HERE.") from None
        raise


def check_for_leakage_test(target):
    """Exercise 1 on two small cases: one patient in both frames, then none."""
    df1 = pd.DataFrame({"patient_id": [0, 1, 2], "image": ["a.png", "b.png", "c.png"]})
    cases = [
        (pd.DataFrame({"patient_id": [2, 3, 4], "image": ["d.png", "e.png", "f.png"]}), True),
        (pd.DataFrame({"patient_id": [3, 4, 5], "image": ["d.png", "e.png", "f.png"]}), False),
    ]
    for df2, expected in cases:
        print(f"df1 patients: {df1['patient_id'].tolist()}, df2 patients: {df2['patient_id'].tolist()}")
        before = df1.copy(), df2.copy()
        result = _quiet_call(target, df1, df2, "patient_id")
        assert df1.equals(before[0]) and df2.equals(before[1]), (
            "check_for_leakage changed a data frame it was given; only read them."
        )
        print(f"  leakage: {result} (expected {expected})")
        assert result is not None, "check_for_leakage returned None: set leakage to True or False."
        assert isinstance(result, (bool, np.bool_)), (
            f"return a bool (True or False), not {type(result).__name__}: e.g. len(shared patients) > 0."
        )
        assert bool(result) == expected, (
            f"expected {expected}: compare the patient ids in the column patient_col of the two frames."
        )
    print("All tests passed.")


def compute_class_freqs_test(target):
    """Exercise 2 on a 5 x 4 label matrix."""
    labels = np.array([[1, 0, 0, 1],
                       [0, 0, 1, 1],
                       [1, 0, 0, 1],
                       [0, 0, 0, 1],
                       [1, 1, 0, 0]])
    print(f"labels:\n{labels}")
    before = labels.copy()
    result = _quiet_call(target, labels)
    assert np.array_equal(labels, before), "compute_class_freqs changed the labels it was given; only read them."
    assert isinstance(result, tuple) and len(result) == 2, (
        "return two arrays: positive_frequencies, negative_frequencies."
    )
    assert all(r is not None for r in result), "a frequency array is None: compute both of them."
    pos, neg = (np.asarray(r, dtype=float) for r in result)
    print(f"positive frequencies: {np.round(pos, 3).tolist()}")
    print(f"negative frequencies: {np.round(neg, 3).tolist()}")
    expected_pos, expected_neg = np.array([0.6, 0.2, 0.2, 0.8]), np.array([0.4, 0.8, 0.8, 0.2])
    assert pos.shape == (4,) and neg.shape == (4,), (
        f"return one frequency per label (column), shape (4,); got {pos.shape} and {neg.shape}: "
        f"average over the examples, axis=0."
    )
    err = float(max(np.abs(pos - expected_pos).max(), np.abs(neg - expected_neg).max()))
    print(f"largest error from the expected frequencies: {err:.4f} (tolerance {FREQ_ATOL:g})")
    if err > FREQ_ATOL:
        if np.allclose(pos, expected_neg, atol=FREQ_ATOL) and np.allclose(neg, expected_pos, atol=FREQ_ATOL):
            raise AssertionError("the positive and negative frequencies are swapped: positives are the 1s.")
        if np.allclose(pos, 5 * expected_pos) or np.allclose(neg, 5 * expected_neg):
            raise AssertionError("these are counts, not shares: divide by the number of examples (rows).")
        assert np.allclose(pos, expected_pos, atol=FREQ_ATOL), (
            f"positive frequencies should be {expected_pos.tolist()}: the share of rows with a 1 in each column."
        )
        raise AssertionError(
            f"negative frequencies should be {expected_neg.tolist()}: the share of rows with a 0 in each column."
        )
    print("All tests passed.")


def _loss(target, y_true, y_pred, pos_weights, neg_weights, **kwargs):
    import keras

    loss_fn = _quiet_call(target, np.asarray(pos_weights), np.asarray(neg_weights), **kwargs)
    assert callable(loss_fn), "get_weighted_loss must return the function weighted_loss."
    value = _quiet_call(loss_fn, keras.ops.convert_to_tensor(np.asarray(y_true, dtype="float32")),
                        keras.ops.convert_to_tensor(np.asarray(y_pred, dtype="float32")))
    assert value is not None, "weighted_loss returned None; return the loss."
    arr = np.asarray(keras.ops.convert_to_numpy(value), dtype=float)
    n, k = np.shape(y_true)
    hints = {(k,): "one value per label: sum the per-label means over the labels",
             (n,): "one value per example: take the mean over the batch (axis 0) for each label, then sum",
             (n, k): "one value per example and label: take the mean over the batch (axis 0), then sum"}
    assert arr.size == 1, (
        f"weighted_loss must return one number; got shape {arr.shape}"
        + (f" ({hints[arr.shape]})." if arr.shape in hints else ".")
    )
    return float(arr.reshape(()))


def _compare_loss(got, want, what, n_examples, n_labels, known_mistakes=()):
    """Print the loss with its relative error and the tolerance; fail with a hint when it is off.

    ``known_mistakes``: ``(loss, why)`` pairs, the loss a known mistake gives on this case.
    """
    err = abs(got - want) / abs(want)
    print(f"{what}: loss {got:.4f}, expected {want:.4f}; relative error {err:.1e} (tolerance {LOSS_RTOL:.0e})")
    if err <= LOSS_RTOL:
        return
    assert np.isfinite(got), f"{what}: the loss is {got}: add epsilon inside both logarithms."
    for factor, why in [(-1, "the sign is wrong: the loss is minus the weighted log-likelihood"),
                        (n_examples, "the loss is summed over the examples: take the mean over the batch (axis 0)"),
                        (1 / n_labels, "the loss is averaged over the labels: sum the per-label means")]:
        if np.isclose(got, factor * want, rtol=LOSS_RTOL):
            raise AssertionError(f"{what}: {why}.")
    for loss, why in known_mistakes:
        if np.isclose(got, loss, rtol=LOSS_RTOL):
            raise AssertionError(f"{what}: {why}.")
    raise AssertionError(f"{what}: the loss should be {want:.4f}, got {got:.4f}.")


def get_weighted_loss_test(target):
    """Exercise 3: three labels, four examples, two constant predictions (0.7 and 0.3), default epsilon."""
    y_true, w_p, w_n = _COURSE_EXAMPLE
    print(f"y_true:\n{y_true}\nw_p: {w_p}\nw_n: {w_n}")
    want = 0.9754045
    swapped = "the weights are swapped: pos_weights multiply the positive term (y_true = 1), neg_weights the other"
    for p, swapped_loss in ((0.7, 0.9419175), (0.3, 1.7892152)):
        got = _loss(target, y_true, np.full((4, 3), p), w_p, w_n)
        _compare_loss(got, want, f"y_pred all {p}", *y_true.shape, [(swapped_loss, swapped)])
    print("All tests passed.")


def weighted_loss_epsilon_test(target):
    """epsilon: predictions of exactly 0 and 1 give a finite loss, and epsilon is used as given."""
    y_true = np.array([[1, 0], [0, 1], [1, 1]])
    y_pred = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    w_p, w_n = [0.5, 0.4], [0.5, 0.6]
    print(f"y_true:\n{y_true}\ny_pred:\n{y_pred}")
    default_loss = 10.7453972
    fixed_epsilon = "this is the loss with the default epsilon: use the epsilon argument, not a fixed value"
    for kwargs, want in [({}, default_loss), ({"epsilon": 0.01}, 3.0671284)]:
        got = _loss(target, y_true, y_pred, w_p, w_n, **kwargs)
        how = f"epsilon={kwargs['epsilon']:g}" if kwargs else "the default epsilon"
        _compare_loss(got, want, how, *y_true.shape, [(default_loss, fixed_epsilon)] if kwargs else [])
    # the course's example with epsilon=1: both constant predictions give the same loss
    y_true, w_p, w_n = _COURSE_EXAMPLE
    want = -0.4956203
    for p in (0.7, 0.3):
        got = _loss(target, y_true, np.full((4, 3), p), w_p, w_n, epsilon=1)
        _compare_loss(got, want, f"course example, epsilon=1, y_pred all {p}", *y_true.shape,
                      [(0.9754045, fixed_epsilon)])
    print("All tests passed.")
