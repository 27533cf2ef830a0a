"""Live outcomes: CRM events for scored leads, stored beside the scores in the scoring-log database.

An event says what happened to a lead: its first sales contact, a further touch, a won deal (with
its value) or a lost one (with the reason). Events arrive through `POST /v1/outcomes` or a batch
import (`leadscore outcomes import`); both validate them with one model (`OutcomeEvent`, under
one `validation_context`) and store them with one transaction (`leadscore.scoring.outcome_store`)
in the `lead_events` table. The rules, defined here once:

- a deal value is a finite number above 0 (`Infinity`, `NaN`, `1e309` and `true` are refused);
- dates are plausible: not before 1990, not after now plus a small clock skew, and an event not
  before its lead's creation when that is known;
- the same event id again with the same payload is a duplicate (counted once), with a different
  payload a conflict (`same_event`);
- a lead with a won and a lost event, or two wins of different values, has contradictory
  outcomes: kept, flagged in the answer, counted in the feedback and left out of its conversion
  figures (`contradictory_leads`);
- an event for a lead the scoring log never scored is kept and counted (`never_scored`).

`outcomes_frame` turns the events into the per-lead outcome table the monthly feedback and the
follow-up view read (lead_id, created_at, converted, won_at, deal_value, first_contact_at,
sales_touches), so the monthly report needs no hand export.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationInfo, field_validator

from leadscore.core import fields
from leadscore.core.outcome import won_within_window
from leadscore.scoring.database import row_id_column
from leadscore.scoring.log_table import make_engine

log = logging.getLogger(__name__)

TABLE = "lead_events"
CONTACTS = ("first_contact", "touch")
MAX_EVENTS = 1000
EARLIEST = datetime(1990, 1, 1)  # before this, a date is a typo or a CRM's empty-date default
CLOCK_SKEW_SECONDS = 300.0  # how far in the future a sender's clock may run (configurable)
PAYLOAD = ("lead_id", "lead_created_at", "kind", "occurred_at", "value", "reason")

metadata = sa.MetaData()
lead_events = sa.Table(
    TABLE,
    metadata,
    row_id_column(),
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


def naive_utc(moment: datetime | None) -> datetime | None:
    """Stored as naive UTC (as the scoring log stores its times)."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def validation_context(
    clock_skew_seconds: float = CLOCK_SKEW_SECONDS, now: datetime | None = None
) -> dict[str, Any]:
    """What validating events needs beyond the events: the latest plausible moment."""
    latest = (naive_utc(now) or utc_now()) + timedelta(seconds=clock_skew_seconds)
    return {"latest": latest, "clock_skew_seconds": clock_skew_seconds}


