"""An NHANES-style mortality cohort with a *known* risk model, and the course's random forest.

The course (AI for Medicine, C3W3) interprets a random forest that predicts death within
10 years from the NHANES I Epidemiologic Follow-up Study subset shipped with shap
(``shap.datasets.nhanesi()``).  That table cannot be downloaded where this course is built, so
this module generates an equivalent one: the same 18 columns in the same order and units, with
realistic marginals and correlations for US adults aged 25-74 examined in 1971-75, and a
documented survival model that decides who dies.  Because the true model is known,
permutation importance and SHAP values can be *checked* against the true effects
(:data:`TRUE_RISK_RANKING`).

Conventions
-----------
* **Label**: ``y == True`` (1) means *death within ``threshold`` years* (10 by default);
  ``False`` (0) means alive at ``threshold`` years.
* **Sex**: ``1.0`` = male, ``2.0`` = female (NHANES coding, stored as floats).
* **Race**: ``1.0`` = white, ``2.0`` = black, ``3.0`` = other.
* **Risk direction**: :func:`true_risk` and ``rf.predict_proba(X)[:, 1]`` are probabilities
  of death, so **higher means higher risk** -- pass them to :func:`util.metrics.concordance.cindex` as they are.
* All feature columns are ``float64``; columns NHANES records as integers hold whole numbers.

Units (as in NHANES I / shap)
-----------------------------
======================  ==================================================================
column                  unit and rounding
======================  ==================================================================
Age                     years, whole number, 25-74
Diastolic BP            mmHg, whole number
Poverty index           household income / poverty threshold x 100 (100 = at the poverty
                        line), whole number, top-coded at 999
Race                    1 / 2 / 3 (see above)
Red blood cells         hematocrit-like value, % (about 40-50), one decimal
Sedimentation rate      mm/h, whole number
Serum Albumin           g/dL, one decimal
Serum Cholesterol       mg/dL, whole number
Serum Iron              ug/dL, whole number
Serum Magnesium         mEq/L, two decimals
Serum Protein           g/dL, one decimal
Sex                     1 / 2 (see above)
Systolic BP             mmHg, whole number
TIBC                    total iron-binding capacity, ug/dL, whole number
TS                      transferrin saturation, % = 100 x Serum Iron / TIBC (not rounded)
White blood cells       x 1000 per uL, one decimal
BMI                     kg/m^2, six decimals (computed from weight and height in NHANES)
Pulse pressure          mmHg, exactly Systolic BP - Diastolic BP
======================  ==================================================================

The true risk model
-------------------
Time to death ``T`` is exponential with a proportional-hazards log-rate

    log h(x) = b0 + sum_j f_j(x_j),          b0 = :data:`BASELINE_LOG_HAZARD`

so the probability of death within ``t`` years is ``1 - exp(-t * exp(log h(x)))``
(:func:`true_risk`).  The terms ``f_j`` (per year; see :data:`TRUE_MODEL`):

======================  ============================================  =======  ======
feature                 term f_j on the log-hazard scale               coef     effect
======================  ============================================  =======  ======
Age                     coef x (Age - 50)                              +0.058   0.846
Sex                     coef x (2 - Sex)      (1 for men, 0 women)     +0.600   0.296
Systolic BP             coef x (Systolic BP - 130)                     +0.012   0.232
Pulse pressure          coef x (Pulse pressure - 50)                   +0.015   0.208
Poverty index           coef x ln(max(Poverty index, 10) / 100)        -0.270   0.174
Sedimentation rate      coef x ln((Sedimentation rate + 1) / 10)       +0.180   0.139
Serum Albumin           coef x (Serum Albumin - 4.4)   (protective)    -0.400   0.122
White blood cells       coef x (White blood cells - 7)                 +0.050   0.091
BMI                     coef x (BMI - 25)^2            (U-shape)       +0.0025  0.074
all other nine columns  0 (no effect at all)                            0        0
======================  ============================================  =======  ======

("effect" is the effect size defined below, rounded; the code computes it, not this table.)
About 15 % of the generated cohort dies within 10 years; the true model's c-index on the
course's test split is 0.82, about the best any model fitted to this data can do.

Diastolic BP, Race, Red blood cells, Serum Cholesterol, Serum Iron, Serum Magnesium,
Serum Protein, TIBC and TS have **zero** true effect -- but several are correlated with features
that matter (Diastolic BP with Systolic BP, Race with Poverty index, Serum Protein with Serum
Albumin), which is exactly what makes their permutation importance or SHAP values non-zero
for a fitted model.

**Effect size** of a feature is the standard deviation of its term ``f_j(x_j)`` (log-hazard
scale) over a large reference cohort (:data:`REFERENCE_N` people generated with
:data:`REFERENCE_SEED`).  For a linear term this is ``|coef| x SD(x_j)``.
:data:`TRUE_RISK_RANKING` sorts the 18 columns by effect size, strongest first (zero-effect
columns last, in column order); :func:`true_effect_sizes` returns the numbers.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from util.config import paths
from util.config.checks import check_int, check_number, check_seed

__all__ = [
    "COLUMNS",
    "TRUE_MODEL",
    "BASELINE_LOG_HAZARD",
    "TRUE_RISK_RANKING",
    "ZERO_EFFECT_FEATURES",
    "COHORT_SEED",
    "COHORT_SIZE",
    "RF_PARAMS",
    "generate_cohort",
    "generate_nhanes_raw",
    "true_log_hazard",
    "true_risk",
    "true_effect_sizes",
    "load_mortality_cohort",
    "load_mortality_rf",
]

COLUMNS = [
    "Age",
    "Diastolic BP",
    "Poverty index",
    "Race",
    "Red blood cells",
    "Sedimentation rate",
    "Serum Albumin",
    "Serum Cholesterol",
    "Serum Iron",
    "Serum Magnesium",
    "Serum Protein",
    "Sex",
    "Systolic BP",
    "TIBC",
    "TS",
    "White blood cells",
    "BMI",
    "Pulse pressure",
]
"""The 18 feature names of shap's ``nhanesi()`` table, in its column order."""

