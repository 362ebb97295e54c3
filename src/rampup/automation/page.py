"""The reviewers' web page: one HTML file (Jinja2, autoescaped), no CDN, no build step.

The page calls the JSON review API with ``fetch``; item inputs are inserted with
``textContent`` so nothing a user sent can run as markup. Script and style are files of
their own (``/review/static/``), so the page runs under a strict Content-Security-Policy
without inline code (see :mod:`rampup.serving.guard`).

>>> "x&lt;script&gt;" in render_page("x<script>"), "x<script>" in render_page("x<script>")
(True, False)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def render_page(model: str, *, open_queue: bool = False) -> str:
    return _env().get_template("review.html").render(model=model, open_queue=open_queue)


@lru_cache(maxsize=1)
def page_script() -> str:
    return (TEMPLATES / "review.js").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def page_style() -> str:
    return (TEMPLATES / "review.css").read_text(encoding="utf-8")


def render_index(models: list[str]) -> str:
    return _env().get_template("review_index.html").render(models=models)
