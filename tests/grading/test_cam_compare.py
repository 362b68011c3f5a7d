"""The Grad-CAM acceptance rule (grading.cam_compare) on real course-model maps, and its input checks.

The model tests compute, once per module, the activations and gradients of four cases of the
grader's pool (two films x two (layer, label) pairs: the course layer and a deeper-in-the-pool
one), derive every legitimate variation and every wrong map of grading.cam_study from them, and
run the rule in-process: each legitimate variation must be accepted on every case, each wrong map
rejected on every case. They also recompute, live, the agreement between the solution's
``grad_cam`` (executed from the source notebook) and ``util.explain.gradcam.grad_cam(score="output")``.
"""

import math

import numpy as np
import pytest

from grading import cam_compare as cc
from grading.cam_compare import CamComparison, accepted_references, compare_cam, reference_is_usable

#: (layer, label, other label, (film, film)): each pair gives two cases, each film's "other film"
#: being the other one. Films and labels from the study's sample; references all usable.
PAIRS = [
    ("conv5_block16_concat", "Cardiomegaly", "Mass", ("00019112_002.png", "00011929_003.png")),
    ("conv5_block10_concat", "Emphysema", "Pneumothorax", ("00002645_002.png", "00004020_000.png")),
]


# --------------------------------------------------------------------------- real maps


@pytest.fixture(scope="module")
def cases():
    from grading import cam_study
    from util.config.course import LABELS

    model = cam_study.course_inputs()[0]
    rng = np.random.default_rng(0)
    out = []
    for layer, label, other, films in PAIRS:
        out += cam_study.compute_cases(model, cam_study.load_films(films), list(films), layer,
                                       LABELS.index(label), LABELS.index(other), rng)
    for case in out:
        assert reference_is_usable(case.references), f"{case.film} {case.label} {case.layer}"
    return out


def _kinds(group):
    from grading import cam_study

    return sorted(getattr(cam_study, group))


@pytest.mark.slow
@pytest.mark.parametrize("kind", _kinds("LEGITIMATE"))
def test_every_legitimate_variation_is_accepted(cases, kind):
    from grading.cam_study import LEGITIMATE

    for case in cases:
        verdict = compare_cam(LEGITIMATE[kind](case), case.references)
        assert verdict.ok, f"{kind} on {case.film}/{case.layer}: {verdict}"
        assert verdict.reason == ""


@pytest.mark.slow
@pytest.mark.parametrize("kind", _kinds("WRONG"))
def test_every_wrong_map_is_rejected(cases, kind):
    from grading.cam_study import WRONG

    checked = 0
    for case in cases:
        cam = WRONG[kind](case)
        if cam is None:  # e.g. the course layer asked for: then it is not a wrong map
            continue
        verdict = compare_cam(cam, case.references)
        assert not verdict.ok, f"{kind} accepted on {case.film}/{case.layer}: {verdict}"
        for secret in (case.film, case.label, case.layer, case.film.split(".")[0]):
            assert secret not in verdict.reason
        checked += 1
    assert checked >= 2


@pytest.mark.slow
def test_only_the_notebook_order_without_the_second_reference(cases):
    from grading.cam_study import relu_after_resize

    # against the notebook's order alone, the course text's order is not within the tolerance
    # (this is why the grader passes both accepted maps)
    assert not all(compare_cam(relu_after_resize(c), c.references[0]).ok for c in cases)
    assert all(compare_cam(c.reference, c.references[0]).ok for c in cases)


@pytest.mark.slow
def test_numpy_references_equal_the_solution_post_processing(cases):
    for case in cases:
        np.testing.assert_allclose(case.references[0], case.reference, atol=1e-6)


