"""``rampup init``: a new project with a commented rampup.yaml; with ``example=True`` also a
runnable example (a loan-default model declared in rampup.yaml and its training script)."""

from __future__ import annotations

import re
from pathlib import Path

from rampup.errors import ConflictError

EMPTY_TEMPLATE = """\
# rampup project file. Every key is optional; values shown are the defaults unless noted.
# Environment variables with the RAMPUP_ prefix override the settings here
# (e.g. RAMPUP_DATABASE_URL=postgresql://user@host/db, RAMPUP_ADMIN_TOKEN=...).
name: {name}

# database_url: sqlite:///rampup.db      # default: rampup.db in this folder
artifacts_dir: artifacts                  # registered artifacts are copied here

serving:
  host: 127.0.0.1                         # bind to localhost unless told otherwise
  port: 8000
  max_body_bytes: 1048576                 # larger request bodies get 413
  max_records: 1000                       # records per request
  max_json_depth: 64                      # deeper JSON bodies get 400

# Your models. 'rampup register NAME model.joblib --reference train.parquet --label-column y'
# registers a version without any edit here; declare a model below to give it an SLO,
# batching, alerts, an automation level, a rollout plan or retraining, for example:
#
# models:
#   my-model:
#     versions:                           # optional: registered by 'rampup apply'/'serve'
#       v1: {{artifact: model.joblib, reference: train.parquet, label_column: y}}
#     slo: {{latency_p99_ms: 50, max_error_rate: 0.01}}
#     batching: {{enabled: true, max_batch_size: 64, max_wait_ms: 2}}
models: {{}}
"""

PROJECT_TEMPLATE = """\
# rampup project file. Every key is optional; values shown are the defaults unless noted.
# Environment variables with the RAMPUP_ prefix override the settings here
# (e.g. RAMPUP_DATABASE_URL=postgresql://user@host/db, RAMPUP_ADMIN_TOKEN=...).
name: {name}

# database_url: sqlite:///rampup.db      # default: rampup.db in this folder
artifacts_dir: artifacts                  # registered artifacts are copied here

serving:
  host: 127.0.0.1                         # bind to localhost unless told otherwise
  port: 8000
  max_body_bytes: 1048576                 # larger request bodies get 413
  max_records: 1000                       # records per request

models:
  loan-default:
    description: Probability that a loan application defaults.
    versions:                             # registered by 'rampup apply' and 'rampup serve'
      v1:
        artifact: example/model.joblib    # made by 'python example/train.py'
        flavor: auto                      # sklearn | onnx | mlflow | python | auto
        reference: example/reference.parquet   # training data: schema + drift reference
        label_column: defaulted
        metadata:
          owner: credit-risk-team
    slo:
      latency_p99_ms: 50
      expected_qps: 100
      max_error_rate: 0.01
      key_metrics: [roc_auc, accuracy]
    batching:
      enabled: true                       # group concurrent requests into one predict call
      max_batch_size: 64
      max_wait_ms: 2
    request_key:
      header: x-request-key               # user/session id: sticky routing, repeat detection
      # field: customer_id                # or take it from a field of the record
"""

