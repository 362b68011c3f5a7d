"""How C1W1 ("Chest X-ray medical diagnosis") is graded.

Four graded test cells, ten points each. Each is an :class:`~grading.exercise.Exercise`: the
grader draws cases at grading time (:func:`grading.assignment.draw_cases`), the student's
function runs on them in the sandbox, and the verdict is computed here, in the grader's
process, against **NumPy references written in this module** (never against the library or
against anything the submission could reach). Tolerances: ``autograder/C1W1/TOLERANCES.md``.
"""

from __future__ import annotations

import numpy as np

from grading.assignment import Assignment, Sample
from grading.attacks import (ATTACK_ALWAYS_EQUAL, ATTACK_FORGE_CHANNEL, ATTACK_FORK_BOMB, ATTACK_LIBRARY,
                             ATTACK_NOISY, ATTACK_PATCH_CHECKS, ATTACK_READ_SECRETS, ATTACK_WRITE_EVERYWHERE)
from grading.exercise import Exercise, driver, frame_spec, spec_data

__all__ = [
    "ASSIGNMENT",
    "EXERCISES",
    "FREQ_ATOL",
    "LOSS_ATOL",
    "LOSS_RTOL",
    "SAMPLES",
    "reference_class_freqs",
    "reference_weighted_loss",
]

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


# ----------------------------------------------------------------------------- Exercise 1: check_for_leakage
_ID_KINDS = ("str", "int64", "int32", "object-int")


def _ids(rng, kind, values):
    if kind == "str":
        return [f"p-{v:05d}" for v in values], "object"
    if kind == "object-int":
        return [int(v) for v in values], "object"
    return [int(v) for v in values], kind


#: The five leakage cases of a run: (a patient in both frames, their row indices overlap, the second
#: frame is empty). Fixed, so that every run holds a case where only the ids tell the truth either way:
#: shared ids with disjoint row indices, and no shared id with overlapping row indices (and a shared
#: value in another column).
_LEAKAGE_LAYOUTS = ((True, False, False), (False, True, False), (True, True, False), (False, True, False),
                    (False, False, True))


def _draw_leakage(rng):
    """Pairs of frames: ids of several types, overlapping row indices, a distractor column, an empty frame."""
    cases = []
    for shared, overlapping, empty in _LEAKAGE_LAYOUTS:
        n1, n2 = int(rng.integers(3, 60)), 0 if empty else int(rng.integers(3, 40))
        pool = rng.choice(100_000, size=n1 + n2 + 5, replace=False)
        ids1 = list(rng.choice(pool[:n1], size=n1 + int(rng.integers(0, 4))))  # repeated patients
        ids2 = [int(v) for v in pool[n1:n1 + n2]]
        if shared:
            ids2[int(rng.integers(0, n2))] = int(rng.choice(ids1))
        kind1 = _ID_KINDS[int(rng.integers(0, len(_ID_KINDS)))]
        kind2 = kind1 if kind1 == "str" else ("int64" if rng.random() < 0.5 else kind1)
        col = str(rng.choice(["PatientId", "patient", "subject"]))
        v1, d1 = _ids(rng, kind1, ids1)
        v2, d2 = _ids(rng, kind2, ids2)
        # a distractor column that shares a value exactly when the patient column does not
        other1 = [int(v) for v in rng.integers(0, 5, size=len(v1))]
        other2 = [99] * len(v2) if shared else [other1[0]] * len(v2)
        index1 = list(range(len(v1)))
        index2 = list(range(len(v2))) if overlapping else [1000 + i for i in range(len(v2))]
        cases.append({
            "df1": frame_spec([(col, v1, d1), ("Other", other1, "int64")], index1),
            "df2": frame_spec([(col, v2, d2), ("Other", other2, "int64")], index2),
            "col": col, "expected": bool(shared),
        })
    return cases


