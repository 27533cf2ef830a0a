"""The nurture view's record and Markdown (leadscore.views.nurture) on crossings built by hand."""

from __future__ import annotations

from datetime import datetime

from leadscore.scoring.crossings import INTO_A, OUT_OF_A, Crossing, Scoring, Touch
from leadscore.views.nurture import nurture_report, render_markdown

SINCE, UNTIL = datetime(2026, 8, 1), datetime(2026, 8, 8)


def crossings_by_hand() -> list[Crossing]:
    demo = Touch("e1", datetime(2026, 8, 3), "demo_request")
    page = Touch("e2", datetime(2026, 8, 4), "web_page")
    return [
        Crossing("L-2", OUT_OF_A, Scoring("L-2", datetime(2026, 7, 1), 92, "A"),
                 Scoring("L-2", datetime(2026, 8, 7), 70, "B"), []),
        Crossing("L-1", INTO_A, Scoring("L-1", datetime(2026, 8, 2), 60, "B"),
                 Scoring("L-1", datetime(2026, 8, 5), 91, "A"), [demo, demo, page]),
    ]  # fmt: skip


def test_the_report_counts_each_way_and_names_the_events_that_moved_leads_into_a():
    report = nurture_report(crossings_by_hand(), 7, SINCE, UNTIL)
    assert (report["into_a"], report["out_of_a"], report["by_time_alone"]) == (1, 1, 1)
    assert report["events_into_a"] == {"demo_request": 2, "web_page": 1}
    assert [row["lead_id"] for row in report["crossings"]] == ["L-2", "L-1"]
    text = render_markdown(report)
    assert "2026-08-01 to 2026-08-08: 1 into A, 1 out of A (1 moved by time alone)" in text
    assert "| L-1 | B → A | 60 → 91 | 2026-08-05T00:00 | demo_request ×2, web_page |" in text
    assert "| L-2 | A → B | 92 → 70 | 2026-08-07T00:00 | no new activity (decay) |" in text
