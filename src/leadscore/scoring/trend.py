"""Score trend: how a lead's score moved since its previous scoring in the scoring log.

`rising` / `falling` when the 1-100 score moved by at least `TREND_POINTS`, `steady` when less,
`new` when the log holds no earlier score of the lead. The API answer and the batch output carry
the trend and the previous grade.
"""

from __future__ import annotations

import pandas as pd

TREND_POINTS = 5  # score points (of 100) that make a move rising or falling
NEW, RISING, STEADY, FALLING = "new", "rising", "steady", "falling"
TRENDS = (RISING, STEADY, FALLING, NEW)


def score_trend(previous: int | None, score: int, points: int = TREND_POINTS) -> str:
    """The trend of one lead from its previous score (None: never scored before)."""
    if previous is None:
        return NEW
    if score - previous >= points:
        return RISING
    if previous - score >= points:
        return FALLING
    return STEADY


def with_trend(scored: pd.DataFrame, previous: dict[str, tuple[int, str]]) -> pd.DataFrame:
    """Batch output with `trend` and `previous_grade` (from {lead_id: (score, grade)})."""
    before = [previous.get(lead) for lead in scored["lead_id"]]
    return scored.assign(
        trend=[
            score_trend(None if p is None else p[0], s)
            for p, s in zip(before, scored["score"], strict=True)
        ],
        previous_grade=[None if p is None else p[1] for p in before],
    )
