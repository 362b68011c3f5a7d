"""Tests for util.data.cohort: the NHANES-style cohort, its true risk model and the course's forest."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from util.config import paths
from util.data import cohort
from util.data.cohort import (COLUMNS, TRUE_MODEL, TRUE_RISK_RANKING, ZERO_EFFECT_FEATURES, generate_cohort,
                              generate_nhanes_raw, load_mortality_cohort, load_mortality_rf, true_effect_sizes,
                              true_risk)
from util.metrics.concordance import cindex

EXPECTED_COLUMNS = [
    "Age", "Diastolic BP", "Poverty index", "Race", "Red blood cells", "Sedimentation rate",
    "Serum Albumin", "Serum Cholesterol", "Serum Iron", "Serum Magnesium", "Serum Protein", "Sex",
    "Systolic BP", "TIBC", "TS", "White blood cells", "BMI", "Pulse pressure",
]


@pytest.fixture(autouse=True)
def _generated_data(monkeypatch):
    """Every test runs on the generated cohort unless it points MEDXAI_DATA_DIR somewhere."""
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)


@pytest.fixture(scope="module")
def sample():
    return generate_cohort(5000, 123, return_risk=True)


@pytest.fixture(scope="module")
def course_split():
    return load_mortality_cohort()


# ------------------------------------------------------------------------------------------
# the generated table
# ------------------------------------------------------------------------------------------
def test_columns_and_order(sample):
    X, y, risk = sample
    assert COLUMNS == EXPECTED_COLUMNS
    assert list(X.columns) == EXPECTED_COLUMNS
    assert X.shape == (5000, 18)
    assert (X.dtypes == np.float64).all()
    assert y.dtype == bool and y.name == "y"
    assert X.index.equals(y.index) and X.index.equals(risk.index)
    assert not X.isna().any().any()


# column -> (plausible min, plausible max, expected mean range, whole numbers?, decimals)
RANGES = {
    "Age": (25, 74, (45, 55), 0),
    "Diastolic BP": (40, 150, (72, 90), 0),
    "Poverty index": (0, 999, (200, 380), 0),
    "Race": (1, 3, (1.05, 1.3), 0),
    "Red blood cells": (25, 60, (40, 46), 1),
    "Sedimentation rate": (0, 150, (8, 25), 0),
    "Serum Albumin": (2.5, 5.8, (4.2, 4.6), 1),
    "Serum Cholesterol": (80, 600, (195, 240), 0),
    "Serum Iron": (10, 400, (90, 130), 0),
    "Serum Magnesium": (1.0, 2.6, (1.6, 1.8), 2),
    "Serum Protein": (5.0, 10.0, (6.9, 7.4), 1),
    "Sex": (1, 2, (1.5, 1.7), 0),
    "Systolic BP": (80, 260, (120, 145), 0),
    "TIBC": (150, 700, (330, 390), 0),
    "TS": (0, 100, (25, 40), None),
    "White blood cells": (1.5, 30, (6.5, 8.0), 1),
    "BMI": (14, 60, (23, 27), 6),
    "Pulse pressure": (10, 200, (42, 62), 0),
}


@pytest.mark.parametrize("column", EXPECTED_COLUMNS)
def test_ranges_and_rounding(sample, column):
    X, _, _ = sample
    lo, hi, (mean_lo, mean_hi), decimals = RANGES[column]
    values = X[column]
    assert values.min() >= lo and values.max() <= hi, (column, values.min(), values.max())
    assert mean_lo <= values.mean() <= mean_hi, (column, values.mean())
    assert values.std() > 0
    if decimals is not None:
        np.testing.assert_array_equal(values.to_numpy(), np.round(values.to_numpy(), decimals))


@pytest.mark.parametrize("column, codes", [("Sex", {1.0, 2.0}), ("Race", {1.0, 2.0, 3.0})])
def test_coded_columns(sample, column, codes):
    X, _, _ = sample
    assert set(X[column].unique()) == codes


def test_pulse_pressure_identity(sample):
    X, _, _ = sample
    np.testing.assert_array_equal(X["Pulse pressure"], X["Systolic BP"] - X["Diastolic BP"])
    assert (X["Pulse pressure"] > 0).all()


def test_transferrin_saturation(sample):
    X, _, _ = sample
    np.testing.assert_allclose(X["TS"], 100 * X["Serum Iron"] / X["TIBC"], rtol=1e-12)


def test_realistic_correlations(sample):
    X, _, _ = sample
    corr = X.corr()
    assert corr.loc["Age", "Systolic BP"] > 0.3  # blood pressure rises with age
    assert corr.loc["Systolic BP", "Diastolic BP"] > 0.5
    assert corr.loc["Serum Albumin", "Serum Protein"] > 0.2
    assert corr.loc["Serum Iron", "TS"] > 0.7
    men, women = X[X["Sex"] == 1], X[X["Sex"] == 2]
    assert men["Red blood cells"].mean() > women["Red blood cells"].mean() + 2
    black, white = X[X["Race"] == 2], X[X["Race"] == 1]
    assert black["Poverty index"].median() < white["Poverty index"].median()


def test_determinism():
    X1, y1 = generate_cohort(500, 7)
    X2, y2 = generate_cohort(500, 7)
    pd.testing.assert_frame_equal(X1, X2)
    pd.testing.assert_series_equal(y1, y2)
    X3, _ = generate_cohort(500, 8)
    assert not X1.equals(X3)
    Xr, yr = generate_nhanes_raw(500, 7)
    pd.testing.assert_frame_equal(X1, Xr)  # same people in both layouts


def test_prevalence(sample):
    _, y, risk = sample
    assert 0.10 <= y.mean() <= 0.20
    assert abs(y.mean() - risk.mean()) < 0.02  # labels are drawn from the true risk


def test_raw_layout_follows_shap_convention():
    X, y = generate_nhanes_raw(3000, 5)
    _, dead10 = generate_cohort(3000, 5)
    assert y.name == "y" and (y != 0).all()
    deaths = y > 0
    assert 0.2 < deaths.mean() < 0.5  # 15-21 years of follow-up
    assert (y.abs() <= 21).all()
    # a death before 10 years in the raw table is a death before 10 years in the label
    np.testing.assert_array_equal((y > 0) & (y < 10), dead10 & (y > 0))


def test_demography_step():
    people = cohort._demography(np.random.default_rng(0), 4000)
    assert people.age.min() >= 25 and people.age.max() <= 74 and (people.age % 1 == 0).all()
    np.testing.assert_array_equal(people.a, people.age - 50)
    np.testing.assert_array_equal(people.female, ~people.male)
    np.testing.assert_array_equal(people.black, people.race == 2.0)
    assert 0.18 < (people.age >= 65).mean() < 0.26  # the elderly are over-sampled


def test_blood_pressure_step_keeps_pulse_identity_and_gap():
    rng = np.random.default_rng(1)
    people = cohort._demography(rng, 2000)
    bp = cohort._blood_pressure(rng, people, np.full(2000, 25.0))
    np.testing.assert_array_equal(bp["Pulse pressure"], bp["Systolic BP"] - bp["Diastolic BP"])
    assert (bp["Diastolic BP"] <= bp["Systolic BP"] - 10).all()


# ------------------------------------------------------------------------------------------
# the true model
# ------------------------------------------------------------------------------------------
def test_true_risk_ranking():
    assert TRUE_RISK_RANKING[:2] == ["Age", "Sex"]
    assert sorted(TRUE_RISK_RANKING) == sorted(COLUMNS) and len(TRUE_RISK_RANKING) == 18
    assert TRUE_RISK_RANKING.index("Systolic BP") < TRUE_RISK_RANKING.index("Poverty index")
    assert TRUE_RISK_RANKING[-len(ZERO_EFFECT_FEATURES):] == ZERO_EFFECT_FEATURES
    sizes = true_effect_sizes()
    assert list(sizes.index) == TRUE_RISK_RANKING
    assert (np.diff(sizes.to_numpy()) <= 0).all()
    assert (sizes[ZERO_EFFECT_FEATURES] == 0).all()
    assert (sizes.drop(ZERO_EFFECT_FEATURES) > 0.05).all()


def test_docstring_table_matches_model():
    """The model table in util.data.cohort's docstring states the coefficients and effect sizes in use."""
    sizes = true_effect_sizes()
    for feature, (_, _, coef) in TRUE_MODEL.items():
        table = cohort.__doc__.split("The true risk model")[1].splitlines()
        line = next(row for row in table if row.startswith(feature + " "))
        stated_coef, stated_effect = (float(v) for v in line.split()[-2:])
        assert stated_coef == coef, feature
        assert stated_effect == pytest.approx(sizes[feature], abs=0.0011), feature


