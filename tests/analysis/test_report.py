"""Report rendering: escaping (values come from data), formats, self-contained HTML."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rampup.analysis.report import Estimate, Report, format_value, render, write
from rampup.errors import ValidationError

EVIL = "<script>alert('x')</script>"


def hostile_report() -> Report:
    r = Report(f"Evaluation {EVIL}", meta={"data": EVIL}, warnings=[f"warn {EVIL}"],
               data={"value": float("nan"), "arr": np.arange(3)})
    s = r.section(f"Slices {EVIL}")
    s.text(f"text {EVIL}")
    s.items([(EVIL, EVIL), ("accuracy", Estimate(0.9, 0.85, 0.95))], title=EVIL)
    s.table(["slice", EVIL], [[EVIL, 0.5], ["a|b\nc", float("nan")]], title=EVIL, note=EVIL)
    s.warn(EVIL)
    return r


def test_html_escapes_every_value_and_needs_nothing_remote() -> None:
    html = render(hostile_report(), "html")
    assert "<script" not in html
    assert html.count("&lt;script&gt;") >= 10
    assert "http://" not in html
    assert "https://" not in html
    assert "<style>" in html
    assert html.startswith("<!DOCTYPE html>")
    assert "0.9 [0.85, 0.95]" in html


def test_markdown_escapes_html_and_table_pipes() -> None:
    md = render(hostile_report(), "md")
    assert "<script" not in md
    assert "| a\\|b c | n/a |" in md
    assert "> **warning:** warn &lt;script&gt;" in md


def test_json_is_strict_and_carries_the_data() -> None:
    doc = json.loads(render(hostile_report(), "json"))
    assert doc["data"] == {"value": None, "arr": [0, 1, 2]}
    assert doc["sections"][0]["blocks"][2]["kind"] == "table"
    assert doc["sections"][0]["blocks"][2]["rows"][1][1] is None  # NaN becomes null


def test_write_picks_the_format_from_the_suffix(tmp_path: Path) -> None:
    r = hostile_report()
    assert write(r, tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads(write(r, tmp_path / "r.json").read_text())["title"].startswith("Eval")
    assert write(r, tmp_path / "sub" / "r.txt").read_text().startswith("# Evaluation")
    assert write(r, tmp_path / "x.out", "json").read_text().startswith("{")
    with pytest.raises(ValidationError, match="unknown report format"):
        render(r, "pdf")


def test_format_value() -> None:
    assert format_value(None) == ""
    assert format_value(True) == "yes"
    assert format_value(np.int64(3)) == "3"
    assert format_value(1234567.0) == "1,234,567"
    assert format_value(3e-6) == "3.00e-06"
    assert format_value(math.inf) == "∞"
    assert format_value(Estimate(None)) == "n/a"
    assert format_value(Estimate(0.5, math.nan, math.nan)) == "0.5"
    assert format_value([1, 0.25]) == "1, 0.25"