_LEAKAGE_DRIVER = driver('''
def drive(ns, case, cache):
    df1, df2 = build_frame(case["df1"]), build_frame(case["df2"])
    result = ns["check_for_leakage"](df1, df2, case["col"])
    is_bool = isinstance(result, (bool, _np.bool_))
    return {"result": bool(result) if is_bool else None, "type": type(result).__name__,
            "df1": frame_data(df1), "df2": frame_data(df2)}
''')


def _check_leakage(cases, expected, values):
    for case, got in zip(cases, values):
        if got["result"] is None:
            return f"check_for_leakage must return a bool (True or False); it returned a {got['type']}."
        if got["result"] != case["expected"]:
            return (f"check_for_leakage returned {got['result']} where {case['expected']} was expected. "
                    "Compare the values of the column patient_col of the two frames, not their row indices "
                    "or other columns, whatever the type of the ids.")
        if got["df1"] != spec_data(case["df1"]) or got["df2"] != spec_data(case["df2"]):
            return "check_for_leakage changed one of the frames it was given; it must leave them as they are."
    return None


# ----------------------------------------------------------------------------- Exercise 2: compute_class_freqs
def _draw_freqs(rng):
    cases = []
    for dtype in ("int64", "float32", "uint8"):
        n, k = int(rng.integers(5, 80)), int(rng.integers(2, 15))
        prevalence = rng.uniform(0, 1, size=k)
        prevalence[int(rng.integers(0, k))] = 0.0  # a label that never occurs
        labels = (rng.random((n, k)) < prevalence).astype(int)
        cases.append({"labels": labels.tolist(), "dtype": dtype})
    return cases


_FREQS_DRIVER = driver('''
def drive(ns, case, cache):
    labels = _np.asarray(case["labels"], dtype=case["dtype"])
    before = labels.copy()
    result = ns["compute_class_freqs"](labels)
    if not isinstance(result, tuple) or len(result) != 2:
        return {"pair": False, "type": type(result).__name__}
    return {"pair": True, "pos": _np.asarray(result[0], dtype=float), "neg": _np.asarray(result[1], dtype=float),
            "unchanged": bool(_np.array_equal(labels, before))}
''')


def _check_freqs(cases, expected, values):
    for case, got in zip(cases, values):
        if not got["pair"]:
            return ("compute_class_freqs must return two arrays, (positive_frequencies, negative_frequencies); "
                    f"it returned a {got['type']}.")
        want_pos, want_neg = reference_class_freqs(case["labels"])
        for name, have, want in (("positive_frequencies", got["pos"], want_pos),
                                 ("negative_frequencies", got["neg"], want_neg)):
            have = np.asarray(have, dtype=np.float64)
            if have.shape != want.shape:
                return f"{name} must hold one value per label, shape {want.shape}; it had shape {have.shape}."
            if not np.allclose(have, want, rtol=0, atol=FREQ_ATOL):
                return (f"{name} is wrong on a {case['dtype']} label matrix (largest error "
                        f"{np.max(np.abs(have - want)):.3g}). The positive frequency of a label is the share of "
                        "examples that have it.")
        if not got["unchanged"]:
            return "compute_class_freqs changed the labels it was given."
    return None


# ----------------------------------------------------------------------------- Exercise 3: get_weighted_loss
def _loss_case(rng, batch, n_labels, low=0.02, high=0.98):
    return {"y_true": (rng.random((batch, n_labels)) < rng.uniform(0.1, 0.6)).astype(int).tolist(),
            "y_pred": rng.uniform(low, high, (batch, n_labels)).astype(np.float32).tolist(),
            "w_pos": rng.uniform(0.05, 0.95, n_labels).tolist(), "w_neg": rng.uniform(0.05, 0.95, n_labels).tolist()}


def _draw_loss(rng):
    cases = [dict(_loss_case(rng, int(rng.integers(2, 20)), int(rng.integers(1, 15))), mode="value") for _ in range(3)]
    swapped = _loss_case(rng, int(rng.integers(4, 16)), int(rng.integers(2, 8)))
    cases.append(dict(swapped, mode="value", w_pos=swapped["w_neg"], w_neg=swapped["w_pos"]))
    cases.append(dict(_loss_case(rng, 8, 3), mode="train"))
    return cases


