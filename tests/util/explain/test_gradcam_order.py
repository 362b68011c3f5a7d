"""util.explain.gradcam.postprocess applies the ReLU before the resize, as its docstring, lecture 02 and
autograder/C3W3/TOLERANCES.md say (issue 13: the three must agree with the code)."""

import numpy as np

from util.explain import gradcam as C


def _raw_with_zero_crossings():
    rng = np.random.default_rng(13)
    return rng.normal(size=(10, 10)).astype(np.float32)


def test_postprocess_is_relu_then_resize_then_normalize():
    raw = _raw_with_zero_crossings()
    relu_first = C.normalize(C.resize_to_input(C.relu(raw), 320, 320))
    resize_first = C.normalize(C.relu(C.resize_to_input(raw, 320, 320)))
    out = C.postprocess(raw, 320, 320)
    np.testing.assert_array_equal(out, relu_first)
    # the other order is a different map on a map with zero crossings, so the test can tell them apart
    assert np.abs(out - resize_first).max() > 0.05


def test_the_documents_name_the_order_the_code_uses():
    from pathlib import Path

    def words(text):
        return " ".join(text.split())

    assert ":func:`postprocess` applies the ReLU first, then the bilinear resize" in words(C.__doc__)
    tolerances = Path(C.__file__).resolve().parents[2] / "autograder" / "C3W3" / "TOLERANCES.md"
    assert "`util.explain.gradcam.postprocess` does (ReLU, then resize, then the division by the maximum)" in words(
        tolerances.read_text(encoding="utf-8"))
