"""Hidden tests and references of the C3W3 assignment ("Model Interpretation Methods").

The hidden tests of ``source/C3W3/C3W3_Assignment.ipynb`` call the ``check_*``
functions here (``from grading.c3w3 import check_grad_cam``); the reference
heat maps they compare with live in ``autograder/C3W3/references/`` and are
written from the **solution notebook's own functions**::

    python -m grading references C3W3  # reference CAMs from the solution's grad_cam/compute_gradcam
    python -m grading samples C3W3     # sample submissions (autograder/C3W3/samples/)
    python -m grading notebook C3W3    # re-execute the source notebook in place (stored outputs)

Run ``make references`` after the course model (``data/models/...weights.h5``)
changes: it runs ``references``, ``notebook``, ``release`` and ``samples`` in
that order.

Tolerances are constants here and are explained in
``autograder/C3W3/TOLERANCES.md``. Every check raises ``AssertionError`` with a
message that says what was expected, and writes nothing to stderr when it
passes (nbgrader gives 0 points to a test cell that writes to stderr).
"""

from __future__ import annotations

import contextlib
import json
import os
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from grading.core import Assignment, NullIO, quiet, solution_namespace  # noqa: E402
from util.labels import LABELS  # noqa: E402
from util.models import weights_digest  # noqa: E402  (recorded with the references)
from util.paths import REPO_ROOT  # noqa: E402

__all__ = [
    "ASSIGNMENT",
    "CAM_LAYER",
    "CAM_MSE_TOLERANCE",
    "COMPUTE_GRADCAM_CASE",
    "GRAD_CAM_CASES",
    "check_compute_gradcam",
    "check_grad_cam",
    "check_permutation_importance",
    "check_permute_feature",
    "course_image",
    "course_model",
    "course_normalization",
    "load_reference",
    "cam_mse",
]

#: The cells whose code makes the solution's functions (imports first), in notebook order.
SOLUTION_IDS = ("imports", "grad_cam", "compute_gradcam", "permute_feature", "permutation_importance")

CAM_LAYER = "conv5_block16_concat"

# ----------------------------------------------------------------------------- tolerances
#: Pixel-wise mean squared error allowed between a submitted CAM and the reference
#: (the course's own tolerance; maps are in [0, 1]). See autograder/C3W3/TOLERANCES.md.
CAM_MSE_TOLERANCE = 0.05
#: A Grad-CAM map is in [0, 1] after the ReLU and the division by the maximum; this
#: much float slack is allowed at both ends.
CAM_RANGE_SLACK = 1e-4
#: permute_feature: average of a column over PERMUTE_RUNS seeded permutations must be
#: within this many standard errors of the column mean, at every position.
PERMUTE_RUNS = 2000
PERMUTE_SE_TOLERANCE = 5.0
#: permutation_importance on the course's logistic-regression example.
COURSE_IMPORTANT = (0.5, 0.05)  # expected, absolute tolerance
COURSE_UNIMPORTANT = (0.0, 0.05)
#: permutation_importance on the second case: absolute tolerance against a long-run reference.
IMPORTANCE_TOLERANCE = 0.03

# ----------------------------------------------------------------------------- cases
#: Hidden grad_cam cases: (image in the test split, label). The first is the course's
#: case (a cardiomegaly film explained for Cardiomegaly, the notebook's section-1 image);
#: the others are images the notebook never shows, one of them for a label the image
#: does *not* have. Chosen by ground truth, not by the model.
GRAD_CAM_CASES = [
    ("00006783_000.png", "Cardiomegaly"),
    ("00003694_001.png", "Mass"),
    ("00004172_000.png", "Pneumothorax"),
]
#: Hidden compute_gradcam case: an image and the labels selected (not shown in the notebook).
COMPUTE_GRADCAM_CASE = ("00001951_000.png", ["Effusion", "Pneumothorax"])


# ----------------------------------------------------------------------------- inputs
@lru_cache(maxsize=1)
def course_model():
    """The course model (``util.models.load_C3M3_model()``), loaded once per process."""
    from util.models import load_C3M3_model

    return load_C3M3_model()


@lru_cache(maxsize=1)
def course_normalization():
    """``(mean, std)`` of the training split, as the notebook computes them."""
    from util.chestxray import ensure_chestxray_data, load_split
    from util.images import get_mean_std_per_batch

    folder = ensure_chestxray_data()
    return get_mean_std_per_batch(folder / "images", load_split("train"))


def image_dir():
    from util.chestxray import ensure_chestxray_data

    return ensure_chestxray_data() / "images"