#: Intercept ``b0`` of the true log-hazard (per year); chosen so that about 15 % of the
#: generated cohort dies within 10 years.
BASELINE_LOG_HAZARD = -4.80

#: The true model: feature -> (transform name, centre, coefficient).  See the module docstring.
TRUE_MODEL = {
    "Age": ("linear", 50.0, 0.058),
    "Sex": ("male", None, 0.600),
    "Systolic BP": ("linear", 130.0, 0.012),
    "Pulse pressure": ("linear", 50.0, 0.015),
    "Poverty index": ("log_floor10", 100.0, -0.270),
    "Sedimentation rate": ("log1p", 10.0, 0.180),
    "Serum Albumin": ("linear", 4.4, -0.400),
    "White blood cells": ("linear", 7.0, 0.050),
    "BMI": ("square", 25.0, 0.0025),
}

#: Columns with no true effect on mortality.
ZERO_EFFECT_FEATURES = [c for c in COLUMNS if c not in TRUE_MODEL]

#: Seed of the course's cohort (NHANES I started in 1971).
COHORT_SEED = 1971
#: People generated before the course's filtering; about 6000 remain, about 1500 in the test split.
COHORT_SIZE = 6100
#: Reference cohort used to compute effect sizes.
REFERENCE_N = 100_000
REFERENCE_SEED = 0

#: Hyper-parameters of the course's random forest (fit on the training split).
RF_PARAMS = {
    "n_estimators": 100,
    "max_depth": 8,
    "min_samples_leaf": 10,
    "max_features": "sqrt",
    "random_state": 10,
    "n_jobs": 1,
}

# Follow-up of the synthetic cohort (NHANES I examinations 1971-75, mortality follow-up to 1992).
_ADMIN_CENSOR_YEARS = (15.0, 21.0)
_LOSS_TO_FOLLOW_UP = 0.04


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _check_n(n) -> int:
    return check_int(n, "n", minimum=1, what="the number of people")



def _check_years(value, name: str) -> float:
    return check_number(value, name, positive=True, what="years")


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------
def _simulate(n: int, seed: int):
    """Return (features as a DataFrame, time to death in years, the generator) for ``n`` people.

    All steps draw from one generator, so their order is part of the output.
    """
    rng = np.random.default_rng(seed)
    people = _demography(rng, n)
    columns = {"Age": people.age, "Race": people.race, "Sex": np.where(people.male, 1.0, 2.0)}
    columns.update(_poverty_and_bmi(rng, people))
    columns.update(_blood_pressure(rng, people, columns["BMI"]))
    columns.update(_blood_counts(rng, people))
    columns.update(_serum_proteins(rng, people))
    columns.update(_cholesterol(rng, people, columns["BMI"]))
    columns.update(_iron_and_magnesium(rng, people))
    X = pd.DataFrame(columns, columns=COLUMNS).astype(np.float64)
    return X, _time_to_death(rng, X), rng