_LOSS_DRIVER = driver('''
def _value(loss_fn, y_true, y_pred):
    import keras
    value = loss_fn(keras.ops.convert_to_tensor(_np.asarray(y_true, dtype="float32")),
                    keras.ops.convert_to_tensor(_np.asarray(y_pred, dtype="float32")))
    if value is None:
        return None
    return _np.asarray(keras.ops.convert_to_numpy(value), dtype=float)


def drive(ns, case, cache):
    kwargs = {"epsilon": case["epsilon"]} if "epsilon" in case else {}
    loss_fn = ns["get_weighted_loss"](_np.asarray(case["w_pos"]), _np.asarray(case["w_neg"]), **kwargs)
    if not callable(loss_fn):
        return {"callable": False, "type": type(loss_fn).__name__}
    if case["mode"] == "value":
        return {"callable": True, "value": _value(loss_fn, case["y_true"], case["y_pred"])}
    # train: the loss must work inside Keras's own training step (symbolic tensors, gradients)
    import keras
    keras.utils.set_random_seed(0)
    x = _np.linspace(-1, 1, 8 * 4, dtype="float32").reshape(8, 4)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(len(case["w_pos"]), activation="sigmoid")])
    model.compile(optimizer="sgd", loss=loss_fn)
    loss = model.train_on_batch(x, _np.asarray(case["y_true"], dtype="float32"))
    return {"callable": True, "trained": _np.asarray(loss, dtype=float)}
''')


def _loss_reason(case, got, what):
    if not got["callable"]:
        return f"get_weighted_loss must return a function weighted_loss(y_true, y_pred); it returned a {got['type']}."
    if case["mode"] == "train":
        value = np.asarray(got["trained"], dtype=np.float64)
        if value.size != 1 or not np.isfinite(value).all():
            return "the loss does not work inside Keras's training step (model.fit / train_on_batch)."
        return None
    value = got["value"]
    if value is None:
        return "weighted_loss returned None; return the loss."
    value = np.asarray(value, dtype=np.float64)
    if value.size != 1:
        return (f"weighted_loss must return one number (the sum over labels of the batch means); "
                f"it returned an array of shape {value.shape}.")
    want = reference_weighted_loss(case["y_true"], case["y_pred"], case["w_pos"], case["w_neg"],
                                   case.get("epsilon", 1e-7))
    got_value = float(value.reshape(()))
    if not np.isfinite(got_value):
        return (f"{what}: the loss is {got_value}; add epsilon inside both logarithms, log(p + epsilon) and "
                "log(1 - p + epsilon), so that predictions of exactly 0 or 1 give a finite loss.")
    if not np.isclose(got_value, want, rtol=LOSS_RTOL, atol=LOSS_ATOL):
        return (f"{what}: expected a loss of {want:.6f}, got {got_value:.6f}. For each label take the mean over "
                "the batch of the weighted terms, then add the labels up.")
    return None


def _check_loss(cases, expected, values):
    for case, got in zip(cases, values):
        reason = _loss_reason(case, got, "on a random batch")
        if reason:
            return reason
    return None


# ----------------------------------------------------------------------------- Exercise 3b: epsilon
def _draw_epsilon(rng):
    cases = []
    for epsilon in (None, float(10 ** rng.uniform(-4, -2))):
        case = _loss_case(rng, int(rng.integers(4, 10)), int(rng.integers(2, 6)))
        y_pred = np.asarray(case["y_pred"])
        extreme = rng.random(y_pred.shape) < 0.4
        y_pred[extreme] = rng.integers(0, 2, size=int(extreme.sum()))
        y_pred[0, 0], y_pred[-1, -1] = 0.0, 1.0  # always at least one of each
        case.update(y_pred=y_pred.astype(np.float32).tolist(), mode="value")
        if epsilon is not None:
            case["epsilon"] = epsilon
        cases.append(case)
    return cases