@pytest.mark.parametrize("feature", ["Age", "Systolic BP", "Serum Albumin", "White blood cells"])
def test_effect_size_is_coef_times_sd_for_linear_terms(feature, sample):
    X, _, _ = sample
    kind, _, coef = TRUE_MODEL[feature]
    assert kind == "linear"
    assert true_effect_sizes()[feature] == pytest.approx(abs(coef) * X[feature].std(), rel=0.1)


def test_true_risk_monotone_in_age(sample):
    X, _, _ = sample
    rows = pd.concat([X.iloc[[0]]] * 50, ignore_index=True)
    rows["Age"] = np.arange(25, 75, dtype=float)
    risk = true_risk(rows)
    assert (np.diff(risk) > 0).all()
    assert ((risk > 0) & (risk < 1)).all()


@pytest.mark.parametrize(
    "feature, delta, direction",
    [
        ("Systolic BP", 20.0, +1),
        ("Sedimentation rate", 20.0, +1),
        ("Serum Albumin", 0.5, -1),
        ("Poverty index", 200.0, -1),
        ("Sex", 1.0, -1),  # 1 = male -> 2 = female lowers risk
    ],
)
def test_true_risk_directions(sample, feature, delta, direction):
    X, _, _ = sample
    X = X[X["Sex"] == 1].head(200)
    moved = X.copy()
    moved[feature] = moved[feature] + delta
    assert (np.sign(true_risk(moved) - true_risk(X)) == direction).all()


