"""Keeping the in-memory trend index (`leadscore.scoring.trend`) in step with the scoring-log
table: warmed from the newest rows first (a page a second), then following the rows other
processes add. This process's own rows are in the index already, in the order they were
recorded."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import sqlalchemy as sa

from leadscore.scoring.log_health import short_error
from leadscore.scoring.log_table import TREND_PAGE, newest_rows
from leadscore.scoring.trend import LatestScores

TREND_PAGES_AT_ONCE = 10  # pages of other processes' rows read a second at most


@dataclass
class TrendFollower:
    """Reads the table into the trend index, off the request path (the writer's thread)."""

    engine: sa.Engine
    latest: LatestScores
    leads: int  # leads the index keeps (0: no index, nothing read)
    calling: Callable[[], AbstractContextManager[None]]  # a database call, timed for health
    note_error: Callable[[str], None]
    own_prefix: str | None = None  # entry ids of this process's rows start with it
    before: int | None = None  # warm-up: next page below this id
    after: int | None = None  # following: rows above this id
    read_at: float = 0.0

    def follow_table(self) -> None:
        """Warm the trend index from the table (newest rows first, a page a second), then
        follow the rows other processes add (every second, until caught up); after shipping."""
        if self.leads <= 0 or time.monotonic() - self.read_at < 1.0:
            return
        self.read_at = time.monotonic()
        try:
            if not self.latest.warm:
                self.warm()
            else:
                for _ in range(TREND_PAGES_AT_ONCE):
                    if self.follow() < TREND_PAGE:
                        break
        except Exception as error:  # the next write or probe decides the health
            self.note_error(f"trend index: {short_error(error)}")

    def warm(self) -> None:
        with self.calling():
            rows = newest_rows(self.engine, self.before, None)
        if self.after is None:
            self.after = rows[0].id if rows else 0
        if rows:
            self.before = rows[-1].id
        scores = [(r.lead_id, r.score, r.grade) for r in rows]
        if not self.latest.remember_older(scores) or len(rows) < TREND_PAGE:
            self.latest.warm = True

    def follow(self) -> int:
        """One page of rows added since the last one; this process's own rows are in the
        index already (in the order they were recorded). Returns the rows read."""
        own = self.own_prefix
        with self.calling():
            rows = newest_rows(self.engine, None, self.after)
        if rows:
            self.after = rows[-1].id
            self.latest.remember(
                (r.lead_id, r.score, r.grade)
                for r in rows
                if own is None or not str(r.entry_id or "").startswith(own)
            )
        return len(rows)