def plausible(moment: datetime, context: dict[str, Any] | None) -> datetime:
    """A date no CRM event can have (year 0001, 2999, ...) raises, saying the bounds."""
    context = context or validation_context()
    if moment < EARLIEST:
        raise ValueError(f"before {EARLIEST:%Y-%m-%d}: not a plausible date for a CRM event")
    if moment > context["latest"]:
        skew = context["clock_skew_seconds"]
        raise ValueError(
            f"in the future (after {context['latest']:%Y-%m-%dT%H:%M:%S}Z, now plus the "
            f"allowed clock skew of {skew:g} s)"
        )
    return moment


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
    """One CRM event for a lead. `value` only (and always) for `won`; `reason` for `lost`.

    Validate with `validation_context(...)` as context (the default skew and the current time
    otherwise)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=1, max_length=200, description="the CRM's id of the event")
    lead_id: str = Field(min_length=1, max_length=200)
    lead_created_at: datetime | None = Field(
        None, description="the lead's creation in the CRM (else its first scoring counts)"
    )
    kind: Literal["first_contact", "touch", "won", "lost"]
    occurred_at: datetime = Field(
        description="when it happened (ISO 8601; UTC if no offset); not before the lead's "
        "creation, not in the future"
    )
    value: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        validate_default=True,
        description="won: the deal value (a finite number above 0)",
    )
    reason: str | None = Field(
        None, min_length=1, max_length=500, validate_default=True, description="lost: why"
    )

    @field_validator("event_id", "lead_id", "reason")
    @classmethod
    def _no_nul(cls, text: str | None) -> str | None:
        if text is not None and "\x00" in text:  # PostgreSQL text holds no NUL byte
            raise ValueError("must not contain a NUL byte (\\u0000)")
        return text

    @field_validator("value", mode="before")
    @classmethod
    def _a_number(cls, value: Any) -> Any:
        if isinstance(value, bool | np.bool_):  # pydantic would read true as 1.0
            raise ValueError("a deal value is a number, not true or false")
        return value

    @field_validator("lead_created_at", "occurred_at")
    @classmethod
    def _plausible_utc(cls, moment: datetime | None, info: ValidationInfo) -> datetime | None:
        try:
            moment = naive_utc(moment)
        except OverflowError:
            raise ValueError("out of range once converted to UTC") from None
        if moment is None:
            return None
        plausible(moment, info.context)
        created = info.data.get("lead_created_at")
        if info.field_name == "occurred_at" and created is not None and moment < created:
            raise ValueError(f"before the lead's creation ({created.isoformat()})")
        return moment

    @field_validator("value")
    @classmethod
    def _value_for_won(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _only_for("won", "the deal value", "a value", value, info)

    @field_validator("reason")
    @classmethod
    def _reason_for_lost(cls, reason: str | None, info: ValidationInfo) -> str | None:
        return _only_for("lost", "the reason", "a reason", reason, info)

    def payload(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in PAYLOAD)


class OutcomeBatch(BaseModel):
    """Events for one or more leads, each stored once by its event id."""

    model_config = ConfigDict(extra="forbid")

    events: list[OutcomeEvent] = Field(min_length=1, max_length=MAX_EVENTS)


EVENTS = TypeAdapter(list[OutcomeEvent])


def same_event(event: OutcomeEvent, stored: dict[str, Any]) -> bool:
    """Whether a stored row (as read back from `lead_events`) holds this event's payload."""
    again = tuple(
        naive_utc(stored[name]) if isinstance(stored[name], datetime) else stored[name]
        for name in PAYLOAD
    )
    return event.payload() == again


def contradictory_leads(events: Iterable[tuple[str, str, float | None]]) -> list[str]:
    """Leads whose (lead_id, kind, value) events contradict: a won and a lost event, or wins of
    different values. Sorted."""
    kinds: dict[str, set[str]] = {}
    values: dict[str, set[float | None]] = {}
    for lead, kind, value in events:
        kinds.setdefault(lead, set()).add(kind)
        if kind == "won":
            values.setdefault(lead, set()).add(value)
    return sorted(
        lead
        for lead, seen in kinds.items()
        if {"won", "lost"} <= seen or len(values.get(lead, ())) > 1
    )


def never_scored(event_leads: Iterable[str], scored_leads: Iterable[str]) -> list[str]:
    """Leads with events but no scoring in the log (kept, counted and reported). Sorted."""
    return sorted(set(event_leads) - set(scored_leads))


def read_events(url: str) -> pd.DataFrame:
    """Every stored event (an empty table when none was ever stored); times in naive UTC
    (PostgreSQL gives them with a zone, SQLite without)."""
    engine = make_engine(url)
    try:
        metadata.create_all(engine)
        with engine.connect() as connection:
            events = pd.read_sql_table(TABLE, connection)
    finally:
        engine.dispose()
    for column in ("occurred_at", "lead_created_at", "received_at"):  # naive UTC, as stored
        if isinstance(events[column].dtype, pd.DatetimeTZDtype):
            events[column] = events[column].dt.tz_convert(UTC).dt.tz_localize(None)
    return events


def events_from_table(
    table: pd.DataFrame, context: dict[str, Any] | None = None
) -> list[OutcomeEvent]:
    """Rows of a CSV/Parquet import as events (the API's rules, under `context`); a bad row
    raises naming its row and field."""
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    return EVENTS.validate_python(records, context=context or validation_context())


def outcomes_frame(events: pd.DataFrame, log_rows: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Per lead with events: creation (the CRM's, else the first scoring), converted (won within
    the window), won date and value, first contact and the number of sales touches. Leads with
    contradictory outcomes are left out: their conversion is not known."""
    columns = [fields.LEAD_ID, fields.CREATED_AT, fields.CONVERTED]
    if events.empty:
        return pd.DataFrame(columns=columns)
    unclear = contradictory_leads(events[["lead_id", "kind", "value"]].itertuples(index=False))
    events = events[~events["lead_id"].isin(unclear)]
    if events.empty:
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
