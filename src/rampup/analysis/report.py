"""Reports as data, rendered to Markdown, self-contained HTML or JSON.

A :class:`Report` is a title, a few facts (``meta``), top-level warnings and sections;
a section holds blocks in order: text, key-value lists, tables and warnings. Every
analysis builds one and :func:`render` turns it into text. The HTML has its style
inline and no scripts or remote assets (it works offline), and escapes every value,
since values come from data. Markdown escapes table pipes and HTML-special characters.

>>> r = Report("Evaluation of loan@v2", meta={"data": "holdout.parquet"})
>>> s = r.section("Overall")
>>> _ = s.items([("accuracy", Estimate(0.91234, 0.9, 0.92)), ("examples", 1200)])
>>> _ = s.table(["class", "recall"], [["<b>yes</b>", 0.5], ["no|maybe", float("nan")]])
>>> print(render(r, "md"))  # doctest: +NORMALIZE_WHITESPACE
# Evaluation of loan@v2
<BLANKLINE>
- **data**: holdout.parquet
<BLANKLINE>
## Overall
<BLANKLINE>
- **accuracy**: 0.9123 [0.9, 0.92]
- **examples**: 1200
<BLANKLINE>
| class | recall |
| --- | ---: |
| &lt;b&gt;yes&lt;/b&gt; | 0.5 |
| no\\|maybe | n/a |
>>> "<b>yes</b>" in render(r, "html"), "&lt;b&gt;yes&lt;/b&gt;" in render(r, "html")
(False, True)
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2
import numpy as np

from rampup.errors import ValidationError

Format = Literal["md", "html", "json"]
FORMATS: tuple[str, ...] = ("md", "html", "json")
_SUFFIXES = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


@dataclass(frozen=True)
class Estimate:
    """A value with an optional interval, e.g. a metric and its bootstrap CI."""

    value: float | None
    lo: float | None = None
    hi: float | None = None


@dataclass
class Text:
    text: str
    kind: str = field(default="text", init=False)


@dataclass
class KeyValues:
    items: list[tuple[str, Any]]
    title: str = ""
    kind: str = field(default="items", init=False)


@dataclass
class Table:
    """Columns and rows of cells (numbers, text, Estimates); ``note`` is a caption below."""

    columns: list[str]
    rows: list[list[Any]]
    title: str = ""
    note: str = ""
    kind: str = field(default="table", init=False)


@dataclass
class Warnings:
    items: list[str]
    kind: str = field(default="warnings", init=False)


Block = Text | KeyValues | Table | Warnings


@dataclass
class Section:
    """A titled part of a report; the adders append a block and return the section."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def text(self, text: str) -> Section:
        self.blocks.append(Text(text))
        return self

    def items(self, items: Sequence[tuple[str, Any]] | dict[str, Any],
              title: str = "") -> Section:
        pairs = list(items.items()) if isinstance(items, dict) else list(items)
        self.blocks.append(KeyValues(pairs, title))
        return self

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "",
              note: str = "") -> Section:
        self.blocks.append(Table(list(columns), [list(r) for r in rows], title, note))
        return self

    def warn(self, *messages: str) -> Section:
        if messages:
            self.blocks.append(Warnings(list(messages)))
        return self


@dataclass
class Report:
    """A whole report. ``data`` is the machine-readable result, included in JSON output."""

    title: str
    meta: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def section(self, title: str) -> Section:
        s = Section(title)
        self.sections.append(s)
        return s

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "meta": self.meta, "warnings": self.warnings,
                "sections": [dataclasses.asdict(s) for s in self.sections], "data": self.data}


# -- values ---------------------------------------------------------------------------------

def _num(v: float) -> str:
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v != 0 and abs(v) < 1e-4:
        return f"{v:.2e}"
    return f"{v:.4g}" if abs(v) < 1e6 else f"{v:,.0f}"


def format_value(v: Any) -> str:
    """A cell as text: numbers to 4 significant digits, NaN as n/a, None as empty.

    >>> format_value(0.123456), format_value(float("nan")), format_value(Estimate(0.5, 0.4, 0.6))
    ('0.1235', 'n/a', '0.5 [0.4, 0.6]')
    """
    if v is None:
        return ""
    if isinstance(v, Estimate):
        main = format_value(v.value) if v.value is not None else "n/a"
        if v.lo is None or v.hi is None or (math.isnan(v.lo) and math.isnan(v.hi)):
            return main
        return f"{main} [{_num(v.lo)}, {_num(v.hi)}]"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return _num(float(v))
    if isinstance(v, list | tuple):
        return ", ".join(format_value(x) for x in v)
    return str(v)


def _numeric(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating | Estimate) and not isinstance(
        v, bool | np.bool_)