def _check_epsilon(cases, expected, values):
    for case, got in zip(cases, values):
        what = ("with predictions of exactly 0 and 1 and " +
                (f"epsilon={case['epsilon']:.2g}" if "epsilon" in case else "the default epsilon (1e-7)"))
        reason = _loss_reason(case, got, what)
        if reason:
            return reason
    return None


#: The graded test cells, in notebook order.
EXERCISES = (
    Exercise("test_check_for_leakage", "Exercise 1 (check_for_leakage)", _LEAKAGE_DRIVER, _draw_leakage,
             _check_leakage),
    Exercise("test_compute_class_freqs", "Exercise 2 (compute_class_freqs)", _FREQS_DRIVER, _draw_freqs,
             _check_freqs),
    Exercise("test_get_weighted_loss", "Exercise 3 (get_weighted_loss)", _LOSS_DRIVER, _draw_loss, _check_loss),
    Exercise("test_weighted_loss_epsilon", "Exercise 3, epsilon (get_weighted_loss)", _LOSS_DRIVER, _draw_epsilon,
             _check_epsilon),
)


# ----------------------------------------------------------------------------- samples
#: Sample submissions: the solutions with one function replaced by a wrong one (see grading.assignment.Sample).
SAMPLES = (
    Sample("row_indices", "check_for_leakage compares the frames' row indices instead of their patient ids",
           {"check_for_leakage": '''
def check_for_leakage(df1, df2, patient_col):
    return len(set(df1.index.tolist()) & set(df2.index.tolist())) > 0
'''}, {"test_check_for_leakage": 0}),
    Sample("swapped_freqs", "compute_class_freqs returns the negative frequencies as the positive ones",
           {"compute_class_freqs": '''
def compute_class_freqs(labels):
    labels = np.asarray(labels)
    return np.mean(labels == 0, axis=0), np.mean(labels == 1, axis=0)
'''}, {"test_compute_class_freqs": 0}),
    Sample("no_epsilon", "get_weighted_loss leaves epsilon out of the logarithms",
           {"get_weighted_loss": '''
def get_weighted_loss(pos_weights, neg_weights, epsilon=1e-7):
    pos_weights = np.asarray(pos_weights, dtype="float32")
    neg_weights = np.asarray(neg_weights, dtype="float32")

    def weighted_loss(y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        terms = pos_weights * y_true * ops.log(y_pred) + neg_weights * (1 - y_true) * ops.log(1 - y_pred)
        return -ops.sum(ops.mean(terms, axis=0))

    return weighted_loss
'''}, {"test_weighted_loss_epsilon": 0}),
    Sample("loss_sum", "get_weighted_loss adds the terms over the batch instead of averaging them",
           {"get_weighted_loss": '''
def get_weighted_loss(pos_weights, neg_weights, epsilon=1e-7):
    pos_weights = np.asarray(pos_weights, dtype="float32")
    neg_weights = np.asarray(neg_weights, dtype="float32")

    def weighted_loss(y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        terms = (pos_weights * y_true * ops.log(y_pred + epsilon)
                 + neg_weights * (1 - y_true) * ops.log(1 - y_pred + epsilon))
        return -ops.sum(ops.sum(terms, axis=0))

    return weighted_loss
'''}, {"test_get_weighted_loss": 0, "test_weighted_loss_epsilon": 0}),
    Sample("numpy_loss", "get_weighted_loss computes with NumPy: right values on arrays, but it breaks in training",
           {"get_weighted_loss": '''
def get_weighted_loss(pos_weights, neg_weights, epsilon=1e-7):
    def weighted_loss(y_true, y_pred):
        y_true = np.asarray(y_true, dtype="float32")
        y_pred = np.asarray(y_pred, dtype="float32")
        terms = (pos_weights * y_true * np.log(y_pred + epsilon)
                 + neg_weights * (1 - y_true) * np.log(1 - y_pred + epsilon))
        return -np.sum(np.mean(terms, axis=0))

    return weighted_loss
'''}, {"test_get_weighted_loss": 0}),
)

