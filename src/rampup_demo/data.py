"""A seeded generator of realistic loan applications, with switches for drift.

Each row is one application: who applied (age, income, employment, home, region), what
for (purpose, amount, term), what the lender set (interest rate, from the score, term and
delinquencies) and the applicant's credit history (score, open lines, delinquencies,
debt-to-income). The label ``defaulted`` is drawn from a logistic function of the true
values plus unobserved noise, with realistic directions: a higher debt-to-income, a lower
score, a bigger loan relative to income and a longer term mean more defaults; a
co-signer, a longer employment history, a higher income and owning a home mean fewer.
Some effects are non-linear, which a linear model misses and gradient boosting finds: a
debt-to-income cliff above 0.43, an extra penalty below a 620 score, delinquencies that
count only below a 660 score, U-shaped risk in age and in the number of credit lines,
and small-business loans to applicants employed under 1.5 years. The base rate is about
16 %. ``credit_score`` is missing for about 3 % of rows and ``employment_years`` for
about 8 % (a missing employment history is itself slightly risky).

Two switches in ``[0, 1]`` give the demo's monitoring something to find:

``data_drift`` moves the **inputs** and leaves the label function alone: incomes fall
(log-income -0.25, about -22 %), credit scores shift down (about -35 points) and
delinquencies rise with them, ``small_business`` loans grow from 5 % to 20 % of
applications, ``employment_years`` goes missing more often (8 % → 15 %), and above 0.5 a
region never seen at 0, ``territories``, appears (15 % of rows at 1.0). The default rate
rises (riskier applicants) but a model trained at 0 still ranks them well.

``concept_drift`` changes the **relationship** and leaves the inputs alone (for the same
seed the feature columns are identical, only ``defaulted`` changes): income stops
protecting, the credit score matters 60 % less, co-signers no longer help, and
``small_business`` loans, the ``southwest`` region and renters become much riskier. A
model trained at 0 loses about 0.1 AUC at 1.0.

Randomness: one :class:`numpy.random.SeedSequence` per generator, spawned into one stream
per column, each drawn once per call and row by row. So a seed gives the same rows
whatever the drift settings (common random numbers: a drifted frame differs from the
undrifted one by the drift, not by fresh noise), and successive
:meth:`LoanGenerator.sample` calls continue the streams and the clock: ``sample(3)``
then ``sample(2)`` gives the rows of one ``sample(5)``.

>>> gen = LoanGenerator(seed=7)
>>> df = gen.sample(4)
>>> list(df.columns) == COLUMNS
True
>>> set(df[LABEL].tolist()) <= {0, 1}
True
>>> rec = LoanGenerator(seed=7).records(1)[0]
>>> rec["application_id"] == df[ID_COLUMN].iloc[0], type(rec["age"]).__name__
(True, 'int')
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from rampup.errors import ValidationError

ID_COLUMN = "application_id"
TIME_COLUMN = "applied_at"
LABEL = "defaulted"

NUMERIC_FEATURES: list[str] = [
    "age", "annual_income", "loan_amount", "term_months", "interest_rate", "credit_score",
    "employment_years", "debt_to_income", "num_credit_lines", "delinquencies_2y",
]
CATEGORICAL_FEATURES: list[str] = ["home_ownership", "purpose", "region"]
BOOL_FEATURES: list[str] = ["has_cosigner"]
FEATURES: list[str] = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES, *BOOL_FEATURES]
COLUMNS: list[str] = [ID_COLUMN, TIME_COLUMN, *FEATURES, LABEL]

TERMS: tuple[int, ...] = (12, 24, 36, 48, 60)
HOME_OWNERSHIP: tuple[str, ...] = ("rent", "own", "mortgage", "other")
PURPOSES: tuple[str, ...] = (
    "debt_consolidation", "credit_card", "home_improvement", "car", "medical",
    "small_business", "other",
)
REGIONS: tuple[str, ...] = ("northeast", "southeast", "midwest", "southwest", "mountain", "pacific")
NEW_REGION = "territories"  # appears only with data_drift > 0.5
RISKY_REGION = "southwest"  # becomes much riskier with concept_drift
DEFAULT_START = 1_704_067_200.0  # 2024-01-01T00:00:00Z: a fixed clock keeps seeds reproducible

_STREAMS = ("time", "id", "age", "employment", "region", "income", "home", "purpose", "credit",
            "delinquency", "lines", "loan", "term", "rate", "dti", "cosigner", "missing", "noise",
            "label")
_REGION_P = np.array([0.20, 0.22, 0.20, 0.14, 0.10, 0.14])
_REGION_INCOME = np.array([0.10, -0.08, -0.04, -0.02, 0.0, 0.12, -0.15])  # incl. NEW_REGION
_REGION_RISK = np.array([0.0, 0.10, 0.0, 0.05, -0.05, -0.10, 0.20])
_PURPOSE_P = np.array([0.38, 0.22, 0.10, 0.10, 0.05, 0.05, 0.10])
_PURPOSE_DRIFT = np.array([-0.10, 0.0, 0.0, -0.05, 0.0, 0.15, 0.0])
_PURPOSE_SIZE = np.array([1.0, 0.7, 1.2, 0.9, 0.5, 1.5, 0.6])
_PURPOSE_RISK = np.array([0.10, 0.0, -0.20, -0.30, 0.30, 0.60, 0.10])
_HOME_RISK = np.array([0.10, -0.30, -0.20, 0.20])
_SMALL_BUSINESS = PURPOSES.index("small_business")
_LOG_INCOME_MID = 10.8  # about 49,000 a year
_INTERCEPT = -2.7


def _check_fraction(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValidationError(f"{name} must be between 0 and 1, got {value!r}",
                              fix=f"pass {name}=0.0 (none) up to {name}=1.0 (strong)")
    return float(value)


def _pick(u: np.ndarray[Any, Any], probs: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Inverse-CDF draw: category index per row from uniforms ``u`` and probabilities.

    ``probs`` is one row of probabilities shared by all rows, or one row per row.
    """
    p = np.asarray(probs, dtype=np.float64)
    cum = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    idx: np.ndarray[Any, Any] = (np.searchsorted(cum, u, side="right") if cum.ndim == 1
                                 else (u[:, None] >= cum).sum(axis=1))
    out: np.ndarray[Any, Any] = np.minimum(idx, p.shape[-1] - 1)
    return out


