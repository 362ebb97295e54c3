"""The README's "Your own model in three commands", run as written in a fresh folder for a
scikit-learn pipeline (a text column, string labels), an ONNX file and an MLflow model
folder: ``rampup init``, ``rampup register``, ``rampup serve`` (a real server process),
then the README's curl requests, sent as curl sends them (form-encoded content-type)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.cli.test_init_serve import free_port
from typer.testing import CliRunner

from rampup.cli import app
from rampup.store import Database

README = Path(__file__).resolve().parents[2] / "README.md"
CURL_HEADERS = {"content-type": "application/x-www-form-urlencoded"}  # what curl -d sends
CLASSES = {"leaves", "stays"}


def readme_blocks() -> tuple[list[str], list[str]]:
    """The three commands and the curl lines of the README's own-model section."""
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- own-model:")
    blocks = re.findall(r"```bash\n(.*?)```", text[start:], re.S)
    commands = [line.split("#")[0].strip() for line in blocks[0].splitlines()]
    curls = [line for line in blocks[1].splitlines() if line.startswith("curl ")]
    return [c for c in commands if c], curls


def train_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"plan": rng.choice(["basic", "pro", "team"], n),
                          "tenure_months": rng.integers(1, 60, n),
                          "monthly_fee": rng.normal(40, 10, n).round(2)})
    score = (0.05 * frame.tenure_months - 0.04 * frame.monthly_fee
             + (frame.plan == "team") * 1.0 + rng.normal(0, 0.5, n))
    frame["churned"] = np.where(score < -0.5, "leaves", "stays")
    return frame


def fit(frame: pd.DataFrame) -> Pipeline:
    pre = ColumnTransformer([("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                             ("num", StandardScaler(), ["tenure_months", "monthly_fee"])])
    return make_pipeline(pre, LogisticRegression()).fit(frame.drop(columns="churned"),
                                                        frame.churned)


def save_joblib(folder: Path, frame: pd.DataFrame) -> str:
    joblib.dump(fit(frame), folder / "model.joblib")
    return "model.joblib"


def save_onnx(folder: Path, frame: pd.DataFrame) -> str:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    onx = convert_sklearn(fit(frame), initial_types=[
        ("plan", StringTensorType([None, 1])), ("tenure_months", Int64TensorType([None, 1])),
        ("monthly_fee", FloatTensorType([None, 1]))], options={"zipmap": False})
    (folder / "model.onnx").write_bytes(onx.SerializeToString())
    return "model.onnx"


def save_mlflow(folder: Path, frame: pd.DataFrame) -> str:
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    from mlflow.models import infer_signature

    model = fit(frame)
    features = frame.drop(columns="churned")
    mlflow_sklearn.save_model(model, str(folder / "churn-model"),
                              serialization_format="cloudpickle",  # MLflow 3 default: skops
                              signature=infer_signature(features, model.predict(features)))
    return "churn-model"


@pytest.fixture
def in_fresh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "my-model"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for key in [k for k in os.environ if k.startswith("RAMPUP_")]:
        monkeypatch.delenv(key)
    return folder


def _server(argv: list[str], folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAMPUP_")},
           "RAMPUP_PORT": str(port), "RAMPUP_LOG_FLUSH_INTERVAL": "0.05"}
    proc = subprocess.Popen([sys.executable, "-m", "rampup", *argv], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode() if proc.stdout else "exited")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.time() < deadline, "the server did not become ready"
        time.sleep(0.2)
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def curl(url: str, line: str, request_id: str | None) -> httpx.Response:
    """Send one README curl line as curl would (``-d`` body, form content-type)."""
    args = shlex.split(line)
    target = next(a for a in args if a.startswith("localhost:"))
    body = args[args.index("-d") + 1]
    if request_id is not None:
        body = body.replace("01a2…", request_id)
    return httpx.post(url + target.removeprefix("localhost:8000"), content=body.encode(),
                      headers=CURL_HEADERS, timeout=30)


@pytest.mark.parametrize("save", [save_joblib, save_onnx, save_mlflow],
                         ids=["sklearn", "onnx", "mlflow"])
def test_the_readme_own_model_path(in_fresh_folder: Path,
                                   save: Callable[[Path, pd.DataFrame], str]) -> None:
    folder = in_fresh_folder
    frame = train_frame()
    artifact = save(folder, frame)
    frame.to_parquet(folder / "train.parquet", index=False)
    commands, curls = readme_blocks()
    assert commands == ["rampup init",
                        "rampup register churn model.joblib --reference train.parquet "
                        "--label-column churned",
                        "rampup serve"]
    runner = CliRunner()
    for command in commands[:2]:
        argv = shlex.split(command.replace("model.joblib", artifact))[1:]
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, result.output
    assert not (folder / "example").exists()  # init made an empty project
    assert "classes: leaves, stays" in result.output
    assert "plan" in result.output
    assert "basic, pro, team" in result.output

    served = _server(shlex.split(commands[2])[1:], folder)
    url, proc = next(served)
    try:
        answer = curl(url, curls[0], None)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["model"], body["version"]) == ("churn", "v1")
        [pred] = body["predictions"]
        assert pred["prediction"] in CLASSES
        assert set(pred["probabilities"]) == CLASSES
        assert abs(sum(pred["probabilities"].values()) - 1) < 1e-6
        feedback = curl(url, curls[1], body["request_id"])
        assert feedback.status_code == 200, feedback.text
        assert feedback.json() == {"accepted": 1, "duplicates": 0}
        bad = httpx.post(f"{url}/v1/models/churn/predict", headers=CURL_HEADERS,
                         content=json.dumps({"plan": "pro", "tenure_months": "seven",
                                             "monthly_fee": 49.0}).encode())
        assert bad.status_code == 422
        assert bad.json()["field"] == "tenure_months"
    finally:
        next(served, None)
    assert proc.returncode == 0
    store = Database.open(f"sqlite:///{folder / 'rampup.db'}")
    try:
        assert store.predictions.count_predictions("churn") == 1
        assert store.feedback.list_feedback(body["request_id"])[0].value == "stays"
    finally:
        store.close()


def test_serve_one_model_file_at_once(in_fresh_folder: Path) -> None:
    """``rampup serve model.joblib --reference train.parquet``: no init, no register."""
    folder = in_fresh_folder
    frame = train_frame()
    save_joblib(folder, frame)
    frame.to_parquet(folder / "train.parquet", index=False)
    served = _server(["serve", "model.joblib", "--reference", "train.parquet",
                      "--label-column", "churned"], folder)
    url, _proc = next(served)
    try:
        r = httpx.post(f"{url}/v1/models/model/predict", headers=CURL_HEADERS, timeout=30,
                       content=b'{"plan": "team", "tenure_months": 30, "monthly_fee": 35.5}')
        assert r.status_code == 200, r.text
        assert r.json()["predictions"][0]["prediction"] in CLASSES
        info = httpx.get(f"{url}/v1/models/model", timeout=30).json()
        features = info["versions"]["v1"]["input_schema"]["features"]
        assert [f["name"] for f in features] == ["plan", "tenure_months", "monthly_fee"]
    finally:
        next(served, None)
