"""Agreement between graded labels: the confusion matrix and the quadratic-weighted kappa."""

from __future__ import annotations

import numpy as np

from util.data.fundus import GRADES
from util.models.ordinal import check_grades, check_n_grades

__all__ = ["confusion_matrix", "quadratic_weighted_kappa"]


def confusion_matrix(y_true, y_pred, n_grades=len(GRADES)):
    """Counts (n_grades, n_grades): rows = true grade, columns = predicted grade.

    Raises
    ------
    ValueError
        Invalid grades (the message names them), or ``y_true`` and ``y_pred`` of different lengths.
    """
    n_grades = check_n_grades(n_grades)
    t = check_grades(y_true, n_grades, "y_true")
    p = check_grades(y_pred, n_grades, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must be of equal length; got {t.size} and {p.size}")
    m = np.zeros((n_grades, n_grades), dtype=np.int64)
    np.add.at(m, (t, p), 1)
    return m


def quadratic_weighted_kappa(y_true, y_pred, n_grades=len(GRADES)):
    """Cohen's kappa with quadratic weights between two gradings.

    ``kappa = 1 - sum(W * O) / sum(W * E)`` with ``W[i, j] = (i - j)**2 /
    (K - 1)**2``, ``O`` the confusion matrix and ``E`` the outer product of
    its marginals scaled to the same total. 1 is perfect agreement, 0 is
    chance; it is symmetric in its two arguments. Same value as
    ``sklearn.metrics.cohen_kappa_score(y_true, y_pred, weights="quadratic",
    labels=range(n_grades))``. Without ``labels=``, scikit-learn weighs the
    distance between the *positions* of the grades present, so when a grade
    is missing from both gradings (say 2), grades 1 and 3 count as neighbours
    and its kappa differs from this one.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        Grades in ``0 .. n_grades - 1``.
    n_grades : int, default 5

    Returns
    -------
    float
        ``nan`` when it is undefined (both gradings give one and the same
        grade to every image, so that ``sum(W * E) == 0``).

    Raises
    ------
    ValueError
        Invalid grades, or ``y_true`` and ``y_pred`` of different lengths or empty.
    """
    n_grades = check_n_grades(n_grades)
    t = check_grades(y_true, n_grades, "y_true")
    p = check_grades(y_pred, n_grades, "y_pred")
    if t.shape != p.shape or t.size == 0:
        raise ValueError(f"y_true and y_pred must be non-empty and of equal length; got {t.size} and {p.size}")
    o = np.zeros((n_grades, n_grades))
    np.add.at(o, (t, p), 1.0)
    e = np.outer(o.sum(axis=1), o.sum(axis=0)) / o.sum()
    i = np.arange(n_grades)
    w = (i[:, None] - i[None, :]) ** 2 / (n_grades - 1) ** 2
    denom = (w * e).sum()
    if denom == 0:
        return float("nan")
    return float(1.0 - (w * o).sum() / denom)
