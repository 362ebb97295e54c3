"""The pipeline block of the project file: validation, stop_when, input references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from rampup.errors import ConfigError
from rampup.project import parse_project
from rampup.serving.pipeline import combined_version
from rampup.serving.pipeline_spec import (
    PipelineError,
    compile_stop,
    read_field,
    read_path,
)
from rampup.store import Database
from tests.serving.conftest import make_settings
from tests.serving.pipeline_app import register, serve, speech


def doc(*stages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"models": {"vad": {}, "asr": {}, "p": {"pipeline": {"stages": list(stages)},
                                                   **extra}}}


@pytest.mark.parametrize(("stages", "extra", "message"), [
    ([{"model": "nope"}], {}, "unknown model 'nope'"),
    ([{"model": "p"}], {}, "a cycle"),
    ([{"model": "vad"}, {"model": "vad"}], {}, "is used twice"),
    ([{"model": "vad", "name": "input"}], {}, "is reserved"),
    ([{"model": "vad", "inputs": {"x": "energy"}}], {}, "use input.FIELD or STAGE.FIELD"),
    ([{"model": "vad", "inputs": {"x": "asr.y"}}, {"model": "asr"}], {},
     "'asr' is not an earlier stage"),
    ([{"model": "vad", "name": "v" * 62}], {}, "longer than 63"),
    ([{"model": "vad", "name": "Big Stage"}], {}, "use lowercase letters"),
    ([{"model": "vad", "stop_when": "len(label) > 2"}], {}, "Call is not allowed"),
    ([{"model": "vad", "stop_when": "label[x] == 1"}], {}, "index with a constant"),
    ([{"model": "vad", "stop_when": "(1).real"}], {}, "read fields of names only"),
    ([{"model": "vad", "stop_when": "label = 1"}], {}, "is not an expression"),
    ([{"model": "vad"}], {"versions": {"v1": {"artifact": "a:b"}}}, "has no versions"),
    ([], {}, "at least 1"),
])
def test_invalid_pipelines(stages: list[dict[str, Any]], extra: dict[str, Any],
                           message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_project(doc(*stages, **extra))


def test_a_stage_that_is_a_pipeline() -> None:
    d = doc({"model": "vad"})
    d["models"]["q"] = {"pipeline": {"stages": [{"model": "p"}]}}
    with pytest.raises(ConfigError, match="model 'p' is itself a pipeline"):
        parse_project(d)


def test_stop_expressions() -> None:
    item = {"prediction": {"kind": "speech", "words": [1, 2]}, "confidence": 0.3}
    cases = {
        "kind == 'speech' and confidence < 0.5": True,
        "not (kind in ['speech', 'music'])": False,
        "-confidence + 1 > 0.6 or missing": True,
        "words[1] == 2 and words[5] is None": True,
        "input.energy * 2 >= 1": True,
        "input['energy'] % 1 == 0.5": True,
        "(confidence, 1) == (confidence, 1)": True,
        "0 < confidence < 0.2": False,
        "label.kind != 'x'": True,
        "nothing.deeper is None": True,
    }
    for text, expected in cases.items():
        assert compile_stop(text).evaluate(item, {"energy": 0.5}) is expected, text
    with pytest.raises(PipelineError, match="guard the expression"):
        compile_stop("confidence < 1").evaluate({"prediction": 1}, {})
    with pytest.raises(PipelineError):
        compile_stop("confidence / 0").evaluate({"confidence": 1.0}, {})


def test_reading_outputs() -> None:
    item = {"prediction": "speech", "probabilities": {"speech": 0.7}}
    assert read_field(item, "label") == "speech"
    assert read_field(item, "nothing") is None
    assert read_path(item, "probabilities.speech") == 0.7
    assert read_path(item, "probabilities.none.deeper") is None
    assert combined_version(["v1", "v2"]) == "v1+v2"
    long = combined_version([f"version-{i:03d}-with-a-long-name" for i in range(3)])
    assert long.startswith("p-")
    assert len(long) == 18


async def test_an_invalid_value_from_an_earlier_stage_is_a_5xx(store: Database,
                                                                tmp_path: Path) -> None:
    settings = make_settings(tmp_path, monitor=False)
    register(store, settings)
    proj = parse_project({"models": {"vad": {}, "asr": {}, "t": {"pipeline": {"stages": [
        {"model": "vad"},
        {"model": "asr", "inputs": {"speech_ratio": "vad.label"}}]}}}})
    async with serve(store, settings, proj) as c:
        r = await c.post("/v1/models/t/predict", json=speech())
        assert r.status_code == 500
        body = r.json()
        assert body["error"] == "pipeline_error"
        assert body["stage"] == "asr"
        assert "invalid 'speech_ratio' from vad.label" in body["message"]
        r = await c.post("/v1/models/t/predict", json=[1, 2])
        assert r.status_code == 422
        assert r.json()["stage"] == "vad"
        r = await c.post("/v1/models/t/predict", json={"energy": 0.9})  # no audio_len
        assert r.status_code == 422
        assert (r.json()["field"], r.json()["stage"]) == ("audio_len", "asr")
        metrics = await c.get("/v1/models/t/metrics")
        assert metrics.status_code == 200
        assert isinstance(c, httpx.AsyncClient)