@pytest.mark.slow
def test_solution_agrees_with_util_cam_live(cases):
    """The notebook's solution and util.explain.gradcam.grad_cam(score="output"), computed now, at the course layer."""
    from grading import get_assignment
    from grading.cam_study import course_inputs, load_films
    from grading.core import solution_namespace
    from util.explain.gradcam import grad_cam as library_grad_cam

    ns = solution_namespace(get_assignment("C3W3"))
    model = course_inputs()[0]
    case = cases[0]
    assert case.layer == "conv5_block16_concat"
    x = load_films([case.film])
    solution = np.asarray(ns["grad_cam"](model, x, case.class_index, case.layer))
    library = library_grad_cam(model, x, case.class_index, case.layer, score="output")
    verdict = compare_cam(library, solution)
    assert verdict.ok and verdict.correlation > 1 - 1e-9, verdict
    assert float(np.max(np.abs(library - solution))) < 1e-5
    # and the solution is what the study and the tests call the reference (batched, NumPy steps)
    assert float(np.max(np.abs(solution - case.reference))) < 1e-5
    # the solution at a pool layer that util.explain.gradcam refuses to explain
    deep = cases[2]
    solution_deep = np.asarray(ns["grad_cam"](model, load_films([deep.film]), deep.class_index, deep.layer))
    assert compare_cam(solution_deep, deep.references).ok


# --------------------------------------------------------------------------- the rule on synthetic maps


@pytest.fixture(scope="module")
def ref():
    y, x = np.mgrid[0:40, 0:32]
    m = np.exp(-((y - 12.0) ** 2 + (x - 20.0) ** 2) / 60.0) + 0.5 * np.exp(-((y - 30.0) ** 2 + (x - 8.0) ** 2) / 30.0)
    return (m / m.max()).astype(np.float32)


def test_the_reference_itself_and_float_noise_pass(ref):
    for cam in (ref, ref.astype(np.float64), ref.tolist(), ref + np.float32(1e-6) * (ref > 0)):
        v = compare_cam(cam, ref)
        assert v == CamComparison(ok=True, mse=v.mse, correlation=v.correlation, reason="")
        assert v.correlation > 0.99999 and v.mse < 1e-9


def test_a_tensor_is_accepted(ref):
    import tensorflow as tf

    assert compare_cam(tf.constant(ref), ref).ok


@pytest.mark.parametrize("bad, expected", [
    (None, "returned None"),
    ("a map", "not a numeric array"),
    ([[1.0, 2.0], [3.0]], "cannot be read as an array"),
    (np.array([[object(), 1]], dtype=object), "not a numeric array"),
    (np.ones((40, 32), complex), "complex"),
])
def test_what_is_not_a_map_is_a_verdict_not_an_error(ref, bad, expected):
    v = compare_cam(bad, ref)
    assert not v.ok and expected in v.reason
    assert math.isnan(v.mse) and math.isnan(v.correlation)


def test_an_object_whose_array_conversion_raises(ref):
    class Evil:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("no")

        def __eq__(self, other):
            return True

    v = compare_cam(Evil(), ref)
    assert not v.ok and "cannot be read" in v.reason


@pytest.mark.parametrize("shape, hint", [
    ((1, 40, 32), "batch axis"),
    ((40, 32, 1), "channel axis"),
    ((32, 40), "swapped"),
    ((10, 8), "Resize"),
    ((40,), ""),
    ((), ""),
])
def test_wrong_shape_says_the_expected_shape(ref, shape, hint):
    v = compare_cam(np.zeros(shape), ref)
    assert not v.ok and "expected a map of shape (40, 32)" in v.reason and hint in v.reason


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_rejected(ref, value):
    cam = ref.copy()
    cam[3, 3] = value
    v = compare_cam(cam, ref)
    assert not v.ok and "NaN or infinite" in v.reason


@pytest.mark.parametrize("lo, hi, ok", [(-0.5, 1.0, False), (0.0, 1.2, False), (-0.5e-4, 1 + 0.5e-4, True)])
def test_range_with_slack(ref, lo, hi, ok):
    cam = ref.astype(np.float64).copy()
    cam[0, 0], cam[12, 20] = lo, hi
    v = compare_cam(cam, ref)
    assert v.ok is ok
    if not ok:
        assert "[0, 1]" in v.reason


def test_integer_and_boolean_maps_are_compared(ref):
    assert not compare_cam(np.zeros(ref.shape, int), ref).ok
    assert compare_cam((ref > 0.5).astype(bool), (ref > 0.5).astype(np.float32)).ok


