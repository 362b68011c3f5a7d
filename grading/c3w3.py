"""How C3W3 ("Model interpretation methods") is graded.

Four graded test cells, ten points each (:data:`EXERCISES`). At grading time the grader draws

* ``grad_cam``: test films x labels x layers — the course's layer ``conv5_block16_concat`` and
  the other layers of the last dense block (:data:`LAYER_POOL`);
* ``compute_gradcam``: a film, two or three labels and a layer;
* ``permute_feature``: a frame with numeric and text columns and a non-default index;
* ``permutation_importance``: a stub model on random data with known importances, and a
  skewed metric whose permuted values have a mean far from their median;

and compares what the student's functions return with what the **solution's own functions**
(the source notebook's solution cells, executed in the grader's process) return on the same
inputs. The Grad-CAM acceptance rule is :func:`grading.cam_compare.compare_cam`; its
measurements are in ``autograder/C3W3/TOLERANCES.md``.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache

import numpy as np

from grading.assignment import Assignment, Sample
from grading.attacks import (ATTACK_ALWAYS_EQUAL, ATTACK_FORGE_CHANNEL, ATTACK_LIBRARY, ATTACK_NOISY,
                             ATTACK_PATCH_CHECKS, ATTACK_READ_SECRETS, ATTACK_WRITE_EVERYWHERE)
from grading.core import NullIO, quiet, solution_namespace
from grading.exercise import Exercise, driver, frame_spec, spec_data
from util.config.course import LABELS

__all__ = [
    "ASSIGNMENT",
    "COURSE_LAYER",
    "DISTINCT_LAYERS",
    "EXERCISES",
    "LAYER_POOL",
    "SAMPLES",
    "course_model",
    "course_normalization",
]

#: The layer the course explains.
COURSE_LAYER = "conv5_block16_concat"
#: Layers the grader may ask grad_cam and compute_gradcam to explain (the last dense block's outputs).
LAYER_POOL = (COURSE_LAYER,) + tuple(f"conv5_block{k}_concat" for k in range(4, 16))
#: Layers whose maps stay far from the course layer's (blocks 13-15 are nearly contained in block 16,
#: so a grad_cam that ignores layer_name comes within correlation 0.9993 there; TOLERANCES.md):
#: every draw holds at least one of them.
DISTINCT_LAYERS = tuple(f"conv5_block{k}_concat" for k in range(4, 13))

#: permute_feature: permutations drawn to test uniformity, and the allowed gap in standard errors.
PERMUTE_RUNS = 400
PERMUTE_SE_TOLERANCE = 5.0
#: permutation_importance: tolerance in standard errors of the Monte-Carlo mean, and its floor.
IMPORTANCE_SE_TOLERANCE = 5.0
IMPORTANCE_FLOOR = 0.01


# ----------------------------------------------------------------------------- the grader's inputs
@lru_cache(maxsize=1)
def course_model():
    """The course model (``util.models.densenet.load_C3M3_model()``), loaded once per grading process."""
    from util.models.densenet import load_C3M3_model

    return load_C3M3_model()


@lru_cache(maxsize=1)
def course_normalization():
    """``(mean, std)`` of the training split, as the notebook computes them."""
    from util.data.chestxray import ensure_chestxray_data, load_split
    from util.data.images import get_mean_std_per_batch

    folder = ensure_chestxray_data()
    return tuple(float(v) for v in get_mean_std_per_batch(folder / "images", load_split("train")))


def _image_dir():
    from util.data.chestxray import ensure_chestxray_data

    return ensure_chestxray_data() / "images"


@lru_cache(maxsize=1)
def _solution():
    with quiet(), contextlib.redirect_stdout(NullIO()):
        return solution_namespace(ASSIGNMENT)


def _test_films():
    from util.data.chestxray import load_split

    return load_split("test")["Image"].tolist()


def _raw_cam(model, x, class_index, layer):
    """The solution's weighted sum before its post-processing: an (h, w) map at the layer's grid.

    The solution's recipe (gradient of the sigmoid output, spatial mean, weighted sum of the
    channels), stopped before the ReLU, so that :func:`grading.cam_compare.accepted_references`
    can build both post-processing orders the course has taught from it.
    """
    import keras
    import tensorflow as tf

    grad_model = keras.Model(model.input, [model.get_layer(layer).output, model.output])
    with tf.GradientTape() as tape:
        acts, predictions = grad_model(x, training=False)
        score = predictions[:, class_index]
    grads = tape.gradient(score, acts)
    weights = np.mean(grads[0].numpy(), axis=(0, 1))
    return np.dot(acts[0].numpy(), weights)


@lru_cache(maxsize=256)
def _solution_cam(film, label, layer):
    """The accepted maps of ``label`` on ``film`` at ``layer``: shape (2, H, W), both orders of ReLU and resize.

    Cross-checked against the solution's own ``grad_cam`` on the same input: if the first map and the
    solution's map differ, the grader is at fault and says so instead of grading.
    """
    from grading.cam_compare import accepted_references
    from util.data.images import load_image_normalize

    mean, std = course_normalization()
    x = load_image_normalize(_image_dir() / film, mean, std)
    with quiet(), contextlib.redirect_stdout(NullIO()):
        solution = np.asarray(_solution()["grad_cam"](course_model(), x, LABELS.index(label), layer), dtype=np.float64)
        raw = _raw_cam(course_model(), x, LABELS.index(label), layer)
    references = accepted_references(raw, x.shape[1], x.shape[2])
    if solution.shape != references[0].shape or not np.allclose(references[0], solution, atol=1e-4, equal_nan=True):
        raise RuntimeError(f"grader fault: the reference map of {film}/{label}/{layer} does not match the solution's "
                           "grad_cam; fix grading/c3w3.py before grading.")
    references.setflags(write=False)
    return references


def _draw_cam_cases(rng, n, first_layer=COURSE_LAYER, labels_per_case=1):
    """``n`` cases ``{film, labels, layer, mean, std}`` whose solution maps are usable references.

    The first case explains ``first_layer`` (the course's), the next one a layer of
    :data:`DISTINCT_LAYERS`, the others any layer of :data:`LAYER_POOL`.
    """
    from grading.cam_compare import reference_is_usable

    films = _test_films()
    mean, std = course_normalization()
    cases = []
    while len(cases) < n:
        film = films[int(rng.integers(0, len(films)))]
        labels = [LABELS[int(i)] for i in rng.choice(len(LABELS), size=labels_per_case, replace=False)]
        if not cases and first_layer:
            layer = first_layer
        elif not any(case["layer"] in DISTINCT_LAYERS for case in cases):
            layer = DISTINCT_LAYERS[int(rng.integers(0, len(DISTINCT_LAYERS)))]
        else:
            layer = LAYER_POOL[int(rng.integers(1, len(LAYER_POOL)))]
        if all(reference_is_usable(ref) for label in labels for ref in _solution_cam(film, label, layer)):
            cases.append({"film": film, "labels": labels, "layer": layer, "mean": mean, "std": std})
    return cases


def _expect_cams(cases):
    """Per case, ``label -> the accepted maps`` (both orders of ReLU and resize, see _solution_cam)."""
    return [{label: _solution_cam(case["film"], label, case["layer"]) for label in case["labels"]} for case in cases]


# ----------------------------------------------------------------------------- Exercise 1: grad_cam
_MODEL_DRIVER = '''
def _inputs(case, cache):
    import os
    from util.config.paths import data_dir
    from util.data.images import load_image_normalize
    from util.models.densenet import load_C3M3_model
    if "model" not in cache:
        cache["model"] = load_C3M3_model()
    folder = os.path.join(str(data_dir()), "chestxray", "images")
    x = load_image_normalize(os.path.join(folder, case["film"]), case["mean"], case["std"])
    return cache["model"], x, folder
'''

_GRAD_CAM_DRIVER = driver(_MODEL_DRIVER + '''
def drive(ns, case, cache):
    from util.config.course import LABELS
    model, x, _ = _inputs(case, cache)
    cam = ns["grad_cam"](model, x, LABELS.index(case["labels"][0]), case["layer"])
    return {"cam": cam}
''')


def _check_grad_cam(cases, expected, values):
    from grading.cam_compare import compare_cam

    for references, got in zip(expected, values):
        (reference,) = references.values()
        result = compare_cam(got["cam"], reference)
        if not result.ok:
            return f"on a film drawn at grading time: {result.reason}"
    return None


# ----------------------------------------------------------------------------- Exercise 2: compute_gradcam
_COMPUTE_GRADCAM_DRIVER = driver(_MODEL_DRIVER + '''
def drive(ns, case, cache):
    import matplotlib.pyplot as plt
    from util.config.course import LABELS
    from util.data.chestxray import load_split
    model, _, folder = _inputs(case, cache)
    plt.close("all")
    cams = ns["compute_gradcam"](model, case["film"], case["mean"], case["std"], folder, load_split("test"),
                                 list(LABELS), list(case["labels"]), layer_name=case["layer"])
    axes = [ax for num in plt.get_fignums() for ax in plt.figure(num).axes]
    return {"cams": cams if isinstance(cams, dict) else None, "type": type(cams).__name__,
            "with_image": sum(1 for ax in axes if ax.images), "overlays": sum(1 for ax in axes if len(ax.images) >= 2)}
''')


def _check_compute_gradcam(cases, expected, values):
    from grading.cam_compare import compare_cam

    for case, references, got in zip(cases, expected, values):
        cams = got["cams"]
        if cams is None:
            return f"compute_gradcam must return a dict label -> heat map; it returned a {got['type']}."
        if sorted(map(str, cams)) != sorted(case["labels"]):
            return (f"compute_gradcam must return one map per selected label ({len(case['labels'])} labels), "
                    f"keyed by the label's name; it returned {len(cams)} key(s).")
        for label, reference in references.items():
            result = compare_cam(cams[label], reference)
            if not result.ok:
                return f"the map of one selected label: {result.reason}"
        if got["with_image"] < 1 + len(case["labels"]) or got["overlays"] < len(case["labels"]):
            return (f"compute_gradcam should draw the film and one overlay per selected label "
                    f"({1 + len(case['labels'])} panels with images, {len(case['labels'])} of them overlays); "
                    f"it drew {got['with_image']} panel(s) with images, {got['overlays']} overlay(s).")
    return None


# ----------------------------------------------------------------------------- Exercise 3: permute_feature
def _draw_permute(rng):
    n = int(rng.integers(8, 30))
    index = [int(i) for i in rng.choice(1000, size=n, replace=False)]
    columns = [("Age", np.round(rng.uniform(20, 80, n), 1).tolist(), "float64"),
               ("Sex", rng.integers(1, 3, n).tolist(), "int64"),
               ("note", [f"n{int(v)}" for v in rng.choice(10_000, n, replace=False)], "object"),
               ("Systolic BP", np.round(rng.normal(130, 20, n), 0).tolist(), "float64")]
    order = rng.permutation(len(columns))
    columns = [columns[i] for i in order]
    names = [c[0] for c in columns]
    first, second = (str(v) for v in rng.choice(names, 2, replace=False))
    small = frame_spec([("x", rng.permutation(6).astype(float).tolist(), "float64"),
                        ("y", [0, 1, 0, 1, 0, 1], "int64")], [5, 3, 9, 1, 7, 2])
    return [{"frame": frame_spec(columns, index), "first": first, "second": second, "small": small,
             "runs": PERMUTE_RUNS}]


_PERMUTE_DRIVER = driver('''
def drive(ns, case, cache):
    permute = ns["permute_feature"]
    df = build_frame(case["frame"])
    out1 = permute(df, case["first"])
    first = frame_data(out1)
    same_object = out1 is df
    out2 = permute(df, case["second"])
    small = build_frame(case["small"])
    runs = [permute(small, "x")["x"].to_numpy(dtype=float) for _ in range(case["runs"])]
    return {"first": first, "second": frame_data(out2), "after": frame_data(df), "same_object": same_object,
            "runs": _np.asarray(runs, dtype=float), "small_after": frame_data(small)}
''')


def _permutation_reason(got, spec, feature):
    want = spec_data(spec)
    if got.get("type") != "DataFrame":
        return f"permute_feature must return a DataFrame; it returned a {got.get('type')}."
    if got["columns"] != want["columns"] or got["index"] != want["index"]:
        return "permute_feature must keep the frame's columns, their order and its row index."
    j = want["columns"].index(feature)
    for k, (have, orig) in enumerate(zip(got["data"], want["data"])):
        if k != j and have != orig:
            return "permute_feature must leave the columns other than the permuted one as they are."
    if sorted(map(str, got["data"][j])) != sorted(map(str, want["data"][j])):
        return "the permuted column must hold the same values in another order."
    return None


def _check_permute(cases, expected, values):
    for case, got in zip(cases, values):
        if got["same_object"] or got["after"] != spec_data(case["frame"]) \
                or got["small_after"] != spec_data(case["small"]):
            return "permute_feature changed the frame it was given; permute a copy and return the copy."
        for key, feature in (("first", case["first"]), ("second", case["second"])):
            reason = _permutation_reason(got[key], case["frame"], feature)
            if reason:
                return reason
        runs = np.asarray(got["runs"], dtype=np.float64)
        values0 = np.asarray(case["small"]["columns"][0][1], dtype=np.float64)
        if runs.shape != (case["runs"], values0.size):
            return "permute_feature did not return the whole permuted column."
        if not all(sorted(r) == sorted(values0) for r in runs):
            return "the permuted column must hold the same values in another order."
        se = values0.std() / np.sqrt(len(runs))
        gap = np.abs(runs.mean(axis=0) - values0.mean())
        if (gap >= PERMUTE_SE_TOLERANCE * se).any() or (runs != values0).any(axis=1).mean() < 0.5:
            return ("the permutations are not uniformly random: averaged over many calls every row should "
                    "average the column's mean (use np.random.permutation or a Generator's permutation).")
    return None


# ----------------------------------------------------------------------------- Exercise 4: permutation_importance
def _draw_importance(rng):
    n = 300
    X = rng.normal(size=(n, 3))
    coef = np.round(rng.uniform(0.3, 2.5, 3) * rng.choice([1, -1], 3), 2)
    coef[int(rng.integers(0, 3))] = 0.0  # one feature the model ignores
    p = 1 / (1 + np.exp(-(X @ coef)))
    y = (rng.random(n) < p).astype(int)
    names = ["a", "b", "c"]
    logistic = {"kind": "logistic", "X": frame_spec([(c, X[:, i].tolist(), "float64") for i, c in enumerate(names)],
                                                  [int(i) for i in rng.choice(5000, n, replace=False)]),
                "y": y.tolist(), "coef": coef.tolist(), "num_samples": int(rng.integers(40, 90))}
    # the skewed case: score = the first column; metric = 1 when row 0 has the top score.
    top = rng.permutation([1.0, 2.0, 3.0, 4.0])
    first_top = [5.0, *top.tolist()]
    first_not = [float(top[0]), 5.0, *top[1:].tolist()]
    skewed = []
    for column in (first_top, first_not):
        skewed.append({"kind": "top", "X": frame_spec([("s", column, "float64"), ("z", [0.0] * 5, "float64")],
                                                      [0, 1, 2, 3, 4]),
                       "y": [0, 1, 0, 1, 0], "coef": [1.0, 0.0], "num_samples": int(rng.integers(300, 500))})
    return [logistic, *skewed]


_IMPORTANCE_DRIVER = driver('''
class StubModel:
    """p = sigmoid(X @ coef) ("logistic") or the first column itself ("top"); takes frames or arrays."""

    classes_ = _np.array([0, 1])

    def __init__(self, coef, kind):
        self.coef, self.kind = _np.asarray(coef, dtype=float), kind

    def predict_proba(self, X):
        A = _np.asarray(X, dtype=float)
        p = 1 / (1 + _np.exp(-(A @ self.coef))) if self.kind == "logistic" else A[:, 0]
        return _np.column_stack([1 - p, p])


def drive(ns, case, cache):
    from util.metrics.concordance import cindex
    X = build_frame(case["X"])
    y = _np.asarray(case["y"])
    calls = [0]

    def metric(y_true, scores):
        calls[0] += 1
        s = _np.asarray(scores, dtype=float)
        if case["kind"] == "top":
            return float(_np.argmax(s) == 0)
        return float(cindex(_np.asarray(y_true), s))

    result = ns["permutation_importance"](X, y, StubModel(case["coef"], case["kind"]), metric,
                                          num_samples=case["num_samples"])
    return {"result": frame_data(result), "calls": calls[0], "after": frame_data(X)}
''')


def _importance_reference(case):
    """Exact importances of the skewed cases; a long Monte-Carlo run (and its spread) for the logistic one."""
    from util.metrics.concordance import cindex

    X = np.asarray(case["X"]["columns"][0][1], dtype=float)[:, None] if case["kind"] == "top" else \
        np.column_stack([np.asarray(c[1], dtype=float) for c in case["X"]["columns"]])
    names = [c[0] for c in case["X"]["columns"]]
    if case["kind"] == "top":
        base = float(np.argmax(X[:, 0]) == 0)
        # a permutation puts the top score first with probability 1/5; the constant column changes nothing
        return {names[0]: (base - 0.2, np.sqrt(0.2 * 0.8)), names[1]: (0.0, 0.0)}
    y = np.asarray(case["y"])
    coef = np.asarray(case["coef"])
    rng = np.random.default_rng(0)
    base = cindex(y, X @ coef)
    out = {}
    for j, name in enumerate(names):
        scores = []
        for _ in range(1000):
            Xp = X.copy()
            Xp[:, j] = rng.permutation(Xp[:, j])
            scores.append(cindex(y, Xp @ coef))
        out[name] = (base - float(np.mean(scores)), float(np.std(scores)))
    return out


def _expect_importance(cases):
    return [_importance_reference(case) for case in cases]


def _check_importance(cases, expected, values):
    for case, reference, got in zip(cases, expected, values):
        result = got["result"]
        names = [c[0] for c in case["X"]["columns"]]
        if result.get("type") != "DataFrame":
            return f"permutation_importance must return a DataFrame; it returned a {result.get('type')}."
        if result["index"] != ["importance"] or result["columns"] != names:
            return "the result must have one row named 'importance' and X's columns, in X's order."
        if got["after"] != spec_data(case["X"]):
            return "permutation_importance changed X; permute copies of it."
        n, f = case["num_samples"], len(names)
        if not n * f <= got["calls"] <= n * f + f + 1:
            return (f"with num_samples={n} and {f} features the metric should be computed {n} times per feature "
                    f"plus the baseline; it was computed {got['calls']} times.")
        for k, name in enumerate(names):
            value = result["data"][k][0]
            if not isinstance(value, (int, float)) or not np.isfinite(value):
                return ("some importances are missing or not numbers: write each with "
                        "importances.loc['importance', feature] = ... (chained assignment does nothing under "
                        "pandas copy-on-write).")
            mean, spread = reference[name]
            tolerance = max(IMPORTANCE_FLOOR, IMPORTANCE_SE_TOLERANCE * spread / np.sqrt(n))
            if abs(value - mean) > tolerance:
                return ("an importance differs from the expected value by more than the Monte-Carlo error allows; "
                        "it is the baseline metric minus the *average* metric over the permuted copies "
                        "(signed: a feature whose shuffling helps has a negative importance).")
    return None


#: The graded test cells, in notebook order.
EXERCISES = (
    Exercise("test_grad_cam", "Exercise 1 (grad_cam)", _GRAD_CAM_DRIVER,
             lambda rng: _draw_cam_cases(rng, 3), _check_grad_cam, _expect_cams),
    Exercise("test_compute_gradcam", "Exercise 2 (compute_gradcam)", _COMPUTE_GRADCAM_DRIVER,
             lambda rng: _draw_cam_cases(rng, 1, first_layer=None, labels_per_case=int(rng.integers(2, 4))),
             _check_compute_gradcam, _expect_cams),
    Exercise("test_permute_feature", "Exercise 3 (permute_feature)", _PERMUTE_DRIVER, _draw_permute, _check_permute),
    Exercise("test_permutation_importance", "Exercise 4 (permutation_importance)", _IMPORTANCE_DRIVER,
             _draw_importance, _check_importance, _expect_importance),
)

# ----------------------------------------------------------------------------- samples
def _grad_cam_source(layer="layer_name", index="category_index", weights="np.mean(grads_val, axis=(0, 1))",
                     cam="np.dot(output, weights)", relu_first=True, relu=True, head=""):
    """A complete grad_cam cell: the course's recipe, with one step swapped for the sample's."""
    post = ["cam = np.maximum(cam, 0)"] if relu and relu_first else []
    post += ["cam = cv2.resize(cam, (W, H), interpolation=cv2.INTER_LINEAR)"]
    post += ["cam = np.maximum(cam, 0)"] if relu and not relu_first else []
    body = "\n    ".join(post)
    return f'''{head}
def grad_cam(input_model, image, category_index, layer_name):
    layer = input_model.get_layer({layer})
    grad_model = keras.Model(input_model.input, [layer.output, input_model.output])
    with tf.GradientTape() as tape:
        conv_output, predictions = grad_model(image, training=False)
        y_c = predictions[:, {index}]
    grads = tape.gradient(y_c, conv_output)
    output, grads_val = conv_output[0].numpy(), grads[0].numpy()
    weights = {weights}
    cam = {cam}
    H, W = image.shape[1], image.shape[2]
    {body}
    return cam / cam.max()
'''


def _importance_source(samples="num_samples", average="np.mean(scores)", drop="baseline - {average}",
                       to_model="X", permuted="permute_feature(X, feature)"):
    """A complete permutation_importance cell with the sample's way of averaging, dropping, calling."""
    drop = drop.format(average=average)
    return f'''
def permutation_importance(X, y, model, metric, num_samples=100):
    importances = pd.DataFrame(index=["importance"], columns=X.columns, dtype=float)
    baseline = metric(y, model.predict_proba({to_model})[:, 1])
    for feature in importances.columns:
        scores = np.zeros({samples})
        for i in range({samples}):
            perm_X = {permuted}
            scores[i] = metric(y, model.predict_proba({to_model.replace("X", "perm_X")})[:, 1])
        importances.loc["importance", feature] = {drop}
    return importances
'''


_PERMUTE_DEFAULT_RNG = '''
def permute_feature(df, feature):
    permuted_df = df.copy(deep=True)
    permuted_df[feature] = np.random.default_rng().permutation(permuted_df[feature].to_numpy())
    return permuted_df
'''

_PERMUTE_SHUFFLE_VALUES = '''
def permute_feature(df, feature):
    permuted_df = df.copy(deep=True)
    values = permuted_df[feature].to_numpy(copy=True)
    np.random.shuffle(values)
    permuted_df[feature] = values
    return permuted_df
'''

_PERMUTE_IN_PLACE = '''
def permute_feature(df, feature):
    df[feature] = np.random.permutation(df[feature].to_numpy())
    return df
'''

#: Sample submissions: right answers written differently, and wrong ones (see grading.assignment.Sample).
SAMPLES = (
    Sample("right_variants", "correct, written differently: Grad-CAM in float64 with TensorFlow ops, a Generator's "
           "permutation, NumPy arrays passed to predict_proba",
           {"grad_cam": _grad_cam_source(weights="tf.reduce_mean(grads[0], axis=(0, 1)).numpy().astype(np.float64)",
                                         cam="output.astype(np.float64) @ weights"),
            "permute_feature": _PERMUTE_DEFAULT_RNG,
            "permutation_importance": _importance_source(to_model="X.to_numpy()")}),
    Sample("right_order", "correct, written differently: the ReLU after the resize, np.random.shuffle on a copy "
           "of the column's values", {"grad_cam": _grad_cam_source(relu_first=False),
                                      "permute_feature": _PERMUTE_SHUFFLE_VALUES}),
    Sample("no_relu_median", "grad_cam without the ReLU; permutation_importance takes the median, not the mean",
           {"grad_cam": _grad_cam_source(relu=False),
            "permutation_importance": _importance_source(average="np.median(scores)")},
           {"test_grad_cam": 0, "test_compute_gradcam": 0, "test_permutation_importance": 0}),
    Sample("other_class_abs", "grad_cam explains the next class; permutation_importance reports |drop|",
           {"grad_cam": _grad_cam_source(index="(category_index + 1) % predictions.shape[-1]"),
            "permutation_importance": _importance_source(drop="abs(baseline - {average})")},
           {"test_grad_cam": 0, "test_compute_gradcam": 0, "test_permutation_importance": 0}),
    Sample("activation_weights_100", "grad_cam weighs channels by their mean activation, not gradient; "
           "permutation_importance always draws 100 permutations",
           {"grad_cam": _grad_cam_source(weights="np.mean(output, axis=(0, 1))"),
            "permutation_importance": _importance_source(samples="100")},
           {"test_grad_cam": 0, "test_compute_gradcam": 0, "test_permutation_importance": 0}),
    Sample("no_average_sum", "grad_cam multiplies gradients and activations position by position (no averaging); "
           "permutation_importance subtracts the sum of the permuted scores",
           {"grad_cam": _grad_cam_source(cam="np.sum(output * grads_val, axis=-1)"),
            "permutation_importance": _importance_source(average="np.sum(scores)")},
           {"test_grad_cam": 0, "test_compute_gradcam": 0, "test_permutation_importance": 0}),
    Sample("fixed_layer_in_place", "grad_cam ignores layer_name; permute_feature shuffles its input in place",
           {"grad_cam": _grad_cam_source(layer=repr(COURSE_LAYER)), "permute_feature": _PERMUTE_IN_PLACE},
           {"test_grad_cam": 0, "test_compute_gradcam": 0, "test_permute_feature": 0,
            "test_permutation_importance": 0}),
    Sample("library", "grad_cam is the student library's Grad-CAM with the course's score",
           {"grad_cam": '''
from util.explain.gradcam import grad_cam as _library_grad_cam


def grad_cam(input_model, image, category_index, layer_name):
    return _library_grad_cam(input_model, image, category_index, layer_name, score="output")
'''}, {"test_grad_cam": 0, "test_compute_gradcam": 0}),
)

#: The attack suite (see grading.attacks): attacks on different exercises share one submission.
ATTACKS = (
    Sample("cheater", "switches the checks off from inside its kernel, reads the grader's files, returns an "
           "always-equal object, forges the result channel, writes into the instructor's files",
           {"grad_cam": ATTACK_READ_SECRETS.format(name="grad_cam", args="input_model, image, category_index, "
                                                                          "layer_name",
                                                   answer="np.zeros(image.shape[1:3])"),
            "permute_feature": ATTACK_ALWAYS_EQUAL.format(name="permute_feature", args="df, feature"),
            "permutation_importance": ATTACK_LIBRARY.format(
                name="permutation_importance",
                modules=("util", "util.metrics", "util.data.cohort", "sklearn.inspection"))},
           {"test_grad_cam": 0, "test_compute_gradcam": 0, "test_permute_feature": 0,
            "test_permutation_importance": 0},
           insert=(("imports", ATTACK_PATCH_CHECKS.format(visible="grad_cam_test, compute_gradcam_test, "
                                                                  "permute_feature_test, permutation_importance_test")),
                   ("imports", ATTACK_FORGE_CHANNEL), ("imports", ATTACK_WRITE_EVERYWHERE))),
    Sample("noisy_correct", "a correct submission that writes warnings to stderr and tries the network",
           insert=(("imports", ATTACK_NOISY),)),
    Sample("exit_in_permute", "os._exit in Exercise 3's cell: Exercises 1 and 2 keep their points",
           {"permute_feature": "import os\nos._exit(1)"},
           {"test_permute_feature": 0, "test_permutation_importance": 0}),
)

#: The assignment's record.
ASSIGNMENT = Assignment("C3W3", EXERCISES, SAMPLES + ATTACKS,
                        solution_ids=("imports", "grad_cam", "compute_gradcam", "permute_feature",
                                      "permutation_importance"),
                        # the Cardiomegaly map, the three example films and their localisation table:
                        # 45 of the box's 80 s, and no graded function reads what they define
                        illustrations=("code-10", "code-13", "code-14"))
