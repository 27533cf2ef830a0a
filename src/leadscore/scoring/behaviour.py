"""Behaviour features at scoring time: a model trained on activity events (its card carries
the definition, leadscore.data.behaviour) scores leads with their features computed as of now
from an events table, by the same definition training used."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from leadscore.core import fields
from leadscore.core.io import read_table
from leadscore.data import behaviour


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
    record = definition(scorer)
    created_column = record.get("created_column") or fields.CREATED_AT
    if created_column not in frame:
        raise BehaviourInputError(
            f"the leads have no {created_column!r} column: behaviour features need each "
            "lead's creation date (lead_age_days)"
        )
    spec = behaviour.spec_of(record)
    ids = scorer.lead_ids(frame)
    created = pd.to_datetime(frame[created_column], errors="coerce", format="mixed")
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