def jsonable(obj: Any) -> Any:
    """Plain JSON values: numpy scalars/arrays unwrapped, NaN/inf → None, tuples → lists.

    >>> jsonable({"a": np.float64("nan"), "b": (np.int64(2), Estimate(0.5))})
    {'a': None, 'b': [2, {'value': 0.5, 'lo': None, 'hi': None}]}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Path):
        return str(obj)
    return obj


# -- rendering ------------------------------------------------------------------------------

def _md(v: Any) -> str:
    text = format_value(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


_MD = """\
# {{ r.title | md }}
{% if r.meta %}
{% for k, v in r.meta.items() %}- **{{ k | md }}**: {{ v | md }}
{% endfor %}{% endif %}{% for w in r.warnings %}
> **warning:** {{ w | md }}
{% endfor %}{% for s in r.sections %}
## {{ s.title | md }}
{% for b in s.blocks %}{% if b.kind == "text" %}
{{ b.text | md }}
{% elif b.kind == "items" %}{% if b.title %}
**{{ b.title | md }}**
{% endif %}
{% for k, v in b.items %}- **{{ k | md }}**: {{ v | md }}
{% endfor %}{% elif b.kind == "warnings" %}
{% for w in b.items %}> **warning:** {{ w | md }}
{% endfor %}{% elif b.kind == "table" %}{% if b.title %}
**{{ b.title | md }}**
{% endif %}
|{% for c in b.columns %} {{ c | md }} |{% endfor %}
|{% for a in align(b) %} {{ a }} |{% endfor %}
{% for row in b.rows %}|{% for v in row %} {{ v | md }} |{% endfor %}
{% endfor %}{% if b.note %}
_{{ b.note | md }}_
{% endif %}{% endif %}{% endfor %}{% endfor %}"""

_CSS = """body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:70rem;padding:0 1rem;color:#1f2328}h1{font-size:1.6rem}h2{font-size:1.2rem;
border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}table{border-collapse:
collapse;margin:.6rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .6rem}th{background:#f6f8fa;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}.warn{background:#fff8c5;
border-left:4px solid #d4a72c;padding:.4rem .8rem;margin:.4rem 0}.meta{color:#59636e}
caption{caption-side:bottom;color:#59636e;text-align:left;font-size:.9em;padding-top:.2rem}
dl{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem}
dt{font-weight:600}dd{margin:0}"""

_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ r.title }}</title><style>{{ css | safe }}</style></head><body>
<h1>{{ r.title }}</h1>
{% if r.meta %}<dl class="meta">{% for k, v in r.meta.items() %}<dt>{{ k }}</dt>\
<dd>{{ v | fmt }}</dd>
{% endfor %}</dl>{% endif %}
{% for w in r.warnings %}<div class="warn"><strong>warning:</strong> {{ w }}</div>
{% endfor %}{% for s in r.sections %}<section><h2>{{ s.title }}</h2>
{% for b in s.blocks %}{% if b.kind == "text" %}<p>{{ b.text }}</p>
{% elif b.kind == "items" %}{% if b.title %}<h3>{{ b.title }}</h3>{% endif %}<dl>
{% for k, v in b.items %}<dt>{{ k }}</dt><dd>{{ v | fmt }}</dd>
{% endfor %}</dl>
{% elif b.kind == "warnings" %}{% for w in b.items %}<div class="warn"><strong>warning:</strong> \
{{ w }}</div>
{% endfor %}{% elif b.kind == "table" %}<table>\
{% if b.note %}<caption>{{ b.note }}</caption>{% endif %}\
{% if b.title %}<thead><tr><th colspan="\
{{ b.columns | length }}">{{ b.title }}</th></tr></thead>{% endif %}
<tr>{% for c in b.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in b.rows %}<tr>{% for v in row %}<td{% if v is numeric %} class="num"{% endif %}>\
{{ v | fmt }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endif %}{% endfor %}</section>
{% endfor %}</body></html>
"""


def _env(autoescape: bool) -> jinja2.Environment:
    # Markdown is not HTML: its template escapes every value with the ``md`` filter.
    env = jinja2.Environment(autoescape=autoescape, keep_trailing_newline=True,  # noqa: S701
                             undefined=jinja2.StrictUndefined)
    env.filters["md"] = _md
    env.filters["fmt"] = format_value
    env.tests["numeric"] = _numeric
    env.globals["align"] = _align
    return env


def _align(table: Table) -> list[str]:
    """Markdown alignment per column: right for columns of numbers."""
    return ["---:" if table.rows and all(
        j >= len(r) or r[j] is None or _numeric(r[j]) for r in table.rows) else "---"
        for j in range(len(table.columns))]


def render(report: Report, fmt: str = "md") -> str:
    """The report as Markdown (``md``), a self-contained HTML page, or JSON."""
    if fmt == "json":
        return json.dumps(jsonable(report.to_dict()), indent=2, allow_nan=False) + "\n"
    if fmt == "md":
        text = _env(autoescape=False).from_string(_MD).render(r=report)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
    if fmt == "html":
        return _env(autoescape=True).from_string(_HTML).render(r=report, css=_CSS)
    raise ValidationError(f"unknown report format {fmt!r}", fix="use md, html or json")


def format_for(path: Path, fmt: str | None = None) -> str:
    """The format to write ``path`` in: ``fmt`` if given, else from the suffix (default md)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValidationError(f"unknown report format {fmt!r}", fix="use md, html or json")
        return fmt
    return _SUFFIXES.get(path.suffix.lower(), "md")


def write(report: Report, path: str | Path, fmt: str | None = None) -> Path:
    """Render ``report`` to ``path`` (format from ``fmt`` or the file suffix)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render(report, format_for(p, fmt)), encoding="utf-8")
    return p
