"""training.losses: C1W1's class frequencies and weighted loss, solved (the maintainer's copy)."""

import numpy as np
import pytest

from util.config.course import LABELS
from training.losses import compute_class_freqs, get_weighted_loss


def _numpy_weighted_loss(y, p, wp, wn, eps=1e-7):
    total = 0.0
    for j in range(y.shape[1]):
        terms = wp[j] * y[:, j] * np.log(p[:, j] + eps) + wn[j] * (1 - y[:, j]) * np.log(1 - p[:, j] + eps)
        total += -np.mean(terms)
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_loss_matches_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random((16, 14)) < 0.3).astype(np.float32)
    p = rng.uniform(0.01, 0.99, size=(16, 14)).astype(np.float32)
    wp, wn = rng.random(14), rng.random(14)
    loss = get_weighted_loss(wp, wn)
    assert float(loss(y, p)) == pytest.approx(_numpy_weighted_loss(y, p, wp, wn), rel=1e-5)
    assert float(loss(y, y)) == pytest.approx(_numpy_weighted_loss(y, y, wp, wn), rel=1e-4)  # exact 0/1 is finite


def test_weighted_loss_course_symmetric_check():
    y = np.array([[1, 1, 1], [1, 1, 0], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
    wp, wn = np.array([0.25, 0.25, 0.5]), np.array([0.75, 0.75, 0.5])
    loss = get_weighted_loss(wp, wn)
    l1 = float(loss(y, np.full(y.shape, 0.7, np.float32)))
    l2 = float(loss(y, np.full(y.shape, 0.3, np.float32)))
    assert l1 == pytest.approx(0.9754, abs=1e-4)
    assert l1 == pytest.approx(l2, abs=1e-6)  # balanced weights: 0.7 everywhere costs what 0.3 does


def test_weighted_loss_validates_weights():
    with pytest.raises(ValueError, match="same length"):
        get_weighted_loss([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="labels"):
        get_weighted_loss([1, 2], [1, 2])(np.zeros((2, 3)), np.full((2, 3), 0.5))


def test_prevalence_weights_balance_the_data_set():
    from util.data.phantoms import PREVALENCE
    from training.losses import prevalence_weights

    pos_w, neg_w = prevalence_weights()
    p = np.array([PREVALENCE[label] for label in LABELS])
    np.testing.assert_allclose(pos_w * p, neg_w * (1 - p))


def test_compute_class_freqs_known_matrix():
    labels = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 1], [1, 0, 1]])
    pos, neg = compute_class_freqs(labels)
    np.testing.assert_allclose(pos, [0.75, 0.25, 0.75])
    np.testing.assert_allclose(neg, [0.25, 0.75, 0.25])
    np.testing.assert_allclose(pos * (1 - pos), neg * (1 - neg))  # balanced weights: pos_w = neg, neg_w = pos
    with pytest.raises(ValueError, match="2-D"):
        compute_class_freqs([1, 0, 1])
    with pytest.raises(ValueError, match="binary"):
        compute_class_freqs([[0, 2]])
