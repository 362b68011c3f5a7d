"""Ordinal targets for disease grades: cumulative binary encoding and its decoding.

A grade on an ordered scale 0..K-1 (the ICDR retinopathy grades: K = 5) is
not a set of unrelated classes: predicting 3 for a 4 is a smaller mistake than
predicting 0. The course encodes grade ``k`` as ``K - 1`` cumulative binary
targets, output ``j`` (from 0) answering *"is the grade greater than j?"*::

    grade 0 -> [0, 0, 0, 0]
    grade 1 -> [1, 0, 0, 0]
    grade 2 -> [1, 1, 0, 0]
    grade 3 -> [1, 1, 1, 0]
    grade 4 -> [1, 1, 1, 1]

A network with ``K - 1`` sigmoid outputs is trained on these targets with
binary cross-entropy (each output is a "grade > j" classifier), and its
outputs are decoded back to a grade with :func:`decode_outputs`, by one of
four rules that agree whenever the outputs are monotone and differ when a
later output says "yes" after an earlier "no" (see its ``method``). Output ``j``
is the score to explain (e.g. with Grad-CAM) for "grade >= j + 1"; see
:func:`grade_output_index`.

Agreement between graders, or between a model and the truth, is measured
with the quadratic-weighted kappa (:func:`quadratic_weighted_kappa`), which
penalises a disagreement by the square of its distance on the scale.
"""

from __future__ import annotations

import numpy as np

from util.config.checks import check_int

__all__ = [
    "DECODE_METHODS",
    "check_grades",
    "check_n_grades",
    "decode_outputs",
    "encode_grades",
    "grade_output_index",
    "grade_probabilities",
]

#: The decoding rules :func:`decode_outputs` knows; the first is the default.
DECODE_METHODS = ("leading", "count", "sum", "highest")


def check_n_grades(n_grades):
    """Return ``n_grades`` as an int >= 2 (TypeError for a non-integer, ValueError below 2)."""
    return check_int(n_grades, "n_grades", minimum=2, what="the number of grades")


def check_grades(grades, n_grades, name="grades"):
    """Validate grades (integers in [0, n_grades)) and return them as an int64 1-D array."""
    a = np.asarray(grades)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of grades; got an array of shape {a.shape}")
    if a.dtype == bool:
        raise ValueError(f"{name} must be integers in 0..{n_grades - 1}, not booleans")
    if a.size and not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{name} must be integers in 0..{n_grades - 1}; got dtype {a.dtype}")
    if a.size == 0:
        return a.astype(np.int64)
    af = a.astype(np.float64)
    bad = ~np.isfinite(af) | (af != np.round(af)) | (af < 0) | (af >= n_grades)
    if bad.any():
        values = []
        for v in a[bad].tolist():
            if v not in values:
                values.append(v)
        idx = np.flatnonzero(bad)
        raise ValueError(
            f"{name} must be integers in 0..{n_grades - 1}; invalid value(s) {values[:10]}"
            f"{' ...' if len(values) > 10 else ''} at index(es) {idx[:10].tolist()}{' ...' if idx.size > 10 else ''}"
        )
    return af.astype(np.int64)


def _check_probs(probs, name="probs"):
    p = np.asarray(probs)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (n, n_grades - 1), e.g. (n, 4) for five grades; got {np.asarray(probs).shape}"
        )
    if p.dtype == bool or not (np.issubdtype(p.dtype, np.floating) or np.issubdtype(p.dtype, np.integer)):
        raise ValueError(f"{name} must be numbers in [0, 1]; got dtype {p.dtype}")
    p = p.astype(np.float64)
    if p.size and (~np.isfinite(p) | (p < 0) | (p > 1)).any():
        bad = p[~np.isfinite(p) | (p < 0) | (p > 1)]
        raise ValueError(
            f"{name} must be probabilities in [0, 1] (sigmoid outputs, not logits); "
            f"got {bad.size} value(s) outside, e.g. {bad[:5].tolist()}"
        )
    return p


def encode_grades(grades, n_grades=5):
    """Encode grades as cumulative binary targets.

    Parameters
    ----------
    grades : array-like of int, shape (n,)
        Grades in ``0 .. n_grades - 1`` (integer-valued floats are accepted).
    n_grades : int, default 5
        Number of grades K on the scale.

    Returns
    -------
    numpy.ndarray of float32, shape (n, n_grades - 1)
        Row ``i`` has its first ``grades[i]`` entries 1 and the rest 0:
        entry ``j`` is 1 exactly when ``grades[i] > j``.

    Raises
    ------
    ValueError
        On a grade that is negative, ``>= n_grades``, not an integer, or NaN
        (the message names the bad values and where they are).

    Examples
    --------
    >>> encode_grades([0, 2, 4])
    array([[0., 0., 0., 0.],
           [1., 1., 0., 0.],
           [1., 1., 1., 1.]], dtype=float32)
    """
    n_grades = check_n_grades(n_grades)
    g = check_grades(grades, n_grades)
    return (g[:, None] > np.arange(n_grades - 1)[None, :]).astype(np.float32)