@pytest.mark.parametrize("feature", ZERO_EFFECT_FEATURES)
def test_zero_effect_features_do_not_change_risk(sample, feature):
    X, _, risk = sample
    moved = X.copy()
    moved[feature] = moved[feature] * 1.5 + 1
    np.testing.assert_array_equal(true_risk(moved), risk.to_numpy())


def test_true_risk_horizon(sample):
    X, _, risk = sample
    np.testing.assert_allclose(true_risk(X, 10), risk)
    assert (true_risk(X, 5) < risk).all()


def test_true_risk_rejects_bad_input(sample):
    X, _, _ = sample
    with pytest.raises(ValueError, match="Age"):
        true_risk(X.drop(columns="Age"))
    with pytest.raises(TypeError, match="DataFrame"):
        true_risk(X.to_numpy())
    with pytest.raises(ValueError, match="horizon"):
        true_risk(X, 0)


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, error, message", [(0, ValueError, "n must be an int >= 1"), (-5, ValueError, "n must be an int >= 1"),
                                               (2.5, TypeError, "n must be an int"), (True, TypeError, "n must be an int")])
def test_generate_rejects_bad_n(n, error, message):
    with pytest.raises(error, match=message):
        generate_cohort(n, 0)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), (None, TypeError)])
def test_rejects_bad_seed(seed, error):
    with pytest.raises(error, match="seed"):
        generate_cohort(10, seed)
    with pytest.raises(error, match="seed"):
        load_mortality_cohort(10, seed)


@pytest.mark.parametrize("threshold, error", [(0, ValueError), (-3, ValueError), (math.nan, ValueError),
                                              (math.inf, ValueError), ("10", TypeError), (True, TypeError)])
def test_rejects_bad_threshold(threshold, error):
    with pytest.raises(error, match="threshold"):
        load_mortality_cohort(threshold)
    with pytest.raises(error, match="threshold"):
        load_mortality_rf(threshold)


