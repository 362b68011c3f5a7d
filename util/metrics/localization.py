"""Evaluation metrics: ROC/AUC for the multi-label classifier, and the
concordance index for risk scores."""

from __future__ import annotations

import numpy as np

__all__ = [
    "POINTING_TOLERANCE",
    "energy_pointing",
    "evaluate_localization",
    "location_prior",
    "pointing_game",
]


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
