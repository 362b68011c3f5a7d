"""The Grad-CAM acceptance rule of C3W3: is a submitted heat map the expected one?

The grader runs a student's ``grad_cam`` in a sandbox on cases it draws at grading time (a test
film, a label, a layer), computes the solution's map on the same inputs in its own process, and
asks :func:`compare_cam` whether the two agree. The rule is pure NumPy, so it needs neither
TensorFlow nor the model, and it never raises on what a submission returned: a map that is not a
map is a verdict (``ok=False`` with a reason), not a crash.

A map is accepted when

1. it is a numeric array of the reference's shape (the input image's height and width),
2. every value is finite and lies in ``[-RANGE_SLACK, 1 + RANGE_SLACK]`` (a Grad-CAM map is in
   [0, 1] after the ReLU and the division by the maximum),
3. its Pearson correlation with the reference is at least :data:`CORRELATION_MIN`, **and**
4. its mean squared difference from the reference is at most :data:`MSE_MAX`.

**Two right answers.** The notebook's post-processing applies the ReLU, then the bilinear resize;
the original course's text listed "Resize, take ReLU". The two orders are both correct Grad-CAM
maps, but they differ next to every zero crossing of the map, on the grader's layers by up to a
correlation of 0.57 (``autograder/C3W3/TOLERANCES.md``): far more than any wrong map needs to be
told apart. So the grader compares with **both**: :func:`accepted_references` makes the two maps
from the solution's raw (h, w) weighted sum, and :func:`compare_cam` accepts a map that matches
either (``reference`` of shape (2, H, W)). With one reference of shape (H, W) only the notebook's
order is accepted; the thresholds below are not meant to absorb the other one.

The thresholds come from ``python -m grading.cam_study``, which measures both statistics on the
course model for legitimate variations of the solution (logit instead of probability, float64,
TensorFlow instead of NumPy and OpenCV ops, a sum instead of a mean of the gradients, min-max
normalisation, normalising before the resize, either post-processing order) and for wrong maps
(other class, no ReLU, no averaging of the gradients, weights from the activations, empty,
blurred, shifted, another film, the course layer instead of the one asked for).

A reference map can itself be unfit for grading: all zeros (no cell speaks for the class), NaN
(the solution divided by a maximum of 0, e.g. when the sigmoid saturates and the gradient is
exactly zero) or nearly constant. :func:`reference_is_usable` says so; the grader then draws
another case instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CORRELATION_MIN",
    "MSE_MAX",
    "RANGE_SLACK",
    "REFERENCE_MIN_STD",
    "CamComparison",
    "accepted_references",
    "bilinear_resize",
    "compare_cam",
    "reference_is_usable",
]

#: Least Pearson correlation with the (closest) reference map that is accepted. Measured on 52
#: cases of the course model (autograder/C3W3/TOLERANCES.md): every legitimate variation has
#: 1 - correlation <= 3e-13 against the reference of its post-processing order; the closest wrong
#: map (the course's layer instead of the layer asked for, on conv5_block14_concat) has
#: 1 - correlation = 7.5e-4, 7.5 times the threshold's 1e-4.
CORRELATION_MIN = 0.9999

#: Largest mean squared difference from the (closest) reference that is accepted (maps in [0, 1]).
#: Measured: every legitimate variation <= 1.6e-5 (dividing by the maximum before the resize, so
#: that the resized map peaks just below 1), 6 times below. It guards what the correlation cannot
#: see, a scaled or shifted map (``0.5 * cam``, ``cam / (cam.max() + eps)`` with a large ``eps``).
MSE_MAX = 1e-4

#: Float slack allowed at both ends of [0, 1].
RANGE_SLACK = 1e-4

#: A reference whose standard deviation over the pixels is below this is nearly constant: a
#: correlation with it would mean little, and the grader draws another case. The course model's
#: references measured 0.089 and more.
REFERENCE_MIN_STD = 0.02


@dataclass(frozen=True)
class CamComparison:
    """The verdict on one submitted Grad-CAM map.

    Attributes
    ----------
    ok : bool
        Whether the map is accepted.
    mse : float
        Mean squared difference from the reference (the closest one, when several are accepted);
        NaN when the map could not be compared (not numeric, wrong shape, NaN or infinite values,
        outside [0, 1]).
    correlation : float
        Pearson correlation with that reference over all pixels (NaN as for ``mse``; 0.0 for a
        constant map, unless it equals a constant reference).
    reason : str
        Empty when ``ok``; otherwise one sentence for the student saying what is wrong. It never
        names the film, the label or the layer of the case.
    """

    ok: bool
    mse: float
    correlation: float
    reason: str = ""


# --------------------------------------------------------------------------- references


def bilinear_resize(cam, height, width):
    """Resize a 2-D map bilinearly, as ``cv2.resize(cam, (width, height), interpolation=cv2.INTER_LINEAR)``.

    Pixel centres are aligned (``x_src = (x + 0.5) * w / width - 0.5``) and the border is
    replicated, as OpenCV does; computed in float64.

    Parameters
    ----------
    cam : array-like of shape (h, w)
    height, width : int

    Returns
    -------
    numpy.ndarray of float64, shape (height, width)
    """
    c = np.asarray(cam, dtype=np.float64)
    if c.ndim != 2 or c.size == 0:
        raise ValueError(f"cam must be a non-empty 2-D map; got shape {c.shape}.")

    def axis(n_out, n_in):
        x = (np.arange(int(n_out)) + 0.5) * (n_in / int(n_out)) - 0.5
        lo = np.floor(x)
        frac = x - lo
        lo = lo.astype(int)
        frac = np.where(lo < 0, 0.0, frac)
        lo = np.clip(lo, 0, n_in - 1)
        frac = np.where(lo >= n_in - 1, 0.0, frac)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, frac

    y0, y1, fy = axis(height, c.shape[0])
    x0, x1, fx = axis(width, c.shape[1])
    rows = c[y0] * (1.0 - fy)[:, None] + c[y1] * fy[:, None]
    return rows[:, x0] * (1.0 - fx)[None, :] + rows[:, x1] * fx[None, :]


def _max_normalized(cam):
    with np.errstate(invalid="ignore", divide="ignore"):
        return cam / cam.max()


def accepted_references(raw_cam, height, width):
    """The two right maps of a case, from the solution's raw (pre-ReLU) weighted sum.

    Parameters
    ----------
    raw_cam : array-like of shape (h, w)
        ``np.dot(activations, weights)`` of the solution: the map before the post-processing.
    height, width : int
        The input image's size.

    Returns
    -------
    numpy.ndarray of float64, shape (2, height, width)
        ``[0]``: ReLU, bilinear resize, divide by the maximum (the notebook's order; equal to the
        solution's ``grad_cam`` to float32 rounding); ``[1]``: bilinear resize, ReLU, divide by the
        maximum (the order of the original course's text). Pass both to :func:`compare_cam`.
        A map with no positive value is NaN (0 / 0), as the solution's;
        :func:`reference_is_usable` rejects it.
    """
    raw = np.asarray(raw_cam, dtype=np.float64)
    relu_first = _max_normalized(bilinear_resize(np.maximum(raw, 0.0), height, width))
    resize_first = _max_normalized(np.maximum(bilinear_resize(raw, height, width), 0.0))
    return np.stack([relu_first, resize_first])


def _as_references(reference):
    ref = np.asarray(reference)
    if ref.dtype.kind not in "biuf" or ref.size == 0 or ref.ndim not in (2, 3):
        raise ValueError(f"reference must be a numeric (H, W) map or a (k, H, W) stack of maps; "
                         f"got shape {ref.shape}, dtype {ref.dtype}.")
    ref = ref.astype(np.float64)
    return ref[None] if ref.ndim == 2 else ref


def reference_is_usable(reference):
    """Whether a reference can grade a submission; if not, the grader draws another case.

    Parameters
    ----------
    reference : array-like of shape (H, W) or (k, H, W)
        The solution's map for one case, or the accepted maps of :func:`accepted_references`
        (usable only if every one is).

    Returns
    -------
    bool
        False when the map is not a non-empty numeric (H, W) or (k, H, W) array, has NaN or
        infinite values (the solution divided by a maximum of 0), lies outside [0, 1] (up to
        :data:`RANGE_SLACK`), has no positive value (nothing speaks for the class, or the sigmoid
        saturated and the gradient is exactly 0), or is nearly constant (standard deviation below
        :data:`REFERENCE_MIN_STD`: a correlation with it would mean little). Never raises.
    """
    try:
        refs = _as_references(reference)
    except Exception:
        return False
    if not np.isfinite(refs).all():
        return False
    for ref in refs:
        lo, hi = float(ref.min()), float(ref.max())
        if lo < -RANGE_SLACK or hi > 1.0 + RANGE_SLACK or hi <= 0.0 or float(ref.std()) < REFERENCE_MIN_STD:
            return False
    return True


# --------------------------------------------------------------------------- comparing


def _reject(reason):
    return CamComparison(ok=False, mse=math.nan, correlation=math.nan, reason=reason)


def _as_numeric(cam):
    """``(array, None)`` for a numeric array-like, ``(None, reason)`` otherwise. Never raises."""
    if cam is None:
        return None, "grad_cam returned None; return the heat map (a NumPy array)."
    try:
        arr = np.asarray(cam)
    except Exception as err:  # ragged lists, objects whose __array__ fails, ...
        return None, f"the result cannot be read as an array ({type(err).__name__})."
    kind = arr.dtype.kind
    if kind == "c":
        return None, "the map has complex values; a Grad-CAM map is real-valued."
    if kind == "O":
        try:
            arr = arr.astype(np.float64)
        except Exception:
            return None, "the result is not a numeric array."
        kind = "f"
    if kind not in "biuf":
        return None, f"the result is not a numeric array (dtype {arr.dtype})."
    return arr, None


def _shape_reason(shape, expected):
    shape, expected = tuple(shape), tuple(expected)
    hint = ""
    if len(shape) == 3 and shape[0] == 1 and shape[1:] == expected:
        hint = " Drop the batch axis (e.g. cam[0])."
    elif len(shape) == 3 and shape[-1] == 1 and shape[:2] == expected:
        hint = " Drop the channel axis (e.g. cam[..., 0])."
    elif len(shape) == 2 and shape[::-1] == expected:
        hint = " Height and width are swapped: cv2.resize takes (width, height)."
    elif len(shape) == 2 and all(s < e for s, e in zip(shape, expected)):
        hint = " Resize the map to the input image's height and width."
    return (f"expected a map of shape {expected} (the input image's height and width); "
            f"got shape {shape}.{hint}")


def map_statistics(c, ref):
    """``(mse, correlation)`` of two finite float64 maps of one shape."""
    diff = c - ref
    mse = float(np.mean(diff * diff))
    cc = c - c.mean()
    rc = ref - ref.mean()
    ss_c, ss_r = float(np.sum(cc * cc)), float(np.sum(rc * rc))
    denom = math.sqrt(ss_c * ss_r)
    if denom == 0.0 or not math.isfinite(denom):
        # a constant map has no correlation with anything; a constant map equal to a constant
        # reference is that reference
        corr = 1.0 if (ss_c == 0.0 and ss_r == 0.0 and mse <= MSE_MAX) else 0.0
    else:
        corr = max(-1.0, min(1.0, float(np.sum(cc * rc)) / denom))
    return mse, corr


def compare_cam(cam, reference):
    """Compare a submitted Grad-CAM map with the solution's map(s) on the same case.

    Parameters
    ----------
    cam : array-like
        What the submission's ``grad_cam`` returned: anything at all (a NumPy array, a tensor,
        a list, None, ...). It is never modified.
    reference : array-like of shape (H, W) or (k, H, W)
        The solution's map for the same model, image, class and layer, in [0, 1]; or k accepted
        maps (e.g. both post-processing orders from :func:`accepted_references`), of which ``cam``
        must match one. Check it with :func:`reference_is_usable` first.

    Returns
    -------
    CamComparison
        ``ok`` is True when ``cam`` has shape (H, W), is finite, lies in [0, 1] (up to
        :data:`RANGE_SLACK`), and has correlation >= :data:`CORRELATION_MIN` and mean squared
        error <= :data:`MSE_MAX` with one of the references. ``mse`` and ``correlation`` are those
        of the closest reference (the highest correlation). Otherwise ``reason`` says why, in one
        sentence for the student that names neither the image, nor the label, nor the layer.

    Raises
    ------
    ValueError
        Only if ``reference`` is not a numeric (H, W) map or (k, H, W) stack (a fault of the
        grader, not of the submission). A bad ``cam`` never raises.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.outer(np.hanning(8), np.hanning(8))
    >>> compare_cam(ref.astype(np.float32), ref).ok
    True
    >>> compare_cam(np.zeros((8, 8)), ref).reason
    'the map differs from the expected map (correlation 0.0000, must be at least 0.9999; mean squared error 0.1077, must be at most 0.0001).'
    """
    refs = _as_references(reference)
    arr, reason = _as_numeric(cam)
    if reason:
        return _reject(reason)
    if tuple(arr.shape) != refs.shape[1:]:
        return _reject(_shape_reason(arr.shape, refs.shape[1:]))
    c = arr.astype(np.float64)
    if not np.isfinite(c).all():
        return _reject("the map contains NaN or infinite values (a division by a maximum of 0?).")
    lo, hi = float(c.min()), float(c.max())
    if lo < -RANGE_SLACK or hi > 1.0 + RANGE_SLACK:
        return _reject(f"a Grad-CAM map lies in [0, 1] (ReLU, then divide by the maximum); "
                       f"got values in [{lo:.3g}, {hi:.3g}].")
    stats = [map_statistics(c, ref) for ref in refs]
    for mse, corr in stats:
        if corr >= CORRELATION_MIN and mse <= MSE_MAX:
            return CamComparison(ok=True, mse=mse, correlation=corr, reason="")
    mse, corr = max(stats, key=lambda s: s[1])
    return CamComparison(
        ok=False, mse=mse, correlation=corr,
        reason=(f"the map differs from the expected map (correlation {corr:.4f}, must be at least "
                f"{CORRELATION_MIN:g}; mean squared error {mse:.4f}, must be at most {MSE_MAX:g})."),
    )