class _People(NamedTuple):
    """Demography and a latent frailty of ``n`` people (arrays of length ``n``)."""

    n: int
    age: np.ndarray  #: years, whole numbers as float64
    a: np.ndarray  #: age - 50
    male: np.ndarray  #: bool
    female: np.ndarray  #: bool
    race: np.ndarray  #: 1.0 / 2.0 / 3.0
    black: np.ndarray  #: bool
    inflam: np.ndarray  #: latent inflammation / frailty shared by several labs, standard normal


def _demography(rng, n: int) -> _People:
    """Draw age, sex, race and latent inflammation; NHANES I over-sampled the elderly and had more women."""
    old = rng.random(n) < 0.22
    age = np.where(old, rng.integers(65, 75, n), rng.integers(25, 65, n)).astype(np.float64)
    male = rng.random(n) < 0.42
    u = rng.random(n)
    race = np.where(u < 0.86, 1.0, np.where(u < 0.985, 2.0, 3.0))
    inflam = rng.normal(0.0, 1.0, n)
    return _People(n, age, age - 50.0, male, ~male, race, race == 2.0, inflam)


def _poverty_and_bmi(rng, p: _People) -> dict:
    """Draw the columns Poverty index and BMI."""
    log_pi = np.log(260.0) - 0.60 * p.black - 0.35 * (p.race == 3.0) - 0.004 * p.a + rng.normal(0.0, 0.62, p.n)
    poverty = np.clip(np.round(np.exp(log_pi)), 5, 999)
    log_bmi = (
        np.log(25.0) + 0.0025 * p.a - 0.00012 * p.a**2 + 0.06 * (p.black & p.female)
        + np.where(p.male, rng.normal(0.0, 0.14, p.n), rng.normal(0.0, 0.18, p.n))
    )
    bmi = np.round(np.clip(np.exp(log_bmi), 14.0, 60.0), 6)
    return {"Poverty index": poverty, "BMI": bmi}


def _blood_pressure(rng, p: _People, bmi) -> dict:
    """Draw the columns Systolic BP, Diastolic BP (at least 10 mmHg lower) and Pulse pressure (their difference)."""
    age = p.age
    sbp_sd = 12.0 + 0.16 * (age - 25.0)
    sbp = 113.0 + 0.62 * (age - 25.0) + 0.8 * (bmi - 25.0) + 3.0 * p.male + 4.0 * p.black
    sbp = np.clip(np.round(sbp + rng.normal(0.0, 1.0, p.n) * sbp_sd), 80, 260)
    dbp = 30.0 + 0.38 * sbp + 0.35 * (bmi - 25.0) + 2.0 * p.black + rng.normal(0.0, 7.5, p.n)
    dbp = np.clip(np.round(dbp), 40, 150)
    dbp = np.minimum(dbp, sbp - 10.0)
    return {"Systolic BP": sbp, "Diastolic BP": dbp, "Pulse pressure": sbp - dbp}


def _blood_counts(rng, p: _People) -> dict:
    """Draw the columns Red blood cells, Sedimentation rate and White blood cells."""
    a, male, female, black, inflam = p.a, p.male, p.female, p.black, p.inflam
    rbc = 46.0 * male + 41.0 * female - 0.02 * a * male - 1.5 * black - 0.6 * inflam + rng.normal(0.0, 3.0, p.n)
    rbc = np.round(np.clip(rbc, 25.0, 60.0), 1)
    log_sr = np.log(8.0) + 0.55 * female + 0.012 * a + 0.25 * black + 0.35 * inflam + rng.normal(0.0, 0.6, p.n)
    sed = np.clip(np.round(np.exp(log_sr) - 1.0), 0, 150)
    log_wbc = np.log(7.0) - 0.06 * black + 0.12 * inflam + rng.normal(0.0, 0.22, p.n)
    wbc = np.round(np.clip(np.exp(log_wbc), 1.5, 30.0), 1)
    return {"Red blood cells": rbc, "Sedimentation rate": sed, "White blood cells": wbc}


