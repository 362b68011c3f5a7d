"""C3W3: the release (shared ReleaseSuite), and the verdicts of permute_feature and
permutation_importance on trusted functions run in this process (grading.exercise.check_locally).
The Grad-CAM rule is tested on real course-model maps in tests/grading/test_cam_compare.py."""

import re

import numpy as np
import pandas as pd
import pytest

from assignment_checks import ReleaseSuite
from grading import c3w3
from grading.exercise import check_locally

A = c3w3.ASSIGNMENT


class TestC3W3Release(ReleaseSuite):
    A = c3w3.ASSIGNMENT


@pytest.fixture(scope="module", params=[1, 2])
def rng_seed(request):
    return request.param


def cases_of(test, seed):
    return A.exercise(test).draw(np.random.default_rng(seed))


def _permute_ok(df, feature):
    out = df.copy(deep=True)
    out[feature] = np.random.permutation(out[feature].to_numpy())
    return out


def _permute_rng(df, feature):
    out = df.copy(deep=True)
    out[feature] = np.random.default_rng().permutation(out[feature].to_numpy())
    return out


def _permute_mutating(df, feature):
    df[feature] = np.random.permutation(df[feature].to_numpy())
    return df


def _permute_copy_then_mutate_input(df, feature):
    out = _permute_ok(df, feature)
    df[feature] = out[feature].to_numpy()
    return out


def _permute_biased(df, feature):
    out = df.copy(deep=True)
    values = out[feature].to_numpy()
    out[feature] = np.roll(values, 1)  # always the same "permutation"
    return out


def test_permute_feature_accepts_uniform_permutations_of_a_copy(rng_seed):
    cases = cases_of("test_permute_feature", rng_seed)
    for fn in (_permute_ok, _permute_rng):
        result = check_locally(A.exercise("test_permute_feature"), {"permute_feature": fn}, cases)
        assert result.passed, result.message


@pytest.mark.parametrize("fn, message", [
    (_permute_mutating, "changed the frame it was given"),
    (_permute_copy_then_mutate_input, "changed the frame it was given"),
    (_permute_biased, "not uniformly random"),
    (lambda df, feature: df.copy(), "same values in another order|not uniformly random"),
    (lambda df, feature: df[[feature]].copy(), "keep the frame's columns"),
])
def test_permute_feature_rejects_mutation_bias_and_lost_columns(fn, message, rng_seed):
    result = check_locally(A.exercise("test_permute_feature"), {"permute_feature": fn},
                           cases_of("test_permute_feature", rng_seed))
    assert not result.passed and re.search(message, result.message), result.message


def _importance(reduce=np.mean, samples=None, drop=lambda base, avg: base - avg, as_array=False):
    def permutation_importance(X, y, model, metric, num_samples=100):
        out = pd.DataFrame(index=["importance"], columns=X.columns, dtype=float)
        data = (lambda frame: frame.to_numpy()) if as_array else (lambda frame: frame)
        base = metric(y, model.predict_proba(data(X))[:, 1])
        for f in X.columns:
            scores = [metric(y, model.predict_proba(data(_permute_ok(X, f)))[:, 1])
                      for _ in range(samples or num_samples)]
            out.loc["importance", f] = drop(base, reduce(scores))
        return out

    return {"permutation_importance": permutation_importance}


def test_permutation_importance_accepts_the_mean_drop_on_frames_and_arrays(rng_seed):
    exercise = A.exercise("test_permutation_importance")
    cases = exercise.draw(np.random.default_rng(rng_seed))
    for namespace in (_importance(), _importance(as_array=True)):
        namespace["permute_feature"] = _permute_ok
        result = check_locally(exercise, namespace, cases)
        assert result.passed, result.message


@pytest.mark.parametrize("variant", [
    dict(reduce=np.median), dict(reduce=np.sum), dict(samples=100), dict(drop=lambda base, avg: abs(base - avg)),
    dict(drop=lambda base, avg: avg - base),
])
def test_permutation_importance_rejects_median_sum_fixed_count_abs_and_sign(variant, rng_seed):
    exercise = A.exercise("test_permutation_importance")
    result = check_locally(exercise, _importance(**variant), exercise.draw(np.random.default_rng(rng_seed)))
    assert not result.passed, variant


def test_layer_pool_is_the_last_dense_block():
    assert c3w3.LAYER_POOL[0] == c3w3.COURSE_LAYER == "conv5_block16_concat"
    assert len(set(c3w3.LAYER_POOL)) == len(c3w3.LAYER_POOL) == 13
