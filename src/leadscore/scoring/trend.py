"""Score trend: how a lead's score moved since its previous scoring in the scoring log.

`rising` / `falling` when the 1-100 score moved by at least `TREND_POINTS`, `steady` when less,
`new` when the log holds no earlier score of the lead, `unknown` when the log cannot tell (the
database has not been read yet, or the lead is older than what is kept in memory). The API
answer and the batch output carry the trend and the previous grade.

The API never asks the database for a trend: it reads `LatestScores`, an in-memory index of each
lead's newest (score, grade), which the scoring log's background writer warms from the table
(newest rows first, up to its capacity) and keeps current (rows recorded by this process at
once, rows of other processes as they reach the table). Until the warm-up has read the whole
table, or once the index is full, a lead it does not hold is `unknown`, never `new`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

TREND_POINTS = 5  # score points (of 100) that make a move rising or falling
NEW, RISING, STEADY, FALLING, UNKNOWN = "new", "rising", "steady", "falling", "unknown"
TREND_LEADS = 200_000  # leads whose newest score the index keeps

Previous = tuple[int, str]  # a lead's previous (score, grade)


def score_trend(previous: int | None, score: int, points: int = TREND_POINTS) -> str:
    """The trend of one lead from its previous score (None: never scored before)."""
    if previous is None:
        return NEW
    if score - previous >= points:
        return RISING
    if previous - score >= points:
        return FALLING
    return STEADY


@dataclass(frozen=True)
class PreviousScores:
    """Previous (score, grade) of leads, as far as the log knows.

    `complete`: a lead absent from `found` was never scored (`new`); otherwise its trend is
    `unknown`."""

    found: dict[str, Previous] = field(default_factory=dict)
    complete: bool = True

    def of(self, lead_id: str) -> Previous | None:
        return self.found.get(lead_id)

    def trend(self, lead_id: str, score: int) -> str:
        before = self.found.get(lead_id)
        if before is None and not self.complete:
            return UNKNOWN
        return score_trend(None if before is None else before[0], score)


class LatestScores:
    """Each lead's newest (score, grade), in memory, for trends without a database call.

    `complete` once the warm-up has read every lead of the table and nothing was evicted."""

    def __init__(self, capacity: int = TREND_LEADS) -> None:
        self.capacity = capacity
        self._scores: dict[str, Previous] = {}
        self._lock = threading.Lock()
        self.warm = False  # the table's leads are all loaded (or the table was empty)
        self.evicted = False  # some lead was dropped for capacity: absent is not `new`

    @property
    def complete(self) -> bool:
        return self.warm and not self.evicted

    def __len__(self) -> int:
        return len(self._scores)

    def remember(self, scores: Iterable[tuple[str, int, str]]) -> None:
        """Newer scores (in the order they were given): each replaces the lead's last one."""
        with self._lock:
            for lead, score, grade in scores:
                self._scores.pop(lead, None)
                self._scores[lead] = (int(score), str(grade))
            self._trim()

    def remember_older(self, scores: list[tuple[str, int, str]]) -> bool:
        """A page of scores read from the table newest first (the warm-up): kept only for
        leads not known yet, behind every lead held (the first to be evicted). False once
        the index is full."""
        with self._lock:
            page: dict[str, Previous] = {}
            room = self.capacity - len(self._scores)
            for lead, score, grade in scores:
                if lead in self._scores or lead in page:
                    continue
                if len(page) >= room:
                    self.evicted = True
                    break
                page[lead] = (int(score), str(grade))
            self._scores = {**dict(reversed(page.items())), **self._scores}
            return not self.evicted

    def _trim(self) -> None:
        while len(self._scores) > self.capacity:
            self._scores.pop(next(iter(self._scores)))
            self.evicted = True

    def lookup(self, lead_ids: Iterable[str]) -> PreviousScores:
        with self._lock:
            found = {lead: self._scores[lead] for lead in lead_ids if lead in self._scores}
            return PreviousScores(found, self.complete)