def _serum_proteins(rng, p: _People) -> dict:
    """Draw the columns Serum Albumin and Serum Protein (which rises with albumin)."""
    alb = 4.45 - 0.006 * p.a - 0.05 * p.female - 0.08 * p.inflam + rng.normal(0.0, 0.28, p.n)
    alb = np.round(np.clip(alb, 2.5, 5.8), 1)
    prot = 7.1 + 0.45 * (alb - 4.4) + 0.25 * p.black + 0.05 * p.inflam + rng.normal(0.0, 0.42, p.n)
    prot = np.round(np.clip(prot, 5.0, 10.0), 1)
    return {"Serum Albumin": alb, "Serum Protein": prot}


def _cholesterol(rng, p: _People, bmi) -> dict:
    """Draw the column Serum Cholesterol."""
    chol = 190.0 + 0.9 * (p.age - 25.0) + 12.0 * (p.female & (p.age > 50)) + 1.0 * (bmi - 25.0)
    chol = chol + rng.normal(0.0, 40.0, p.n)
    return {"Serum Cholesterol": np.clip(np.round(chol), 80, 600)}


def _iron_and_magnesium(rng, p: _People) -> dict:
    """Draw the columns TIBC, Serum Iron (at most TIBC), TS (100 x iron / TIBC) and Serum Magnesium."""
    tibc = 355.0 + 15.0 * (p.female & (p.age < 50)) - 0.6 * p.a + rng.normal(0.0, 48.0, p.n)
    tibc = np.clip(np.round(tibc), 180, 650)
    log_iron = np.log(100.0) + 0.12 * p.male - 0.08 * p.inflam + rng.normal(0.0, 0.33, p.n)
    iron = np.clip(np.round(np.exp(log_iron)), 15, 400)
    iron = np.minimum(iron, tibc)
    mg = np.round(np.clip(1.68 - 0.01 * p.inflam + rng.normal(0.0, 0.13, p.n), 1.0, 2.6), 2)
    return {"TIBC": tibc, "Serum Iron": iron, "TS": 100.0 * iron / tibc, "Serum Magnesium": mg}


def _time_to_death(rng, X: pd.DataFrame) -> np.ndarray:
    """Draw each person's time to death in years from the true model, evaluated on the published (rounded) ``X``."""
    rate = np.exp(true_log_hazard(X))
    return rng.exponential(1.0, len(X)) / rate


def generate_cohort(n: int, seed: int = COHORT_SEED, *, horizon: float = 10.0, return_risk: bool = False):
    """Generate ``n`` NHANES-I-style adults and whether each died within ``horizon`` years.

    Parameters
    ----------
    n : int
        Number of people, > 0.
    seed : int, default :data:`COHORT_SEED`
        Seed of ``numpy.random.default_rng``; the same ``(n, seed)`` always gives the same table.
    horizon : float, default 10
        Years of follow-up that define the label.
    return_risk : bool, default False
        Also return the true probability of death within ``horizon`` years.

    Returns
    -------
    X : pandas.DataFrame of shape (n, 18)
        The :data:`COLUMNS`, float64, index ``0..n-1``.
    y : pandas.Series of bool, named ``"y"``
        True = died within ``horizon`` years (drawn from the true model, no censoring).
    risk : pandas.Series of float, only if ``return_risk``
        ``true_risk(X, horizon)``; ``y`` is a Bernoulli draw with exactly this probability.

    Raises
    ------
    TypeError
        If ``n`` or ``seed`` is not an int (a bool is not), or ``horizon`` not a real number.
    ValueError
        If ``n`` < 1, ``seed`` < 0, or ``horizon`` not positive and finite.
    """
    n = _check_n(n)
    seed = check_seed(seed)
    horizon = _check_years(horizon, "horizon")
    X, time_to_death, _ = _simulate(n, seed)
    y = pd.Series(time_to_death < horizon, index=X.index, name="y")
    if return_risk:
        return X, y, pd.Series(true_risk(X, horizon), index=X.index, name="risk")
    return X, y