def decode_outputs(probs, threshold=0.5, method="leading"):
    """Decode cumulative outputs to grades.

    The four rules give the same grade whenever the outputs are monotone
    (every "yes" before every "no"); they differ on a vector such as
    ``[0.9, 0.2, 0.8, 0.1]``, which says "grade > 0: yes, grade > 1: no,
    grade > 2: yes", an impossible combination.

    Parameters
    ----------
    probs : array-like of shape (n, K - 1) or (K - 1,)
        Sigmoid outputs of an ordinal head; output ``j`` estimates
        P(grade > j). Values must lie in [0, 1].
    threshold : float, default 0.5
        An output counts as "yes" when it is strictly above ``threshold``
        (all rules but ``"sum"``).
    method : {"leading", "count", "sum", "highest"}, default "leading"
        * ``"leading"`` -- *the first "no" stops the count*: the number of
          leading outputs above the threshold. Equivalently, the outputs are
          first made monotone by a running minimum (``P(grade > j)`` cannot
          exceed ``P(grade > j - 1)``) and then counted.
          ``[0.9, 0.2, 0.8, 0.1]`` -> 1: "grade > 1" was denied, so
          "grade > 2" is not believed. This library's default (a grade
          never rests on a denied step); :func:`grade_probabilities` uses
          the same running minimum.
        * ``"count"`` -- *every "yes" counts*: the number of outputs above
          the threshold, wherever they are (the prediction rule of
          OR-CNN, Niu et al. 2016, and CORAL, Cao et al. 2020).
          ``[0.9, 0.2, 0.8, 0.1]`` -> 2.
        * ``"sum"`` -- *rounded expected grade*: ``round(sum(probs))``,
          reading the outputs as P(grade > j) (no threshold; halves round
          to even, as :func:`numpy.rint`). ``[0.9, 0.2, 0.8, 0.1]`` -> 2.
        * ``"highest"`` -- *the highest "yes" wins*: one plus the index of
          the last output above the threshold (0 when there is none). This
          is the rule of the course's retinopathy case study, whose
          ``test_prediction`` has five outputs (its output 0, "grade >= 0",
          is always trained to 1), sets ``ordinal[:, i] = pred[:, i] OR
          ordinal[:, i + 1]`` from the last output down and returns the row
          sum minus 1. ``[0.9, 0.2, 0.8, 0.1]`` -> 3: the "yes" of "grade >
          2" overrides the "no" before it.

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
        Grades in ``0 .. K - 1``.

    Raises
    ------
    ValueError
        On ``probs`` of the wrong shape or with values outside [0, 1] (or
        NaN), a threshold outside (0, 1), or an unknown method.

    Examples
    --------
    >>> p = [[0.9, 0.8, 0.3, 0.1], [0.9, 0.2, 0.8, 0.1]]
    >>> [decode_outputs(p, method=m).tolist() for m in DECODE_METHODS]
    [[2, 1], [2, 2], [2, 2], [2, 3]]
    """
    p = _check_probs(probs)
    if not (isinstance(threshold, (int, float, np.floating, np.integer)) and 0.0 < float(threshold) < 1.0):
        raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}")
    if method == "leading":
        above = p > threshold
        return np.logical_and.accumulate(above, axis=1).sum(axis=1).astype(np.int64)
    if method == "count":
        return (p > threshold).sum(axis=1).astype(np.int64)
    if method == "sum":
        return np.rint(p.sum(axis=1)).astype(np.int64)
    if method == "highest":
        # the case study's OR from the last output down: a "yes" makes every output before it "yes"
        above = p > threshold
        return np.logical_or.accumulate(above[:, ::-1], axis=1).sum(axis=1).astype(np.int64)
    raise ValueError(f"method must be one of {DECODE_METHODS}, got {method!r}")


def grade_probabilities(probs):
    """Per-grade probabilities from cumulative outputs, after making them monotone.

    With ``q_j = min(probs[:j + 1])`` (a running minimum, so ``q`` never
    increases) ``P(grade = k) = q_{k-1} - q_k`` with ``q_{-1} = 1`` and
    ``q_{K-1} = 0``.

    Parameters
    ----------
    probs : array-like of shape (n, K - 1)

    Returns
    -------
    numpy.ndarray of float64, shape (n, K)
        Non-negative, each row sums to 1.
    """
    p = _check_probs(probs)
    q = np.minimum.accumulate(p, axis=1)
    ones, zeros = np.ones((len(q), 1)), np.zeros((len(q), 1))
    full = np.concatenate([ones, q, zeros], axis=1)
    return full[:, :-1] - full[:, 1:]


def grade_output_index(grade, n_grades=5):
    """The output whose score says "grade >= ``grade``": ``grade - 1``.

    This is the output to explain for an image predicted as ``grade`` (its
    highest output above the threshold).

    Raises
    ------
    ValueError
        For grade 0 (no output says "grade >= 0"; explain output 0, "grade >
        0", and read it as evidence *against* disease) and for invalid grades.
    """
    n_grades = check_n_grades(n_grades)
    g = int(check_grades([grade], n_grades, "grade")[0])
    if g == 0:
        raise ValueError(
            "grade 0 has no output of its own: output j says 'grade > j'. For a grade-0 image, "
            "explain output 0 ('grade > 0') to see what would speak for disease."
        )
    return g - 1


