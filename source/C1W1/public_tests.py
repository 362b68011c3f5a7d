"""Visible tests of the C1W1 assignment ("Chest X-ray medical diagnosis").

Each test prints "All tests passed." when the function behaves as the
notebook asks, and raises an ``AssertionError`` that says what is wrong
otherwise. Passing them is necessary, not sufficient: the grader runs more
tests on inputs you do not see (other ids and column names, other label
matrices, other weights and batches).
"""

import warnings

import numpy as np
import pandas as pd

# Loss values are computed in float32: compare them with this relative tolerance.
LOSS_RTOL = 1e-4


#: The course's example: three labels, four examples, weights balanced for its label frequencies.
_COURSE_EXAMPLE = (np.array([[1, 1, 1], [1, 1, 0], [0, 1, 0], [1, 0, 1]]), [0.25, 0.25, 0.5], [0.75, 0.75, 0.5])


def _quiet_call(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def check_for_leakage_test(target):
    """Exercise 1 on two small cases: one patient in both frames, then none."""
    df1 = pd.DataFrame({"patient_id": [0, 1, 2], "image": ["a.png", "b.png", "c.png"]})
    cases = [
        (pd.DataFrame({"patient_id": [2, 3, 4], "image": ["d.png", "e.png", "f.png"]}), True),
        (pd.DataFrame({"patient_id": [3, 4, 5], "image": ["d.png", "e.png", "f.png"]}), False),
    ]
    for df2, expected in cases:
        print(f"df1 patients: {df1['patient_id'].tolist()}, df2 patients: {df2['patient_id'].tolist()}")
        result = _quiet_call(target, df1, df2, "patient_id")
        print(f"  leakage: {result} (expected {expected})")
        assert isinstance(result, (bool, np.bool_)), f"return a bool (True or False), not {type(result).__name__}."
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
    result = _quiet_call(target, labels)
    assert isinstance(result, tuple) and len(result) == 2, (
        "return two arrays: positive_frequencies, negative_frequencies."
    )
    pos, neg = (np.asarray(r, dtype=float) for r in result)
    print(f"positive frequencies: {np.round(pos, 3).tolist()}")
    print(f"negative frequencies: {np.round(neg, 3).tolist()}")
    expected_pos, expected_neg = [0.6, 0.2, 0.2, 0.8], [0.4, 0.8, 0.8, 0.2]
    assert pos.shape == (4,) and neg.shape == (4,), "return one frequency per label (column)."
    assert np.allclose(pos, expected_pos), f"positive frequencies should be {expected_pos}."
    assert np.allclose(neg, expected_neg), f"negative frequencies should be {expected_neg}."
    print("All tests passed.")


def _loss(target, y_true, y_pred, pos_weights, neg_weights, **kwargs):
    import keras

    loss_fn = _quiet_call(target, np.asarray(pos_weights), np.asarray(neg_weights), **kwargs)
    assert callable(loss_fn), "get_weighted_loss must return the function weighted_loss."
    value = _quiet_call(loss_fn, keras.ops.convert_to_tensor(np.asarray(y_true, dtype="float32")),
                        keras.ops.convert_to_tensor(np.asarray(y_pred, dtype="float32")))
    assert value is not None, "weighted_loss returned None; return the loss."
    arr = np.asarray(keras.ops.convert_to_numpy(value), dtype=float)
    assert arr.size == 1, f"weighted_loss must return one number; got shape {arr.shape}."
    return float(arr.reshape(()))


def get_weighted_loss_test(target):
    """Exercise 3: three labels, four examples, two constant predictions (0.7 and 0.3), default epsilon."""
    y_true, w_p, w_n = _COURSE_EXAMPLE
    print(f"y_true:\n{y_true}\nw_p: {w_p}\nw_n: {w_n}")
    want = 0.9754045
    for p in (0.7, 0.3):
        got = _loss(target, y_true, np.full((4, 3), p), w_p, w_n)
        print(f"y_pred all {p}: loss {got:.4f} (expected {want:.4f})")
        assert np.isclose(got, want, rtol=LOSS_RTOL), (
            f"with predictions all {p} the loss should be {want:.4f}, got {got:.4f}."
        )
    print("All tests passed.")


def weighted_loss_epsilon_test(target):
    """epsilon: predictions of exactly 0 and 1 give a finite loss, and epsilon is used as given."""
    y_true = np.array([[1, 0], [0, 1], [1, 1]])
    y_pred = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    w_p, w_n = [0.5, 0.4], [0.5, 0.6]
    print(f"y_true:\n{y_true}\ny_pred:\n{y_pred}")
    for kwargs, want in [({}, 10.7453972), ({"epsilon": 0.01}, 3.0671284)]:
        got = _loss(target, y_true, y_pred, w_p, w_n, **kwargs)
        how = f"epsilon={kwargs['epsilon']:g}" if kwargs else "the default epsilon"
        print(f"{how}: loss {got:.4f} (expected {want:.4f})")
        assert np.isfinite(got), f"with {how} the loss is {got}: add epsilon inside both logarithms."
        assert np.isclose(got, want, rtol=LOSS_RTOL), f"with {how} the loss should be {want:.4f}, got {got:.4f}."
    # the course's example with epsilon=1: both constant predictions give the same loss
    y_true, w_p, w_n = _COURSE_EXAMPLE
    want = -0.4956203
    for p in (0.7, 0.3):
        got = _loss(target, y_true, np.full((4, 3), p), w_p, w_n, epsilon=1)
        print(f"course example, epsilon=1, y_pred all {p}: loss {got:.4f} (expected {want:.4f})")
        assert np.isclose(got, want, rtol=LOSS_RTOL), (
            f"with epsilon=1 and predictions all {p} the loss should be {want:.4f}, got {got:.4f}: "
            f"use the epsilon argument, not a fixed value."
        )
    print("All tests passed.")
