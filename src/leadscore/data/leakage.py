"""Typing the columns of a CRM export, and the leakage guard that decides which may be inputs.

A score must exist before sales touches the lead, so the guard excludes, with the evidence:
- identifiers: unique per lead, or named like an id (`Prospect ID`, `Lead Number`);
- fields that predict the outcome suspiciously well on their own (out-of-fold AUC of the
  field alone at or above `data.leakage.max_single_field_auc`), such as a copy of the outcome;
- fields known only after sales worked the lead: dates after the lead's creation, fields
  recorded only where such a date is (empty, or a zero count, exactly where the date is
  missing: touches logged after a first contact, the owner who made it), and fields whose
  names are the CRM's words for post-contact status (status, stage, tags, quality, disposition,
  outcome, rating, score, profile, last activity, owner, reason, ...);
- constant fields, and those excluded by configuration.
A field the contract lists in `allowed_fields` is kept even when flagged (and still reported).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from leadscore.core import fields
from leadscore.core.values import FALSE_TOKENS, TRUE_TOKENS

ID_NAME = re.compile(r"(^|[\s_\-])(id|uuid|guid|number|no|key)$", re.IGNORECASE)
STATUS_NAME = re.compile(
    r"(status|stage|tags?$|quality|disposition|outcome|result|rating|score|grade|owner|"
    r"assigned|profile|reason|^last[\s_]*(notable[\s_]*)?activity$|^lost|^won|closed)",
    re.IGNORECASE,
)
DATE_NAME = re.compile(r"(date|time|_at$|created|updated|modified)", re.IGNORECASE)
ROLE_COLUMNS = (
    fields.LEAD_ID,
    fields.CREATED_AT,
    fields.CONVERTED,
    fields.WON_AT,
    fields.OUTCOME_STATUS,
)


def infer_kind(values: pd.Series, name: str) -> str:
    """categorical | numeric | boolean | date, from the values (and a date-like name)."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    text = present.astype(str).str.strip().str.lower()
    if len(text) and text.nunique() <= 2 and text.isin(TRUE_TOKENS | FALSE_TOKENS).all():
        return "boolean"
    if len(text) and pd.to_numeric(text, errors="coerce").notna().mean() >= 0.98:
        return "numeric"
    if DATE_NAME.search(name) and len(text):
        parsed = pd.to_datetime(present.astype(str), errors="coerce", format="mixed")
        if parsed.notna().mean() >= 0.98:
            return "date"
    return "categorical"


def infer_kinds(frame: pd.DataFrame, overrides: dict[str, str]) -> dict[str, str]:
    """The kind of every non-role column; overrides from `data.types` win."""
    return {
        name: overrides.get(name) or infer_kind(frame[name], name)
        for name in frame.columns
        if name not in ROLE_COLUMNS
    }


def single_field_auc(
    values: pd.Series, kind: str, y: np.ndarray, folds: int, seed: int = 0
) -> float:
    """How well the field alone ranks converters: out-of-fold AUC, folded to >= 0.5.

    Each value (numbers: each of 10 quantile bins; missing: its own value) is scored by the
    conversion rate of that value in the other folds, so any shape of relation counts,
    including "present only for converted leads".
    """
    if kind == "numeric":
        numeric = pd.to_numeric(values, errors="coerce").astype(float)
        if numeric.nunique() > 10:
            numeric = pd.qcut(numeric.rank(method="first"), 10, labels=False)
        text = numeric.astype("string").fillna("(missing)").to_numpy()
    else:
        text = values.astype("string").fillna("(missing)").to_numpy()
    predicted = np.zeros(len(y))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(text, y):
        means = pd.Series(y[train]).groupby(text[train]).mean()
        predicted[test] = pd.Series(text[test]).map(means).fillna(y[train].mean()).to_numpy()
    auc = roc_auc_score(y, predicted)
    return float(max(auc, 1 - auc))


def _id_like_values(present: pd.Series, kind: str) -> bool:
    """Text, or whole numbers: what ids look like (a continuous measure is not an id)."""
    if kind == "categorical":
        return True
    if kind == "numeric":
        numeric = pd.to_numeric(present, errors="coerce")
        return bool((numeric == numeric.round()).all())
    return False


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


def guard(
    frame: pd.DataFrame,
    kinds: dict[str, str],
    max_single_field_auc: float,
    folds: int,
    excluded: tuple[str, ...] = (),
    allowed: tuple[str, ...] = (),
) -> tuple[dict[str, str], dict[str, dict]]:
    """Fields kept as inputs (name -> kind) and fields excluded (name -> reason, evidence)."""
    y = frame[fields.CONVERTED].to_numpy(int)
    both_classes = 0 < y.sum() < len(y)
    kept: dict[str, str] = {}
    report: dict[str, dict] = {}
    created = frame.get(fields.CREATED_AT)
    events = event_dates(frame, kinds, created)
    for name, kind in kinds.items():
        values = frame[name]
        present = values.dropna()
        reasons: list[str] = []
        evidence: dict = {"kind": kind, "missing_share": round(float(values.isna().mean()), 4)}
        if name in excluded:
            reasons.append("excluded by configuration")
        if present.nunique() <= 1:
            reasons.append("constant: one value (or none)")
        if ID_NAME.search(name.strip()):
            reasons.append("identifier: id-like name")
        elif (
            len(present) > 50
            and present.nunique() == len(values)
            and _id_like_values(present, kind)
        ):
            reasons.append(f"identifier: unique per lead ({present.nunique():,} values)")
        if kind == "date":
            reasons.append("a date: not a model input")
            if created is not None:
                after = pd.to_datetime(values, errors="coerce") > pd.to_datetime(created)
                evidence["after_creation_share"] = round(float(after.mean()), 4)
                if after.mean() > 0.01:
                    reasons.append("known only after creation (dated after the lead)")
        if kind != "date" and (event := recorded_with(values, kind, events)):
            reasons.append(f"post-contact: recorded only where {event} (a later date) is")
        if STATUS_NAME.search(name.strip()):
            reasons.append("post-contact: a status-like field name")
        if both_classes and kind != "date" and len(present):
            auc = single_field_auc(values, kind, y, folds)
            evidence["single_field_auc"] = round(auc, 4)
            if auc >= max_single_field_auc:
                reasons.append(
                    f"predicts the outcome alone too well (AUC {auc:.3f} >= {max_single_field_auc})"
                )
        if reasons and name in allowed and "excluded by configuration" not in reasons:
            report[name] = {
                "excluded": False,
                "flags": reasons,
                "allowed_by_contract": True,
                **evidence,
            }
            kept[name] = kind
        elif reasons:
            report[name] = {"excluded": True, "flags": reasons, **evidence}
        else:
            kept[name] = kind
    return kept, report
