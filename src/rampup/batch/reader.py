"""Reading batch input files in chunks of rows with constant memory.

CSV (optionally ``.gz``/``.bz2``/``.zst``/``.lz4`` compressed) is streamed with Arrow,
every column read as text — a column that looks numeric in one block may hold a stray
word in the next, and that must become a row problem, not a crash. An empty cell is a
missing value. Rows with the wrong number of fields are skipped and reported with their
row numbers. Parquet is read batch by batch with its own types; its row count is known
from the metadata.

Row numbers are 1-based data rows (the CSV header is not counted).

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "in.csv"
>>> _ = path.write_text("a,b\\n1,x\\n2\\n3,z\\n")
>>> with open_input(path, chunk_size=10) as f:
...     chunks = list(f.chunks())
...     bad = f.take_invalid()
>>> chunks[0].table.column("a").to_pylist(), chunks[0].rows.tolist()
(['1', '3'], [1, 3])
>>> bad
[(2, '', 'has 1 field, expected 2')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rampup.batch.columns import Arr
from rampup.batch.validate import Problem
from rampup.errors import NotFoundError, ValidationError

Kind = Literal["csv", "parquet"]
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")
_INDEX_COLUMN = re.compile(r"^__index_level_\d+__$")
BLOCK_SIZE = 1 << 20


def input_kind(path: Path) -> Kind:
    """``csv`` or ``parquet`` from the file name; anything else is a ValidationError."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in (".csv", ".tsv"):
        return "csv"
    if last in (".parquet", ".pq"):
        return "parquet"
    raise ValidationError(f"cannot read {path.name}: unsupported file type {last or '(none)'!r}",
                          fix="use a .csv (optionally compressed, e.g. .csv.gz) or .parquet file")


@dataclass
class Chunk:
    """Up to ``chunk_size`` rows and their 1-based row numbers in the file."""

    table: pa.Table
    rows: Arr


@dataclass(frozen=True)
class InputShape:
    """What scoring needs to know about an input file besides its rows (picklable: the
    Ray engine's workers get this, never the file, which may exist only on the driver)."""

    path: Path  # relative image/audio paths in the file resolve against its folder
    columns: list[str]
    schema: pa.Schema
    text: bool  # CSV: every column read as text


