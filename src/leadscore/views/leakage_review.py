"""The leakage review for people: its rules in one paragraph and the table of fields (those under
review first), as `reports/contract.md` and the HTML report show it."""

from __future__ import annotations

from leadscore.data.leakage import EXCLUDED, REVIEW
from leadscore.data.leakage import KEPT as KEPT_INPUT
from leadscore.views.format import pct

VERDICT_ORDER = {REVIEW: 0, EXCLUDED: 1, KEPT_INPUT: 2}


def review_rows(review: dict) -> list[tuple[str, dict]]:
    """The review's fields, those under review first, then by single-field AUC."""
    return sorted(
        review["fields"].items(),
        key=lambda item: (
            VERDICT_ORDER.get(item[1]["verdict"], 3),
            -(item[1]["single_field_auc"] or 0.0),
            item[0],
        ),
    )


def review_rule(thresholds: dict) -> str:
    """The review's rules in one paragraph."""
    return (
        "Excluded: identifiers, constant fields, dates (post-creation when most fall after "
        "the lead's creation), fields present for only one outcome, and fields whose "
        f"out-of-fold AUC alone is at least {thresholds['max_single_field_auc']}. Needs review: "
        f"single-field AUC (or the AUC of its missingness) of at least "
        f"{thresholds['review_single_field_auc']}, more than "
        f"{pct(thresholds['max_importance_share'], 0)} of the model's permutation importance, "
        "still being filled in after creation (its values or missingness tell the leads created "
        "in the last days before the export from older ones, lower end of the 95 % interval of "
        "that AUC "
        f"at least {thresholds.get('review_recent_auc_lower_bound', 0.6)}), or a "
        "post-contact name cue (a name alone never excludes). A field under review blocks "
        "publishing until contract.allowed_fields signs it off or contract.excluded_fields "
        "excludes it."
    )


def verdict_text(row: dict) -> str:
    text = row["verdict"]
    if row.get("allowed_by_contract"):
        reason = row.get("allowed_reason") or "no reason given"
        text += f"; allowed by the contract ({reason})"
    elif row.get("awaiting_sign_off"):
        text += "; BLOCKS publishing"
    return text


def _auc_text(row: dict) -> str:
    if row["single_field_auc"] is None:
        return "-"
    return f"{row['single_field_auc']:.3f} ({row['auc_ci_low']:.3f}-{row['auc_ci_high']:.3f})"


def _missing_auc_text(row: dict) -> str:
    return "-" if row["missing_auc"] is None else f"{row['missing_auc']:.3f}"


def _recent_text(row: dict) -> str:
    """Newest leads against older ones: AUC, lower end of its interval, window, what differs."""
    if row.get("recent_auc") is None:
        return "-"
    return (
        f"{row['recent_auc']:.3f} (from {row['recent_auc_ci_low']:.3f}; "
        f"{row['recent_days']} d, {row['recent_by']})"
    )


def review_markdown(review: dict) -> list[str]:
    """The leakage review table of `reports/contract.md`."""
    lines = [
        "## Leakage review: which fields the model may use",
        "",
        review_rule(review["thresholds"]),
        "",
        "| field | kind | single-field AUC (95 %) | missing AUC | newest vs older leads AUC "
        "| share of importance | input | verdict | evidence |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in review_rows(review):
        share = row.get("importance_share")
        lines.append(
            f"| {name} | {row['kind']} | {_auc_text(row)} "
            f"| {_missing_auc_text(row)} | {_recent_text(row)} | {pct(share)} "
            f"| {'yes' if row['input'] else 'no'} | {verdict_text(row)} "
            f"| {'; '.join(row['reasons']) or '-'} |"
        )
    return lines
