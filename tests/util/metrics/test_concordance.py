"""util.metrics.concordance: the c-index against lifelines and the course's brute-force definition."""

import matplotlib
import numpy as np
import pytest
from lifelines.utils import concordance_index

from util.metrics.concordance import cindex

matplotlib.use("Agg")


def cindex_bruteforce(y, s):
    """The course's O(n²) definition, as the reference."""
    concordant = permissible = 0.0
    for i in range(len(y)):
        for j in range(i + 1, len(y)):
            if y[i] != y[j]:
                permissible += 1
                hi, lo = (i, j) if y[i] == 1 else (j, i)
                concordant += 1.0 if s[hi] > s[lo] else 0.5 if s[hi] == s[lo] else 0.0
    return concordant / permissible


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_levels", [3, 20, None])
def test_cindex_equals_lifelines_and_bruteforce_with_ties(seed, n_levels):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    s = rng.integers(0, n_levels, 300).astype(float) if n_levels else rng.normal(size=300)
    assert cindex(y, s) == pytest.approx(concordance_index(y, s), abs=1e-12)
    assert cindex(y, s) == pytest.approx(cindex_bruteforce(y, s), abs=1e-12)


def test_cindex_course_examples():
    assert cindex([0, 1], [0.2, 0.8]) == 1.0
    assert cindex([0, 1], [0.8, 0.2]) == 0.0
    assert cindex([0, 1], [0.5, 0.5]) == 0.5
    assert cindex(np.array([True, False, True, False]), [0.9, 0.1, 0.4, 0.4]) == 0.875


def test_cindex_of_a_large_input_equals_the_mann_whitney_auc():
    # For a binary outcome the c-index (ties counted 1/2) is the ROC AUC. 10^5 rows with many tied
    # scores: the O(n log n) counting must agree with sklearn's rank formula (its speed is measured
    # by benchmarks/bench_cindex.py, not here).
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100_000)
    s = np.round(rng.random(100_000) + 0.2 * y, 2)
    assert cindex(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert cindex(y, s) > 0.6


@pytest.mark.parametrize(
    "y, s, message",
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], "at least one"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "binary"),
        ([0, 1], [0.1, 0.2, 0.3], "same length"),
        ([0, 1], [0.1, float("nan")], "NaN"),
    ],
)
def test_cindex_bad_input(y, s, message):
    with pytest.raises(ValueError, match=message):
        cindex(y, s)