# ------------------------------------------------------------------------------------------
# the course's split
# ------------------------------------------------------------------------------------------
def test_course_split_sizes(course_split):
    X_train, y_train, X_test, y_test = course_split
    assert 5800 <= len(X_train) + len(X_test) <= 6100
    assert 1450 <= len(X_test) <= 1530
    assert len(X_test) == math.ceil(0.25 * (len(X_train) + len(X_test)))
    for X, y in [(X_train, y_train), (X_test, y_test)]:
        assert list(X.columns) == EXPECTED_COLUMNS and (X.dtypes == np.float64).all()
        assert y.dtype == bool and X.index.equals(y.index)
        assert 0.10 <= y.mean() <= 0.20
    assert not set(X_train.index) & set(X_test.index)


def test_course_split_is_fresh_and_deterministic(course_split):
    X_train, y_train, X_test, _ = course_split
    again = load_mortality_cohort()
    again[0].iloc[0, 0] = -1.0  # mutating a result must not leak into the next call
    X_train2, y_train2, X_test2, _ = load_mortality_cohort()
    pd.testing.assert_frame_equal(X_train, X_train2)
    pd.testing.assert_series_equal(y_train, y_train2)
    pd.testing.assert_frame_equal(X_test, X_test2)
    other = load_mortality_cohort(seed=cohort.COHORT_SEED + 1)
    assert not other[0].equals(X_train)


def test_threshold_changes_labels():
    _, y5, _, _ = load_mortality_cohort(5)
    _, y10, _, _ = load_mortality_cohort(10)
    assert y5.mean() < y10.mean()


# ------------------------------------------------------------------------------------------
# the random forest
# ------------------------------------------------------------------------------------------
def test_rf_test_cindex(course_split):
    _, _, X_test, y_test = course_split
    rf = load_mortality_rf()
    assert isinstance(rf, RandomForestClassifier)
    assert list(rf.classes_) == [False, True]
    assert list(rf.feature_names_in_) == EXPECTED_COLUMNS
    scores = rf.predict_proba(X_test)[:, 1]
    c = cindex(y_test.to_numpy(), scores)
    assert 0.72 <= c <= 0.85, c
    assert c == pytest.approx(concordance_index(y_test.to_numpy().astype(int), scores), abs=1e-12)
    # the forest is not better than the truth it was trained on (up to noise)
    assert c <= cindex(y_test.to_numpy(), true_risk(X_test)) + 0.02


def test_rf_deterministic_rebuild(course_split):
    _, _, X_test, _ = course_split
    first = load_mortality_rf().predict_proba(X_test)
    cohort._fit_rf.cache_clear()
    cohort._synthetic_raw.cache_clear()
    second = load_mortality_rf().predict_proba(X_test)
    np.testing.assert_array_equal(first, second)


def test_rf_callers_cannot_break_each_other(course_split):
    _, _, X_test, _ = course_split
    rf = load_mortality_rf()
    expected = rf.predict_proba(X_test)
    rf.estimators_ = rf.estimators_[:1]
    rf.set_params(n_estimators=1)
    fresh = load_mortality_rf()
    assert fresh is not rf and len(fresh.estimators_) == 100
    np.testing.assert_array_equal(fresh.predict_proba(X_test), expected)


# ------------------------------------------------------------------------------------------
# real-data mode
# ------------------------------------------------------------------------------------------
# time of death (> 0) or minus censored follow-up (< 0), and the label expected at 10 years
# (None: the course drops the row).
KNOWN_ROWS = [
    (5.0, True),      # died at 5 years
    (12.0, False),    # died at 12 years: alive at 10
    (-15.0, False),   # followed 15 years, alive
    (-5.0, None),     # lost after 5 years: status at 10 unknown -> dropped
    (10.0, False),    # died exactly at 10: time < 10 is False
    (-10.0, None),    # censored exactly at 10: not > 10 -> dropped
    (3.0, None),      # has a missing feature -> dropped
    (0.5, True),
    (-18.2, False),
    (9.99, True),
    (-11.0, False),
    (20.0, False),
]
NAN_ROW = 6