def course_image(name):
    """One test image, normalised as the notebook does: shape (1, 320, 320, 3)."""
    from util.images import load_image_normalize

    mean, std = course_normalization()
    return load_image_normalize(image_dir() / name, mean, std)


def _reference_path(kind, image, label):
    return REFERENCE_DIR / kind / f"{Path(image).stem}_{label}.npy"


def load_reference(kind, image, label):
    """The stored reference CAM (float32) of ``kind`` ('grad_cam' or 'compute_gradcam')."""
    path = _reference_path(kind, image, label)
    if not path.is_file():
        raise FileNotFoundError(f"Reference CAM {path} is missing; run `make references`.")
    return np.load(path).astype(np.float32)


def cam_mse(cam, reference):
    """Pixel-wise mean squared error of two (H, W) maps."""
    a = np.asarray(cam, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    return float(np.mean((a - b) ** 2))


def _check_cam(cam, reference, what):
    """Assert that ``cam`` is a valid Grad-CAM map within tolerance of ``reference``."""
    assert cam is not None, f"{what}: got None; return the heat map."
    try:
        c = np.asarray(cam, dtype=np.float64)
    except Exception as err:  # a tensor that cannot be converted, a list of arrays...
        raise AssertionError(f"{what}: the result cannot be read as a numeric array ({err}).") from None
    assert c.shape == reference.shape, (
        f"{what}: expected a map of shape {reference.shape} (the input's height and width), got {c.shape}."
    )
    assert np.isfinite(c).all(), f"{what}: the map contains NaN or infinite values."
    assert c.min() >= -CAM_RANGE_SLACK and c.max() <= 1 + CAM_RANGE_SLACK, (
        f"{what}: a Grad-CAM map lies in [0, 1] (ReLU, then divide by the maximum); "
        f"got values in [{c.min():.3f}, {c.max():.3f}]."
    )
    mse = cam_mse(c, reference)
    assert mse < CAM_MSE_TOLERANCE, (
        f"{what}: mean squared difference from the reference map is {mse:.4f} "
        f"(must be below {CAM_MSE_TOLERANCE})."
    )
    return mse


# ----------------------------------------------------------------------------- checks
def check_grad_cam(grad_cam):
    """Hidden test of Exercise 1: ``grad_cam`` against the reference maps of :data:`GRAD_CAM_CASES`."""
    model = course_model()
    for image, label in GRAD_CAM_CASES:
        x = course_image(image)
        with quiet():
            cam = grad_cam(model, x, LABELS.index(label), CAM_LAYER)
        _check_cam(cam, load_reference("grad_cam", image, label), f"grad_cam on {image} for {label}")
    print("All hidden grad_cam tests passed.")


def check_compute_gradcam(compute_gradcam):
    """Hidden test of Exercise 2: the CAMs ``compute_gradcam`` returns, and its figure."""
    import matplotlib.pyplot as plt

    from util.chestxray import load_split

    image, selected = COMPUTE_GRADCAM_CASE
    mean, std = course_normalization()
    df = load_split("test")
    plt.close("all")
    show = plt.show
    plt.show = lambda *args, **kwargs: None  # keep the figure open to count its panels
    try:
        with quiet(), contextlib.redirect_stdout(NullIO()):
            cams = compute_gradcam(course_model(), image, mean, std, image_dir(), df, LABELS, selected)
        plt.show = show
        n_axes = sum(len(plt.figure(num).axes) for num in plt.get_fignums())
    finally:
        plt.show = show
        plt.close("all")
    assert isinstance(cams, dict), f"compute_gradcam must return a dict label -> CAM; got {type(cams).__name__}."
    assert set(cams) == set(selected), (
        f"compute_gradcam must return one CAM per selected label {selected}; got keys {sorted(map(str, cams))}."
    )
    for label in selected:
        _check_cam(cams[label], load_reference("compute_gradcam", image, label),
                   f"compute_gradcam on {image}, CAM for {label}")
    assert n_axes >= 1 + len(selected), (
        f"compute_gradcam should draw the original image and one overlay per selected label "
        f"({1 + len(selected)} panels); found {n_axes}."
    )
    print("All hidden compute_gradcam tests passed.")


def check_permute_feature(permute_feature):
    """Hidden test of Exercise 3 on a frame the visible test does not use."""
    df = pd.DataFrame(
        {
            "Age": [34.0, 71.0, 52.0, 45.0, 66.0, 29.0],
            "Sex": [1.0, 2.0, 2.0, 1.0, 1.0, 2.0],
            "note": ["a", "b", "c", "d", "e", "f"],
        },
        index=[10, 3, 7, 42, 5, 8],
    )
    original = df.copy(deep=True)
    for feature in ["Age", "note"]:
        np.random.seed(11)
        with quiet():
            out = permute_feature(df, feature)
        assert isinstance(out, pd.DataFrame), f"permute_feature must return a DataFrame; got {type(out).__name__}."
        assert out is not df, "permute_feature must return a new DataFrame (a permuted copy), not its input."
        pd.testing.assert_frame_equal(df, original, obj="the input DataFrame (permute_feature must not change it)")
        assert list(out.columns) == list(df.columns), "permute_feature must keep the columns and their order."
        assert list(out.index) == list(df.index), "permute_feature must keep the row index."
        others = [c for c in df.columns if c != feature]
        pd.testing.assert_frame_equal(out[others], df[others], obj=f"the columns other than {feature!r}")
        assert sorted(out[feature].tolist()) == sorted(df[feature].tolist()), (
            f"the permuted column {feature!r} must hold the same values in another order."
        )
        # seeded: the same seed gives the same permutation (numpy's global generator)
        np.random.seed(11)
        with quiet():
            again = permute_feature(df, feature)
        assert again[feature].tolist() == out[feature].tolist(), (
            "with the same np.random.seed, permute_feature must give the same permutation "
            "(use np.random.permutation)."
        )
    # the permutation is uniform: every position averages the column mean
    np.random.seed(2)
    values = df["Age"].to_numpy()
    with quiet():
        runs = np.array([permute_feature(df, "Age")["Age"].to_numpy() for _ in range(PERMUTE_RUNS)])
    pd.testing.assert_frame_equal(df, original, obj="the input DataFrame (permute_feature must not change it)")
    se = values.std() / np.sqrt(PERMUTE_RUNS)
    gap = np.abs(runs.mean(axis=0) - values.mean())
    assert (gap < PERMUTE_SE_TOLERANCE * se).all(), (
        f"averaged over {PERMUTE_RUNS} permutations every position should be near the column mean "
        f"{values.mean():.2f}; got {np.round(runs.mean(axis=0), 2).tolist()}."
    )
    assert (runs != values).any(axis=1).mean() > 0.9, "permute_feature does not seem to shuffle the column."
    print("All hidden permute_feature tests passed.")


class _StubModel:
    """A fixed 'model' for the second permutation_importance case: p = sigmoid(2 a + 0.7 b)."""

    classes_ = np.array([False, True])

    def predict_proba(self, X):
        z = 2.0 * np.asarray(X["a"], dtype=float) + 0.7 * np.asarray(X["b"], dtype=float)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])


