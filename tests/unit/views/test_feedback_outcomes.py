"""The monthly feedback counts the CRM events it cannot use as they are: leads never scored and
leads with contradictory outcomes (counted, a few named, said in the report)."""

from __future__ import annotations

import pandas as pd

from leadscore.views.feedback import (
    LiveOutcomes,
    event_checks,
    outcome_checks,
    outcome_lines,
    render_markdown,
    undated_feedback,
)


def test_events_that_do_not_fit_are_counted_and_named(tiny_params):
    events = pd.DataFrame(
        {
            "lead_id": ["A", "A", "B", "B", "C", "Z"],
            "kind": ["won", "lost", "won", "won", "won", "touch"],
            "value": [10.0, None, 10.0, 20.0, 10.0, None],
        }
    )
    log_rows = pd.DataFrame({"lead_id": ["A", "B", "C", "D"]})
    unscored, unclear = event_checks(events, log_rows)
    assert unscored == ["Z"] and unclear == ["A", "B"]
    assert event_checks(events.iloc[:0], log_rows) == ([], [])
    checks = outcome_checks(LiveOutcomes(pd.DataFrame(), 1, unscored, unclear))
    assert checks == {
        "leads_never_scored": 1,
        "never_scored_examples": ["Z"],
        "leads_with_contradictory_outcomes": 2,
        "contradictory_examples": ["A", "B"],
    }
    first, second = outcome_lines(checks)
    assert first.startswith("2 lead(s) with contradictory outcomes") and first.endswith("A, B")
    assert second.startswith("1 lead(s) have CRM events but were never scored")
    report = {**undated_feedback(tiny_params.contract, "scoring log"), "outcomes": checks}
    assert first in render_markdown(report)
    assert outcome_lines(None) == []
