"""Store methods the dashboard reads (mixed into :class:`Store`): which metric windows
exist and when each last changed, without their (large) data, so unchanged windows can be
served from the dashboard's cache of decoded buckets."""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa

from rampup.store import schema as t


class WindowStamp(NamedTuple):
    version: str
    role: str
    window_start: float
    replica: str
    updated_at: float


class DashboardRows:
    engine: sa.Engine

    def metric_window_stamps(self, model: str, *, since: float, until: float,
                             stage: str | None = None) -> list[WindowStamp]:
        """(version, role, window_start, replica, updated_at) of the rows with
        ``since <= window_start < until``, oldest first."""
        mw = t.metric_windows
        q = (sa.select(mw.c.version, mw.c.role, mw.c.window_start, mw.c.replica,
                       mw.c.updated_at)
             .where(mw.c.model == model, mw.c.window_start >= since,
                    mw.c.window_start < until)
             .order_by(mw.c.window_start))
        if stage is not None:
            q = q.where(mw.c.stage == stage)
        with self.engine.connect() as conn:
            return [WindowStamp(r.version, r.role, float(r.window_start), r.replica,
                                float(r.updated_at)) for r in conn.execute(q)]
