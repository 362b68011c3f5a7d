"""Concordance index of risk scores against a binary outcome (C3W3's model evaluation)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

__all__ = ["cindex"]


def cindex(y_true, scores):
    """Concordance index of risk scores against a binary outcome.

    A pair of individuals is *permissible* when exactly one of them had the
    event (``y_true == 1``).  The pair is *concordant* when that individual has
    the higher score; a tie in score counts as half a concordant pair.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary outcomes, 1 (or True) for the event (e.g. death within 10 years).
    scores : array-like of shape (n,)
        Risk scores. **Higher means higher risk**: pass the predicted
        probability of the event, not a survival time.

    Returns
    -------
    float
        Concordant permissible pairs (ties counted ½) over all permissible pairs,
        in [0, 1]; 0.5 is chance.

    Raises
    ------
    ValueError
        If the inputs differ in length, contain NaN, ``y_true`` is not binary,
        or there is no permissible pair (all outcomes equal).

    Notes
    -----
    Computed from average ranks (the Mann-Whitney U statistic), so it takes
    O(n log n) time instead of the O(n²) double loop. It equals
    ``lifelines.utils.concordance_index(y_true, scores)`` up to float rounding:
    with all events observed and the binary outcome as the "time", lifelines
    compares exactly the pairs with different outcomes.

    Examples
    --------
    >>> cindex([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.4])
    0.875
    """
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise ValueError(
            f"y_true and scores must be 1-D of the same length; got shapes {y.shape} and {s.shape}."
        )
    if np.isnan(s).any():
        raise ValueError("scores contain NaN; impute or drop those rows before computing the c-index.")
    values = set(np.unique(y).tolist())
    if not values <= {0, 1, False, True}:
        raise ValueError(f"y_true must be binary (0/1 or bool); found values {sorted(values)[:5]}.")
    y = y.astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            "cindex needs at least one individual with the event and one without; "
            f"got {n_pos} events and {n_neg} non-events."
        )
    ranks = rankdata(s, method="average")
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))