def generate_nhanes_raw(n: int = COHORT_SIZE, seed: int = COHORT_SEED):
    """Generate a cohort in the layout of shap's ``NHANESI_X.csv`` / ``NHANESI_y.csv``.

    Everybody is followed until administrative censoring (uniform 15-21 years after the
    examination); 4 % are lost to follow-up earlier (uniform time before that).

    Parameters
    ----------
    n : int, default :data:`COHORT_SIZE`
    seed : int, default :data:`COHORT_SEED`

    Returns
    -------
    X : pandas.DataFrame of shape (n, 18)
        Same as :func:`generate_cohort` for the same ``(n, seed)``.
    y : pandas.Series of float, named ``"y"``
        shap's convention: a positive value is the time of death in years, a negative value
        minus the censored follow-up time.

    Raises
    ------
    TypeError
        If ``n`` or ``seed`` is not an int (a bool is not).
    ValueError
        If ``n`` < 1 or ``seed`` < 0.
    """
    n = _check_n(n)
    seed = check_seed(seed)
    X, time_to_death, rng = _simulate(n, seed)
    censor = rng.uniform(*_ADMIN_CENSOR_YEARS, n)
    lost = rng.random(n) < _LOSS_TO_FOLLOW_UP
    censor = np.where(lost, rng.uniform(0.0, 1.0, n) * censor, censor)
    died = time_to_death <= censor
    y = np.where(died, np.maximum(np.round(time_to_death, 3), 0.001), -np.maximum(np.round(censor, 3), 0.001))
    return X, pd.Series(y, index=X.index, name="y")


# --------------------------------------------------------------------------------------------
# the true model
# --------------------------------------------------------------------------------------------
def _term(values: np.ndarray, kind: str, centre, coef: float) -> np.ndarray:
    if kind == "linear":
        return coef * (values - centre)
    if kind == "male":
        return coef * (2.0 - values)
    if kind == "log_floor10":
        return coef * np.log(np.maximum(values, 10.0) / centre)
    if kind == "log1p":
        return coef * np.log((np.maximum(values, 0.0) + 1.0) / centre)
    if kind == "square":
        return coef * (values - centre) ** 2
    raise AssertionError(kind)  # pragma: no cover


def _terms(X) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be a pandas DataFrame with the columns {COLUMNS}; got {type(X).__name__}.")
    missing = [c for c in TRUE_MODEL if c not in X.columns]
    if missing:
        raise ValueError(f"X lacks the columns {missing} that the true risk model uses.")
    out = {}
    for col, (kind, centre, coef) in TRUE_MODEL.items():
        values = pd.to_numeric(X[col], errors="raise").to_numpy(dtype=np.float64)
        out[col] = _term(values, kind, centre, coef)
    return pd.DataFrame(out, index=X.index)


def true_log_hazard(X) -> np.ndarray:
    """Return the true log-hazard ``b0 + sum_j f_j(x_j)`` (per year) of each row of ``X``.

    Parameters
    ----------
    X : pandas.DataFrame
        Must hold the columns of :data:`TRUE_MODEL` (others are ignored).

    Returns
    -------
    numpy.ndarray of float64, shape (len(X),)
    """
    return BASELINE_LOG_HAZARD + _terms(X).sum(axis=1).to_numpy()


def true_risk(X, horizon: float = 10.0) -> np.ndarray:
    """Return the true probability of death within ``horizon`` years for each row of ``X``.

    ``risk = 1 - exp(-horizon * exp(b0 + sum_j f_j(x_j)))`` with the terms in the module
    docstring's table.  Higher means higher risk.  It is increasing in Age, Systolic BP,
    Pulse pressure, Sedimentation rate and White blood cells, higher for men (Sex 1), decreasing
    in Poverty index and Serum Albumin, U-shaped in BMI (lowest at 25), and does not depend
    on the other nine columns.

    Parameters
    ----------
    X : pandas.DataFrame
        Must hold the columns of :data:`TRUE_MODEL`.
    horizon : float, default 10
        Years.

    Returns
    -------
    numpy.ndarray of float64 in [0, 1], shape (len(X),)

    Raises
    ------
    TypeError, ValueError
        If ``X`` is not a DataFrame, lacks a needed column, or ``horizon`` is not positive.
    """
    horizon = _check_years(horizon, "horizon")
    return -np.expm1(-horizon * np.exp(true_log_hazard(X)))