def _second_case():
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"], index=np.arange(300) * 2 + 1)
    p = _StubModel().predict_proba(X)[:, 1]
    y = pd.Series(rng.random(300) < p, index=X.index, name="y")
    return X, y


def _reference_importance(X, y, model, metric, num_samples, seed):
    """Long-run permutation importance with a private generator (the reference for the second case)."""
    rng = np.random.default_rng(seed)
    base = metric(y, model.predict_proba(X)[:, 1])
    out = {}
    for feature in X.columns:
        scores = []
        for _ in range(num_samples):
            Xp = X.copy()
            Xp[feature] = rng.permutation(Xp[feature].to_numpy())
            scores.append(metric(y, model.predict_proba(Xp)[:, 1]))
        out[feature] = base - float(np.mean(scores))
    return pd.Series(out)


@lru_cache(maxsize=1)
def _second_case_reference():
    from util.metrics import cindex

    X, y = _second_case()
    return _reference_importance(X, y, _StubModel(), cindex, 2000, seed=0)


def check_permutation_importance(permutation_importance):
    """Hidden test of Exercise 4: a second case with known importances, and the contract."""
    from util.metrics import cindex

    X, y = _second_case()
    X_before = X.copy(deep=True)
    calls = {"n": 0}

    def counting_cindex(y_true, scores):
        calls["n"] += 1
        return cindex(np.asarray(y_true), np.asarray(scores))

    np.random.seed(5)
    with quiet(), pd.option_context("mode.copy_on_write", True):
        result = permutation_importance(X, y, _StubModel(), counting_cindex, num_samples=60)
    assert isinstance(result, pd.DataFrame), f"permutation_importance must return a DataFrame; got {type(result).__name__}."
    assert list(result.index) == ["importance"], f"the result must have one row named 'importance'; got {list(result.index)}."
    assert list(result.columns) == list(X.columns), f"the result's columns must be X's columns {list(X.columns)}."
    pd.testing.assert_frame_equal(X, X_before, obj="X (permutation_importance must not change its input)")
    assert calls["n"] >= 60 * X.shape[1], (
        f"with num_samples=60 and {X.shape[1]} features the metric should be computed at least "
        f"{60 * X.shape[1]} times; it was computed {calls['n']} times."
    )
    got = pd.to_numeric(result.loc["importance"], errors="coerce")
    assert got.notna().all(), (
        "some importances are missing (NaN): write them with importances.loc['importance', feature] = ..."
        " (chained assignment does nothing under pandas copy-on-write)."
    )
    expected = _second_case_reference()
    gap = (got - expected).abs()
    assert (gap < IMPORTANCE_TOLERANCE).all(), (
        f"importances {got.round(3).to_dict()} differ from the expected {expected.round(3).to_dict()} "
        f"by more than {IMPORTANCE_TOLERANCE} (baseline metric minus the *average* permuted metric)."
    )
    print("All hidden permutation_importance tests passed.")


