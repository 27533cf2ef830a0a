"""Typing the columns of a CRM export, and the leakage review that decides which may be inputs.

A score must exist before sales touches the lead. Every candidate field gets a row of evidence
and one of three verdicts:

- **excluded**: identifiers (unique per lead, or an id-like name such as `Prospect ID`),
  constant fields, dates (never inputs; "post-creation" when most are after the lead's
  creation), fields recorded only where such a later date is (empty, or a zero count, exactly
  where the date is missing: touches logged after a first contact, the owner who made it),
  fields present for only one outcome (such as a deal value), fields that rank
  converters too well on their own (out-of-fold AUC >= `data.leakage.max_single_field_auc`),
  and fields excluded by configuration (`data.exclude`, `contract.excluded_fields`);
- **needs review**: a single-field AUC >= `data.leakage.review_single_field_auc`, missingness
  that alone ranks converters that well, a field still being filled in after creation (its
  values or its missingness tell the newest leads from slightly older ones, the lower end of
  the 95 % interval of that AUC >= `data.leakage.review_recent_auc_lower_bound`: what sales
  records once it works a lead, such as touches, an owner or a first contact, is still empty
  for a lead created days before the export), a post-contact name cue (`NAME_CUES`), and, once
  the model exists, one field carrying more than `data.leakage.max_importance_share` of its
  permutation importance (`with_importance`);
- **kept**.

A name cue alone never excludes a field: it puts it under review. A field under review stays
an input, but the model is not publishable until the contract signs it off
(`contract.allowed_fields`, known at the moment of scoring) or excludes it. A field the
contract allows is kept even when the review would exclude it (except by configuration).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from leadscore.core import fields
from leadscore.core.data_params import LeakageParams
from leadscore.core.fields import ID_NAME
from leadscore.data.leakage_auc import fold_numbers
from leadscore.data.leakage_evidence import (
    event_dates,
    field_evidence,
    filling_in,
    lead_age_days,
    name_cues,
    recorded_with,
)

EXCLUDED, REVIEW, KEPT = "excluded", "needs review", "kept"

ONE_OUTCOME_ABSENT = 0.005  # present for at most this share of one outcome ...
ONE_OUTCOME_PRESENT = 0.05  # ... and at least this share of the other: present for one outcome
MOST_AFTER_CREATION = 0.5  # a date after creation for more than this share of leads: post-creation


def _id_like_values(present: pd.Series, kind: str) -> bool:
    """Text, or whole numbers: what ids look like (a continuous measure is not an id)."""
    if kind == "categorical":
        return True
    if kind == "numeric":
        numeric = pd.to_numeric(present, errors="coerce")
        return bool((numeric == numeric.round()).all())
    return False


# --- verdicts ------------------------------------------------------------------------------


def exclusion_reasons(name: str, evidence: dict, max_auc: float, unique_ids: bool) -> list[str]:
    """The findings that exclude a field outright (evidence, never a name cue alone)."""
    reasons = []
    if evidence["distinct_values"] <= 1:
        reasons.append("constant: one value (or none)")
    if ID_NAME.search(name.strip()):
        reasons.append("identifier: id-like name")
    elif unique_ids:
        reasons.append(f"identifier: unique per lead ({evidence['distinct_values']:,} values)")
    if evidence["kind"] == "date":
        after = evidence["after_creation_share"]
        if after is not None and after > MOST_AFTER_CREATION:
            reasons.append(f"post-creation date: after the lead's creation for {after:.0%}")
        else:
            reasons.append("a date: not a model input")
    converted = evidence["present_share_converted"]
    unconverted = evidence["present_share_unconverted"]
    if converted is not None:
        pairs = (("converted", converted, unconverted), ("unconverted", unconverted, converted))
        for outcome, here, there in pairs:
            if there <= ONE_OUTCOME_ABSENT and here >= ONE_OUTCOME_PRESENT:
                reasons.append(f"present only for {outcome} leads ({here:.0%} vs {there:.1%})")
    if evidence.get("recorded_with"):
        reasons.append(
            f"post-contact: recorded only where {evidence['recorded_with']} (a later date) is"
        )
    auc = evidence["single_field_auc"]
    if auc is not None and auc >= max_auc:
        reasons.append(f"predicts the outcome alone too well (AUC {auc:.3f} >= {max_auc})")
    return reasons


def review_reasons(
    evidence: dict, review_auc: float, max_auc: float, recent_low: float = 0.6
) -> list[str]:
    """The findings that put a field under review: signal worth a human look, or its name."""
    reasons = []
    auc = evidence["single_field_auc"]
    if auc is not None and review_auc <= auc < max_auc:
        reasons.append(f"strong alone: single-field AUC {auc:.3f} >= {review_auc}")
    missing_auc = evidence["missing_auc"]
    if missing_auc is not None and missing_auc >= review_auc:
        reasons.append(f"missingness tracks the outcome: AUC {missing_auc:.3f} >= {review_auc}")
    low = evidence.get("recent_auc_ci_low")
    if low is not None and low >= recent_low:
        reasons.append(
            f"still filled in after creation: its {evidence['recent_by']} tells leads younger "
            f"than {evidence['recent_days']} days at the export from older ones "
            f"(AUC {evidence['recent_auc']:.3f}, 95 % interval from {low:.3f} >= {recent_low})"
        )
    reasons += [f"name cue {cue}" for cue in evidence["name_cues"]]
    return reasons


def verdict_row(
    name: str,
    evidence: dict,
    leakage: LeakageParams,
    unique_ids: bool,
    configured: str | None,
    allowed: Mapping[str, str],
    built_before: str | None = None,
) -> dict:
    """One row of the review: evidence, verdict, reasons and whether the model may use it.

    `built_before`: the field was built from activity events strictly before the moment of
    scoring (leadscore.data.behaviour), so it cannot leak: kept with that reason, no sign-off
    (unless configuration excludes it, or it is constant)."""
    excluded = exclusion_reasons(name, evidence, leakage.max_single_field_auc, unique_ids)
    if configured:
        excluded.insert(0, configured)
    review = review_reasons(
        evidence,
        leakage.review_single_field_auc,
        leakage.max_single_field_auc,
        leakage.review_recent_auc_lower_bound,
    )
    if built_before and not configured and evidence["distinct_values"] > 1:
        return {
            **evidence,
            "built_before_moment": True,
            "verdict": KEPT,
            "reasons": [built_before],
            "allowed_by_contract": name in allowed,
            "allowed_reason": allowed.get(name),
            "input": evidence["kind"] != "date",
            "awaiting_sign_off": False,
            "importance_share": None,
        }
    verdict = EXCLUDED if excluded else REVIEW if review else KEPT
    signed_off = name in allowed and not configured
    usable = evidence["kind"] != "date" and (verdict != EXCLUDED or signed_off)
    return {
        **evidence,
        "verdict": verdict,
        "reasons": excluded + review,
        "allowed_by_contract": name in allowed,
        "allowed_reason": allowed.get(name),
        "input": usable,
        "awaiting_sign_off": usable and verdict == REVIEW and name not in allowed,
        "importance_share": None,
    }


def review_fields(
    frame: pd.DataFrame,
    kinds: dict[str, str],
    leakage: LeakageParams,
    excluded: Mapping[str, str] | None = None,
    allowed: Mapping[str, str] | None = None,
    every: pd.DataFrame | None = None,
    built_before: Mapping[str, str] | None = None,
) -> dict[str, dict]:
    """The leakage review of every candidate field (name -> row), in table order.

    `built_before`: behaviour fields counted strictly before the moment of scoring, with the
    reason (kept by construction; see `verdict_row`).

    `frame`: the leads whose outcome is decided; `every`: all valid leads, open ones included
    (whether a field is still being filled in needs no outcome; default `frame`).

    `leakage`: the `data.leakage` parameters. `excluded`: fields excluded by configuration,
    with where (e.g. "excluded by the contract"). `allowed`: fields the contract signs off as
    known at the moment of scoring, with the reason.
    """
    excluded, allowed = excluded or {}, allowed or {}
    y = frame[fields.CONVERTED].to_numpy(int)
    created = frame.get(fields.CREATED_AT)
    every = frame if every is None else every
    age = lead_age_days(every[fields.CREATED_AT]) if fields.CREATED_AT in every else None
    events = event_dates(every, kinds, every.get(fields.CREATED_AT))
    fold = fold_numbers(y, leakage.folds)
    rows = {}
    for name, kind in kinds.items():
        values = frame[name]
        recent = filling_in(every[name], kind, age)
        evidence = field_evidence(values, kind, y, fold, created, recent)
        evidence["name_cues"] = name_cues(name)
        if kind != "date":
            evidence["recorded_with"] = recorded_with(every[name], kind, events)
        present = values.dropna()
        unique_ids = (
            len(present) > 50
            and evidence["distinct_values"] == len(values)
            and _id_like_values(present, kind)
        )
        rows[name] = verdict_row(
            name,
            evidence,
            leakage,
            unique_ids,
            excluded.get(name),
            allowed,
            (built_before or {}).get(name),
        )
    return rows


def inputs_of(review: Mapping[str, dict]) -> dict[str, str]:
    """The fields the model may use (name -> kind)."""
    return {name: row["kind"] for name, row in review.items() if row["input"]}


def flagged(review: Mapping[str, dict]) -> dict[str, dict]:
    """Rows that are not plainly kept, in the shape of `reports/validation.json` fields.flagged."""
    return {
        name: {**row, "excluded": not row["input"], "flags": row["reasons"]}
        for name, row in review.items()
        if row["reasons"]
    }


# --- model time: importance and sign-off ---------------------------------------------------


def importance_shares(permutation: Mapping[str, float]) -> dict[str, float]:
    """Each field's share of the model's permutation importance (negative drops count as 0)."""
    positive = {name: max(float(drop), 0.0) for name, drop in permutation.items()}
    total = sum(positive.values())
    return {name: (drop / total if total > 0 else 0.0) for name, drop in positive.items()}


def with_importance(
    review: Mapping[str, dict],
    shares: Mapping[str, float] | None,
    inputs: Iterable[str],
    allowed: Mapping[str, str],
    max_share: float,
) -> dict[str, dict]:
    """The review completed by the trained model: importance shares, dominance, sign-off.

    `inputs`: the fields the model actually uses (its card). A field carrying more than
    `max_share` of the permutation importance goes under review. `awaiting_sign_off` marks the
    inputs under review that the contract has not allowed: they block publishing.
    """
    inputs = set(inputs)
    done = {}
    for name, row in review.items():
        row = {**row, "reasons": list(row["reasons"]), "input": name in inputs}
        share = (shares or {}).get(name) if name in inputs else None
        row["importance_share"] = None if share is None else round(share, 4)
        if share is not None and share > max_share:
            row["reasons"].append(
                f"dominates the model: {share:.0%} of its permutation importance "
                f"(more than {max_share:.0%})"
            )
            if row["verdict"] == KEPT and not row.get("built_before_moment"):
                row["verdict"] = REVIEW
        row["allowed_by_contract"] = name in allowed
        row["allowed_reason"] = allowed.get(name)
        row["awaiting_sign_off"] = (
            row["input"] and row["verdict"] == REVIEW and not row["allowed_by_contract"]
        )
        done[name] = row
    return done


def awaiting_sign_off(review: Mapping[str, dict]) -> list[str]:
    """Inputs under review that the contract neither allows nor excludes."""
    return [name for name, row in review.items() if row.get("awaiting_sign_off")]
