"""The nurture view in the report (issue 30): the leads whose grade crossed into A or out of A
in the last days, and the activity events that moved them (leadscore.scoring.nurture defines
a crossing, once; the API's `GET /v1/nurture` lists the same). The stage reads the scoring log
and the event store; this module only shapes what it read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from leadscore.scoring.crossings import INTO_A, OUT_OF_A, Crossing

SHOWN = 50  # crossings listed on the page (the JSON keeps them all)


def nurture_report(found: Sequence[Crossing], days: int, since: datetime, until: datetime) -> dict:
    """The crossings of the period as a record: counts each way, the event types that moved
    the leads into A, and one row per crossing (newest first)."""
    rows = [crossing.record() for crossing in found]
    moved_in = Counter(
        touch.event_type for c in found if c.direction == INTO_A for touch in c.events
    )
    return {
        "days": days,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "into_a": sum(c.direction == INTO_A for c in found),
        "out_of_a": sum(c.direction == OUT_OF_A for c in found),
        "by_time_alone": sum(not c.events for c in found),
        "events_into_a": dict(moved_in.most_common()),
        "crossings": rows,
    }


def event_summary(row: dict) -> str:
    """A crossing's events in a few words: `demo_request ×2, web_page` (or decay)."""
    if not row["events"]:
        return "no new activity (decay)"
    kinds = Counter(event["event_type"] for event in row["events"])
    return ", ".join(f"{kind} ×{n}" if n > 1 else kind for kind, n in kinds.most_common())


def nurture_page(report: dict | None) -> dict | None:
    """The report page's part: the first SHOWN crossings, each with its events summarised."""
    if not report:
        return None
    rows = [{**row, "summary": event_summary(row)} for row in report["crossings"][:SHOWN]]
    return {**report, "crossings": rows}


def render_markdown(report: dict) -> str:
    lines = [
        f"# Nurture: leads that crossed into or out of A in the last {report['days']} days",
        "",
        f"{report['since'][:10]} to {report['until'][:10]}: {report['into_a']} into A, "
        f"{report['out_of_a']} out of A ({report['by_time_alone']} moved by time alone).",
        "",
        "| lead | crossed | score | scored at | events between the two scores |",
        "|---|---|---|---|---|",
    ]
    for row in report["crossings"][:SHOWN]:
        arrow = f"{row['previous_grade']} → {row['grade']}"
        lines.append(
            f"| {row['lead_id']} | {arrow} | {row['previous_score']} → {row['score']} | "
            f"{row['scored_at'][:16]} | {event_summary(row)} |"
        )
    if len(report["crossings"]) > SHOWN:
        lines.append(f"\n… and {len(report['crossings']) - SHOWN} more in reports/nurture.json")
    return "\n".join(lines) + "\n"