def _sigmoid(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    out: np.ndarray[Any, Any] = 1.0 / (1.0 + np.exp(-x))
    return out


class LoanGenerator:
    """Seeded stream of loan applications; see the module docstring for the drift switches.

    ``sample(n)`` returns a DataFrame with :data:`COLUMNS`; ``records(n)`` the same rows as
    JSON-ready dicts. Each call continues the random streams and the clock.
    """

    def __init__(self, seed: int, *, data_drift: float = 0.0, concept_drift: float = 0.0) -> None:
        self.seed = seed
        self.data_drift = _check_fraction("data_drift", data_drift)
        self.concept_drift = _check_fraction("concept_drift", concept_drift)
        children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
        self._rng = {name: np.random.default_rng(c) for name, c in zip(_STREAMS, children,
                                                                         strict=True)}
        self._clock = DEFAULT_START

    def sample(self, n: int, start: float | None = None, rate_per_s: float = 10.0
               ) -> pd.DataFrame:
        """``n`` applications arriving as a Poisson process at ``rate_per_s``.

        ``start`` is the first arrival in Unix seconds; ``None`` continues where the last
        call ended (first call: :data:`DEFAULT_START`).
        """
        if n < 0:
            raise ValidationError(f"n must be >= 0, got {n}", fix="ask for 0 or more rows")
        if not rate_per_s > 0:
            raise ValidationError(f"rate_per_s must be > 0, got {rate_per_s!r}",
                                  fix="pass an arrival rate such as rate_per_s=10.0")
        cols = self._features(n)
        cols[LABEL] = self._label(cols, n)
        frame = pd.DataFrame({
            ID_COLUMN: self._ids(n),
            TIME_COLUMN: self._times(n, start, rate_per_s),
            **{k: cols[k] for k in FEATURES},
            LABEL: cols[LABEL],
        })
        score = frame["credit_score"].astype("Int64")
        frame["credit_score"] = score.mask(cols["_score_missing"])
        frame["employment_years"] = frame["employment_years"].mask(cols["_emp_missing"])
        return frame

    def records(self, n: int, start: float | None = None, rate_per_s: float = 10.0
                ) -> list[dict[str, Any]]:
        """Like :meth:`sample`, as JSON-ready dicts (native types, ``None`` when missing,
        ``applied_at`` as an ISO 8601 string). They hold the id and label too: send
        ``{k: r[k] for k in FEATURES}`` for a prediction and ``r[LABEL]`` as feedback."""
        return frame_to_records(self.sample(n, start, rate_per_s))

    # -- generation ---------------------------------------------------------------------

    def _ids(self, n: int) -> list[str]:
        values = self._rng["id"].integers(0, 2**63, size=n, dtype=np.int64)
        return [f"app_{int(v):016x}" for v in values]

    def _times(self, n: int, start: float | None, rate_per_s: float) -> pd.Series:
        t0 = self._clock if start is None else float(start)
        gaps = self._rng["time"].exponential(1.0 / rate_per_s, size=n)
        offsets = np.concatenate([[0.0], np.cumsum(gaps)])
        self._clock = t0 + float(offsets[-1])
        micros = np.round((t0 + offsets[:-1]) * 1e6).astype(np.int64)
        return pd.Series(pd.to_datetime(micros, unit="us", utc=True))

    def _features(self, n: int) -> dict[str, Any]:
        r, d = self._rng, self.data_drift
        age = np.minimum(18 + r["age"].gamma(4.0, 5.5, size=n), 80).astype(np.int64)
        employment = np.round(np.minimum(r["employment"].exponential(6.0, size=n), age - 18), 1)

        region_p = np.append(_REGION_P * (1 - 0.15 * max(0.0, 2 * d - 1)),
                             0.15 * max(0.0, 2 * d - 1))
        region = _pick(r["region"].random(n), region_p)

        log_income = (_LOG_INCOME_MID - 0.1 + 0.25 * np.tanh((age - 35) / 15)
                      + 0.015 * np.minimum(employment, 20) + _REGION_INCOME[region]
                      + 0.5 * r["income"].standard_normal(n) - 0.25 * d)
        income = np.maximum(np.round(np.exp(log_income), -2), 8000.0)
        x_inc = np.log(income) - _LOG_INCOME_MID

        home_logits = np.column_stack([
            0.8 - 0.04 * (age - 30),
            -1.6 + 0.05 * (age - 30),
            -0.4 + 0.03 * (age - 30) + 0.8 * x_inc,
            np.full(n, -2.5),
        ])
        home = _pick(r["home"].random(n), np.exp(home_logits))

        purpose_p = np.tile(_PURPOSE_P + d * _PURPOSE_DRIFT, (n, 1))
        purpose_p[:, PURPOSES.index("home_improvement")] *= np.where(home != 0, 2.0, 0.5)
        purpose = _pick(r["purpose"].random(n), purpose_p)

        credit = r["credit"].standard_normal((n, 2))
        z_credit = credit[:, 0] - 0.6 * d
        score = np.clip(np.round(685 + 1.2 * np.clip(age - 40, -20, 25) + 10 * x_inc
                                 + 60 * z_credit + 15 * credit[:, 1]),
                        300, 850).astype(np.int64)
        delinquencies = np.minimum(r["delinquency"].poisson(np.exp(-1.6 - 0.9 * z_credit)), 12)
        lines = np.clip(r["lines"].poisson(np.clip(2 + 0.12 * (age - 18) + 1.5 * x_inc, 0.5, None)),
                        0, 40)

        ratio = np.exp(np.log(0.22) + 0.45 * r["loan"].standard_normal(n))
        amount = np.clip(np.round(income * ratio * _PURPOSE_SIZE[purpose] / 25) * 25,
                         1000, 40000)
        term_mu = 18 + 42 * np.sqrt(amount / 40000)
        terms = np.array(TERMS, dtype=np.float64)
        term = np.array(TERMS)[_pick(r["term"].random(n),
                                     np.exp(-(((terms[None, :] - term_mu[:, None]) / 15) ** 2)))]

        rate = np.clip(6.0 + 0.045 * np.maximum(760 - score, 0) + 0.04 * (term - 12)
                       + 0.6 * delinquencies + r["rate"].normal(0, 1.2, n), 4.0, 30.0)
        monthly = rate / 1200
        payment = amount * monthly / (1 - (1 + monthly) ** -term)
        existing = r["dti"].gamma(2.2, 0.07, size=n) + 0.0003 * np.maximum(700 - score, 0)
        dti = np.clip(existing + 12 * payment / income, 0.0, 0.95)

        cosigner_p = _sigmoid(-3.2 + 1.2 * (age < 25) + 0.8 * (x_inc < -0.5))
        cosigner = r["cosigner"].random(n) < cosigner_p
        missing = r["missing"].random((n, 2))

        return {
            "age": age, "annual_income": income, "loan_amount": amount.astype(np.float64),
            "term_months": term.astype(np.int64), "interest_rate": np.round(rate, 2),
            "credit_score": score, "employment_years": employment,
            "debt_to_income": np.round(dti, 3), "num_credit_lines": lines.astype(np.int64),
            "delinquencies_2y": delinquencies.astype(np.int64),
            "home_ownership": np.array(HOME_OWNERSHIP, dtype=object)[home],
            "purpose": np.array(PURPOSES, dtype=object)[purpose],
            "region": np.array([*REGIONS, NEW_REGION], dtype=object)[region],
            "has_cosigner": cosigner,
            "_home": home, "_purpose": purpose, "_region": region,
            "_score_missing": missing[:, 0] < 0.03,
            "_emp_missing": missing[:, 1] < 0.08 + 0.07 * d,
        }

    def _label(self, f: dict[str, Any], n: int) -> np.ndarray[Any, Any]:
        """Default drawn from the true (unmasked) values plus unobserved noise."""
        logit = _true_logit(f, self.concept_drift)
        logit = logit + 0.4 * self._rng["noise"].standard_normal(n)
        return (self._rng["label"].random(n) < _sigmoid(logit)).astype(np.int64)


def _true_logit(f: dict[str, Any], c: float) -> np.ndarray[Any, Any]:
    """Log-odds of default from the true feature values; the concept drift lives here."""
    x_inc = np.log(f["annual_income"]) - _LOG_INCOME_MID
    score, dti, age = f["credit_score"], f["debt_to_income"], f["age"]
    employment = f["employment_years"]
    small_business = f["_purpose"] == _SMALL_BUSINESS
    logit: np.ndarray[Any, Any] = (
        _INTERCEPT
        - 0.6 * (1 - c) * x_inc
        + 2.5 * (dti - 0.22) + 1.4 * (dti > 0.43)
        + (1 - 0.6 * c) * (-0.010 * (score - 690) + 0.025 * np.maximum(620 - score, 0))
        + 0.5 * np.minimum(f["delinquencies_2y"], 5) * (score < 660)
        + 1.0 * (f["loan_amount"] / f["annual_income"] - 0.25)
        + 0.25 * (f["term_months"] - 36) / 24
        - 0.03 * np.minimum(employment, 15) + 0.15 * f["_emp_missing"]
        + 1.0 * (employment < 1.5) * small_business
        + 0.0025 * (age - 42) ** 2 - 0.3
        + 0.08 * np.abs(f["num_credit_lines"] - 5)
        + _PURPOSE_RISK[f["_purpose"]] + 2.0 * c * small_business
        + _HOME_RISK[f["_home"]] + 0.5 * c * (f["_home"] == HOME_OWNERSHIP.index("rent"))
        + _REGION_RISK[f["_region"]] + 1.8 * c * (f["_region"] == REGIONS.index(RISKY_REGION))
        - 0.6 * (1 - c) * f["has_cosigner"]
    )
    return logit


def _native(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def frame_to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: native Python types, ``None`` for missing values.

    >>> frame_to_records(pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", None]}))
    [{'a': 1.5, 'b': 'x'}, {'a': None, 'b': None}]
    """
    names = [str(c) for c in frame.columns]
    columns = [[_native(v) for v in frame[c].astype(object).tolist()] for c in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
