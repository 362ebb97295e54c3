"""Issue 14: schemathesis over /openapi.json, every operation, with and without the admin
token, against a throwaway project on a real ``rampup serve``: no server error, no crash.

A short run (a few schema-valid and schema-violating cases per operation); the long one
is ``python benchmarks/fuzz.py``. Every 5xx is listed with the case that caused it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fuzz.target import Served, fuzz, serve, write_project

pytestmark = pytest.mark.slow
EXAMPLES = 3


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = write_project(tmp_path_factory.mktemp("fuzz") / "project")
    with serve(root) as s:
        yield s


def test_the_document_shows_each_models_fields(served: Served) -> None:
    doc = httpx.get(f"{served.url}/openapi.json", timeout=30).json()
    op = doc["paths"]["/v1/models/credit/predict"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    record = body["oneOf"][0]
    assert set(record["properties"]) == {"age", "income", "score", "city"}
    assert record["properties"]["age"]["type"] == "integer"
    assert record["additionalProperties"] is False
    assert "/v1/models/credit/versions/v1/predict" in doc["paths"]


@pytest.mark.parametrize("admin", [False, True], ids=["anonymous", "admin"])
def test_no_operation_answers_a_server_error(served: Served, admin: bool) -> None:
    result = fuzz(served.url, examples=EXAMPLES, admin=admin, seed=14)
    assert result.operations >= 50, result.operations
    assert result.total >= result.operations, result.cases
    assert result.server_errors == [], "\n".join(map(str, result.server_errors[:20]))
    assert result.transport_errors == [], "\n".join(map(str, result.transport_errors[:20]))
    assert served.proc.poll() is None, "the server crashed"
    assert httpx.get(f"{served.url}/healthz", timeout=30).status_code == 200
    if admin:  # the token reached the admin routes: some answered 2xx
        assert any(200 <= s < 300 for s in result.statuses)