class InputFile:
    """An open input file. Use as a context manager; iterate :meth:`chunks` once."""

    def __init__(self, path: Path, chunk_size: int, block_size: int = BLOCK_SIZE) -> None:
        if chunk_size < 1:
            raise ValidationError(f"chunk size {chunk_size} is not positive",
                                  fix="use a chunk size of at least 1 row")
        if not path.is_file():
            raise NotFoundError(f"input file {path} does not exist", fix="check the path")
        self.path = path
        self.kind: Kind = input_kind(path)
        self.chunk_size = chunk_size
        self.block_size = block_size
        self.text = self.kind == "csv"
        self._invalid: list[tuple[int | None, int, int]] = []
        self._skipped: list[int] = []  # data-row numbers of malformed rows, for numbering
        self._parquet: pq.ParquetFile | None = None
        if self.kind == "parquet":
            try:
                self._parquet = pq.ParquetFile(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise ValidationError(f"cannot read {path} as Parquet: {exc}",
                                      fix="check that the file is a valid Parquet file") from None
            names = self._parquet.schema_arrow.names
            self.total: int | None = self._parquet.metadata.num_rows
            self.columns = [c for c in names if not _INDEX_COLUMN.match(c)]
            self.schema = pa.schema([self._parquet.schema_arrow.field(c) for c in self.columns])
        else:
            self.total = None
            self.columns = self._csv_header()
            self.schema = pa.schema([(c, pa.string()) for c in self.columns])
        dupes = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if dupes:
            raise ValidationError(f"{path.name} has duplicate column names: {', '.join(dupes)}",
                                  fix="give every column a distinct name")

    def shape(self) -> InputShape:
        return InputShape(self.path, list(self.columns), self.schema, self.text)

    # -- CSV --------------------------------------------------------------------------

    def _delimiter(self) -> str:
        return "\t" if ".tsv" in [s.lower() for s in self.path.suffixes] else ","

    def _csv_options(self) -> dict[str, Any]:
        return {
            "read_options": pacsv.ReadOptions(use_threads=False, block_size=self.block_size),
            "parse_options": pacsv.ParseOptions(delimiter=self._delimiter(),
                                                newlines_in_values=True,
                                                invalid_row_handler=self._on_invalid),
        }

    def _on_invalid(self, row: Any) -> str:
        self._invalid.append((row.number, row.expected_columns, row.actual_columns))
        if row.number is not None:
            self._skipped.append(row.number - 1)
        return "skip"

    def _csv_header(self) -> list[str]:
        try:
            with pacsv.open_csv(self.path, **self._csv_options()) as reader:
                names = list(reader.schema.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValidationError(f"cannot read {self.path} as CSV: {exc}",
                                  fix="check that the file is CSV with a header row") from None
        self._invalid.clear()  # the real pass reports them
        self._skipped.clear()
        return names

    def _csv_batches(self) -> Iterator[pa.RecordBatch]:
        convert = pacsv.ConvertOptions(column_types=dict.fromkeys(self.columns, pa.string()),
                                       null_values=[""], strings_can_be_null=True,
                                       quoted_strings_can_be_null=True)
        try:
            with pacsv.open_csv(self.path, convert_options=convert,
                                **self._csv_options()) as reader:
                yield from reader
        except pa.ArrowInvalid as exc:
            raise ValidationError(f"cannot read {self.path} as CSV: {exc}",
                                  fix="check the file's quoting and encoding (UTF-8)") from None

    def take_invalid(self) -> list[Problem]:
        """Malformed CSV rows seen so far (and not yet taken), as problems."""
        out = [(number - 1 if number is not None else 0, "",
                f"has {got} field{'s' if got != 1 else ''}, expected {expected}")
               for number, expected, got in self._invalid]
        self._invalid.clear()
        return out

    # -- chunks -------------------------------------------------------------------------

    def chunks(self) -> Iterator[Chunk]:
        """Chunks of exactly ``chunk_size`` rows (the last may be smaller)."""
        if self._parquet is not None:
            batches: Iterator[pa.RecordBatch] = self._parquet.iter_batches(
                batch_size=self.chunk_size, columns=self.columns)
        else:
            batches = self._csv_batches()
        next_row = 1
        pending: list[pa.RecordBatch] = []
        rows: list[Arr] = []
        held = 0
        for batch in batches:
            if len(batch) == 0:
                continue
            numbers = _number(next_row, len(batch), np.array(self._skipped, np.int64))
            next_row = int(numbers[-1]) + 1
            self._skipped = [n for n in self._skipped if n >= next_row]
            pending.append(batch)
            rows.append(numbers)
            held += len(batch)
            while held >= self.chunk_size:
                table = pa.Table.from_batches(pending, schema=batch.schema)
                numbers_all = np.concatenate(rows)
                yield Chunk(table.slice(0, self.chunk_size), numbers_all[:self.chunk_size])
                rest = table.slice(self.chunk_size)
                pending = rest.to_batches() if len(rest) else []
                rows = [numbers_all[self.chunk_size:]] if len(rest) else []
                held = len(rest)
        if held:
            yield Chunk(pa.Table.from_batches(pending), np.concatenate(rows))

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()

    def __enter__(self) -> InputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _number(start: int, n: int, skipped: Arr) -> Arr:
    """The first ``n`` row numbers from ``start`` on that are not ``skipped``.

    >>> _number(1, 3, np.array([2, 5])).tolist()
    [1, 3, 4]
    """
    ahead = skipped[skipped >= start]
    candidates = np.arange(start, start + n + len(ahead), dtype=np.int64)
    return candidates[~np.isin(candidates, ahead)][:n]


def open_input(path: str | Path, chunk_size: int = 10_000,
               block_size: int = BLOCK_SIZE) -> InputFile:
    """Open a CSV or Parquet file for reading in chunks of ``chunk_size`` rows.

    ``block_size``: bytes of CSV parsed at a time (Parquet reads by row batches).
    """
    return InputFile(Path(path), chunk_size, block_size)


def estimate_csv_rows(path: str | Path, block: int = 1 << 22) -> int:
    """Data rows of a CSV file, counted as line breaks (quoted line breaks overcount)."""
    lines = 0
    last = b"\n"
    with pa.input_stream(str(path), compression="detect") as f:
        while data := f.read(block):
            lines += data.count(b"\n")
            last = data[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)
