"""The drift report as one self-contained HTML page: inline style and SVG charts, no
scripts, no remote assets (it opens offline), every value escaped (names come from data).

Per feature: reference vs current histograms on the reference's bins (or categories),
and with several windows, the effect size over time against the practical minimum.

>>> from rampup.drift.report import TestResult, build_report, DriftConfig, Histogram
>>> h = Histogram((5, 5), (2, 8), labels=("a", "<b>"))
>>> r = TestResult("<x>", "categorical", "chi2", 3.0, 0.08, 0.2, "js_distance", 0.05,
...                10, 10, histogram=h)
>>> page = render_html(DriftCheck(build_report([r], DriftConfig())))
>>> "<x>" in page, "&lt;x&gt;" in page, "<svg" in page, "http" in page
(False, True, True, False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from markupsafe import Markup

from rampup.drift.check import DriftCheck
from rampup.drift.report import DRIFT, SMALL, Histogram, TestResult
from rampup.drift.trend import Trend, pattern

MAX_BARS = 40
REF_COLOUR, CUR_COLOUR, ALERT = "#7a8ca3", "#e08a1e", "#c0392b"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
h3{font-size:1rem;margin:1.2rem 0 .3rem}
table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.drift td{background:#fdecea}tr.small td{background:#fff8e1}
.verdict-drift{color:#c0392b;font-weight:600}.muted{color:#777}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}
.feature{display:inline-block;vertical-align:top;margin:0 1.5rem 1rem 0}
</style></head><body>
<h1>{{ title }}</h1>
<p>{% for k, v in meta %}<b>{{ k }}</b>: {{ v }}{% if not loop.last %} · {% endif %}
{% endfor %}</p>
<p><b>{{ headline }}</b></p>
{% for note in notes %}<p class="muted">{{ note }}</p>{% endfor %}
<h2>Tests</h2>
<table><tr><th>feature</th><th>kind</th><th>test</th><th>statistic</th><th>p</th><th>q</th>
<th>effect</th><th>minimum</th><th>n ref</th><th>n cur</th><th>verdict</th><th>notes</th></tr>
{% for r in rows %}<tr class="{{ r.cls }}">
<td>{{ r.feature }}</td><td>{{ r.kind }}</td><td>{{ r.test }}</td>
<td class="n">{{ r.statistic }}</td><td class="n">{{ r.p }}</td><td class="n">{{ r.q }}</td>
<td class="n">{{ r.effect }} <span class="muted">{{ r.effect_name }}</span></td>
<td class="n">{{ r.min }}</td><td class="n">{{ r.n_ref }}</td><td class="n">{{ r.n_cur }}</td>
<td class="{{ 'verdict-drift' if r.cls == 'drift' else '' }}">{{ r.verdict }}</td>
<td class="muted">{{ r.notes }}</td></tr>
{% endfor %}</table>
{% if multivariate %}<h2>Multivariate (can the rows be told apart?)</h2><p>{{ multivariate }}</p>
{% endif %}
{% if trend %}<h2>Trend over {{ trend_windows }} windows</h2>
<table><tr><th>feature</th><th>pattern</th><th>effect per window</th></tr>
{% for t in trend %}
<tr><td>{{ t.feature }}</td><td>{{ t.pattern }}</td><td>{{ t.svg }}</td></tr>
{% endfor %}</table>{% endif %}
{% if performance %}<h2>Performance over windows</h2><p>{{ reference }}</p>
<table><tr><th>window</th><th>predictions</th><th>labelled</th><th>accuracy (95% CI)</th>
<th>expected from confidence</th><th>drop</th><th>verdict</th></tr>
{% for w in performance %}<tr class="{{ 'drift' if w.verdict == 'degraded' else '' }}">
<td>{{ w.window }}</td><td class="n">{{ w.predictions }}</td>
<td class="n">{{ w.labelled }}</td><td class="n">{{ w.accuracy }}</td>
<td class="n">{{ w.expected }}</td><td class="n">{{ w.drop }}</td><td>{{ w.verdict }}</td>
</tr>{% endfor %}</table>{% endif %}
{% if alarms %}<h2>Detector alarms</h2>
<ul>{% for a in alarms %}<li>{{ a }}</li>{% endfor %}</ul>{% endif %}
<h2>Distributions</h2>
<p class="legend"><span style="background:{{ ref_colour }}"></span>reference
<span style="background:{{ cur_colour }}"></span>current</p>
{% for f in charts %}<div class="feature">
<h3>{{ f.feature }} <span class="muted">{{ f.kind }}</span></h3>{{ f.svg }}</div>
{% endfor %}
</body></html>
"""


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if math.isnan(v):
            return "n/a"
        if v != 0 and abs(v) < 10 ** -digits:
            return f"{v:.1e}"
        return f"{v:.{digits}f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.3g}"
    return str(v)