#: The attack suite: submissions that try to talk the grader out of its verdicts, or take it down.
#: Attacks on different exercises share one submission; crashes and limits need their own.
ATTACKS = (
    Sample("cheater", "switches the checks off from inside its kernel, returns an always-equal object, "
           "reads the grader's files, calls the library's answer, forges the result channel",
           {"check_for_leakage": ATTACK_ALWAYS_EQUAL.format(name="check_for_leakage", args="df1, df2, patient_col"),
            "compute_class_freqs": ATTACK_READ_SECRETS.format(
                name="compute_class_freqs", args="labels", answer="np.zeros(np.shape(labels)[1]), "
                                                                  "np.ones(np.shape(labels)[1])"),
            "get_weighted_loss": ATTACK_LIBRARY.format(
                name="get_weighted_loss",
                modules=("util.models.densenet", "util", "training.densenet", "training.losses"))},
           {"test_check_for_leakage": 0, "test_compute_class_freqs": 0, "test_get_weighted_loss": 0,
            "test_weighted_loss_epsilon": 0},
           insert=(("imports", ATTACK_PATCH_CHECKS.format(visible="check_for_leakage_test, compute_class_freqs_test, "
                                                                  "get_weighted_loss_test, weighted_loss_epsilon_test")),
                   ("imports", ATTACK_FORGE_CHANNEL), ("imports", ATTACK_WRITE_EVERYWHERE))),
    Sample("noisy_correct", "a correct submission that writes warnings to stderr and tries the network",
           insert=(("imports", ATTACK_NOISY),)),
    Sample("exit_process", "os._exit in Exercise 3's cell: the process ends there",
           {"get_weighted_loss": "import os\nos._exit(3)"},
           {"test_get_weighted_loss": 0, "test_weighted_loss_epsilon": 0}),
    Sample("segfault", "a segmentation fault in Exercise 2's cell",
           {"compute_class_freqs": "import ctypes\nctypes.string_at(0)"},
           {"test_compute_class_freqs": 0, "test_get_weighted_loss": 0, "test_weighted_loss_epsilon": 0}),
    Sample("sys_exit", "sys.exit inside compute_class_freqs: the call fails, the kernel goes on",
           {"compute_class_freqs": "import sys\n\ndef compute_class_freqs(labels):\n    sys.exit(1)"},
           {"test_compute_class_freqs": 0}),
    Sample("infinite_loop", "an endless loop in Exercise 2's cell: stopped at the cell's time limit",
           {"compute_class_freqs": "while True:\n    pass"},
           {"test_compute_class_freqs": 0, "test_get_weighted_loss": 0, "test_weighted_loss_epsilon": 0}),
    Sample("long_sleep", "the loss sleeps for an hour when called: stopped at the time limit",
           {"get_weighted_loss": "import time\n\ndef get_weighted_loss(pos_weights, neg_weights, epsilon=1e-7):\n"
                                 "    time.sleep(3600)"},
           {"test_get_weighted_loss": 0, "test_weighted_loss_epsilon": 0}),
    Sample("fork_bomb", "a fork bomb in Exercise 3's cell: the process limit contains it, the cell's time limit "
           "ends it", {"get_weighted_loss": ATTACK_FORK_BOMB},
           {"test_get_weighted_loss": 0, "test_weighted_loss_epsilon": 0}),
    Sample("allocate_30gb", "allocates 30 GB before compute_class_freqs is defined: stopped by the memory limit",
           {"compute_class_freqs": "memory = bytearray(30 * 1024 ** 3)"}, {"test_compute_class_freqs": 0}),
    Sample("print_100mb", "prints 100 MB in Exercise 3's cell: stopped by the output limit",
           {"get_weighted_loss": "import sys\nsys.stdout.write('x' * 100_000_000)\nsys.stdout.flush()"},
           {"test_get_weighted_loss": 0, "test_weighted_loss_epsilon": 0}),
)

#: The assignment's record.
ASSIGNMENT = Assignment("C1W1", EXERCISES, SAMPLES + ATTACKS,
                        solution_ids=("imports", "check_for_leakage", "compute_class_freqs", "get_weighted_loss"))