TRAIN_TEMPLATE = """\
\"\"\"Train the example model: a scikit-learn pipeline on generated loan applications.

Run from the project folder:  python example/train.py
It needs only numpy, pandas, scikit-learn and joblib: replace the generated frame with your
own data and the pipeline with your own model.
\"\"\"

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["age", "annual_income", "loan_amount", "term_months", "interest_rate",
           "credit_score", "employment_years", "debt_to_income", "num_credit_lines",
           "delinquencies_2y", "has_cosigner"]
CATEGORICAL = ["home_ownership", "purpose", "region"]
LABEL = "defaulted"


def applications(n: int, seed: int) -> pd.DataFrame:
    \"\"\"``n`` synthetic loan applications with a ``defaulted`` label (about 16 %).\"\"\"
    rng = np.random.default_rng(seed)
    income = np.round(np.exp(rng.normal(10.8, 0.5, n)), -2)
    score = np.clip(rng.normal(685, 64, n), 420, 850).round()
    amount = np.clip(np.round(income * rng.uniform(0.05, 0.4, n), -2), 1000, 40000)
    term = rng.choice([12, 24, 36, 48, 60], n)
    delinquencies = rng.poisson(0.3, n)
    dti = np.clip(rng.normal(0.25, 0.11, n), 0.03, 0.95).round(3)
    employed = rng.exponential(5.5, n).round(1)
    cosigner = rng.random(n) < 0.1
    frame = pd.DataFrame({
        "age": rng.integers(19, 80, n),
        "annual_income": income,
        "loan_amount": amount,
        "term_months": term,
        "interest_rate": np.clip(30 - score / 40 + term / 20 + delinquencies, 4, 25).round(2),
        "credit_score": np.where(rng.random(n) < 0.03, np.nan, score),
        "employment_years": np.where(rng.random(n) < 0.08, np.nan, employed),
        "debt_to_income": dti,
        "num_credit_lines": rng.poisson(4.6, n),
        "delinquencies_2y": delinquencies,
        "home_ownership": rng.choice(["rent", "own", "mortgage", "other"], n,
                                     p=[0.54, 0.12, 0.32, 0.02]),
        "purpose": rng.choice(["debt_consolidation", "credit_card", "home_improvement", "car",
                               "medical", "small_business", "other"], n,
                              p=[0.38, 0.22, 0.11, 0.10, 0.05, 0.05, 0.09]),
        "region": rng.choice(["northeast", "southeast", "midwest", "southwest", "mountain",
                              "pacific"], n, p=[0.20, 0.22, 0.20, 0.13, 0.10, 0.15]),
        "has_cosigner": cosigner,
    })
    risk = (-2.3 + 6 * (dti - 0.25) - (score - 685) / 60 + 1.5 * amount / income
            + (term - 36) / 40 - 0.6 * cosigner - 0.05 * np.minimum(employed, 10)
            - 0.4 * (np.log(income) - 10.8) + 0.3 * delinquencies)
    frame[LABEL] = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(np.int64)
    return frame


here = Path(__file__).parent
frame = applications(5000, seed=7)
model = Pipeline([
    ("prep", ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                          ("scale", StandardScaler())]), NUMERIC),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), CATEGORICAL),
    ])),
    ("model", LogisticRegression(max_iter=1000)),
])
model.fit(frame[NUMERIC + CATEGORICAL], frame[LABEL])
joblib.dump(model, here / "model.joblib")
frame.to_parquet(here / "reference.parquet", index=False)
print("wrote", here / "model.joblib", "and", here / "reference.parquet")
"""

REQUEST_TEMPLATE = """\
{
  "age": 35, "annual_income": 52000.0, "loan_amount": 12000.0, "term_months": 36,
  "interest_rate": 11.5, "credit_score": 690, "employment_years": 4.0,
  "debt_to_income": 0.28, "num_credit_lines": 6, "delinquencies_2y": 0,
  "home_ownership": "rent", "purpose": "debt_consolidation", "region": "northeast",
  "has_cosigner": false
}
"""


def scaffold(directory: Path, *, name: str | None = None, force: bool = False,
             example: bool = False) -> list[Path]:
    """Create rampup.yaml and the artifacts folder in ``directory`` (and with ``example``
    the loan-default example); return what was created."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    project_file = directory / "rampup.yaml"
    if project_file.exists() and not force:
        raise ConflictError(f"{project_file} already exists",
                            fix="pass --force to overwrite it, or pick another folder")
    name = name or re.sub(r"[^a-z0-9._-]", "-", directory.name.lower()) or "rampup"
    created = [project_file]
    template = PROJECT_TEMPLATE if example else EMPTY_TEMPLATE
    project_file.write_text(template.format(name=name), encoding="utf-8")
    (directory / "artifacts").mkdir(exist_ok=True)
    created.append(directory / "artifacts")
    if not example:
        return created
    folder = directory / "example"
    folder.mkdir(exist_ok=True)
    for filename, text in (("train.py", TRAIN_TEMPLATE), ("request.json", REQUEST_TEMPLATE)):
        path = folder / filename
        if force or not path.exists():
            path.write_text(text, encoding="utf-8")
            created.append(path)
    return created
