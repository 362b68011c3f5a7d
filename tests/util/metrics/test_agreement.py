"""util.metrics.agreement: the quadratic-weighted kappa and the confusion matrix."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from util.metrics.agreement import quadratic_weighted_kappa


@pytest.mark.parametrize("seed", range(6))
def test_kappa_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 5, 200)
    p = np.clip(t + rng.integers(-2, 3, 200) * (rng.random(200) < 0.4), 0, 4)
    expected = cohen_kappa_score(t, p, weights="quadratic", labels=list(range(5)))
    assert quadratic_weighted_kappa(t, p) == pytest.approx(expected, abs=1e-12)
    assert quadratic_weighted_kappa(p, t) == pytest.approx(expected, abs=1e-12)


def test_kappa_special_cases():
    g = np.array([0, 1, 2, 3, 4])
    assert quadratic_weighted_kappa(g, g) == pytest.approx(1.0)
    # a grade nobody used still counts in the distances: sklearn needs labels= for the same value,
    # else it measures distances between the *indices* of the grades present (1 and 3 become neighbours)
    t, p = np.array([0, 1, 1, 3]), np.array([0, 1, 3, 3])
    ours = quadratic_weighted_kappa(t, p)
    assert ours == pytest.approx(cohen_kappa_score(t, p, weights="quadratic", labels=list(range(5))))
    assert ours != pytest.approx(cohen_kappa_score(t, p, weights="quadratic"))
    # far misses cost more than near misses
    near = quadratic_weighted_kappa(g, np.clip(g + 1, 0, 4))
    far = quadratic_weighted_kappa(g, np.clip(g + 3, 0, 4))
    assert near > far
    assert np.isnan(quadratic_weighted_kappa([2, 2], [2, 2]))
    with pytest.raises(ValueError, match="equal length"):
        quadratic_weighted_kappa([0, 1], [0])
    with pytest.raises(ValueError, match="y_pred"):
        quadratic_weighted_kappa([0, 1], [0, 7])


def test_confusion_matrix_counts_true_grades_by_row():
    from util.metrics.agreement import confusion_matrix

    m = confusion_matrix([0, 0, 1, 4, 4, 4], [0, 1, 1, 4, 3, 4])
    assert m.shape == (5, 5) and m.dtype == np.int64 and m.sum() == 6
    assert m[0, 0] == 1 and m[0, 1] == 1 and m[1, 1] == 1 and m[4, 4] == 2 and m[4, 3] == 1
    assert confusion_matrix([0, 1], [1, 0], n_grades=2).tolist() == [[0, 1], [1, 0]]
    with pytest.raises(ValueError, match=r"y_pred must be integers in 0..4; invalid value\(s\) \[7\]"):
        confusion_matrix([0, 1], [0, 7])
    with pytest.raises(ValueError, match="equal length"):
        confusion_matrix([0, 1], [0])
