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

TRAIN_TEMPLATE = '''\
"""Train the example model: a scikit-learn pipeline on generated loan applications.

Run from the project folder:  python example/train.py
"""

from pathlib import Path

import joblib

from rampup.demo.data import FEATURES, LABEL, LoanGenerator
from rampup.demo.train import train_model

here = Path(__file__).parent
frame = LoanGenerator(seed=7).sample(5000)
model = train_model(frame[FEATURES + [LABEL]], seed=7)
joblib.dump(model, here / "model.joblib")
frame[FEATURES + [LABEL]].to_parquet(here / "reference.parquet", index=False)
print("wrote", here / "model.joblib", "and", here / "reference.parquet")
'''

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
