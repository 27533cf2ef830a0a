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

import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.data_params import LeakageParams
from leadscore.core.fields import DATE_NAME, ID_NAME
from leadscore.core.stats import auc_interval, tied_roc_auc
from leadscore.core.values import FALSE_TOKENS, TRUE_TOKENS
from leadscore.data.dates import DATE_VALUE, mostly

EXCLUDED, REVIEW, KEPT = "excluded", "needs review", "kept"

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
ROLE_COLUMNS = (
    fields.LEAD_ID,
    fields.CREATED_AT,
    fields.CONVERTED,
    fields.WON_AT,
    fields.OUTCOME_STATUS,
)
ONE_OUTCOME_ABSENT = 0.005  # present for at most this share of one outcome ...
ONE_OUTCOME_PRESENT = 0.05  # ... and at least this share of the other: present for one outcome
MOST_AFTER_CREATION = 0.5  # a date after creation for more than this share of leads: post-creation
RECENT_DAYS = (3, 7, 28)  # leads younger than this at the export, against those up to 4x older
MIN_RECENT = 30  # leads needed on each side of that comparison


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
    if mostly(pd.to_numeric(text, errors="coerce").notna()):
        return "numeric"
    if DATE_NAME.search(name) or mostly(text.str.fullmatch(DATE_VALUE)):
        parsed = pd.to_datetime(present.astype(str), errors="coerce", format="mixed")
        if mostly(parsed.notna()):
            return "date"
    return "categorical"


def infer_kinds(frame: pd.DataFrame, overrides: Mapping[str, str]) -> dict[str, str]:
    """The kind of every non-role column; overrides from `data.types` win."""
    return {
        name: overrides.get(name) or infer_kind(frame[name], name)
        for name in frame.columns
        if name not in ROLE_COLUMNS
    }


# --- evidence ------------------------------------------------------------------------------


MISSING = "(missing)"  # missing is a value of its own


def text_groups(values: pd.Series) -> np.ndarray:
    """A group number per lead: leads whose values read the same as text share one, and the
    missing ones (with any value written `(missing)`) share one.

    Values are numbered first (a float by its bits, so -0.0 and 0.0 stay apart as their text
    does) and only the distinct ones are written as text: the groups of `astype("string")`
    without writing every lead's value out. Mixed Python objects, which compare equal across
    types (`1 == True`), are written out lead by lead."""
    if values.dtype == object:
        return pd.factorize(values.astype("string").fillna(MISSING).to_numpy())[0]
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "f":
        array = values.to_numpy()
        missing = np.isnan(array)
        codes, bits = pd.factorize(np.where(missing, 0.0, array).view(np.int64))
        codes[missing] = -1
        distinct = pd.Series(np.asarray(bits).view(np.float64))
    else:
        codes, uniques = pd.factorize(values)
        distinct = pd.Series(uniques, dtype=values.dtype)
    names = np.append(distinct.astype("string").fillna(MISSING).to_numpy(object), MISSING)
    return pd.factorize(names)[0][codes]  # code -1 (missing) takes the last name


def fold_numbers(y: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """The fold of each lead in the review's stratified `folds`-fold split (the same for every
    field: it depends on the outcomes alone)."""
    from sklearn.model_selection import StratifiedKFold  # here: the stages that only read a
    # review (contract, grade, scoring) never load scikit-learn for it

    fold = np.empty(len(y), dtype=int)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for number, (_, held_out) in enumerate(splitter.split(np.zeros(len(y)), y)):
        fold[held_out] = number
    return fold


def out_of_fold_scores(values: pd.Series, kind: str, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Each lead scored by its field value's conversion rate in the other folds (`fold`: the
    fold of each lead, `fold_numbers`); a value the other folds never saw gets their base rate.

    Numbers fall into 10 quantile bins and missing is a value of its own, so any shape of
    relation counts, including "present only for converted leads".
    """
    if kind == "numeric":
        numeric = pd.to_numeric(values, errors="coerce").astype(float)
        if numeric.nunique() > 10:
            numeric = pd.qcut(numeric.rank(method="first"), 10, labels=False)
        values = numeric
    groups = text_groups(values)
    size, folds = int(groups.max()) + 1, int(fold.max()) + 1
    cell = fold * size + groups  # (fold, value): counted once, all folds at a time
    leads = np.bincount(cell, minlength=folds * size).reshape(folds, size)
    converted = np.bincount(cell, weights=y, minlength=folds * size).reshape(folds, size)
    other_leads = (leads.sum(axis=0) - leads)[fold, groups]  # the other folds' leads
    other_converted = (converted.sum(axis=0) - converted)[fold, groups]
    fold_leads = np.bincount(fold, minlength=folds)
    fold_converted = np.bincount(fold, weights=y, minlength=folds)
    base = (fold_converted.sum() - fold_converted) / (len(y) - fold_leads)
    seen = other_leads > 0
    return np.where(seen, other_converted / np.where(seen, other_leads, 1), base[fold])


def folded_auc(y: np.ndarray, score: np.ndarray) -> tuple[float, float, float]:
    """AUC folded to >= 0.5 (a field ranks either way), with its 95 % interval."""
    auc = tied_roc_auc(y, score)
    positives = int(y.sum())
    low, high = auc_interval(auc, positives, len(y) - positives)
    if auc < 0.5:
        return 1 - auc, 1 - high, 1 - low
    return auc, low, high


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


def _id_like_values(present: pd.Series, kind: str) -> bool:
    """Text, or whole numbers: what ids look like (a continuous measure is not an id)."""
    if kind == "categorical":
        return True
    if kind == "numeric":
        numeric = pd.to_numeric(present, errors="coerce")
        return bool((numeric == numeric.round()).all())
    return False


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
    best = None
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
