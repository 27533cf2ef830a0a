"""Live outcomes: CRM events for scored leads, stored beside the scores in the scoring-log database.

An event says what happened to a lead: its first sales contact, a further touch, a won deal (with
its value) or a lost one (with the reason). Events arrive through `POST /v1/outcomes` or a batch
import (`leadscore outcomes import`), are validated by one model (`OutcomeEvent`) and kept in the
`lead_events` table. Each carries the CRM's event id; storing is idempotent by that id, so a
replayed event is counted once. `outcomes_frame` turns the events into the per-lead outcome table
the monthly feedback and the follow-up view read (lead_id, created_at, converted, won_at,
deal_value, first_contact_at, sales_touches), so the monthly report needs no hand export.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal, TypeVar

import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationInfo, field_validator

from leadscore.core import fields
from leadscore.core.outcome import won_within_window
from leadscore.scoring.log import make_engine

log = logging.getLogger(__name__)

TABLE = "lead_events"
KINDS = ("first_contact", "touch", "won", "lost")
CONTACTS = ("first_contact", "touch")
MAX_EVENTS = 1000

metadata = sa.MetaData()
lead_events = sa.Table(
    TABLE,
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("event_id", sa.Text, nullable=False, unique=True),
    sa.Column("lead_id", sa.Text, nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("lead_created_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
)


def _naive_utc(moment: datetime | None) -> datetime | None:
    """Stored as naive UTC (as the scoring log stores its times)."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


T = TypeVar("T")


def _only_for(kind: str, needed: str, article: str, given: T, info: ValidationInfo) -> T:
    """A field that one kind of outcome event needs and every other kind must leave out."""
    event = info.data.get("kind")
    if event == kind and given is None:
        raise ValueError(f"a {kind} event needs {needed}")
    if event not in (None, kind) and given is not None:
        raise ValueError(f"only a {kind} event has {article} (this is {event})")
    return given


class OutcomeEvent(BaseModel):
    """One CRM event for a lead. `value` only (and always) for `won`; `reason` for `lost`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=1, max_length=200, description="the CRM's id of the event")
    lead_id: str = Field(min_length=1, max_length=200)
    kind: Literal["first_contact", "touch", "won", "lost"]
    occurred_at: datetime = Field(description="when it happened (ISO 8601; UTC if no offset)")
    value: float | None = Field(
        None, gt=0, validate_default=True, description="won: the deal value"
    )
    reason: str | None = Field(
        None, min_length=1, max_length=500, validate_default=True, description="lost: why"
    )
    lead_created_at: datetime | None = Field(
        None, description="the lead's creation in the CRM (else its first scoring counts)"
    )

    @field_validator("event_id", "lead_id", "reason")
    @classmethod
    def _no_nul(cls, text: str | None) -> str | None:
        if text is not None and "\x00" in text:  # PostgreSQL text holds no NUL byte
            raise ValueError("must not contain a NUL byte (\\u0000)")
        return text

    @field_validator("occurred_at", "lead_created_at")
    @classmethod
    def _in_utc(cls, moment: datetime | None) -> datetime | None:
        try:
            return _naive_utc(moment)
        except OverflowError:
            raise ValueError("out of range once converted to UTC") from None

    @field_validator("value")
    @classmethod
    def _value_for_won(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _only_for("won", "the deal value", "a value", value, info)

    @field_validator("reason")
    @classmethod
    def _reason_for_lost(cls, reason: str | None, info: ValidationInfo) -> str | None:
        return _only_for("lost", "the reason", "a reason", reason, info)


class OutcomeBatch(BaseModel):
    """Events for one or more leads, each stored once by its event id."""

    model_config = ConfigDict(extra="forbid")

    events: list[OutcomeEvent] = Field(min_length=1, max_length=MAX_EVENTS)


EVENTS = TypeAdapter(list[OutcomeEvent])


def store_events(engine: sa.Engine, events: list[OutcomeEvent], source: str) -> dict[str, int]:
    """Insert the events whose ids are new (one transaction); count stored and duplicates."""
    metadata.create_all(engine)
    received = datetime.now(UTC).replace(tzinfo=None)
    rows, seen = [], set()
    for event in events:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        rows.append(
            {
                **event.model_dump(),
                "received_at": received,
                "source": source,
            }
        )
    with engine.begin() as connection:
        known = set(
            connection.scalars(
                sa.select(lead_events.c.event_id).where(lead_events.c.event_id.in_(seen))
            )
        )
        new = [row for row in rows if row["event_id"] not in known]
        if new:
            from sqlalchemy.dialects import postgresql, sqlite

            statement: sa.Executable
            if engine.dialect.name == "postgresql":
                statement = postgresql.insert(lead_events).on_conflict_do_nothing()
            else:
                statement = sqlite.insert(lead_events).on_conflict_do_nothing()
            connection.execute(statement, new)
    return {"received": len(events), "stored": len(new), "duplicates": len(events) - len(new)}


class OutcomeStore:
    """The `lead_events` table of the scoring-log database."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def record(self, events: list[OutcomeEvent], source: str = "api") -> dict[str, int]:
        return store_events(self.engine, events, source)

    def close(self) -> None:
        self.engine.dispose()


def read_events(url: str) -> pd.DataFrame:
    """Every stored event (an empty table when none was ever stored)."""
    engine = make_engine(url)
    try:
        metadata.create_all(engine)
        with engine.connect() as connection:
            return pd.read_sql_table(TABLE, connection)
    finally:
        engine.dispose()


def events_from_table(table: pd.DataFrame) -> list[OutcomeEvent]:
    """Rows of a CSV/Parquet import as events; a bad row raises naming its row and field."""
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    return EVENTS.validate_python(records)


def outcomes_frame(events: pd.DataFrame, log_rows: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Per lead with events: creation (the CRM's, else the first scoring), converted (won within
    the window), won date and value, first contact and the number of sales touches."""
    if events.empty:
        columns = [fields.LEAD_ID, fields.CREATED_AT, fields.CONVERTED]
        return pd.DataFrame(columns=columns)
    by_lead = events.groupby("lead_id")
    contacts = events[events["kind"].isin(CONTACTS)].groupby("lead_id")["occurred_at"]
    won = events[events["kind"] == "won"].sort_values("occurred_at").groupby("lead_id").first()
    first_scored = log_rows.groupby("lead_id")["scored_at"].min() if len(log_rows) else None
    frame = pd.DataFrame(index=by_lead.size().index)
    created = by_lead["lead_created_at"].min()
    if first_scored is not None:
        created = created.fillna(first_scored.reindex(frame.index))
    frame[fields.CREATED_AT] = pd.to_datetime(created)
    frame[fields.FIRST_CONTACT_AT] = contacts.min().reindex(frame.index)
    frame[fields.SALES_TOUCHES] = contacts.size().reindex(frame.index).fillna(0).astype(int)
    frame[fields.WON_AT] = won["occurred_at"].reindex(frame.index)
    frame[fields.DEAL_VALUE] = won["value"].reindex(frame.index)
    in_window = won_within_window(frame[fields.CREATED_AT], frame[fields.WON_AT], window_days)
    frame[fields.CONVERTED] = in_window.fillna(False).astype(int)
    frame = frame.rename_axis(fields.LEAD_ID).reset_index()
    return frame[frame[fields.CREATED_AT].notna()]
