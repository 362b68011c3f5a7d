"""util.models.ordinal: cumulative grade targets, the decoding rules, grade probabilities."""

import numpy as np
import pytest

from util.models.ordinal import DECODE_METHODS, decode_outputs, encode_grades, grade_output_index, grade_probabilities


def test_encoding_table():
    expected = np.array(
        [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=np.float32
    )
    out = encode_grades([0, 1, 2, 3, 4])
    assert out.dtype == np.float32 and out.shape == (5, 4)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(encode_grades(np.array([2.0, 0.0])), expected[[2, 0]])
    np.testing.assert_array_equal(encode_grades([2], n_grades=3), [[1, 1]])
    assert encode_grades([]).shape == (0, 4)
    assert encode_grades(3).shape == (1, 4)


@pytest.mark.parametrize("method", DECODE_METHODS)
def test_round_trip_for_every_grade(method):
    grades = np.array([0, 1, 2, 3, 4, 4, 2, 0])
    np.testing.assert_array_equal(decode_outputs(encode_grades(grades), method=method), grades)
    # confident but not saturated outputs decode the same
    soft = np.clip(encode_grades(grades) * 0.8 + 0.1, 0, 1)
    np.testing.assert_array_equal(decode_outputs(soft, method=method), grades)


def test_leading_decoding_keeps_outputs_monotone():
    probs = np.array([
        [0.9, 0.2, 0.8, 0.1],  # a denied step stops the count
        [0.2, 0.9, 0.9, 0.9],  # nothing counts after the first "no"
        [0.9, 0.9, 0.9, 0.6],
        [0.5, 0.9, 0.9, 0.9],  # exactly the threshold is a "no"
        [0.51, 0.49, 0.0, 1.0],
    ])
    np.testing.assert_array_equal(decode_outputs(probs), [1, 0, 4, 0, 1])
    np.testing.assert_array_equal(decode_outputs(probs, method="count"), [2, 3, 4, 3, 2])
    # same as counting after a running minimum
    cummin = np.minimum.accumulate(probs, axis=1)
    np.testing.assert_array_equal(decode_outputs(probs), (cummin > 0.5).sum(axis=1))
    np.testing.assert_array_equal(decode_outputs(probs, method="sum"), np.rint(probs.sum(axis=1)).astype(int))


def test_decoding_threshold_and_1d_input():
    assert decode_outputs([0.7, 0.6, 0.3, 0.1]).tolist() == [2]
    assert decode_outputs([0.7, 0.6, 0.3, 0.1], threshold=0.65).tolist() == [1]
    assert decode_outputs([0.7, 0.6, 0.3, 0.1], threshold=0.2).tolist() == [3]
    assert decode_outputs(np.zeros((0, 4))).shape == (0,)


@pytest.mark.parametrize("bad, shown", [
    ([0, 5], "5"), ([-1, 2], "-1"), ([1.5], "1.5"), ([np.nan, 1], "nan"), ([np.inf], "inf"), ([7, 1, 8], "[7, 8]"),
])
def test_invalid_grades_raise_naming_the_bad_values(bad, shown):
    with pytest.raises(ValueError, match=r"0\.\.4") as err:
        encode_grades(bad)
    assert shown in str(err.value)


@pytest.mark.parametrize("bad", [[True, False], ["a"], [[1, 2], [3, 4]], [None]])
def test_non_grades_raise(bad):
    with pytest.raises(ValueError):
        encode_grades(bad)


@pytest.mark.parametrize("n_grades, error", [(1, ValueError), (0, ValueError), (2.5, TypeError)])
def test_invalid_n_grades(n_grades, error):
    with pytest.raises(error, match="n_grades"):
        encode_grades([0], n_grades=n_grades)


@pytest.mark.parametrize("probs, match", [
    (np.full((2, 4), 1.2), r"\[0, 1\]"),
    (np.full((2, 4), -0.1), r"\[0, 1\]"),
    ([[0.5, np.nan, 0.1, 0.1]], r"\[0, 1\]"),
    (np.zeros((2, 2, 4)), "shape"),
    (np.zeros((3, 0)), "shape"),
    ([["a", "b"]], "numbers"),
])
def test_bad_probs_raise(probs, match):
    with pytest.raises(ValueError, match=match):
        decode_outputs(probs)


@pytest.mark.parametrize("kwargs", [{"threshold": 0.0}, {"threshold": 1.0}, {"threshold": "0.5"}, {"method": "max"}])
def test_bad_decoding_options_raise(kwargs):
    with pytest.raises(ValueError):
        decode_outputs([[0.6, 0.4, 0.1, 0.1]], **kwargs)


def test_grade_probabilities():
    p = grade_probabilities([[0.9, 0.2, 0.8, 0.1], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    assert p.shape == (3, 5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p >= 0).all()
    np.testing.assert_allclose(p[0], [0.1, 0.7, 0.0, 0.1, 0.1])
    assert p[1].argmax() == 4 and p[2].argmax() == 0


def test_grade_output_index():
    assert [grade_output_index(g) for g in (1, 2, 3, 4)] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="grade 0"):
        grade_output_index(0)
    with pytest.raises(ValueError, match="invalid"):
        grade_output_index(5)


def _case_study_test_prediction(pred5):
    """The retinopathy case study's decoding, written out as it does it, on five thresholded outputs.

    Output 0 is "grade >= 0"; from the last output down, ``ordinal[:, i] = pred[:, i] OR ordinal[:, i + 1]``;
    the grade is the row sum minus 1.
    """
    ordinal = np.array(pred5, dtype=bool).copy()
    for i in range(ordinal.shape[1] - 2, -1, -1):
        ordinal[:, i] = ordinal[:, i] | ordinal[:, i + 1]
    return ordinal.sum(axis=1) - 1


def test_highest_yes_wins_hand_worked():
    probs = np.array([
        [0.9, 0.2, 0.8, 0.1],  # the "yes" of output 2 overrides the "no" of output 1 -> 3
        [0.2, 0.9, 0.9, 0.9],  # the last output says yes -> 4
        [0.1, 0.1, 0.1, 0.6],  # only the last says yes -> 4
        [0.9, 0.9, 0.3, 0.1],  # monotone -> 2, as every rule
        [0.4, 0.3, 0.2, 0.1],  # no "yes" at all -> 0
        [0.9, 0.5, 0.5, 0.5],  # exactly the threshold is a "no" -> 1
    ])
    np.testing.assert_array_equal(decode_outputs(probs, method="highest"), [3, 4, 4, 2, 0, 1])
    # the four rules on the inconsistent vector of the lecture: each differs from "leading" there
    p = [0.9, 0.2, 0.8, 0.1]
    got = {m: int(decode_outputs(p, method=m)[0]) for m in DECODE_METHODS}
    assert got == {"leading": 1, "count": 2, "sum": 2, "highest": 3}
    assert decode_outputs([0.7, 0.2, 0.6, 0.1], threshold=0.65, method="highest").tolist() == [1]


def test_highest_is_the_case_studys_five_output_rule():
    rng = np.random.default_rng(13)
    probs = rng.uniform(size=(500, 4))
    # the case study's five outputs: output 0 ("grade >= 0") is always a yes, then our four
    pred5 = np.concatenate([np.ones((500, 1), dtype=bool), probs > 0.5], axis=1)
    np.testing.assert_array_equal(decode_outputs(probs, method="highest"), _case_study_test_prediction(pred5))
    # hand-worked on the five-output form: [yes, yes, no, yes, no] -> 3
    assert _case_study_test_prediction([[1, 1, 0, 1, 0]]).tolist() == [3]


def test_rules_agree_exactly_on_monotone_outputs():
    rng = np.random.default_rng(5)
    probs = -np.sort(-rng.uniform(size=(300, 4)), axis=1)  # non-increasing rows
    thresholded = {m: decode_outputs(probs, method=m) for m in ("leading", "count", "highest")}
    np.testing.assert_array_equal(thresholded["leading"], thresholded["count"])
    np.testing.assert_array_equal(thresholded["leading"], thresholded["highest"])
    # and on any vector: leading <= count <= highest
    raw = rng.uniform(size=(300, 4))
    lead, count, high = (decode_outputs(raw, method=m) for m in ("leading", "count", "highest"))
    assert np.all(lead <= count) and np.all(count <= high)