@functools.lru_cache(maxsize=1)
def _effect_sizes() -> tuple:
    X, _ = generate_cohort(REFERENCE_N, REFERENCE_SEED)
    sd = _terms(X).std(axis=0, ddof=0)
    return tuple((c, float(sd.get(c, 0.0))) for c in COLUMNS)


def true_effect_sizes() -> pd.Series:
    """Return each column's effect size (SD of its log-hazard term in the reference cohort).

    Returns
    -------
    pandas.Series
        Indexed by :data:`COLUMNS` in :data:`TRUE_RISK_RANKING` order (strongest first);
        exactly 0 for the :data:`ZERO_EFFECT_FEATURES`.
    """
    sizes = pd.Series(dict(_effect_sizes()), name="effect_size")
    return sizes.loc[TRUE_RISK_RANKING].copy()


def _ranking() -> list:
    sizes = dict(_effect_sizes())
    # Stable sort: zero-effect columns stay in column order at the end.
    return sorted(COLUMNS, key=lambda c: -sizes[c])


#: The 18 columns ordered by true effect size, strongest first (Age, Sex, Systolic BP, ...),
#: computed from :data:`TRUE_MODEL` (see the module docstring for the definition).
TRUE_RISK_RANKING = _ranking()


# --------------------------------------------------------------------------------------------
# the course's data loading
# --------------------------------------------------------------------------------------------
def _course_split(X: pd.DataFrame, y, threshold: float):
    """The course's ``load_data(threshold)`` logic on shap-layout ``X`` (18 columns) and ``y``."""
    from sklearn.model_selection import train_test_split

    df = X.copy()
    df["time"] = np.asarray(y, dtype=np.float64)
    df["death"] = np.ones(len(df))
    df.loc[df["time"] < 0, "death"] = 0.0
    df["time"] = df["time"].abs()
    df = df.dropna(axis="index")
    df = df[(df["time"] > threshold) | (df["death"] == 1)]
    if len(df) < 4:
        raise ValueError(
            f"Only {len(df)} rows remain after dropping rows with missing values and people "
            f"censored before {threshold} years; at least 4 are needed to split train/test."
        )
    labels = (df["time"] < threshold).rename("y")
    features = df[COLUMNS].astype(np.float64)
    X_train, X_test, y_train, y_test = train_test_split(features, labels, test_size=0.25, random_state=10)
    return X_train, y_train, X_test, y_test


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found. Put shap's NHANES I files (NHANESI_X.csv and NHANESI_y.csv) in "
            f"{path.parent}, or unset {paths.DATA_DIR_ENV} to use the generated cohort."
        )
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a readable CSV file ({exc}).") from exc
    if df.empty:
        raise ValueError(f"{path} has no data rows.")
    return df


def _real_files() -> tuple:
    folder = paths.data_dir() / "nhanes"
    return folder / "NHANESI_X.csv", folder / "NHANESI_y.csv"


def _read_real() -> tuple:
    x_path, y_path = _real_files()
    X = _read_csv(x_path)
    y = _read_csv(y_path)
    # The first column of shap's NHANESI_X.csv is the row index (the course drops it);
    # a file written without the index starts with "Age" and is kept whole.
    if X.columns[0] not in COLUMNS:
        X = X.drop(columns=X.columns[0])
    missing = [c for c in COLUMNS if c not in X.columns]
    if missing:
        raise ValueError(f"{x_path} lacks the columns {missing}; expected the 18 columns {COLUMNS}.")
    X = X[COLUMNS]
    bad = [c for c in COLUMNS if not pd.api.types.is_numeric_dtype(X[c])]
    if bad:
        raise ValueError(f"{x_path}: the columns {bad} hold non-numeric values.")
    if "y" not in y.columns:
        raise ValueError(
            f"{y_path} lacks the column ['y'] (positive = years to death, negative = censored "
            f"follow-up); found {list(y.columns)}."
        )
    if not pd.api.types.is_numeric_dtype(y["y"]):
        raise ValueError(f"{y_path}: the column 'y' holds non-numeric values.")
    if len(y) != len(X):
        raise ValueError(f"{x_path} has {len(X)} rows but {y_path} has {len(y)}; they must match row by row.")
    return X.astype(np.float64), y["y"].to_numpy(dtype=np.float64)


@functools.lru_cache(maxsize=4)
def _synthetic_raw(seed: int):
    return generate_nhanes_raw(COHORT_SIZE, seed)


