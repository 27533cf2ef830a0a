"""Behaviour features from activity events, defined once: training, batch scoring and the API
call these functions, so a lead's behaviour reads the same wherever it is scored.

A lead is scored at a moment (the contract's `scoring_moment`: creation, creation + N days or a
stage date; a batch or the API: now). Only the events strictly before that moment count, so the
features cannot leak by construction. For each row (a lead at a moment):

- `<type>_events` and `<type>_events_<w>d`: events of each declared type (others: `other`)
  before the moment, and within the last `w` days before it (`data.behaviour.windows_days`);
- `days_since_last_event`: recency (missing when the lead has no event yet);
- `engagement`: each event weighs 1/2 ** (its age in days / `half_life_days`), summed, so the
  score rises as a lead engages and decays when it goes quiet;
- `first_event_type`, `latest_event_type`: the first and the latest touch (`none`: no event);
- `lead_age_days`: days from creation to the moment.

Training uses several snapshots of each lead (`snapshot_days` after the moment of scoring),
each labelled by the one outcome rule (leadscore.core.outcome) with its window starting at the
snapshot, so the model learns how a score moves as the lead engages.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leadscore.core import fields, outcome
from leadscore.core.contract import ScoringMoment
from leadscore.core.data_params import BehaviourParams
from leadscore.core.errors import LeadscoreError

# The columns of a normalised event table.
EVENT_LEAD, EVENT_AT, EVENT_TYPE, EVENT_VALUE = "lead_id", "event_at", "event_type", "event_value"
EVENT_COLUMNS = (EVENT_LEAD, EVENT_AT, EVENT_TYPE, EVENT_VALUE)
OTHER = "other"
NO_EVENT = "none"
SCORED_AT = "scored_at"  # the moment a snapshot row is scored at (a date: never an input)
LEAD_AGE = "lead_age_days"
RECENCY = "days_since_last_event"
ENGAGEMENT = "engagement"
FIRST_TYPE, LATEST_TYPE = "first_event_type", "latest_event_type"
SNAPSHOT_SEPARATOR = "@"  # a snapshot row's id: <lead id>@<days after the moment of scoring>
DAY = pd.Timedelta(days=1)


class EventsError(LeadscoreError, ValueError):
    """The activity table cannot be used (missing columns, unreadable timestamps)."""


def counted_types(spec: BehaviourParams) -> tuple[str, ...]:
    """The types counted on their own, then `other`."""
    return (*spec.types, OTHER)


def feature_kinds(spec: BehaviourParams) -> dict[str, str]:
    """Every behaviour feature the definition builds, with its kind, in a fixed order."""
    kinds: dict[str, str] = {LEAD_AGE: "numeric"}
    for kind in counted_types(spec):
        kinds[f"{kind}_events"] = "numeric"
        kinds |= {f"{kind}_events_{days}d": "numeric" for days in spec.windows_days}
    kinds |= {RECENCY: "numeric", ENGAGEMENT: "numeric"}
    return kinds | {FIRST_TYPE: "categorical", LATEST_TYPE: "categorical"}


def normalise_events(events: pd.DataFrame) -> pd.DataFrame:
    """The event table in its normal form: lead key as text, a timestamp, the type stripped and
    lower-cased, the value a number; rows without a key, time or type cannot count and are
    refused with the count of each."""
    missing = [c for c in (EVENT_LEAD, EVENT_AT, EVENT_TYPE) if c not in events]
    if missing:
        raise EventsError(f"the activity table lacks {', '.join(missing)}")
    lead = events[EVENT_LEAD].astype("string").str.strip()
    when = events[EVENT_AT]
    if not pd.api.types.is_datetime64_any_dtype(when):
        when = pd.to_datetime(when.astype("string"), errors="coerce", format="mixed")
    kind = events[EVENT_TYPE].astype("string").str.strip().str.lower()
    bad = {
        "no lead key": int((lead.isna() | (lead == "")).sum()),
        "no readable time": int(when.isna().sum()),
        "no type": int((kind.isna() | (kind == "")).sum()),
    }
    bad = {reason: n for reason, n in bad.items() if n}
    if bad:
        raise EventsError(
            "activity events without what they need: "
            + ", ".join(f"{reason}: {n:,}" for reason, n in bad.items())
        )
    value = (
        pd.to_numeric(events[EVENT_VALUE], errors="coerce")
        if EVENT_VALUE in events
        else pd.Series(np.nan, index=events.index)
    )
    return pd.DataFrame(
        {
            EVENT_LEAD: lead.astype(object).to_numpy(),
            EVENT_AT: when.to_numpy(dtype="datetime64[ns]"),
            EVENT_TYPE: kind.astype(object).to_numpy(),
            EVENT_VALUE: value.to_numpy(float),
        }
    )


def behaviour_features(
    events: pd.DataFrame,
    leads: pd.Series,
    moments: pd.Series,
    created: pd.Series,
    spec: BehaviourParams,
    count_until: pd.Series | None = None,
) -> pd.DataFrame:
    """The behaviour features of each row: lead `leads[i]` scored at `moments[i]`.

    Only events strictly before the moment count. `count_until` (the deliberately wrong
    `count_after_decision`, for the leakage demonstration only) counts up to it instead.
    The result has the index of `leads`, one column per `feature_kinds(spec)`.
    """
    n = len(leads)
    moment = pd.to_datetime(moments).to_numpy(dtype="datetime64[ns]")
    cut = moment if count_until is None else pd.to_datetime(count_until).to_numpy("datetime64[ns]")
    rows = pd.DataFrame({EVENT_LEAD: leads.astype(str).to_numpy(), "row": np.arange(n)})
    joined = events[[EVENT_LEAD, EVENT_AT, EVENT_TYPE]].merge(rows, on=EVENT_LEAD, how="inner")
    at = joined[EVENT_AT].to_numpy(dtype="datetime64[ns]")
    row = joined["row"].to_numpy()
    before = at < cut[row]  # strictly before: an event at the moment itself does not count
    at, row = at[before], row[before]
    kind = joined[EVENT_TYPE].to_numpy(dtype=object)[before]
    age = (cut[row] - at) / np.timedelta64(1, "D")
    out: dict[str, np.ndarray] = {
        LEAD_AGE: ((moment - pd.to_datetime(created).to_numpy("datetime64[ns]")) / DAY).astype(
            float
        )
    }
    kind = np.where(np.isin(kind, spec.types), kind, OTHER)
    for name in counted_types(spec):
        own = kind == name
        out[f"{name}_events"] = np.bincount(row[own], minlength=n).astype(float)
        for days in spec.windows_days:
            recent = own & (age <= days)
            out[f"{name}_events_{days}d"] = np.bincount(row[recent], minlength=n).astype(float)
    newest = np.full(n, np.inf)
    np.minimum.at(newest, row, age)
    out[RECENCY] = np.where(np.isfinite(newest), newest, np.nan)
    weight = np.power(0.5, age / spec.half_life_days)
    out[ENGAGEMENT] = np.bincount(row, weights=weight, minlength=n).astype(float)
    order = np.lexsort((kind, at, row))  # by row, then time, then type (ties: alphabetical)
    first_type = np.full(n, NO_EVENT, dtype=object)
    latest_type = np.full(n, NO_EVENT, dtype=object)
    if len(order):
        ordered_rows = row[order]
        starts = np.r_[True, ordered_rows[1:] != ordered_rows[:-1]]
        ends = np.r_[ordered_rows[1:] != ordered_rows[:-1], True]
        first_type[ordered_rows[starts]] = kind[order][starts]
        latest_type[ordered_rows[ends]] = kind[order][ends]
    out[FIRST_TYPE], out[LATEST_TYPE] = first_type, latest_type
    return pd.DataFrame(out, index=leads.index)[list(feature_kinds(spec))]


NS_PER_DAY = 86_400 * 10**9


def lead_features(
    times_ns: Sequence[int],
    kinds: Sequence[str],
    created_ns: int | None,
    moment_ns: int,
    spec: BehaviourParams,
) -> dict[str, Any]:
    """`behaviour_features` for one lead at one moment, on plain values: its events' times
    (nanoseconds since the epoch, naive UTC) and types (normal form), its creation (None:
    unknown). The API's path, where a frame costs more than the scoring: the same definition
    step by step, property-tested against the frame path (tests/unit/data/test_behaviour.py).
    Missing values are None (the frame path's NaN)."""
    known = frozenset(spec.types)
    kept = [  # strictly before: an event at the moment itself does not count
        (at, kind if kind in known else OTHER)
        for at, kind in zip(times_ns, kinds, strict=True)
        if at < moment_ns
    ]
    ages = [float(moment_ns - at) / NS_PER_DAY for at, _ in kept]  # as numpy divides timedelta64
    kept_kinds = [kind for _, kind in kept]
    counts = Counter(kept_kinds)
    within = {
        days: Counter(kind for kind, age in zip(kept_kinds, ages, strict=True) if age <= days)
        for days in spec.windows_days
    }
    out: dict[str, Any] = {
        LEAD_AGE: None if created_ns is None else float(moment_ns - created_ns) / NS_PER_DAY
    }
    for name, total, windows in count_names(spec):
        out[total] = float(counts[name])
        out |= {key: float(within[days][name]) for days, key in windows}
    out[RECENCY] = min(ages) if ages else None
    half_life = spec.half_life_days
    # summed in event order with libm's pow, as the frame path's np.power and sum
    out[ENGAGEMENT] = sum(math.pow(0.5, age / half_life) for age in ages) if ages else 0.0
    out[FIRST_TYPE] = min(kept)[1] if kept else NO_EVENT  # the earliest (time, type)
    out[LATEST_TYPE] = max(kept)[1] if kept else NO_EVENT
    return out


def count_names(spec: BehaviourParams) -> list[tuple[str, str, list[tuple[int, str]]]]:
    """Per counted type: its name, its count feature and its window features (days, name)."""
    return _count_names(tuple(counted_types(spec)), tuple(spec.windows_days))


@functools.lru_cache(maxsize=64)
def _count_names(types: tuple[str, ...], windows_days: tuple[int, ...]) -> list:
    return [
        (name, f"{name}_events", [(days, f"{name}_events_{days}d") for days in windows_days])
        for name in types
    ]


def scoring_moments(leads: pd.DataFrame, moment: ScoringMoment | None) -> pd.Series:
    """Each lead's moment of scoring under the contract (missing: the lead has no stage date)."""
    created = pd.to_datetime(leads[fields.CREATED_AT])
    if moment is None or moment.at == "creation":
        return created
    if moment.at == "creation_plus_days":
        return created + pd.Timedelta(days=moment.days)
    if moment.column not in leads:
        raise EventsError(f"contract.scoring_moment.column {moment.column!r} is not in the leads")
    return pd.to_datetime(leads[moment.column], errors="coerce")


def snapshot_id(lead_ids: pd.Series, days: int) -> pd.Series:
    """The id of a lead's snapshot `days` after its moment of scoring."""
    return lead_ids.astype(str) + f"{SNAPSHOT_SEPARATOR}{days}"


def lead_of(snapshot_ids: pd.Series) -> pd.Series:
    """The lead id a snapshot id belongs to."""
    return snapshot_ids.astype(str).str.rsplit(SNAPSHOT_SEPARATOR, n=1).str[0]


def leads_of(frame: pd.DataFrame) -> pd.Series:
    """Each row's lead key: for a snapshot row (a table built with activity events, one row
    per lead and snapshot day) the lead it is a snapshot of; otherwise every row is its own
    lead. Volumes such as A leads a month count distinct keys, so a lead seen at three
    snapshots is one lead for sales."""
    if SCORED_AT in frame:
        return lead_of(frame[fields.LEAD_ID])
    return pd.Series(np.arange(len(frame)), index=frame.index)


def snapshot_outcome(snapshots: pd.DataFrame, window_days: int) -> pd.Series:
    """Each snapshot's label by the one outcome rule, its window starting at the snapshot."""
    scored = snapshots[SCORED_AT]
    won = snapshots.get(fields.WON_AT)
    if fields.OUTCOME_STATUS in snapshots:
        return outcome.label(snapshots[fields.OUTCOME_STATUS], scored, won, window_days)
    if won is not None:
        return outcome.won_within_window(scored, won, window_days)
    return snapshots[fields.CONVERTED]


def snapshots(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    spec: BehaviourParams,
    moment: ScoringMoment | None,
    window_days: int,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """The training table: one row per lead and snapshot day, with its behaviour features.

    A snapshot is left out when it falls after `as_of` (the export), when the lead was already
    won before it (nothing left to score), or, without a won/lost status, when its outcome
    window is still open at `as_of` (its label is not known yet). Each row keeps the lead's
    fields, its id becomes `<lead id>@<day>`, and `scored_at` says when it was scored.
    """
    moments = scoring_moments(leads, moment)
    parts = []
    for days in spec.snapshot_days:
        part = leads.copy()
        part[SCORED_AT] = moments + pd.Timedelta(days=days)
        part[fields.LEAD_ID] = snapshot_id(leads[fields.LEAD_ID], days)
        part["_lead"] = leads[fields.LEAD_ID].astype(str)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    scored = table[SCORED_AT]
    keep = scored.notna() & (scored <= as_of)
    if fields.WON_AT in table:
        won = pd.to_datetime(table[fields.WON_AT], errors="coerce")
        keep &= ~(won <= scored).fillna(False)
    if fields.OUTCOME_STATUS not in table:
        keep &= ~outcome.window_open(scored, as_of, window_days).fillna(True)
    table = table.loc[keep].reset_index(drop=True)
    table[fields.CONVERTED] = snapshot_outcome(table, window_days).astype(bool)
    until = (
        pd.Series(as_of, index=table.index) if spec.count_after_decision else None
    )  # the deliberate leak: everything up to the export
    features = behaviour_features(
        events, table["_lead"], table[SCORED_AT], table[fields.CREATED_AT], spec, until
    )
    return pd.concat([table.drop(columns="_lead"), features], axis=1)


def features_as_of(
    leads: pd.DataFrame, events: pd.DataFrame, spec: BehaviourParams, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Batch and API: the behaviour features of each lead as of `as_of` (now), from its events
    strictly before then. `leads` needs the lead id and the creation date."""
    moments = pd.Series(pd.Timestamp(as_of), index=leads.index)
    return behaviour_features(
        events, leads[fields.LEAD_ID], moments, leads[fields.CREATED_AT], spec
    )


def record(
    spec: BehaviourParams,
    moment: ScoringMoment | None,
    counted_before: bool,
    created_column: str = fields.CREATED_AT,
) -> dict:
    """What the model card and the leakage review are told about the behaviour features
    (`created_column`: the raw leads' creation date, as scoring receives them)."""
    return {
        "created_column": created_column,
        "definition": spec.model_dump(mode="json", exclude={"count_after_decision"}),
        "scoring_moment": moment.model_dump(mode="json") if moment else {"at": "creation"},
        "fields": feature_kinds(spec),
        "counted_before_moment": counted_before,
    }


def spec_of(record_: Mapping) -> BehaviourParams:
    """The definition a card carries, back as parameters."""
    return BehaviourParams(**record_["definition"])


BUILT_BEFORE_REASON = (
    "built from activity events strictly before the moment of scoring ({moment}): cannot leak"
)


def table_kinds(report: Mapping) -> dict[str, str]:
    """The behaviour columns a prepared lead table holds (from the read report's `behaviour`
    record), by kind, with `scored_at` as a date: {} without events."""
    record_ = report.get("behaviour")
    if not record_:
        return {}
    return {**record_["fields"], SCORED_AT: "date"}


def built_before_moment(report: Mapping) -> dict[str, str]:
    """The behaviour fields the leakage review keeps by construction, with the reason: none
    when they were counted after the moment of scoring (`count_after_decision`)."""
    record_ = report.get("behaviour")
    if not record_ or not record_.get("counted_before_moment"):
        return {}
    moment = record_["scoring_moment"]
    words = (
        moment["at"].replace("_", " ")
        + (f" {moment['days']}" if moment.get("days") else "")
        + (f" {moment['column']}" if moment.get("column") else "")
    )
    reason = BUILT_BEFORE_REASON.format(moment=words)
    return {name: reason for name in record_["fields"]}


def snapshot_day(snapshot_ids: pd.Series) -> pd.Series:
    """The days after the moment of scoring a snapshot id was taken at."""
    return snapshot_ids.astype(str).str.rsplit(SNAPSHOT_SEPARATOR, n=1).str[1].astype(int)
