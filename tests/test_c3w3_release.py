"""C3W3: the release is what `make release` makes, holds no solution or hidden test, and the
grading references and samples are current. Fast: nothing here executes the notebook."""

import json

import numpy as np
import pytest

import assignment_checks as checks
from grading import c3w3

A = c3w3.ASSIGNMENT
SOLUTION_IDS = ["grad_cam", "compute_gradcam", "permute_feature", "permutation_importance"]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    return checks.fresh_release(A, tmp_path_factory.mktemp("course"))


def test_release_is_byte_for_byte_what_make_release_produces(regenerated):
    checks.assert_release_is_fresh(A, regenerated)


def test_release_holds_no_solution_hidden_test_or_grader_file():
    checks.assert_release_keeps_secrets(A, ["check_grad_cam", "tape.gradient(y_c, conv_output)",
                                            "np.random.permutation(permuted_df",
                                            "np.mean(feature_performance_arr)"])


def test_release_cells_are_graded_as_documented():
    checks.assert_cells_graded_as_documented(A, SOLUTION_IDS)


def test_source_solutions_sit_inside_code_here_blocks():
    checks.assert_solutions_inside_code_here(A)


def test_source_notebook_is_executed_without_errors_or_stderr():
    checks.assert_source_executed_cleanly(A)


def test_reference_cams_are_current_and_complete():
    manifest = json.loads(c3w3.MANIFEST.read_text())
    assert manifest["weights_sha256"] == c3w3.weights_digest(), (
        "the reference CAMs were made with other weights; run `make references`."
    )
    cases = [("grad_cam", i, lab) for i, lab in c3w3.GRAD_CAM_CASES]
    image, selected = c3w3.COMPUTE_GRADCAM_CASE
    cases += [("compute_gradcam", image, lab) for lab in selected]
    assert [(r["kind"], r["image"], r["label"]) for r in manifest["references"]] == cases
    for kind, image, label in cases:
        ref = c3w3.load_reference(kind, image, label)
        assert ref.shape == (320, 320) and ref.min() >= 0 and np.isclose(ref.max(), 1.0)
    # the solution agrees with util.cam within the grading tolerance
    assert max(r["mse_vs_util_cam"] for r in manifest["references"]) < c3w3.CAM_MSE_TOLERANCE / 5


def test_samples_are_current(tmp_path):
    checks.assert_samples_current(A, tmp_path)


# --------------------------------------------------------------------------- the checks themselves


def _permute_ok(df, feature):
    out = df.copy(deep=True)
    out[feature] = np.random.permutation(out[feature].to_numpy())
    return out


def _permute_mutating(df, feature):
    df[feature] = np.random.permutation(df[feature].to_numpy())
    return df


def _importance(permute, reduce):
    def permutation_importance(X, y, model, metric, num_samples=100):
        import pandas as pd

        out = pd.DataFrame(index=["importance"], columns=X.columns, dtype=float)
        base = metric(y, model.predict_proba(X)[:, 1])
        for f in X.columns:
            scores = [metric(y, model.predict_proba(permute(X, f))[:, 1]) for _ in range(num_samples)]
            out.loc["importance", f] = base - reduce(scores)
        return out

    return permutation_importance


def test_check_permute_feature_accepts_a_copy_and_rejects_mutation():
    c3w3.check_permute_feature(_permute_ok)
    with pytest.raises(AssertionError, match="must return a new DataFrame|must not change"):
        c3w3.check_permute_feature(_permute_mutating)


def test_check_permutation_importance_accepts_mean_and_rejects_sum():
    c3w3.check_permutation_importance(_importance(_permute_ok, np.mean))
    with pytest.raises(AssertionError, match="differ from the expected"):
        c3w3.check_permutation_importance(_importance(_permute_ok, np.sum))
    with pytest.raises(AssertionError, match="must not change its input"):
        c3w3.check_permutation_importance(_importance(_permute_mutating, np.mean))


def test_check_cam_rejects_negative_values_and_wrong_shapes():
    ref = np.linspace(0, 1, 320 * 320, dtype=np.float32).reshape(320, 320)
    c3w3._check_cam(0.98 * ref + 0.01, ref, "ok")
    with pytest.raises(AssertionError, match=r"lies in \[0, 1\]"):
        c3w3._check_cam(ref - 0.2, ref, "no relu")
    with pytest.raises(AssertionError, match="shape"):
        c3w3._check_cam(ref[:10, :10], ref, "not resized")
    with pytest.raises(AssertionError, match="mean squared difference"):
        c3w3._check_cam(1 - ref, ref, "wrong map")
