"""The one parser at the HTTP edge: the API answers 422 naming the parameter and the
accepted forms (a bare epoch number is refused, never read as 1970), and the server keeps
serving; every form works end to end."""

from __future__ import annotations

import httpx

from tests.serving.conftest import (
    client,
    make_settings,
    project,
    registry,
    settings,
    trained,
)

__all__ = ["client", "make_settings", "project", "registry", "settings", "trained"]


async def test_metrics_route_reads_every_form_and_refuses_bad_ones(
        client: httpx.AsyncClient) -> None:
    url = "/v1/models/credit/metrics"
    for since, step in (("1h", "5m"), ("-1h", "PT5M"), ("PT1H", "300"),
                        ("epoch:1714521600", "1d"), ("2024-05-01T00:00:00Z", "P1D")):
        r = await client.get(url, params={"metric": "requests", "since": since,
                                          "step": step})
        assert r.status_code == 200, (since, step, r.text)
    cases = [({"since": "1714521600"}, "since", "epoch:1714521600"),
             ({"since": "yesterday"}, "since", "epoch:"),
             ({"until": "5 min"}, "until", "ISO 8601"),
             ({"step": "0"}, "step", "longer than zero"),
             ({"step": "P1M"}, "step", "no fixed length")]
    for params, field, needle in cases:
        r = await client.get(url, params={"metric": "requests", **params})
        assert r.status_code in (400, 422), (params, r.text)
        body = r.json()
        assert body["field"] == field, body
        assert needle in body["message"] + body.get("fix", ""), body
    ok = await client.get(url, params={"metric": "requests"})
    assert ok.status_code == 200  # still serving