def _write_real(folder, rows=KNOWN_ROWS, *, x_index=True, drop_x=(), y_column="y", y_rows=None):
    nhanes = folder / "nhanes"
    nhanes.mkdir(parents=True, exist_ok=True)
    X, _ = generate_cohort(len(rows), 99)
    X.loc[NAN_ROW, "Serum Iron"] = np.nan
    X = X.drop(columns=list(drop_x))
    X.to_csv(nhanes / "NHANESI_X.csv", index=x_index)
    times = [t for t, _ in rows][: y_rows if y_rows is not None else len(rows)]
    pd.DataFrame({y_column: times}).to_csv(nhanes / "NHANESI_y.csv")
    return X


@pytest.fixture
def real_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("x_index", [True, False])
def test_real_data_follows_course_filtering(real_dir, x_index):
    X = _write_real(real_dir, x_index=x_index)
    X_train, y_train, X_test, y_test = load_mortality_cohort(10)
    kept = {i: label for i, (_, label) in enumerate(KNOWN_ROWS) if label is not None}
    got = pd.concat([y_train, y_test])
    assert sorted(got.index) == sorted(kept)
    assert got.to_dict() == kept
    assert len(X_test) == math.ceil(0.25 * len(kept))
    # exactly sklearn's split of the filtered rows
    expected_train, expected_test = train_test_split(sorted(kept), test_size=0.25, random_state=10)
    assert list(X_train.index) == expected_train and list(X_test.index) == expected_test
    pd.testing.assert_frame_equal(X_test, X.loc[expected_test, EXPECTED_COLUMNS].astype(float))


def test_real_data_other_threshold(real_dir):
    _write_real(real_dir)
    _, y_train, _, y_test = load_mortality_cohort(4)
    got = pd.concat([y_train, y_test]).to_dict()
    # at 4 years: the 5-year death is alive, the 5-year loss is now kept, the 3-year death has a NaN
    assert not got[0] and not got[3] and got[7]
    assert not got[5]  # censored at 10 years: alive at 4
    assert NAN_ROW not in got


def test_real_data_rf(real_dir):
    rows = [(t + k * 0.01, None) for k in range(5) for t, _ in KNOWN_ROWS]
    nhanes = real_dir / "nhanes"
    nhanes.mkdir()
    X, _ = generate_cohort(len(rows), 3)
    X.to_csv(nhanes / "NHANESI_X.csv")
    pd.DataFrame({"y": [t for t, _ in rows]}).to_csv(nhanes / "NHANESI_y.csv")
    X_train, _, _, _ = load_mortality_cohort()
    rf = load_mortality_rf()
    assert rf.estimators_[0].tree_.weighted_n_node_samples[0] == len(X_train)


@pytest.mark.parametrize("missing", ["NHANESI_X.csv", "NHANESI_y.csv"])
def test_real_data_missing_file(real_dir, missing):
    _write_real(real_dir)
    (real_dir / "nhanes" / missing).unlink()
    with pytest.raises(FileNotFoundError, match=missing):
        load_mortality_cohort()


def test_real_data_missing_columns(real_dir):
    _write_real(real_dir, drop_x=("BMI", "TS"))
    with pytest.raises(ValueError, match=r"NHANESI_X\.csv.*\['TS', 'BMI'\]"):
        load_mortality_cohort()


def test_real_data_y_without_column(real_dir):
    _write_real(real_dir, y_column="time")
    with pytest.raises(ValueError, match=r"NHANESI_y\.csv.*'y'"):
        load_mortality_cohort()


def test_real_data_row_mismatch(real_dir):
    _write_real(real_dir, y_rows=5)
    with pytest.raises(ValueError, match="NHANESI_X.csv has 12 rows"):
        load_mortality_cohort()


@pytest.mark.parametrize("name", ["NHANESI_X.csv", "NHANESI_y.csv"])
def test_real_data_empty_file(real_dir, name):
    _write_real(real_dir)
    (real_dir / "nhanes" / name).write_text("")
    with pytest.raises(ValueError, match=name):
        load_mortality_cohort()


def test_real_data_non_numeric(real_dir):
    X = _write_real(real_dir)
    X["Age"] = "old"
    X.to_csv(real_dir / "nhanes" / "NHANESI_X.csv")
    with pytest.raises(ValueError, match=r"NHANESI_X\.csv.*\['Age'\]"):
        load_mortality_cohort()
