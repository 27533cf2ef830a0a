"""The facts about one field the leakage review's verdict rests on, no thresholds applied: its
name cues, out-of-fold AUC, presence by outcome, dates after creation, whether it is still
being filled in after creation and whether it is recorded only with a later event date."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.data.leakage_auc import folded_auc, out_of_fold_scores

# Words a CRM uses for what sales did or decided after it worked the lead. Matched on the name
# in lower-case words (`LastActivity`, `last_activity` and `Last Activity` read the same).
NAME_CUES: tuple[tuple[str, str], ...] = (
    ("status-like", r"\bstatus"),
    ("status-like", r"\bstages?\b"),
    ("status-like", r"\btags?\b"),
    ("status-like", r"\bquality\b"),
    ("status-like", r"\bdisposition"),
    ("status-like", r"\boutcomes?\b"),
    ("status-like", r"\bresults?\b"),
    ("status-like", r"\bratings?\b"),
    ("status-like", r"\bscor(e|es|ing)\b"),
    ("status-like", r"\bgrades?\b"),
    ("status-like", r"\bowner"),
    ("status-like", r"\bassigned\b"),
    ("status-like", r"\bprofile"),
    ("status-like", r"\bclosed?\b"),
    ("post-contact", r"\bcall"),
    ("post-contact", r"\bduration"),
    ("post-contact", r"\btouch"),
    ("post-contact", r"\bcontacted\b"),
    ("post-contact", r"\bvisit"),
    ("post-contact", r"\bmeeting"),
    ("post-contact", r"\bappointment"),
    ("post-contact", r"\breasons?\b"),
    ("post-contact", r"\blost\b"),
    ("post-contact", r"\bwon\b"),
    ("post-contact", r"\b(dis)?qualified\b"),
    ("post-contact", r"\bproposal"),
    ("post-contact", r"\bnegotiat"),
    ("post-contact", r"\bfollow ?ups?\b"),
    ("post-contact", r"\blast (notable )?activit"),
)
RECENT_DAYS = (3, 7, 28)  # leads younger than this at the export, against those up to 4x older
MIN_RECENT = 30  # leads needed on each side of that comparison


def name_cues(name: str) -> list[str]:
    """The post-contact and status-like words in a field name, e.g. `post-contact: 'call'`."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    words = " ".join(re.findall(r"[a-z0-9]+", words.lower()))
    cues = []
    for label, pattern in NAME_CUES:
        found = re.search(pattern, words)
        if found:
            cues.append(f"{label}: '{found.group(0)}'")
    return cues


def presence_by_outcome(values: pd.Series, y: np.ndarray) -> tuple[float, float]:
    """Share of converted and of unconverted leads for which the field has a value."""
    present = values.notna().to_numpy()
    positive = y == 1
    return float(present[positive].mean()), float(present[~positive].mean())


def date_after_creation(values: pd.Series, created: pd.Series | None) -> float | None:
    """Share of the dated leads whose date falls after the lead's creation."""
    if created is None:
        return None
    dates = pd.to_datetime(values, errors="coerce")
    known = dates.notna() & created.notna()
    if not known.any():
        return None
    return float((dates[known] > pd.to_datetime(created[known])).mean())


def lead_age_days(created: pd.Series) -> pd.Series:
    """Days from each lead's creation to the newest lead's (the export's moment)."""
    created = pd.to_datetime(created)
    return (created.max() - created).dt.total_seconds() / 86400


def _as_numbers(values: pd.Series) -> pd.Series:
    """Numbers and flags as floats (missing stays missing)."""
    if pd.api.types.is_bool_dtype(values) or values.dtype == object:
        values = values.map(lambda v: float(v) if isinstance(v, bool | np.bool_) else v)
    return pd.to_numeric(values, errors="coerce").astype(float)