def fmt_time(v: float) -> str:
    """Epoch seconds as UTC time; small numbers (row positions) as they are."""
    if v > 1e8:
        return datetime.fromtimestamp(v, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return fmt(v)


def _bin_label(edges: Sequence[float | str], i: int) -> str:
    lo, hi = edges[i], edges[i + 1]
    if lo == "-inf":
        return f"< {fmt(float(hi))}"
    if hi == "inf":
        return f"≥ {fmt(float(lo))}"
    return f"{fmt(float(lo))} to {fmt(float(hi))}"


def histogram_svg(h: Histogram, width: int = 420, height: int = 150) -> Markup:
    """Side-by-side bars of reference and current shares per bin or category."""
    ref, cur = list(h.ref_counts), list(h.cur_counts)
    if h.labels is not None:
        labels = list(h.labels)
    else:
        edges = list(h.edges or ())
        labels = [_bin_label(edges, i) for i in range(len(ref))] if edges else \
            [str(i) for i in range(len(ref))]
    if len(ref) > MAX_BARS:  # keep the largest categories
        order = sorted(range(len(ref)), key=lambda i: -(ref[i] + cur[i]))[:MAX_BARS]
        ref, cur, labels = [ref[i] for i in order], [cur[i] for i in order], \
            [labels[i] for i in order]
    rt, ct = max(sum(ref), 1), max(sum(cur), 1)
    shares = [(r / rt, c / ct) for r, c in zip(ref, cur, strict=True)]
    top = max([max(a, b) for a, b in shares] + [1e-9])
    k = max(len(shares), 1)
    slot = (width - 10) / k
    parts = [f'<svg width="{width}" height="{height}" '
             f'role="img"><line x1="5" y1="{height - 20}" x2="{width - 5}" '
             f'y2="{height - 20}" stroke="#999"/>']
    for i, ((a, b), label) in enumerate(zip(shares, labels, strict=True)):
        x = 5 + i * slot
        for j, (share, colour) in enumerate(((a, REF_COLOUR), (b, CUR_COLOUR))):
            bar = (height - 30) * share / top
            parts.append(f'<rect x="{x + 1 + j * slot * 0.45:.1f}" y="{height - 20 - bar:.1f}" '
                         f'width="{slot * 0.43:.1f}" height="{bar:.1f}" fill="{colour}">'
                         f'<title>{escape(label)}: {"reference" if j == 0 else "current"} '
                         f'{share:.1%}</title></rect>')
    for i in {0, k // 2, k - 1} if k > 1 else {0}:
        anchor = "start" if i == 0 else "end" if i == k - 1 else "middle"
        x = 5 + i * slot + (0 if anchor == "start" else slot if anchor == "end" else slot / 2)
        parts.append(f'<text x="{x:.1f}" y="{height - 5}" font-size="10" '
                     f'text-anchor="{anchor}" fill="#555">{escape(labels[i][:24])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text part above is escaped


def trend_svg(effects: Sequence[float], drifted: Sequence[bool], minimum: float,
              width: int = 320, height: int = 60) -> Markup:
    """The effect per window as a line, drifting windows as red dots, the practical
    minimum as a dashed line."""
    vals = [v for v in effects if not math.isnan(v) and math.isfinite(v)]
    top = max([*vals, minimum * 1.5, 1e-9])
    n = len(effects)
    step = (width - 10) / max(n - 1, 1)

    def y(v: float) -> float:
        return height - 5 - (height - 10) * min(v, top) / top

    parts = [f'<svg width="{width}" height="{height}" '
             f'role="img"><line x1="5" x2="{width - 5}" y1="{y(minimum):.1f}" '
             f'y2="{y(minimum):.1f}" stroke="#aaa" stroke-dasharray="4 3"/>']
    points = [(5 + i * step, y(v)) for i, v in enumerate(effects)
              if not math.isnan(v) and math.isfinite(v)]
    if len(points) > 1:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{CUR_COLOUR}" '
                     'stroke-width="1.5"/>')
    for i, (v, d) in enumerate(zip(effects, drifted, strict=True)):
        if not math.isnan(v) and math.isfinite(v):
            parts.append(f'<circle cx="{5 + i * step:.1f}" cy="{y(v):.1f}" r="3" '
                         f'fill="{ALERT if d else CUR_COLOUR}"><title>window {i + 1}: '
                         f'{v:.3f}</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers only


def _row(r: TestResult) -> dict[str, Any]:
    notes = list(r.notes)
    return {"feature": r.feature, "kind": r.kind, "test": r.test, "statistic": fmt(r.statistic),
            "p": fmt(r.p_value, 4), "q": fmt(r.q_value, 4), "effect": fmt(r.effect),
            "effect_name": r.effect_name, "min": fmt(r.min_effect), "n_ref": r.n_ref,
            "n_cur": r.n_cur, "verdict": r.verdict, "notes": "; ".join(notes),
            "cls": "drift" if r.verdict == DRIFT else "small" if r.verdict == SMALL else ""}


def _trend_rows(trend: Trend, check: DriftCheck) -> list[dict[str, Any]]:
    mins = {r.feature: r.min_effect for r in check.report.inputs}
    out = []
    for f in trend.features:
        eff, dr = trend.effects(f), trend.drifted(f)
        shape, since = pattern(eff, dr)
        label = shape if since is None else f"{shape} (from window {since + 1})"
        out.append({"feature": f, "pattern": label,
                    "svg": trend_svg(eff, dr, mins.get(f, 0.1))})
    return out


def render_html(check: DriftCheck, title: str | None = None) -> str:
    rep = check.report
    meta = [(k, fmt_time(v) if k in ("since", "until") else fmt(v))
            for k, v in {**dict(rep.meta), **dict(check.meta)}.items()
            if v is not None and k not in ("windows",)]
    drifted = rep.drifted_features
    headline = (f"Drift in {len(drifted)} of {len(rep.features)} features "
                f"({', '.join(drifted)})" if drifted else
                f"No feature drifts ({len(rep.features)} tested)")
    headline += f" · {rep.correction} correction at alpha = {rep.alpha}"
    mv = rep.multivariate
    mv_text = None if mv is None else (
        f"held-out ROC AUC {fmt(mv.auc)} (p = {fmt(mv.p_value, 4)}, q = {fmt(mv.q_value, 4)}"
        f" with the feature tests) on {mv.n_ref} + {mv.n_cur} "
        f"rows, {mv.model}: {'drift' if mv.drifted else 'no drift'}"
        + ("; separating features (held-out AUC lost when shuffled): " + ", ".join(
            f"{name} {fmt(v)}" for name, v in mv.top_features) if mv.top_features else ""))
    perf = [{"window": f"{fmt_time(w.start)} to {fmt_time(w.end)}", "predictions": w.predictions,
             "labelled": w.labelled,
             "accuracy": f"{fmt(w.accuracy)} ({fmt(w.lo)} to {fmt(w.hi)})",
             "expected": f"{fmt(w.expected)} ({fmt(w.expected_lo)} to {fmt(w.expected_hi)})",
             "drop": fmt(w.drop), "verdict": w.verdict} for w in check.performance]
    ref = check.reference
    import jinja2  # only when a report is written

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_PAGE).render(
        title=title or "Drift report" + (f" for {rep.meta['model']}" if rep.meta.get("model")
                                         else ""),
        meta=meta, headline=headline, notes=list(check.notes),
        rows=[_row(r) for r in rep.results], multivariate=mv_text,
        trend=_trend_rows(check.trend, check) if check.trend else [],
        trend_windows=len(check.trend.windows) if check.trend else 0,
        performance=perf,
        reference="" if ref is None else
        f"Reference accuracy {fmt(ref.accuracy)} ({ref.source}"
        f"{', n = ' + str(ref.n) if ref.n else ''})",
        alarms=[f"{a.stream}: {a.detector} at #{a.index}"
                + (f" ({fmt_time(a.ts)})" if a.ts is not None else "") for a in check.alarms],
        charts=[{"feature": f"{r.feature}", "kind": r.kind, "svg": histogram_svg(r.histogram)}
                for r in rep.results if r.histogram is not None],
        ref_colour=REF_COLOUR, cur_colour=CUR_COLOUR)
