"""Behaviour features at scoring time: a model trained on activity events (its card carries
the definition, leadscore.data.behaviour) scores leads with their features computed as of now
from an events table, by the same definition training used."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from leadscore.core import fields
from leadscore.core.io import read_table
from leadscore.data import behaviour
from leadscore.scoring.event_histories import History, epoch_ns


class BehaviourInputError(ValueError):
    """Events were given for a model that reads none, or the leads lack what they need."""


def definition(scorer: Any) -> dict[str, Any]:
    """The behaviour record of the scorer's model (its card's input normalisation)."""
    record: dict[str, Any] | None = scorer.inputs.behaviour
    if not record:
        raise BehaviourInputError(
            "this model reads no activity events (it was trained without data.events or "
            "generate.events): score without --events"
        )
    return record


def created_column(scorer: Any) -> str:
    """The raw leads' creation date column the model's behaviour features need."""
    return str(definition(scorer).get("created_column") or fields.CREATED_AT)


def read_events(path: Path) -> pd.DataFrame:
    """An events file in the normal form (lead_id, event_at, event_type, event_value): a
    .parquet or .csv written by `prepare` or by hand with those columns."""
    if not path.is_file():
        raise BehaviourInputError(f"{path} not found")
    frame = read_table(path)
    try:
        return behaviour.normalise_events(frame)
    except behaviour.EventsError as error:
        raise BehaviourInputError(f"{path}: {error}") from None


def with_behaviour(
    scorer: Any, events: pd.DataFrame, as_of: pd.Timestamp, frame: pd.DataFrame
) -> pd.DataFrame:
    """Raw leads with their behaviour features as of `as_of` (values sent for those fields
    are replaced): from the events strictly before `as_of`, by the model's definition."""
    created_name = created_column(scorer)
    if created_name not in frame:
        raise BehaviourInputError(
            f"the leads have no {created_name!r} column: behaviour features need each "
            "lead's creation date (lead_age_days)"
        )
    spec = behaviour.spec_of(definition(scorer))
    ids = scorer.lead_ids(frame)
    created = pd.to_datetime(frame[created_name], errors="coerce", format="mixed")
    leads = pd.DataFrame({fields.LEAD_ID: ids.astype(str), fields.CREATED_AT: created})
    features = behaviour.features_as_of(leads, events, spec, pd.Timestamp(as_of))
    return frame.drop(columns=[c for c in features.columns if c in frame]).join(features)


def chunk_preparer(
    scorer: Any, events_path: Path, as_of: pd.Timestamp | None
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """What batch scoring applies to each chunk of raw leads (`score_file(prepare=...)`)."""
    definition(scorer)
    moment = pd.Timestamp.now() if as_of is None else pd.Timestamp(as_of)
    return partial(with_behaviour, scorer, read_events(events_path), moment)


def missing_creation(records: Sequence[Mapping[str, Any]]) -> list[int]:
    """The positions of API leads without a creation date (`created_at`): their behaviour
    cannot be computed (lead_age_days)."""
    return [i for i, record in enumerate(records) if record.get(fields.CREATED_AT) is None]


def records_as_of(
    scorer: Any,
    records: Sequence[Mapping[str, Any]],
    histories: Mapping[str, History],
    as_of: datetime,
) -> list[dict[str, Any]]:
    """API leads (normalised records, each with its `created_at`) with their behaviour features
    as of `as_of` (naive: UTC) from their events (`histories` by lead id: stored and sent), by
    the model's definition on the one-lead path (`leadscore.data.behaviour.lead_features`,
    property-tested against the frame path batch and Spark use). Values sent for behaviour
    fields are replaced, as in batch scoring."""
    spec = behaviour.spec_of(definition(scorer))
    moment = epoch_ns(as_of)
    out = []
    for record in records:
        history = histories.get(record[fields.LEAD_ID]) or History()
        created = record.get(fields.CREATED_AT)
        created_ns = None if created is None else epoch_ns(created)
        features = behaviour.lead_features(
            history.times_ns, history.kinds, created_ns, moment, spec
        )
        out.append({**record, **features})
    return out


COLLECTED = "_leadscore_events"  # Spark: each lead's events, collected beside its row


def with_collected_events(scorer: Any, frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Spark's executors: raw leads whose `COLLECTED` column holds each lead's events (a list
    of {event_at, event_type}, or None), with their behaviour features as of `as_of` by
    `with_behaviour`, the batch CLI's function (the column dropped)."""
    ids = scorer.lead_ids(frame).astype(str).to_numpy()
    rows = [
        (ids[i], event["event_at"], event["event_type"])
        for i, events in enumerate(frame[COLLECTED])
        if events is not None
        for event in events
    ]
    events = pd.DataFrame(
        rows, columns=[behaviour.EVENT_LEAD, behaviour.EVENT_AT, behaviour.EVENT_TYPE]
    )
    events[behaviour.EVENT_AT] = events[behaviour.EVENT_AT].astype("string")
    normal = behaviour.normalise_events(events)
    return with_behaviour(scorer, normal, as_of, frame.drop(columns=COLLECTED))
