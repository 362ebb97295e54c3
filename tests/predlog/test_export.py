"""Exporting the prediction log joined with labels: the function, then ``rampup log export``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from rampup.cli import app
from rampup.errors import ConfigError, ValidationError
from rampup.predlog.export import export_predictions
from rampup.store import Database, FeedbackRecord

T0 = 1_700_000_000.0
META = ["id", "request_id", "ts", "time", "model", "version", "role", "stage", "request_key",
        "latency_ms", "error", "prediction", "confidence", "probabilities", "label",
        "labeled_at"]


def pred(i: int, inputs: Any = None, *, model: str = "m", version: str = "v1",
         role: str = "answer", outputs: Any = "default", **extra: Any) -> dict[str, Any]:
    if outputs == "default":
        outputs = {"prediction": i % 2, "probabilities": {"0": 0.25, "1": 0.75},
                   "confidence": 0.75}
    row: dict[str, Any] = {
        "id": f"p{i:04d}", "request_id": f"r{i:04d}", "ts": T0 + i, "model": model,
        "version": version, "role": role, "stage": None,
        "inputs": json.dumps({"age": 30 + i, "city": "Oslo"} if inputs is None else inputs),
        "outputs": None if outputs is None else json.dumps(outputs),
        "confidence": None, "latency_ms": 2.5, "error": None, "request_key": None,
    }
    row.update(extra)
    return row


def label(pid: str, value: Any, ts: float, model: str = "m") -> FeedbackRecord:
    return FeedbackRecord(pid, model, ts, "label", None, value, "user", f"{pid}:{value}:{ts}")


# -- export_predictions -------------------------------------------------------------------------

def test_round_trip_with_labels_features_and_errors(store: Database, tmp_path: Path) -> None:
    store.predictions.insert_predictions([
        pred(0, {"age": 41, "version": "b", "label": "x", "tags": ["a", "b"]}),
        pred(1, request_key="user-1", stage="asr"),
        pred(2, outputs=None, error="ModelError: boom"),
        pred(3, model="other"),
    ])
    store.feedback.add_feedback([label("p0000", 0, T0 + 100), label("p0000", 1, T0 + 200),
                                 label("p0001", 0, T0 + 50)])
    summary = export_predictions(store, "m", tmp_path / "out.parquet")
    assert (summary.rows, summary.labelled, summary.path) == (3, 2, tmp_path / "out.parquet")
    table = pq.read_table(summary.path)
    assert table.column_names == [*META, "age", "input.version", "input.label", "tags", "city"]
    assert table.schema.field("time").type == pa.timestamp("us", tz="UTC")
    rows = table.to_pylist()
    first, second, failed = rows
    assert first["id"] == "p0000"
    assert first["time"].timestamp() == T0
    assert (first["label"], first["labeled_at"]) == (1, T0 + 200)  # the latest label
    assert (first["prediction"], first["confidence"]) == (0, 0.75)
    assert json.loads(first["probabilities"]) == {"0": 0.25, "1": 0.75}
    assert (first["age"], first["input.version"], first["input.label"]) == (41.0, "b", "x")
    assert json.loads(first["tags"]) == ["a", "b"]
    assert first["version"] == "v1"  # the metadata column keeps its name
    assert (second["request_key"], second["stage"], second["label"]) == ("user-1", "asr", 0)
    assert (second["age"], second["city"]) == (31.0, "Oslo")
    assert first["city"] is None
    assert failed["error"] == "ModelError: boom"
    assert failed["prediction"] is None and failed["probabilities"] is None  # noqa: PT018
    assert failed["label"] is None


def test_streams_in_chunks_with_one_schema(sqlite_store: Database, tmp_path: Path) -> None:
    rows = [pred(i) for i in range(30)]
    for i in range(7, 30):  # later chunks: a float where ints came first, a missing feature,
        rows[i]["inputs"] = json.dumps({"age": 30.5 + i, "extra": i})  # a feature seen late
    rows[12]["outputs"] = json.dumps({"prediction": 1})
    sqlite_store.predictions.insert_predictions(rows)
    seen: list[int] = []
    out = tmp_path / "deep" / "dir" / "log.parquet"
    summary = export_predictions(sqlite_store, "m", out, chunk_size=7, progress=seen.append)
    assert seen == [7, 14, 21, 28, 30]
    assert summary.rows == 30
    assert summary.dropped_columns == ("extra",)
    file = pq.ParquetFile(out)
    assert file.metadata.num_row_groups == 5  # written chunk by chunk
    table = file.read()
    assert table.column_names == [*META, "age", "city"]
    assert table.column("age").to_pylist() == [30.0 + i for i in range(7)] + [
        30.5 + i for i in range(7, 30)]
    assert table.column("city").null_count == 23
    assert table.column("probabilities").to_pylist()[12] is None
    assert table.column("ts").to_pylist() == [T0 + i for i in range(30)]
    assert not list(out.parent.glob(".*part"))


def test_filters(sqlite_store: Database, tmp_path: Path) -> None:
    sqlite_store.predictions.insert_predictions(
        [pred(i) for i in range(6)] + [pred(i, version="v2", role="shadow") for i in range(6, 9)]
        + [pred(i, role="batch") for i in range(9, 11)])
    sqlite_store.feedback.add_feedback([label("p0001", 1, T0 + 60), label("p0007", 0, T0 + 60)])

    def ids(**kw: Any) -> list[str]:
        path = tmp_path / "f.parquet"
        export_predictions(sqlite_store, "m", path, **kw)
        return [i[1:] for i in pq.read_table(path).column("id").to_pylist()]

    assert len(ids()) == 11
    assert ids(since=T0 + 4, until=T0 + 7) == ["0004", "0005", "0006"]
    assert ids(version="v2") == ["0006", "0007", "0008"]
    assert ids(roles=["batch", "shadow"]) == ["0006", "0007", "0008", "0009", "0010"]
    assert ids(labelled_only=True) == ["0001", "0007"]
    assert ids(labelled_only=True, roles=["answer"], chunk_size=2) == ["0001"]


def test_nothing_to_export_writes_an_empty_file(sqlite_store: Database, tmp_path: Path) -> None:
    sqlite_store.predictions.insert_predictions([pred(0)])
    summary = export_predictions(sqlite_store, "m", tmp_path / "e.parquet", since=T0 + 1)
    assert (summary.rows, summary.labelled) == (0, 0)
    table = pq.read_table(summary.path)
    assert table.num_rows == 0
    assert table.column_names == META
    labelled = export_predictions(sqlite_store, "m", tmp_path / "l.csv", labelled_only=True)
    assert labelled.rows == 0
    assert pa_csv.read_csv(labelled.path).column_names == META


def test_csv_output(sqlite_store: Database, tmp_path: Path) -> None:
    sqlite_store.predictions.insert_predictions([pred(i) for i in range(5)])
    sqlite_store.feedback.add_feedback([label("p0002", 1, T0 + 9)])
    summary = export_predictions(sqlite_store, "m", tmp_path / "out.csv", chunk_size=2)
    text = summary.path.read_text()
    assert text.splitlines()[0] == ",".join(f'"{c}"' for c in [*META, "age", "city"])
    table = pa_csv.read_csv(summary.path)
    assert table.num_rows == 5
    assert table.column("label").to_pylist() == [None, None, 1, None, None]
    assert table.column("age").to_pylist() == [30.0, 31.0, 32.0, 33.0, 34.0]
    assert text.splitlines()[1].split(",")[3].startswith("2023-11-14 22:13:20")


def test_mixed_and_free_form_values(sqlite_store: Database, tmp_path: Path) -> None:
    sqlite_store.predictions.insert_predictions([
        pred(0, {"code": 7, "box": {"w": 1}}, outputs="a free-form answer"),
        pred(1, {"code": "A7"}, outputs=[1, 2]),
        pred(2, [3.0, 4.0]),  # inputs that are not an object
    ])
    table = pq.read_table(export_predictions(sqlite_store, "m", tmp_path / "x.parquet").path)
    assert table.column("code").to_pylist() == ["7", "A7", None]  # mixed types become text
    assert table.column("box").to_pylist() == ['{"w":1}', None, None]
    assert table.column("input").to_pylist() == [None, None, "[3.0,4.0]"]
    assert table.column("prediction").to_pylist() == ["a free-form answer", "[1,2]", "0"]


def test_type_change_after_the_first_chunk_is_a_clear_error(
    sqlite_store: Database, tmp_path: Path
) -> None:
    rows = [pred(i) for i in range(4)]
    rows[3]["inputs"] = json.dumps({"age": "forty", "city": "Oslo"})
    sqlite_store.predictions.insert_predictions(rows)
    out = tmp_path / "exports" / "bad.parquet"
    with pytest.raises(ValidationError, match=r"'age'.*p0003") as info:
        export_predictions(sqlite_store, "m", out, chunk_size=2)
    assert info.value.fix is not None
    assert "--version" in info.value.fix
    assert list(out.parent.iterdir()) == []  # no partial file left behind


def test_bad_arguments(sqlite_store: Database, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    with pytest.raises(ConfigError, match="unknown file type"):
        export_predictions(sqlite_store, "m", out / "out.xlsx")
    with pytest.raises(ConfigError, match="time range is empty"):
        export_predictions(sqlite_store, "m", out / "o.parquet", since=T0, until=T0)
    with pytest.raises(ConfigError, match="chunk size"):
        export_predictions(sqlite_store, "m", out / "o.parquet", chunk_size=0)
    assert not out.exists()


# -- rampup log export --------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RAMPUP_DATABASE_URL", raising=False)
    monkeypatch.delenv("RAMPUP_PROJECT_DIR", raising=False)
    proj = tmp_path / "proj"
    proj.mkdir()
    store = Database.open(f"sqlite:///{(proj / 'rampup.db').resolve()}")
    try:
        store.models.ensure_model("m")
        store.models.ensure_model("empty")
        store.predictions.insert_predictions(
            [pred(i) for i in range(5)] + [pred(i, role="shadow", version="v2")
                                           for i in range(5, 8)])
        store.feedback.add_feedback([label("p0001", 1, T0 + 60), label("p0006", 0, T0 + 60)])
    finally:
        store.close()
    return proj


def run(project: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--project", str(project), "log", "export", *args])


def test_cli_exports_with_filters(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = run(project, "m", "--since", f"epoch:{T0 + 1:.0f}", "--role", "answer", "--role",
                 "shadow", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"since {datetime.fromtimestamp(T0 + 1, UTC):%Y-%m-%d %H:%M:%S} UTC (epoch seconds" \
        in result.output  # the interpreted time is echoed with the form it was read in
    assert "exported 7 predictions of m (2 labelled)" in result.output
    assert str(out) in result.output.replace("\n", "")
    assert pq.read_table(out).column("id").to_pylist() == [f"p{i:04d}" for i in range(1, 8)]

    result = run(project, "m", "--labelled-only", "--version", "v2", "--until", "2030-01-01",
                 "-o", str(tmp_path / "l.csv"))
    assert result.exit_code == 0, result.output
    assert "exported 1 predictions of m (1 labelled)" in result.output
    assert pa_csv.read_csv(tmp_path / "l.csv").column("id").to_pylist() == ["p0006"]


def test_cli_recent_window_and_empty_model(project: Path, tmp_path: Path) -> None:
    result = run(project, "m", "--since", "24h", "-o", str(tmp_path / "recent.parquet"))
    assert result.exit_code == 0, result.output
    assert "exported 0 predictions" in result.output  # everything was logged in 2023
    assert "(24h back from now)" in result.output
    result = run(project, "empty", "-o", str(tmp_path / "none.parquet"))
    assert result.exit_code == 0, result.output
    assert pq.read_table(tmp_path / "none.parquet").num_rows == 0


@pytest.mark.parametrize(("args", "message"), [
    (["m", "--since", "last week"], "since: cannot read 'last week' as a point in time"),
    (["m", "--since", str(T0)], "would be"),  # a bare epoch number: refused, never 1970
    (["m", "--until", "5 min"], "until: cannot read '5 min' as a point in time"),
    (["ghost"], "model 'ghost' has no predictions"),
    (["m", "--role", "primary"], "unknown role 'primary'"),
    (["m", "--since", "1d", "--until", "2d"], "time range is empty"),
])
def test_cli_errors(project: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "x.parquet"
    result = run(project, *args, "-o", str(out))
    assert result.exit_code == 2
    assert message in result.output
    assert "fix:" in result.output
    assert not out.exists()
