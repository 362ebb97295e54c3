"""Chunked reading: exact chunk sizes, row numbers that survive malformed CSV rows."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rampup.batch.reader import estimate_csv_rows, input_kind, open_input
from rampup.errors import NotFoundError, ValidationError


def csv_lines(n: int, bad: set[int]) -> str:
    """``n`` data rows ``i,x<i>``; rows in ``bad`` (1-based) have a third field."""
    lines = ["id,name"]
    for i in range(1, n + 1):
        lines.append(f"{i},x{i},oops" if i in bad else f"{i},x{i}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("chunk_size", [1, 7, 100, 1000])
def test_csv_chunks_have_exact_sizes_and_true_row_numbers(tmp_path: Path,
                                                          chunk_size: int) -> None:
    bad = {1, 50, 51, 333, 999, 1000}
    path = tmp_path / "in.csv"
    path.write_text(csv_lines(1000, bad))
    seen_rows: list[int] = []
    ids: list[str] = []
    invalid = []
    with open_input(path, chunk_size=chunk_size, block_size=512) as f:
        assert f.columns == ["id", "name"]
        assert f.total is None
        assert f.text
        for chunk in f.chunks():
            assert len(chunk.table) == len(chunk.rows) <= chunk_size
            seen_rows.extend(chunk.rows.tolist())
            ids.extend(chunk.table.column("id").to_pylist())
            invalid.extend(f.take_invalid())
        invalid.extend(f.take_invalid())
    good = [i for i in range(1, 1001) if i not in bad]
    assert seen_rows == good
    assert ids == [str(i) for i in good]  # the data agrees with the numbers
    assert sorted(invalid) == [(i, "", "has 3 fields, expected 2") for i in sorted(bad)]
    sizes = [chunk_size] * (len(good) // chunk_size)
    assert len(seen_rows) == sum(sizes) + len(good) % chunk_size


def test_csv_values_are_text_empty_cells_are_null_and_quotes_hold_newlines(
        tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('a,b,c\n1,"two\nlines",\n2.5,NA,x\n')
    with open_input(path) as f:
        (chunk,) = list(f.chunks())
    assert chunk.table.schema == pa.schema([("a", pa.string()), ("b", pa.string()),
                                            ("c", pa.string())])
    assert chunk.table.to_pylist() == [{"a": "1", "b": "two\nlines", "c": None},
                                       {"a": "2.5", "b": "NA", "c": "x"}]
    assert chunk.rows.tolist() == [1, 2]


def test_compressed_and_tab_separated_csv(tmp_path: Path) -> None:
    gz = tmp_path / "in.csv.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(csv_lines(10, set()))
    tsv = tmp_path / "in.tsv"
    tsv.write_text("id\tname\n1\tx1\n")
    with open_input(gz, chunk_size=4) as f:
        assert [len(c.table) for c in f.chunks()] == [4, 4, 2]
    with open_input(tsv) as f:
        assert next(f.chunks()).table.to_pylist() == [{"id": "1", "name": "x1"}]
    assert estimate_csv_rows(gz) == 10


def test_parquet_total_types_and_chunks(tmp_path: Path) -> None:
    df = pd.DataFrame({"x": np.arange(25), "s": [f"v{i}" for i in range(25)]},
                      index=pd.Index(np.arange(25) * 2, name="custom"))
    path = tmp_path / "in.parquet"
    df.to_parquet(path)  # stores the index as a column
    pq.write_table(pa.table({"x": np.arange(25)}), tmp_path / "groups.parquet",
                   row_group_size=6)
    with open_input(path, chunk_size=10) as f:
        assert f.total == 25
        assert not f.text
        assert "x" in f.columns
        assert f.schema.field("x").type == pa.int64()
        chunks = list(f.chunks())
    assert [len(c.table) for c in chunks] == [10, 10, 5]
    assert np.concatenate([c.rows for c in chunks]).tolist() == list(range(1, 26))
    with open_input(tmp_path / "groups.parquet", chunk_size=10) as f:
        chunks = list(f.chunks())
    assert [len(c.table) for c in chunks] == [10, 10, 5]
    assert chunks[1].table.column("x").to_pylist() == list(range(10, 20))


def test_bad_inputs_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        open_input(tmp_path / "nope.csv")
    (tmp_path / "data.json").write_text("{}")
    with pytest.raises(ValidationError, match=r"unsupported file type '\.json'"):
        open_input(tmp_path / "data.json")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValidationError, match="cannot read"):
        open_input(tmp_path / "empty.csv")
    (tmp_path / "dup.csv").write_text("a,a\n1,2\n")
    with pytest.raises(ValidationError, match="duplicate column names: a"):
        open_input(tmp_path / "dup.csv")
    (tmp_path / "fake.parquet").write_text("not parquet")
    with pytest.raises(ValidationError, match="as Parquet"):
        open_input(tmp_path / "fake.parquet")
    with pytest.raises(ValidationError, match="chunk size"):
        open_input(tmp_path / "dup.csv", chunk_size=0)
    assert input_kind(Path("x.PARQUET")) == "parquet"
    assert input_kind(Path("x.csv.bz2")) == "csv"


def test_estimate_counts_data_rows(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(csv_lines(1234, set()).rstrip("\n"))  # no final newline
    assert estimate_csv_rows(path, block=100) == 1234