def filling_in(values: pd.Series, kind: str, age: pd.Series | None) -> dict | None:
    """Whether the field is still being filled in after the lead's creation.

    The newest leads (younger than 3, 7 or 28 days at the export) against leads up to four times
    older: a field known at creation looks the same in both, a field sales records once it works
    the lead (touches, owner, first contact) is still empty or small for the newest. Measured on
    missingness for every kind and on the values of numbers and flags (not on categories, whose
    mix may drift with campaigns). Returns the strongest AUC (folded) with its interval.
    """
    if age is None or kind == "date":
        return None
    best: dict[str, Any] | None = None
    for days in RECENT_DAYS:
        young, older = age < days, (age >= days) & (age < 4 * days)
        if young.sum() < MIN_RECENT or older.sum() < MIN_RECENT:
            continue
        window = values[young | older]
        label = young[young | older].to_numpy(int)
        scores = {"missingness": window.isna().to_numpy(float)}
        if kind in ("numeric", "boolean"):
            numeric = _as_numbers(window)
            present = numeric.notna().to_numpy()
            if label[present].sum() >= MIN_RECENT and (1 - label[present]).sum() >= MIN_RECENT:
                scores["values"] = (numeric[present].to_numpy(float), present)
        for what, score in scores.items():
            y, x = (label[score[1]], score[0]) if isinstance(score, tuple) else (label, score)
            if np.unique(x).size < 2:
                continue
            auc, low, high = folded_auc(y, x)
            if best is None or auc > best["auc"]:
                best = {"auc": auc, "low": low, "high": high, "days": days, "what": what}
    return best


def field_evidence(
    values: pd.Series,
    kind: str,
    y: np.ndarray,
    fold: np.ndarray,
    created: pd.Series | None,
    recent: dict | None = None,
) -> dict:
    """The facts about one field the verdict rests on (no thresholds applied here); `fold`:
    each lead's fold for the out-of-fold AUC (`fold_numbers`)."""
    present = values.dropna()
    missing = values.isna().to_numpy()
    evidence: dict = {
        "kind": kind,
        "missing_share": round(float(missing.mean()), 4),
        "distinct_values": int(present.nunique()),
        "name_cues": [],
        "single_field_auc": None,
        "auc_ci_low": None,
        "auc_ci_high": None,
        "missing_auc": None,
        "present_share_converted": None,
        "present_share_unconverted": None,
        "after_creation_share": None,
        "recent_auc": None,
        "recent_auc_ci_low": None,
        "recent_days": None,
        "recent_by": None,
    }
    if recent is not None:
        evidence.update(
            recent_auc=round(recent["auc"], 4),
            recent_auc_ci_low=round(recent["low"], 4),
            recent_days=recent["days"],
            recent_by=recent["what"],
        )
    both_classes = 0 < y.sum() < len(y)
    if kind == "date":
        share = date_after_creation(values, created)
        evidence["after_creation_share"] = None if share is None else round(share, 4)
    elif both_classes and len(present):
        auc, low, high = folded_auc(y, out_of_fold_scores(values, kind, y, fold))
        evidence.update(
            single_field_auc=round(auc, 4), auc_ci_low=round(low, 4), auc_ci_high=round(high, 4)
        )
    if both_classes and 0 < missing.mean() < 1:
        evidence["missing_auc"] = round(folded_auc(y, missing.astype(float))[0], 4)
        converted, unconverted = presence_by_outcome(values, y)
        evidence["present_share_converted"] = round(converted, 4)
        evidence["present_share_unconverted"] = round(unconverted, 4)
    return evidence


RECORDED_WITH_AGREEMENT = 0.99  # empty where an event date is missing, and only there


def event_dates(
    frame: pd.DataFrame, kinds: dict[str, str], created: pd.Series | None
) -> dict[str, np.ndarray]:
    """Dates of events after the lead's creation (a first contact, a win) that some leads lack:
    name -> where the date is missing."""
    if created is None:
        return {}
    names = [n for n, k in kinds.items() if k == "date"]
    names += [fields.WON_AT] if fields.WON_AT in frame and fields.WON_AT not in names else []
    events = {}
    for name in names:
        dates = pd.to_datetime(frame[name], errors="coerce")
        known = dates.notna()
        after = (dates > pd.to_datetime(created))[known]
        if 0.01 <= 1 - known.mean() <= 0.99 and after.mean() > 0.5:
            events[name] = ~known.to_numpy()
    return events


def recorded_with(values: pd.Series, kind: str, events: dict[str, np.ndarray]) -> str | None:
    """The event date whose absence this field follows (empty, or zero for a count, exactly
    where that date is missing): a field recorded only once the event happened."""
    empty = values.isna().to_numpy()
    if kind == "numeric":
        empty = empty | (pd.to_numeric(values, errors="coerce") == 0).to_numpy()
    for name, missing in events.items():
        if name != values.name and (empty == missing).mean() >= RECORDED_WITH_AGREEMENT:
            return name
    return None