def load_mortality_cohort(threshold: float = 10, seed: int = COHORT_SEED):
    """Load the course's train/test split of the NHANES I mortality cohort.

    The course's ``load_data(threshold)``: ``y`` > 0 is the time of death, ``y`` < 0 minus the
    censored follow-up time; rows with a missing value are dropped; people censored before
    ``threshold`` years are dropped (their status at ``threshold`` is unknown); the label is
    ``time < threshold``; then ``train_test_split(test_size=0.25, random_state=10)``.

    Data source: when :func:`util.config.paths.using_real_data` is true, ``$MEDXAI_DATA_DIR/nhanes/``
    ``NHANESI_X.csv`` (first column = row index, dropped) and ``NHANESI_y.csv`` (column ``y``)
    are read -- they must exist.  Otherwise the generated cohort
    (:func:`generate_nhanes_raw` with :data:`COHORT_SIZE` people and ``seed``) is used:
    about 6000 rows remain, 1500 of them in the test split.

    Parameters
    ----------
    threshold : float, default 10
        Years; label True = death within ``threshold`` years.
    seed : int, default :data:`COHORT_SEED`
        Seed of the generated cohort (ignored for real data).

    Returns
    -------
    X_train, y_train, X_test, y_test
        DataFrames with the 18 :data:`COLUMNS` (float64) and bool Series named ``"y"``, indexed
        by the original row numbers.  **Note the order** (train pair, then test pair).
        Every call returns new objects; mutating them does not affect later calls.

    Raises
    ------
    TypeError, ValueError
        Bad ``threshold`` or ``seed``; a real file that is malformed, lacks columns
        (the message names the file and the columns), or leaves too few rows.
    FileNotFoundError
        Real-data mode and a file is missing (the message names it).
    """
    threshold = _check_years(threshold, "threshold")
    seed = check_seed(seed)
    if paths.using_real_data():
        X, y = _read_real()
    else:
        X, y = _synthetic_raw(seed)
        X = X.copy()
    return _course_split(X, y, threshold)


# --------------------------------------------------------------------------------------------
# the course's random forest
# --------------------------------------------------------------------------------------------
def _source_key() -> tuple:
    """What the training data depends on, so a cached forest is never stale."""
    if not paths.using_real_data():
        return ("synthetic",)
    key = []
    for path in _real_files():
        try:
            stat = path.stat()
            key.append((str(path.resolve()), stat.st_mtime_ns, stat.st_size))
        except OSError:
            key.append((str(path), None, None))
    return ("real", *key)


@functools.lru_cache(maxsize=4)
def _fit_rf(threshold: float, seed: int, source_key: tuple):
    from sklearn.ensemble import RandomForestClassifier

    X_train, y_train, _, _ = load_mortality_cohort(threshold, seed)
    rf = RandomForestClassifier(**RF_PARAMS)
    rf.fit(X_train, y_train)
    return rf


def load_mortality_rf(threshold: float = 10, seed: int = COHORT_SEED):
    """Return the course's random forest, fitted on the training split of :func:`load_mortality_cohort`.

    The forest is never unpickled: it is rebuilt from the seed with :data:`RF_PARAMS`
    (``random_state=10``), which is deterministic, and the fitted model is cached in-process
    (``functools.lru_cache``, keyed by ``threshold``, ``seed`` and the data source -- for real
    data the files' paths, sizes and modification times).  Each call returns a **deep copy**
    of the cached model, so a caller that mutates it (``set_params``, refitting, editing
    trees) cannot change what others get.  On the generated cohort the test c-index of
    ``rf.predict_proba(X_test)[:, 1]`` is 0.806 (the true model's: 0.824); fitting takes about a second.

    Parameters
    ----------
    threshold : float, default 10
    seed : int, default :data:`COHORT_SEED`
        As in :func:`load_mortality_cohort`.

    Returns
    -------
    sklearn.ensemble.RandomForestClassifier
        Fitted; ``classes_ == [False, True]``, so ``predict_proba(X)[:, 1]`` is the
        probability of death within ``threshold`` years (higher = higher risk).

    Raises
    ------
    As :func:`load_mortality_cohort`.
    """
    threshold = _check_years(threshold, "threshold")
    seed = check_seed(seed)
    return copy.deepcopy(_fit_rf(threshold, seed, _source_key()))
