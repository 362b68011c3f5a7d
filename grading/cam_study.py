"""Measure how far right and wrong Grad-CAM maps lie from the solution's, on the course model.

Run ``python -m grading.cam_study`` (about 6 minutes on two CPU cores) to re-derive the
thresholds of :mod:`grading.cam_compare` after the course model or the case pool changes. It draws
a seeded sample of cases (test film x label x layer) from the grader's pool, computes the
solution's map for each, and compares it with

* **legitimate variations** of the solution (:data:`LEGITIMATE`): what a correct answer may
  differ by (the class score as a logit instead of the sigmoid probability, the ReLU after the
  resize, float64, TensorFlow ops instead of NumPy and OpenCV, a sum instead of a mean of the
  gradients, min-max instead of max normalisation, ...);
* **wrong maps** (:data:`WRONG`): other class, no ReLU, no averaging of the gradients, weights
  from the activations, empty, blurred, shifted, another film, the course layer instead of the
  layer asked for;
* a few maps that are neither (:data:`INFORMATIONAL`), reported for the record.

For each kind it prints the distribution (min / median / max) of the Pearson correlation and the
mean squared error with the reference, and the margin between the worst legitimate and the best
wrong map. ``autograder/C3W3/TOLERANCES.md`` keeps the tables.

The variants are small functions of a :class:`CamCase` (the activations and gradients of one case,
computed once), so that ``tests/grading/test_cam_compare.py`` reuses them on a few cases.

Everything here is instructor-only (it lives in :mod:`grading`, not in the student library).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from grading.cam_compare import (
    CORRELATION_MIN,
    MSE_MAX,
    RANGE_SLACK,
    map_statistics,
    accepted_references,
    compare_cam,
    reference_is_usable,
)
from util.config.course import LABELS

__all__ = [
    "COURSE_LAYER",
    "INFORMATIONAL",
    "LEGITIMATE",
    "POOL_LAYERS",
    "WRONG",
    "CamCase",
    "cam_statistics",
    "compute_cases",
    "course_inputs",
    "draw_pairs",
    "load_films",
    "main",
    "margins",
    "onednn_check",
    "solution_cam",
    "summarize",
]

#: The layer the course explains, and the grader's layer pool (one home: grading/c3w3.py): the course
#: layer and the outputs of the dense blocks 4..15 of DenseNet121's last stage, all 10x10 at 320 px.
from grading.c3w3 import COURSE_LAYER, LAYER_POOL as POOL_LAYERS

#: Seed of the study's sample of cases.
DEFAULT_SEED = 20261201


# --------------------------------------------------------------------------- one case


@dataclass
class CamCase:
    """The activations and gradients of one case (film, class, layer), computed once.

    Attributes
    ----------
    film, other_film : str
        The case's test film and another film explained for the same class and layer.
    class_index, other_class : int
        The class explained and another class (for the "other class" wrong map).
    layer : str
    size : tuple of int
        The input's (H, W).
    acts : numpy.ndarray (h, w, c), float32
        The layer's activations.
    grads : numpy.ndarray (h, w, c), float32
        Gradient of the model's output (sigmoid probability) for ``class_index``: the solution's.
    grads_logit : numpy.ndarray (h, w, c), float32
        Gradient of the logit (the Dense layer's pre-activation) for ``class_index``.
    grads_other_class : numpy.ndarray (h, w, c), float32
        Gradient of the output for ``other_class``.
    course_acts, course_grads : numpy.ndarray (10, 10, 1024), float32
        Activations and output gradient for ``class_index`` at :data:`COURSE_LAYER`.
    probability : float
        The model's output for ``class_index``.
    other_film_reference : numpy.ndarray (H, W) or None
        The solution's map of ``other_film`` (same class and layer).
    shift_direction : tuple of int
        A unit step (dy, dx) for the "shifted" wrong maps.
    """

    film: str
    other_film: str
    class_index: int
    other_class: int
    layer: str
    size: tuple
    acts: np.ndarray
    grads: np.ndarray
    grads_logit: np.ndarray
    grads_other_class: np.ndarray
    course_acts: np.ndarray
    course_grads: np.ndarray
    probability: float
    other_film_reference: np.ndarray | None = None
    shift_direction: tuple = (0, 1)
    _reference: np.ndarray | None = field(default=None, repr=False)

    @property
    def label(self):
        return LABELS[self.class_index]

    @property
    def reference(self):
        """The solution's map (:func:`solution_cam` of ``acts`` and ``grads``)."""
        if self._reference is None:
            self._reference = solution_cam(self.acts, self.grads, *self.size)
        return self._reference

    @property
    def raw(self):
        """The solution's weighted sum before the post-processing, shape (h, w)."""
        return np.dot(self.acts, np.mean(self.grads, axis=(0, 1)))

    @property
    def references(self):
        """Both accepted maps (:func:`grading.cam_compare.accepted_references`), shape (2, H, W)."""
        return accepted_references(self.raw, *self.size)


def _post(cam, H, W):
    """The notebook's given post-processing: ReLU, bilinear resize to (H, W), divide by the maximum."""
    import cv2

    cam = np.maximum(cam, 0)
    cam = cv2.resize(cam, (W, H), interpolation=cv2.INTER_LINEAR)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cam / cam.max()


def solution_cam(acts, grads, H, W):
    """The solution's map, written as the notebook's solution cell computes it.

    ``np.mean`` of the gradients over the spatial axes, ``np.dot`` with the activations, then the
    given post-processing (ReLU, ``cv2.resize(..., interpolation=cv2.INTER_LINEAR)``, divide by the
    maximum). A map with no positive cell is NaN (0 / 0), as the solution's.
    """
    weights = np.mean(grads, axis=(0, 1))
    return _post(np.dot(acts, weights), H, W)


def cam_statistics(cam, reference):
    """``(mse, correlation)`` of a map against a reference, as ``compare_cam`` computes them."""
    return map_statistics(np.asarray(cam, dtype=np.float64), np.asarray(reference, dtype=np.float64))


def _max_normalized(cam):
    top = float(np.max(cam))
    return cam / top if top > 0 else np.zeros_like(cam)


# --------------------------------------------------------------------------- legitimate variations


def logit_score(case):
    """The class score differentiated is the logit, not the sigmoid probability."""
    return solution_cam(case.acts, case.grads_logit, *case.size)


def relu_after_resize(case):
    """Resize first, then ReLU: the order the course's text lists ("Resize, take ReLU").

    The course's code, this notebook's given post-processing and util.explain.gradcam apply the ReLU first.
    """
    import cv2

    H, W = case.size
    cam = np.dot(case.acts, np.mean(case.grads, axis=(0, 1)))
    cam = cv2.resize(cam, (W, H), interpolation=cv2.INTER_LINEAR)
    cam = np.maximum(cam, 0)
    return cam / cam.max()


def float64_throughout(case):
    """Activations and gradients cast to float64 before any arithmetic."""
    return solution_cam(case.acts.astype(np.float64), case.grads.astype(np.float64), *case.size)


def tensorflow_ops(case):
    """``tf.reduce_mean``, ``tf.reduce_sum``, ``tf.nn.relu``, ``tf.image.resize`` (bilinear), ``tf.reduce_max``."""
    import tensorflow as tf

    H, W = case.size
    acts = tf.constant(case.acts)
    weights = tf.reduce_mean(tf.constant(case.grads), axis=(0, 1))
    cam = tf.reduce_sum(acts * weights, axis=-1)
    cam = tf.nn.relu(cam)
    cam = tf.image.resize(cam[..., None], (H, W), method="bilinear")[..., 0]
    return (cam / tf.reduce_max(cam)).numpy()


def tensorflow_weights_numpy_rest(case):
    """Weights and sum with ``tf.tensordot``, post-processing with NumPy and OpenCV."""
    import tensorflow as tf

    weights = tf.reduce_mean(tf.constant(case.grads), axis=[0, 1])
    cam = tf.tensordot(tf.constant(case.acts), weights, axes=1).numpy()
    return _post(cam, *case.size)


def sum_of_gradients(case):
    """``np.sum`` instead of ``np.mean`` of the gradients: the weights scale by h*w, the map not."""
    return _post(np.dot(case.acts, np.sum(case.grads, axis=(0, 1))), *case.size)


def normalized_before_resize(case):
    """ReLU, divide by the maximum, then resize (the resized map's maximum is then just below 1)."""
    import cv2

    H, W = case.size
    cam = np.maximum(np.dot(case.acts, np.mean(case.grads, axis=(0, 1))), 0)
    cam = cam / cam.max()
    return cv2.resize(cam, (W, H), interpolation=cv2.INTER_LINEAR)


def min_max_normalized(case):
    """ReLU, resize, then ``(cam - min) / (max - min)`` as pytorch-grad-cam scales maps."""
    import cv2

    H, W = case.size
    cam = np.maximum(np.dot(case.acts, np.mean(case.grads, axis=(0, 1))), 0)
    cam = cv2.resize(cam, (W, H), interpolation=cv2.INTER_LINEAR)
    return (cam - cam.min()) / (cam.max() - cam.min())


def logit_relu_after_resize(case):
    """Both at once: the logit's gradients, and the ReLU after the resize."""
    import cv2

    H, W = case.size
    cam = np.dot(case.acts, np.mean(case.grads_logit, axis=(0, 1)))
    cam = np.maximum(cv2.resize(cam, (W, H), interpolation=cv2.INTER_LINEAR), 0)
    return cam / cam.max()


#: Legitimate variations of the solution: name -> function of a :class:`CamCase`.
LEGITIMATE = {
    "logit instead of probability": logit_score,
    "ReLU after the resize": relu_after_resize,
    "float64 throughout": float64_throughout,
    "TensorFlow ops (mean, sum, ReLU, tf.image.resize)": tensorflow_ops,
    "tf.tensordot weights, NumPy/OpenCV rest": tensorflow_weights_numpy_rest,
    "sum instead of mean of gradients": sum_of_gradients,
    "divided by the maximum before the resize": normalized_before_resize,
    "min-max instead of max normalisation": min_max_normalized,
    "logit and ReLU after the resize": logit_relu_after_resize,
}


# --------------------------------------------------------------------------- wrong maps


def other_class(case):
    """The map of another class (same film, same layer)."""
    return solution_cam(case.acts, case.grads_other_class, *case.size)


def _raw_resized(case):
    import cv2

    H, W = case.size
    cam = np.dot(case.acts, np.mean(case.grads, axis=(0, 1)))
    return cv2.resize(cam, (W, H), interpolation=cv2.INTER_LINEAR)


def no_relu_min_max(case):
    """No ReLU; min-max scaled to [0, 1] (what a student does to pass the range check)."""
    cam = _raw_resized(case)
    return (cam - cam.min()) / (cam.max() - cam.min())


def no_relu_abs(case):
    """No ReLU; ``|cam| / max |cam|``."""
    cam = np.abs(_raw_resized(case))
    return cam / cam.max()


def no_relu_divided_by_max(case):
    """No ReLU; divided by the maximum (negative values remain: the range check rejects it)."""
    cam = _raw_resized(case)
    return cam / cam.max()


def no_averaging(case):
    """No averaging of the gradients: ``sum_c grads * acts`` elementwise."""
    return _post(np.sum(case.grads * case.acts, axis=-1), *case.size)


def weights_from_activations(case):
    """Channel weights from the activations' spatial mean instead of the gradients'."""
    return _post(np.dot(case.acts, np.mean(case.acts, axis=(0, 1))), *case.size)


def empty_map(case):
    """All zeros."""
    return np.zeros(case.size, dtype=np.float32)


def blurred(case, sigma=30.0):
    """The right map blurred with a Gaussian of ``sigma`` px, divided by its maximum."""
    from scipy.ndimage import gaussian_filter

    return _max_normalized(gaussian_filter(case.reference.astype(np.float64), sigma=sigma, mode="nearest"))


def shifted(case, pixels=32):
    """The right map moved by ``pixels`` along ``case.shift_direction``, zero-filled, divided by its maximum.

    32 px is one cell of the 10x10 grid at 320 px.
    """
    dy, dx = (int(d) * int(pixels) for d in case.shift_direction)
    ref = case.reference
    out = np.zeros_like(ref)
    H, W = ref.shape
    src_y = slice(max(0, -dy), H - max(0, dy))
    dst_y = slice(max(0, dy), H - max(0, -dy))
    src_x = slice(max(0, -dx), W - max(0, dx))
    dst_x = slice(max(0, dx), W - max(0, -dx))
    out[dst_y, dst_x] = ref[src_y, src_x]
    return _max_normalized(out)


def other_film(case):
    """The map of another film for the same class and layer."""
    return case.other_film_reference


def course_layer_instead(case):
    """The map at the course's layer (``layer_name`` ignored); not applicable at the course layer."""
    if case.layer == COURSE_LAYER:
        return None
    return solution_cam(case.course_acts, case.course_grads, *case.size)


#: Wrong maps: name -> function of a :class:`CamCase` (None when not applicable to the case).
WRONG = {
    "other class": other_class,
    "no ReLU, min-max scaled": no_relu_min_max,
    "no ReLU, |cam| / max|cam|": no_relu_abs,
    "no ReLU, divided by the max": no_relu_divided_by_max,
    "no averaging (sum of grads * acts)": no_averaging,
    "weights from activations": weights_from_activations,
    "empty (zeros)": empty_map,
    "blurred (Gaussian, sigma 30 px)": blurred,
    "shifted 32 px (1 cell)": lambda case: shifted(case, 32),
    "shifted 64 px (2 cells)": lambda case: shifted(case, 64),
    "other film, same label and layer": other_film,
    "course layer instead of the one asked": course_layer_instead,
}


def no_relu_clipped(case):
    """No ReLU, but ``np.clip(cam / cam.max(), 0, 1)``: the same map as the ReLU (when max > 0)."""
    cam = _raw_resized(case)
    return np.clip(cam / cam.max(), 0, 1)


def nearest_resize(case):
    """Nearest-neighbour instead of bilinear resize (not what the notebook's given code does)."""
    import cv2

    H, W = case.size
    cam = np.maximum(np.dot(case.acts, np.mean(case.grads, axis=(0, 1))), 0)
    cam = cv2.resize(cam, (W, H), interpolation=cv2.INTER_NEAREST)
    return cam / cam.max()


def blurred_sigma_15(case):
    """A milder blur (sigma 15 px): how close a smoothed map comes."""
    return blurred(case, 15.0)


def scipy_zoom(case):
    """``scipy.ndimage.zoom(order=1)`` instead of cv2: corner-aligned grid, not pixel centres."""
    from scipy.ndimage import zoom

    H, W = case.size
    cam = np.maximum(np.dot(case.acts, np.mean(case.grads, axis=(0, 1))), 0)
    cam = zoom(cam, (H / cam.shape[0], W / cam.shape[1]), order=1)
    return cam / cam.max()


def pil_bilinear(case):
    """``PIL.Image.resize(..., BILINEAR)`` on the float map (as some course forks did)."""
    from PIL import Image

    H, W = case.size
    cam = np.maximum(np.dot(case.acts, np.mean(case.grads, axis=(0, 1))), 0).astype(np.float32)
    cam = np.asarray(Image.fromarray(cam, mode="F").resize((W, H), Image.BILINEAR))
    return cam / cam.max()


def epsilon_normalized(case, eps=1e-7):
    """``cam / (cam.max() + eps)``: a defensive epsilon, harmless only if the map's scale dwarfs it."""
    import cv2

    H, W = case.size
    cam = np.maximum(np.dot(case.acts, np.mean(case.grads, axis=(0, 1))), 0)
    cam = cv2.resize(cam, (W, H), interpolation=cv2.INTER_LINEAR)
    return cam / (cam.max() + eps)


#: Neither right nor wrong by the notebook's text, measured for the record.
INFORMATIONAL = {
    "scipy.ndimage.zoom (order 1)": scipy_zoom,
    "PIL bilinear resize": pil_bilinear,
    "divided by (max + 1e-7)": epsilon_normalized,
    "no ReLU, clipped to [0, 1] after /max (= ReLU)": no_relu_clipped,
    "nearest-neighbour resize": nearest_resize,
    "blurred (Gaussian, sigma 15 px)": blurred_sigma_15,
}


# --------------------------------------------------------------------------- computing cases


@lru_cache(maxsize=1)
def course_inputs():
    """``(model, mean, std, test split, image folder)``, as ``grading.c3w3.course_model`` and
    ``grading.c3w3.course_normalization`` give them."""
    from util.data.chestxray import ensure_chestxray_data, load_split
    from util.data.images import get_mean_std_per_batch
    from util.models.densenet import load_C3M3_model

    folder = ensure_chestxray_data() / "images"
    mean, std = get_mean_std_per_batch(folder, load_split("train"))
    return load_C3M3_model(), mean, std, load_split("test"), folder


def load_films(names):
    """The named test films, normalised as the notebook does: shape (n, 320, 320, 3)."""
    from util.data.images import load_image_normalize

    _, mean, std, _, folder = course_inputs()
    return np.concatenate([load_image_normalize(folder / name, mean, std) for name in names])


_MODELS = {}


def _case_model(model, layer):
    """``keras.Model(inputs, [layer, course layer, features, output])``, cached per layer."""
    import keras

    key = (id(model), layer)
    if key not in _MODELS:
        outputs = [model.get_layer(layer).output, model.get_layer(COURSE_LAYER).output,
                   model.layers[-1].input, model.outputs[0]]
        _MODELS[key] = keras.Model(model.inputs[0], outputs)
    return _MODELS[key]


def compute_cases(model, images, films, layer, class_index, other_class, rng=None):
    """Compute the :class:`CamCase` of each film (batched: one forward and three backward passes).

    Parameters
    ----------
    model : keras.Model
        The course model (Dense head ``predictions`` with a sigmoid).
    images : numpy.ndarray (n, H, W, 3)
        Preprocessed films (n >= 2: each film's "other film" is the next one, cyclically).
    films : list of str
        Their names.
    layer : str
    class_index, other_class : int
    rng : numpy.random.Generator, optional
        Draws each case's shift direction (default: one cell to the right).

    Returns
    -------
    list of CamCase
    """
    import tensorflow as tf

    head = model.layers[-1]
    case_model = _case_model(model, layer)
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    with tf.GradientTape(persistent=True) as tape:
        acts, course_acts, features, probs = case_model(x, training=False)
        logits = tf.matmul(features, head.kernel) + head.bias
        score = tf.reduce_sum(probs[:, class_index])  # images are independent in inference mode
        score_logit = tf.reduce_sum(logits[:, class_index])
        score_other = tf.reduce_sum(probs[:, other_class])
    grads, course_grads = tape.gradient(score, [acts, course_acts])
    grads_logit = tape.gradient(score_logit, acts)
    grads_other = tape.gradient(score_other, acts)
    del tape
    H, W = int(x.shape[1]), int(x.shape[2])
    directions = [(0, 1), (0, -1), (1, 0), (-1, 0)]
    cases = []
    for i, film in enumerate(films):
        d = directions[int(rng.integers(4))] if rng is not None else (0, 1)
        cases.append(CamCase(
            film=film, other_film=films[(i + 1) % len(films)], class_index=int(class_index),
            other_class=int(other_class), layer=layer, size=(H, W),
            acts=acts[i].numpy(), grads=grads[i].numpy(), grads_logit=grads_logit[i].numpy(),
            grads_other_class=grads_other[i].numpy(), course_acts=course_acts[i].numpy(),
            course_grads=course_grads[i].numpy(), probability=float(probs[i, class_index]),
            shift_direction=d,
        ))
    for i, case in enumerate(cases):
        case.other_film_reference = cases[(i + 1) % len(cases)].reference
    return cases


def draw_pairs(rng, films, layers=POOL_LAYERS, pairs_per_layer=2):
    """A seeded sample of (layer, class, other class, (film a, film b)), ``pairs_per_layer`` per layer."""
    out = []
    for layer in layers:
        for _ in range(pairs_per_layer):
            pair = tuple(str(f) for f in rng.choice(np.asarray(films), size=2, replace=False))
            k = int(rng.integers(len(LABELS)))
            others = [j for j in range(len(LABELS)) if j != k]
            out.append((layer, k, int(others[int(rng.integers(len(others)))]), pair))
    return out


# --------------------------------------------------------------------------- the study


def _measure(case):
    """One row per kind of map for a case whose references are usable.

    ``mse``/``correlation``: against the closest of both accepted maps (the rule as the grader
    applies it); ``mse_single``/``correlation_single``: against the notebook's order only.
    """
    refs = case.references
    rows = []
    for group, kinds in (("legitimate", LEGITIMATE), ("wrong", WRONG), ("informational", INFORMATIONAL)):
        for kind, fn in kinds.items():
            with np.errstate(invalid="ignore", divide="ignore"):
                cam = fn(case)
            if cam is None:
                continue
            cam = np.asarray(cam)
            finite = bool(np.isfinite(cam).all())
            in_range = finite and cam.min() >= -RANGE_SLACK and cam.max() <= 1 + RANGE_SLACK
            stats = [cam_statistics(np.nan_to_num(cam), ref) for ref in refs]
            mse, corr = max(stats, key=lambda st: st[1])
            rows.append({"group": group, "kind": kind, "mse": mse, "correlation": corr,
                         "mse_single": stats[0][0], "correlation_single": stats[0][1],
                         "in_range": bool(in_range), "finite": finite,
                         "accepted": compare_cam(cam, refs).ok, "accepted_single": compare_cam(cam, refs[0]).ok})
    return rows


def _solution_check(model, case, image):
    """Largest |difference| between the notebook's solution ``grad_cam`` (one image) and the study's reference."""
    from grading import get_assignment
    from grading.core import solution_namespace

    ns = solution_namespace(get_assignment("C3W3"))
    cam = ns["grad_cam"](model, image[None], case.class_index, case.layer)
    return float(np.max(np.abs(np.asarray(cam, np.float64) - case.reference)))


_ONEDNN_SCRIPT = """
import sys, numpy as np
from grading.cam_study import COURSE_LAYER, compute_cases, course_inputs, load_films
film, layer, k, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
(case,) = compute_cases(course_inputs()[0], load_films([film]), [film], layer, k, (k + 1) % 14)
np.save(out, case.reference)
"""


def onednn_check(case):
    """``(mse, correlation)`` of the case's reference computed in a process with oneDNN on (batch of 1)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ref.npy")
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="3")
        subprocess.run([sys.executable, "-c", _ONEDNN_SCRIPT, case.film, case.layer, str(case.class_index), out],
                       check=True, env=env, stderr=subprocess.DEVNULL)
        return cam_statistics(np.load(out), case.reference)


def _quantiles(values):
    v = np.asarray(values, dtype=np.float64)
    return float(v.min()), float(np.median(v)), float(v.max())


def summarize(rows):
    """Per (group, kind): n, min / median / max of the statistics, and how many maps are in range and accepted."""
    out = []
    for group, kind in dict.fromkeys((r["group"], r["kind"]) for r in rows):
        sel = [r for r in rows if r["group"] == group and r["kind"] == kind]
        out.append({
            "group": group, "kind": kind, "n": len(sel),
            "correlation": _quantiles([r["correlation"] for r in sel]),
            "mse": _quantiles([r["mse"] for r in sel]),
            "correlation_single": _quantiles([r["correlation_single"] for r in sel]),
            "mse_single": _quantiles([r["mse_single"] for r in sel]),
            "in_range": sum(r["in_range"] for r in sel),
            "accepted": sum(r["accepted"] for r in sel),
            "accepted_single": sum(r["accepted_single"] for r in sel),
        })
    return out


def margins(rows, suffix=""):
    """The worst legitimate and the best wrong statistics; wrong maps that the range check passes only.

    ``suffix=""``: against both accepted maps; ``"_single"``: against the notebook's order only.
    """
    c, m = "correlation" + suffix, "mse" + suffix
    legit = [r for r in rows if r["group"] == "legitimate"]
    wrong = [r for r in rows if r["group"] == "wrong" and r["in_range"]]
    worst_c = min(legit, key=lambda r: r[c])
    worst_m = max(legit, key=lambda r: r[m])
    best_c = max(wrong, key=lambda r: r[c])
    best_m = min(wrong, key=lambda r: r[m])
    return {
        "worst legitimate 1 - correlation": (1 - worst_c[c], worst_c["kind"], worst_c["layer"]),
        "worst legitimate MSE": (worst_m[m], worst_m["kind"], worst_m["layer"]),
        "best wrong 1 - correlation": (1 - best_c[c], best_c["kind"], best_c["layer"]),
        "best wrong MSE": (best_m[m], best_m["kind"], best_m["layer"]),
        "legitimate rejected": sum(not r["accepted" + suffix] for r in legit),
        "wrong accepted": sum(r["accepted" + suffix] for r in rows if r["group"] == "wrong"),
    }


def _fmt(x):
    if x == 0:
        return "0"
    return f"{x:.2e}" if abs(x) < 1e-3 else f"{x:.4f}"


def _fmt_corr(x):
    """Correlations near 1 as 1 - r, so that the digits that matter show."""
    return f"1-{1 - x:.1e}" if 0.9999 <= x < 1 else ("1" if x == 1 else f"{x:.4f}")


def markdown_tables(summary, suffix=""):
    """The summary as a Markdown table (``suffix="_single"``: against the notebook's order only)."""
    lines = ["| group | kind | n | correlation min / median / max | MSE min / median / max | in [0, 1] | accepted |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in summary:
        c = " / ".join(_fmt_corr(v) for v in s["correlation" + suffix])
        m = " / ".join(_fmt(v) for v in s["mse" + suffix])
        kind = s["kind"].replace("|", "\\|")
        lines.append(f"| {s['group']} | {kind} | {s['n']} | {c} | {m} | {s['in_range']} "
                     f"| {s['accepted' + suffix]} |")
    return "\n".join(lines)


def per_layer_table(cases_info, rows):
    """Per layer: cases, unusable references, reference std, the order effect, the course layer's closeness."""
    lines = ["| layer | cases | unusable | reference std min | ReLU after resize vs notebook order: corr min "
             "| course layer instead: corr max | best other wrong map: corr max |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for layer in dict.fromkeys(c["layer"] for c in cases_info):
        infos = [c for c in cases_info if c["layer"] == layer]
        usable = [c for c in infos if c["usable"]]
        here = [r for r in rows if r["layer"] == layer]
        order = [r["correlation_single"] for r in here if r["kind"] == "ReLU after the resize"]
        course = [r["correlation"] for r in here if r["kind"] == "course layer instead of the one asked"]
        other = [r["correlation"] for r in here if r["group"] == "wrong" and r["in_range"]
                 and r["kind"] != "course layer instead of the one asked"]
        std = min((c["reference_std"] for c in usable), default=float("nan"))
        lines.append(f"| {layer} | {len(infos)} | {len(infos) - len(usable)} | {std:.3f} "
                     f"| {_fmt_corr(min(order)) if order else '-'} | {_fmt_corr(max(course)) if course else '-'} "
                     f"| {_fmt_corr(max(other)) if other else '-'} |")
    return "\n".join(lines)


def main(argv=None):
    """Run the study; print the tables (Markdown) and optionally write every row as JSON."""
    parser = argparse.ArgumentParser(prog="python -m grading.cam_study", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--pairs-per-layer", type=int, default=2,
                        help="pairs of films per pool layer (each pair gives two cases); default 2")
    parser.add_argument("--layers", nargs="*", default=list(POOL_LAYERS))
    parser.add_argument("--no-onednn", action="store_true", help="skip the oneDNN-on cross-check (one subprocess)")
    parser.add_argument("--json", help="write every measured row and the summary to this file")
    args = parser.parse_args(argv)

    started = time.time()
    model, _, _, test_df, _ = course_inputs()
    rng = np.random.default_rng(args.seed)
    pairs = draw_pairs(rng, list(test_df["Image"]), args.layers, args.pairs_per_layer)
    rows, cases_info, solution_diff, onednn = [], [], None, None
    for n, (layer, k, k_other, films) in enumerate(pairs):
        t0 = time.time()
        images = load_films(films)
        cases = compute_cases(model, images, list(films), layer, k, k_other, rng)
        if solution_diff is None:
            solution_diff = _solution_check(model, cases[0], images[0])
            if not args.no_onednn:
                onednn = onednn_check(cases[0])
        for case in cases:
            refs = case.references
            usable = reference_is_usable(refs)
            with np.errstate(invalid="ignore"):
                numpy_vs_cv2 = float(np.nanmax(np.abs(refs[0] - case.reference)))
            cases_info.append({"film": case.film, "label": case.label, "layer": layer, "usable": usable,
                               "probability": case.probability, "raw_max": float(np.max(case.raw)),
                               "raw_min": float(np.min(case.raw)), "numpy_vs_cv2": numpy_vs_cv2,
                               "reference_std": (float(np.nanstd(refs[0])) if np.isfinite(refs[0]).any()
                                                 else float("nan"))})
            if usable:
                for row in _measure(case):
                    row.update(film=case.film, label=case.label, layer=layer)
                    rows.append(row)
        print(f"[{n + 1}/{len(pairs)}] {layer} {LABELS[k]} {films}: {time.time() - t0:.1f} s", file=sys.stderr)

    summary = summarize(rows)
    elapsed = time.time() - started
    n_usable = sum(c["usable"] for c in cases_info)
    print(f"# Grad-CAM study: {len(cases_info)} cases ({n_usable} usable references), seed {args.seed}, "
          f"{datetime.date.today().isoformat()}, {elapsed / 60:.1f} min")
    print(f"command: python -m grading.cam_study --seed {args.seed} --pairs-per-layer {args.pairs_per_layer}")
    print(f"rule: correlation >= {CORRELATION_MIN} and MSE <= {MSE_MAX}, against the closer of both accepted maps")
    print(f"notebook solution grad_cam (batch of 1) vs the study's reference (batch of 2): max |diff| "
          f"{solution_diff:.2e}")
    print(f"accepted_references()[0] (NumPy bilinear) vs the solution's cv2 map: max |diff| "
          f"{max(c['numpy_vs_cv2'] for c in cases_info):.2e}")
    if onednn is not None:
        print(f"reference with oneDNN on (other process, batch of 1): MSE {onednn[0]:.2e}, 1 - correlation "
              f"{1 - onednn[1]:.2e}")
    raw = [c["raw_max"] for c in cases_info]
    print(f"raw map maximum (before normalisation): min {min(raw):.2e}, median {np.median(raw):.2e}; "
          f"probability of the class explained: min {min(c['probability'] for c in cases_info):.2e}, "
          f"max {max(c['probability'] for c in cases_info):.6f}\n")
    print("## Against both accepted maps (the rule)\n")
    print(markdown_tables(summary))
    print("\n## Against the notebook's order only\n")
    print(markdown_tables(summary, "_single"))
    print("\n## Per layer\n")
    print(per_layer_table(cases_info, rows))
    print()
    for c in cases_info:
        if not c["usable"]:
            print(f"unusable reference: {c['layer']} {c['label']} {c['film']} p={c['probability']:.6g} "
                  f"std={c['reference_std']:.4f}")
    for title, suffix in (("both accepted maps", ""), ("notebook order only", "_single")):
        print(f"\nmargins against {title}:")
        for key, value in margins(rows, suffix).items():
            print(f"  {key}: {value}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"seed": args.seed, "date": datetime.date.today().isoformat(), "cases": cases_info,
                       "rows": rows, "summary": summary, "margins": margins(rows),
                       "margins_single": margins(rows, "_single"), "solution_diff": solution_diff,
                       "onednn": onednn, "minutes": elapsed / 60}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
