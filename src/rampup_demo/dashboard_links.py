"""The dashboard URLs the demo prints first (for the lead to put at the top of the
"open and try" panel, ahead of the API docs).

>>> for name, url in dashboard_urls("http://127.0.0.1:8000", "loan-default"):
...     print(f"{name}: {url}")
dashboard: http://127.0.0.1:8000/
model page: http://127.0.0.1:8000/dashboard/models/loan-default
"""

from __future__ import annotations

from urllib.parse import quote


def dashboard_urls(url: str, model: str) -> list[tuple[str, str]]:
    """(label, URL) rows: the overview of all models, then the demo model's page (where
    the traffic, incidents, drift, rollouts and reviews of the demo show up). The admin
    buttons there need the demo's admin token, typed into the page."""
    base = url.rstrip("/")
    return [("dashboard", f"{base}/"),
            ("model page", f"{base}/dashboard/models/{quote(model, safe='')}")]
