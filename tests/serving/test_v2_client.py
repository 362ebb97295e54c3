"""A V2 client library (Triton's ``tritonclient[http]``) against ``rampup serve``,
unchanged: health, metadata, inference with named tensors, errors. The client runs in its
own interpreter (it brings gevent, kept out of the test process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_own_model import _server, save_joblib, train_frame

pytest.importorskip("tritonclient.http")

CLIENT = r'''
import json, sys
import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

client = httpclient.InferenceServerClient(url=sys.argv[1])
out = {"live": client.is_server_live(), "ready": client.is_server_ready(),
       "model_ready": client.is_model_ready("churn"),
       "metadata": client.get_model_metadata("churn"),
       "server": client.get_server_metadata()}
tensors = {}
for spec in out["metadata"]["inputs"]:  # built from the metadata, as generic tools do
    values = {"plan": np.array(["pro", "team"], dtype=object),
              "tenure_months": np.array([7, 30], dtype=np.int64),
              "monthly_fee": np.array([49.0, 35.5])}[spec["name"]]
    tensor = httpclient.InferInput(spec["name"], [2], spec["datatype"])
    tensor.set_data_from_numpy(values, binary_data=False)
    tensors[spec["name"]] = tensor
wanted = [httpclient.InferRequestedOutput(n, binary_data=False)
          for n in ("predict", "predict_proba")]
result = client.infer("churn", list(tensors.values()), request_id="r-1", outputs=wanted)
out["predict"] = [v.decode() if isinstance(v, bytes) else v
                  for v in result.as_numpy("predict").tolist()]
out["proba"] = result.as_numpy("predict_proba").tolist()
out["response"] = result.get_response()
try:
    client.infer("churn", [tensors["plan"]])
except InferenceServerException as exc:
    out["error"] = [exc.status(), exc.message()]
binary = httpclient.InferInput("plan", [1], "BYTES")
binary.set_data_from_numpy(np.array(["pro"], dtype=object))  # tritonclient's default: binary
try:
    client.infer("churn", [binary])
except InferenceServerException as exc:
    out["binary"] = [exc.status(), exc.message()]
print(json.dumps(out))
'''


def test_tritonclient_works_unchanged(tmp_path: Path) -> None:
    frame = train_frame()
    save_joblib(tmp_path, frame)
    frame.to_parquet(tmp_path / "train.parquet", index=False)
    served = _server(["serve", "model.joblib", "--name", "churn", "--reference",
                      "train.parquet", "--label-column", "churned"], tmp_path)
    url, _proc = next(served)
    try:
        done = subprocess.run([sys.executable, "-c", CLIENT, url.removeprefix("http://")],
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        next(served, None)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert (out["live"], out["ready"], out["model_ready"]) == (True, True, True)
    assert out["server"]["name"] == "rampup"
    assert [i["name"] for i in out["metadata"]["inputs"]] == ["plan", "tenure_months",
                                                             "monthly_fee"]
    assert set(out["predict"]) <= {"leaves", "stays"}
    assert all(abs(sum(row) - 1) < 1e-9 for row in out["proba"])
    assert out["response"]["id"] == "r-1"
    status, message = out["error"]
    assert status == "422"
    assert "'tenure_months' is missing" in message
    status, message = out["binary"]
    assert status == "400"
    assert "binary_data=False" in message