def test_constant_maps(ref):
    v = compare_cam(np.zeros_like(ref), ref)
    assert not v.ok and v.correlation == 0.0 and "correlation 0.0000" in v.reason
    assert not compare_cam(np.ones_like(ref), ref).ok


def test_scale_and_shape_errors_are_caught_by_mse_and_correlation(ref):
    half = compare_cam(0.5 * ref, ref)  # correlation 1, but not divided by its maximum
    assert not half.ok and half.correlation > 0.9999 and half.mse > cc.MSE_MAX
    squared = compare_cam(ref ** 2, ref)
    assert not squared.ok and squared.correlation < cc.CORRELATION_MIN
    assert "must be at least 0.9999" in squared.reason and "must be at most 0.0001" in squared.reason


def test_the_input_is_not_modified(ref):
    cam = ref.copy()
    compare_cam(cam, ref)
    np.testing.assert_array_equal(cam, ref)


def test_several_references_accept_either(ref):
    other = np.roll(ref, 5, axis=1)
    both = np.stack([ref, other])
    assert compare_cam(ref, both).ok and compare_cam(other, both).ok
    assert compare_cam(other, [ref, other]).ok
    assert not compare_cam(np.roll(ref, 10, axis=0), both).ok


def test_bad_reference_is_the_graders_fault(ref):
    for bad in (np.zeros(5), np.zeros((2, 2, 2, 2)), "x", np.zeros((0, 3))):
        with pytest.raises(ValueError, match="reference"):
            compare_cam(ref, bad)


def test_comparison_is_frozen(ref):
    v = compare_cam(ref, ref)
    with pytest.raises(AttributeError):
        v.ok = False


# --------------------------------------------------------------------------- references


def test_reference_is_usable(ref):
    assert reference_is_usable(ref)
    assert reference_is_usable(np.stack([ref, ref]))
    assert not reference_is_usable(np.zeros_like(ref))  # nothing speaks for the class
    assert not reference_is_usable(np.full(ref.shape, np.nan))  # 0 / 0 in the solution
    assert not reference_is_usable(np.full(ref.shape, 0.7))  # constant
    nearly = np.full(ref.shape, 0.99, np.float32)
    nearly[0, 0] = 1.0
    assert not reference_is_usable(nearly)  # nearly constant
    assert not reference_is_usable(np.stack([ref, np.zeros_like(ref)]))  # one of the two unusable
    assert not reference_is_usable(ref - 0.5)  # outside [0, 1]
    for junk in (None, "x", np.zeros(4), [[1, 2], [3]], object()):
        assert reference_is_usable(junk) is False


def test_bilinear_resize_matches_opencv():
    import cv2

    rng = np.random.default_rng(1)
    for h, w, H, W in [(10, 10, 320, 320), (3, 5, 17, 40), (7, 4, 7, 4), (6, 6, 4, 3)]:
        m = rng.normal(size=(h, w)).astype(np.float32)
        expected = cv2.resize(m, (W, H), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(cc.bilinear_resize(m, H, W), expected, atol=2e-6)
    with pytest.raises(ValueError):
        cc.bilinear_resize(np.zeros((2, 2, 2)), 4, 4)


def test_accepted_references_are_both_orders():
    import cv2

    raw = np.array([[1.0, -2.0, 0.5], [0.2, -0.1, 3.0]], np.float32)
    refs = accepted_references(raw, 8, 12)
    assert refs.shape == (2, 8, 12)
    relu_first = cv2.resize(np.maximum(raw, 0), (12, 8), interpolation=cv2.INTER_LINEAR)
    resize_first = np.maximum(cv2.resize(raw, (12, 8), interpolation=cv2.INTER_LINEAR), 0)
    np.testing.assert_allclose(refs[0], relu_first / relu_first.max(), atol=1e-6)
    np.testing.assert_allclose(refs[1], resize_first / resize_first.max(), atol=1e-6)
    assert not np.allclose(refs[0], refs[1])
    with np.errstate(invalid="ignore"):
        assert not reference_is_usable(accepted_references(-np.abs(raw), 8, 12))  # all negative: 0 / 0