# ----------------------------------------------------------------------------- references
def write_references():
    """Write autograder/C3W3/references/ from the solution notebook's grad_cam and compute_gradcam."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from util import cam as ucam
    from util.chestxray import load_split

    ns = solution_namespace(ASSIGNMENT)
    model = course_model()
    mean, std = course_normalization()
    records = []
    for image, label in GRAD_CAM_CASES:
        cam = np.asarray(ns["grad_cam"](model, course_image(image), LABELS.index(label), CAM_LAYER), dtype=np.float32)
        lib = ucam.grad_cam(model, course_image(image), LABELS.index(label), CAM_LAYER)
        records.append(_save("grad_cam", image, label, cam, lib))
    image, selected = COMPUTE_GRADCAM_CASE
    with contextlib.redirect_stdout(NullIO()):
        cams = ns["compute_gradcam"](model, image, mean, std, image_dir(), load_split("test"), LABELS, selected)
    plt.close("all")
    lib = ucam.grad_cams(model, course_image(image), [LABELS.index(label) for label in selected], CAM_LAYER)
    for label in selected:
        records.append(_save("compute_gradcam", image, label, np.asarray(cams[label], np.float32),
                             lib[LABELS.index(label)]))
    import keras
    import tensorflow as tf

    manifest = {
        "weights_sha256": weights_digest(),
        "layer": CAM_LAYER,
        "normalization": {"mean": round(mean, 6), "std": round(std, 6)},
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__},
        "made_by": "python -m grading references C3W3 (the solution cells of source/C3W3/C3W3_Assignment.ipynb)",
        "references": records,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    for r in records:
        print(f"{r['file']}: max {r['max']:.3f}, MSE vs util.cam.grad_cam {r['mse_vs_util_cam']:.2e}")
    return manifest


def _save(kind, image, label, cam, lib_cam):
    path = _reference_path(kind, image, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, cam.astype(np.float32))
    return {
        "file": str(path.relative_to(REPO_ROOT)),
        "kind": kind,
        "image": image,
        "label": label,
        "max": float(cam.max()),
        "mean": round(float(cam.mean()), 6),
        "mse_vs_util_cam": cam_mse(cam, lib_cam),
    }


def references_current():
    """True when the stored references were made with the current weights file."""
    if not MANIFEST.is_file():
        return False
    return json.loads(MANIFEST.read_text()).get("weights_sha256") == weights_digest()


#: Sample submissions: student id -> (what is wrong, {grade_id: [(old, new), ...]}).
SAMPLES = {
    "no_relu": (
        "grad_cam drops the ReLU before resizing, so negative evidence survives into the map",
        {"grad_cam": [("    cam = np.maximum(cam, 0)\n", "")]},
    ),
    "no_average": (
        "permutation_importance subtracts the *sum* of the permuted scores instead of their mean",
        {"permutation_importance": [("np.mean(feature_performance_arr)", "np.sum(feature_performance_arr)")]},
    ),
    "mutating_permute": (
        "permute_feature shuffles the column of its input in place and returns the input",
        {"permute_feature": [
            ("permuted_df = df.copy(deep=True)  # a copy, so that df is not changed",
             "permuted_df = df  # shuffle in place"),
        ]},
    ),
}


#: The assignment's record: its files, solution cells, samples and reference writers.
ASSIGNMENT = Assignment("C3W3", SOLUTION_IDS, SAMPLES, write_references, references_current)
#: The reference heat maps, and their manifest (weights digest, normalisation, versions).
REFERENCE_DIR = ASSIGNMENT.references_dir
MANIFEST = REFERENCE_DIR / "manifest.json"
