"""Commands on the service's records: import CRM outcome events, replay the scoring journal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore.commands.support import echo, fail, run


def outcomes_import(
    path: Annotated[Path, typer.Argument(help="CSV/Parquet: event_id, lead_id, kind, ...")],
    database_url: Annotated[
        str | None,
        typer.Option(envvar="LEADSCORE_DATABASE_URL", help="Scoring log (SQLAlchemy URL)."),
    ] = None,
    clock_skew_seconds: Annotated[
        float, typer.Option(help="How far in the future an event's date may be.")
    ] = 300.0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the database.")] = 60.0,
) -> None:
    """Import CRM events (first_contact, touch, won with value, lost with reason) with the API's
    rules; a replayed event id is stored once, one with another payload refuses the file."""
    from pydantic import ValidationError

    from leadscore.core.io import read_table
    from leadscore.scoring.log_table import DEFAULT_URL
    from leadscore.scoring.outcome_store import (
        OutcomeConflict,
        OutcomeRefused,
        OutcomeStore,
        OutcomesUnavailable,
    )
    from leadscore.scoring.outcomes import events_from_table, validation_context

    url = database_url or DEFAULT_URL
    try:
        events = events_from_table(read_table(path), validation_context(clock_skew_seconds))
    except ValidationError as error:
        first = error.errors()[0]
        row, *field = first["loc"]
        fail(f"{path}: row {int(row) + 1}, {'.'.join(map(str, field))}: {first['msg']}", code=2)
    store = OutcomeStore(url, timeout)
    try:
        stored = store.record(events, source="import")
    except OutcomeRefused as error:
        first_problem = error.problems[0]
        fail(f"{path}: row {first_problem.index + 1}, {first_problem.field}: "
              f"{first_problem.message}; nothing was stored", code=2)  # fmt: skip
    except OutcomeConflict as error:
        fail(f"{path}: {error}", code=2)
    except OutcomesUnavailable as error:
        fail(f"{path}: {error}")  # _fail masks secrets
    finally:
        store.close()
    echo(
        f"{stored.stored:,} events stored, {stored.duplicates:,} already there "
        f"(of {stored.received:,}) in {url}"
    )
    flagged = {
        "never scored (events kept)": stored.never_scored,
        "with contradictory outcomes (won and lost, or wins of different values; left out of "
        "the feedback's conversion figures)": stored.contradictory,
    }
    for what, leads in flagged.items():
        if leads:
            shown = ", ".join(leads[:5]) + (", ..." if len(leads) > 5 else "")
            typer.echo(f"{len(leads):,} lead(s) {what}: {shown}")


def scoring_log_replay(
    database_url: Annotated[
        str | None,
        typer.Option(envvar="LEADSCORE_DATABASE_URL", help="Scoring log (SQLAlchemy URL)."),
    ] = None,
    journal_dir: Annotated[
        Path | None,
        typer.Option(envvar="LEADSCORE_JOURNAL_DIR", help="Journal (default: beside the log)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the database.")] = 30.0,
    claim: Annotated[
        bool,
        typer.Option(help="The journal records no database: its rows belong to this one."),
    ] = False,
) -> None:
    """Write rows left in the journal (database outage, killed process) into the table, then
    the dead-letter rows (refused for their values; taken once the cause is fixed)."""
    from leadscore.scoring.log import replay
    from leadscore.scoring.log_table import DEFAULT_URL

    url = database_url or DEFAULT_URL
    result = run(replay, url=url, journal_dir=journal_dir, timeout=timeout, claim=claim)
    echo(
        f"replayed {result['replayed']:,} rows from {result['journal']} into {url}"
        + (f"; {result['rejected']:,} refused (see rejected.jsonl)" if result["rejected"] else "")
    )
    if result["dead_letters_shipped"] or result["dead_letters_left"]:
        typer.echo(
            f"dead letters: {result['dead_letters_shipped']:,} shipped, "
            f"{result['dead_letters_left']:,} still refused (see rejected.jsonl)"
        )
    if result["remaining"]:
        fail(
            f"{result['remaining']:,} rows are still only in the journal "
            f"({result['last_error'] or 'held by a running process'})"
        )
