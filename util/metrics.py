"""Evaluation metrics: ROC/AUC for the multi-label classifier, and the
concordance index for risk scores."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


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


def get_roc_curve(labels, predicted_vals, ground_truth, *, ax=None):
    """Plot one ROC curve per label and return the AUCs.

    Parameters
    ----------
    labels : list of str
        Label names, in the column order of ``predicted_vals``.
    predicted_vals : array-like of shape (n_images, n_labels)
        Predicted probabilities, higher meaning the finding is more likely.
    ground_truth : array-like or pandas.DataFrame
        Binary truth. Either an array of the same shape as ``predicted_vals``
        (columns in ``labels`` order) or a DataFrame/generator with one column
        per label, selected by name.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new 10×10 inch figure is made when omitted.

    Returns
    -------
    list of float
        One AUC per label, ``nan`` where a label has only one class in
        ``ground_truth`` (its curve is then skipped and a note printed).

    Raises
    ------
    ValueError
        If shapes disagree, or ``ground_truth`` lacks a label column.
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    pred = np.asarray(predicted_vals, dtype=np.float64)
    truth = _truth_matrix(labels, ground_truth)
    if pred.ndim != 2 or pred.shape[1] != len(labels):
        raise ValueError(
            f"predicted_vals must have shape (n_images, {len(labels)}) to match labels; got {pred.shape}."
        )
    if truth.shape != pred.shape:
        raise ValueError(
            f"ground_truth has shape {truth.shape} but predicted_vals has shape {pred.shape}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 10))
    aucs = []
    for i, label in enumerate(labels):
        y, p = truth[:, i], pred[:, i]
        if y.min() == y.max():
            print(f"{label}: only one class present in ground truth; AUC not defined.")
            aucs.append(float("nan"))
            continue
        auc = float(roc_auc_score(y, p))
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{label} (AUC {auc:.3f})")
        aucs.append(auc)
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right")
    return aucs


def _truth_matrix(labels, ground_truth):
    """Return ground truth as an (n, n_labels) int array in ``labels`` order."""
    columns = getattr(ground_truth, "columns", None)
    if columns is not None:
        missing = [lab for lab in labels if lab not in columns]
        if missing:
            raise ValueError(f"ground_truth has no column(s) {missing}; expected one column per label.")
        return ground_truth[list(labels)].to_numpy().astype(int)
    labels_attr = getattr(ground_truth, "labels", None)  # course-style generator
    if labels_attr is not None:
        return np.asarray(labels_attr).astype(int)
    return np.asarray(ground_truth).astype(int)


# --------------------------------------------------------------------------- localization
#
# Scoring a heat map (e.g. a Grad-CAM) against the ground-truth lesion mask
# that the phantom generator draws for every finding.

#: Default pointing-game tolerance, in pixels at 320×320. Zhang et al. (2016)
#: used 15 px; here it is also about half of one conv5 cell (320 / 10 = 32 px),
#: the resolution at which DenseNet121's Grad-CAM is computed before up-sampling.
POINTING_TOLERANCE = 15


def _check_cam_mask(cam, mask):
    """Validate a (H, W) heat map and a same-shape binary mask; return float64 and bool arrays."""
    c = np.asarray(cam)
    m = np.asarray(mask)
    if c.ndim != 2:
        raise ValueError(f"cam must be a 2-D (H, W) map; got shape {c.shape}.")
    if m.shape != c.shape:
        raise ValueError(f"mask has shape {m.shape} but cam has shape {c.shape}; they must match (resize the cam to the image).")
    if not np.issubdtype(c.dtype, np.number) or np.issubdtype(c.dtype, np.complexfloating):
        raise ValueError(f"cam must be a real numeric array; got dtype {c.dtype}.")
    c = c.astype(np.float64)
    if not np.isfinite(c).all():
        raise ValueError("cam contains NaN or infinite values.")
    if m.dtype != bool:
        if not (np.issubdtype(m.dtype, np.number) and np.isin(m, (0, 1)).all()):
            raise ValueError(f"mask must be boolean (or 0/1); got dtype {m.dtype} with other values.")
        m = m.astype(bool)
    return c, m


def pointing_game(cam, mask, tolerance=POINTING_TOLERANCE):
    """Return whether a heat map's maximum points at the lesion.

    A hit is when the pixel of the map's maximum is inside ``mask`` or within
    ``tolerance`` pixels (Euclidean distance, pixel centres) of a mask pixel
    (the "pointing game" of Zhang et al., 2016).

    Parameters
    ----------
    cam : array-like of shape (H, W)
        A heat map at the image's resolution; higher means more evidence.
    mask : array-like of bool, shape (H, W)
        The finding's ground-truth region (must not be empty).
    tolerance : float, default 15
        In pixels. 15 px at 320×320 is Zhang et al.'s tolerance and about half
        a conv5 cell of DenseNet121 (32 px), the Grad-CAM's own resolution.
        ``0`` demands the maximum be inside the mask.

    Returns
    -------
    bool
        ``False`` for a map with no positive value (e.g. all zeros: it points
        nowhere). When several pixels share the maximum, the first in row-major
        order (``numpy.argmax``) is used.

    Raises
    ------
    ValueError
        Shapes differ, non-numeric or non-finite map, non-binary or empty mask,
        negative tolerance.
    """
    c, m = _check_cam_mask(cam, mask)
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be a non-negative number of pixels; got {tolerance!r}.")
    if not m.any():
        raise ValueError("mask is empty: the pointing game is only defined for images where the finding is present.")
    if c.max() <= 0:
        return False
    r, col = np.unravel_index(int(np.argmax(c)), c.shape)
    if m[r, col]:
        return True
    rows, cols = np.nonzero(m)
    d2 = (rows - r) ** 2 + (cols - col) ** 2
    return bool(d2.min() <= float(tolerance) ** 2)


def energy_pointing(cam, mask):
    """Return the share of a heat map's (non-negative) mass that lies inside the mask.

    Parameters
    ----------
    cam : array-like of shape (H, W)
        Negative values are clipped to 0 first (they are not evidence *for*
        the class).
    mask : array-like of bool, shape (H, W)

    Returns
    -------
    float
        ``sum(cam[mask]) / sum(cam)`` in [0, 1] ("energy-based pointing game",
        Wang et al., Score-CAM, 2020); 0.0 for a map with no positive value.
        Compare it with the mask's share of the image, ``mask.mean()``, which
        is what a uniform map scores.

    Raises
    ------
    ValueError
        As :func:`pointing_game` (an empty mask is allowed here and gives 0.0).
    """
    c, m = _check_cam_mask(cam, mask)
    c = np.maximum(c, 0.0)
    total = c.sum()
    if total <= 0:
        return 0.0
    return float(min(1.0, c[m].sum() / total))


def location_prior(masks):
    """Return a heat map that ignores the image: the mean of a label's lesion masks.

    Scoring this map with :func:`pointing_game` or :func:`energy_pointing` on
    held-out films gives the baseline an explanation must beat to show that it
    looks at *this* image rather than at where the finding usually is.

    Parameters
    ----------
    masks : sequence of (H, W) bool arrays
        One label's masks on the training films (all the same shape).

    Returns
    -------
    numpy.ndarray
        float64 (H, W), the share of training masks covering each pixel, in [0, 1].

    Raises
    ------
    ValueError
        No masks, masks of different shapes, or a mask that is not binary.
    """
    masks = list(masks)
    if not masks:
        raise ValueError("location_prior needs at least one mask (the label has no training films with a mask).")
    shape = np.shape(masks[0])
    total = np.zeros(shape, dtype=np.float64)
    for i, mask in enumerate(masks):
        if np.shape(mask) != shape:
            raise ValueError(f"mask {i} has shape {np.shape(mask)} but mask 0 has shape {shape}; they must match.")
        _, m = _check_cam_mask(np.zeros(shape), mask)
        total += m
    return total / len(masks)


def evaluate_localization(cams, masks, tolerance=POINTING_TOLERANCE):
    """Score many heat maps against their masks.

    Parameters
    ----------
    cams : sequence of (H, W) arrays
    masks : sequence of (H, W) bool arrays, same length as ``cams``
    tolerance : float, default 15
        Passed to :func:`pointing_game`.

    Returns
    -------
    dict
        ``n`` (pairs scored), ``pointing_game`` (share of hits) and
        ``energy`` (mean :func:`energy_pointing`); both ``nan`` when ``n == 0``.
    """
    cams = list(cams)
    masks = list(masks)
    if len(cams) != len(masks):
        raise ValueError(f"got {len(cams)} cams but {len(masks)} masks.")
    if not cams:
        return {"n": 0, "pointing_game": float("nan"), "energy": float("nan")}
    hits = [pointing_game(c, m, tolerance) for c, m in zip(cams, masks)]
    energy = [energy_pointing(c, m) for c, m in zip(cams, masks)]
    return {"n": len(cams), "pointing_game": float(np.mean(hits)), "energy": float(np.mean(energy))}
