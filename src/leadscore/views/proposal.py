"""The impact preview of a contract proposal, side by side with the agreed contract.

Both contracts are applied to the same held-out (test) leads with the same model: the model
does not depend on the contract's grade or follow-up promises, so a proposal is previewed by
re-grading, never by re-training. Each side is what a full run under that contract reports:
its grades' leads per month, conversion with its 95 % interval, share of all conversions and
revenue; whether sales capacity holds; every promise of both owners, kept or missed; and the
publish gate. A proposal that changes what the model is trained on (the outcome, the fields)
cannot be previewed by re-grading: the preview says so and names the keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.agreement import describe_change
from leadscore.core.config import WarningParams
from leadscore.core.contract import Contract
from leadscore.core.contract_report import KEPT
from leadscore.core.data_params import EconomicsColumns, FollowUpColumns
from leadscore.model.grading import GRADES, Grading
from leadscore.views.contract import contract_report
from leadscore.views.follow_up import follow_up_report
from leadscore.views.format import pct

# Keys that shape the data or the model: a proposal changing one needs a re-train to preview.
MODEL_KEYS = (
    "contract.outcome.window_days",
    "contract.excluded_fields",
    "contract.allowed_fields",
    "contract.publish_gate.min_positives",
    "contract.publish_gate.min_negatives",
)
NOT_ASSESSABLE = "not assessable"
# What each side shows per grade, as the contract report computes it
GRADE_FIGURES = (
    "leads",
    "leads_per_month",
    "conversions",
    "conversion",
    "conversion_ci_low",
    "conversion_ci_high",
    "share_of_conversions",
    "threshold",
    "promise",
    "verdicts",
)


def needs_retrain(changes: list[dict]) -> list[str]:
    """The changed keys that shape the data or the model."""
    return [c["key"] for c in changes if c["key"].startswith(MODEL_KEYS)]


def grade_revenue(frame: pd.DataFrame, deal_value: str | None) -> dict[str, float | None]:
    """Won revenue per grade (None when the data have no deal value)."""
    if not deal_value or deal_value not in frame:
        return dict.fromkeys(GRADES)
    won = frame[fields.CONVERTED].astype(bool)
    values = pd.to_numeric(frame[deal_value], errors="coerce").where(won, 0.0).fillna(0.0)
    return {g: float(values[frame["grade"] == g].sum()) for g in GRADES}


def promise_rows(report: dict, follow_up: dict) -> list[dict]:
    """Every promise of both owners: marketing's per grade, sales' follow-up per grade."""
    rows = []
    for grade, row in report["grades"].items():
        promise = row["promise"]
        if not promise:
            continue
        actual = (
            f"{pct(row['conversion'])} (95 % interval {pct(row['conversion_ci_low'])}-"
            f"{pct(row['conversion_ci_high'])})"
        )
        rows.append(
            {
                "owner": "marketing",
                "grade": grade,
                "promise": f"{grade} leads convert at {pct(promise['min_conversion'], 0)} or more",
                "actual": actual,
                "verdict": row["verdicts"]["conversion"],
            }
        )
        if promise.get("max_leads_per_month"):
            rows.append(
                {
                    "owner": "marketing",
                    "grade": grade,
                    "promise": f"at most {promise['max_leads_per_month']:,} {grade} leads a "
                    "month (sales capacity)",
                    "actual": f"{row['leads_per_month']:,.0f} a month",
                    "verdict": row["verdicts"]["capacity"],
                }
            )
    missing = follow_up.get("missing") and not follow_up.get("promises")
    for grade, verdicts in follow_up.get("promises", {}).items():
        for item in verdicts:
            rows.append(
                {
                    "owner": "sales",
                    "grade": grade,
                    "promise": item["label"],
                    "actual": f"{pct(item['share'])} within "
                    f"{item['promise']['within_business_hours']:g} business hours",
                    "verdict": item["verdict"],
                }
            )
    if missing:
        rows.append(
            {
                "owner": "sales",
                "grade": None,
                "promise": "follow-up promises",
                "actual": follow_up["missing"][0]["message"],
                "verdict": NOT_ASSESSABLE,
            }
        )
    return rows


def contract_side(
    scored: pd.DataFrame,
    probability: np.ndarray,
    contract: Contract,
    grading: Grading,
    derivation: dict,
    agreement: dict,
    metrics: dict,
    months: float | None,
    review: dict | None,
    warnings: WarningParams,
    worked: pd.Series | None,
    follow_up_columns: FollowUpColumns,
    economics: EconomicsColumns,
) -> dict[str, Any]:
    """What a full run under `contract` reports on these leads, re-graded by its thresholds."""
    frame = scored.assign(grade=grading.grade(probability))
    record = {
        **grading.to_dict(),
        "derivation": derivation,
        "contract": contract.model_dump(mode="json"),
        "agreement": agreement,
    }
    typed = contract_report(frame, contract, record, metrics, months, review, warnings, worked)
    report = typed.to_json()
    follow_up = follow_up_report(frame, contract, follow_up_columns, economics)
    revenue = grade_revenue(frame, economics.deal_value)
    grades = {
        grade: {key: row[key] for key in GRADE_FIGURES} | {"revenue": revenue[grade]}
        for grade, row in report["grades"].items()
    }
    total = [v for v in revenue.values() if v is not None]
    failed = [name for name in typed.publish_gate.failed() if name != "agreement"]
    return {
        "grades": grades,
        "capacity_holds": report["grades"]["A"]["verdicts"].get("capacity") == KEPT,
        "revenue": sum(total) if total else None,
        "promises": promise_rows(report, follow_up),
        # the gate apart from the agreement itself: would this contract's model be publishable
        # once both owners approved it?
        "publishable": not failed,
        "failed_checks": failed,
        "agreement": report["agreement"],
        "test_period": report["test_period"],
    }


def kept_count(side: dict) -> tuple[int, int]:
    verdicts = [row["verdict"] for row in side["promises"] if row["verdict"] != NOT_ASSESSABLE]
    return sum(v == KEPT for v in verdicts), len(verdicts)


def headline(agreed: dict, proposal: dict) -> str:
    """One sentence: what the proposal does to A leads and to the promises."""
    a_then, a_now = agreed["grades"]["A"], proposal["grades"]["A"]
    kept_then, total_then = kept_count(agreed)
    kept_now, total_now = kept_count(proposal)
    return (
        f"Under the proposal A leads would be {a_now['leads_per_month']:,.0f} a month (agreed: "
        f"{a_then['leads_per_month']:,.0f}) converting at {pct(a_now['conversion'])} (agreed: "
        f"{pct(a_then['conversion'])}); {kept_now} of {total_now} promises kept (agreed: "
        f"{kept_then} of {total_then})"
        + ("" if proposal["capacity_holds"] else "; sales capacity would NOT hold")
        + "."
    )


def side_by_side_grades(agreed: dict, new: dict) -> list[str]:
    """Each grade under the agreed contract and under the proposal, one row each."""
    lines = [
        "| grade | | leads/month | conversion (95 % interval) "
        "| share of conversions | revenue | verdicts |",
        "|---|---|---|---|---|---|---|",
    ]
    for grade in GRADES:
        for name, side in (("agreed", agreed), ("proposal", new)):
            row = side["grades"][grade]
            verdicts = ", ".join(f"{k}: {v}" for k, v in row["verdicts"].items()) or "-"
            revenue = "-" if row["revenue"] is None else f"{row['revenue']:,.0f}"
            lines.append(
                f"| {grade} | {name} | {row['leads_per_month']:,.0f} | {pct(row['conversion'])} "
                f"({pct(row['conversion_ci_low'])}-{pct(row['conversion_ci_high'])}) "
                f"| {pct(row['share_of_conversions'])} | {revenue} | {verdicts} |"
            )
    return lines


def render_markdown(preview: dict) -> str:
    """`reports/proposal.md`: the two contracts side by side, for both owners."""
    if not preview["open"]:
        return f"# Contract proposal\n\nNo open proposal. {preview['agreed_headline']}\n"
    proposal = preview["proposal"]
    if preview["agreed"] is None:  # a new project (`leadscore init`): nothing agreed yet
        return (
            f"# Contract proposal\n\n**{proposal['agreement']['headline']}**\n\n"
            f"{preview['headline']} Both owners approve it (`leadscore contract approve`).\n"
        )
    lines = [
        "# Contract proposal: its impact beside the agreed contract",
        "",
        f"**{proposal['agreement']['headline']}**",
        "",
        f"Agreed version: {preview['agreed']['version']} (agreed on "
        f"{preview['agreed']['agreed_on']}). Proposal content {proposal['contract_hash'][:19]}."
        + (f" Note: {proposal['note']}" if proposal.get("note") else ""),
        "",
        "Changes:",
        "",
        *[f"- `{describe_change(change)}`" for change in proposal["changes"]],
        "",
    ]
    if preview["needs_retrain"]:
        return (
            "\n".join(
                lines
                + [
                    "This proposal changes what the model is trained on ("
                    + ", ".join(preview["needs_retrain"])
                    + "): re-grading cannot preview it. Run it as an experiment "
                    "(`dvc exp run`) and compare with `dvc exp show`.",
                ]
            )
            + "\n"
        )
    agreed, new = preview["sides"]["agreed"], preview["sides"]["proposal"]
    lines += [f"{preview['headline']}", "", *side_by_side_grades(agreed, new)]
    lines += ["", "| owner | promise | agreed | proposal |", "|---|---|---|---|"]
    for before, after in paired_promises(agreed["promises"], new["promises"]):
        row = after or before or {}  # a pair always has one side
        lines.append(
            f"| {row['owner']} | {row['promise']} | {_verdict(before)} | {_verdict(after)} |"
        )
    lines += [
        "",
        "Publish gate (apart from the agreement): agreed contract "
        f"{'passed' if agreed['publishable'] else 'NOT passed'}; proposal "
        f"{'would pass once both owners approve it' if new['publishable'] else 'NOT passed'}"
        + (f" ({', '.join(new['failed_checks'])})" if new["failed_checks"] else "")
        + ".",
    ]
    return "\n".join(lines) + "\n"


def _verdict(row: dict | None) -> str:
    return "-" if row is None else f"{row['verdict']}: {row['actual']}"


def paired_promises(
    agreed: list[dict], proposal: list[dict]
) -> list[tuple[dict | None, dict | None]]:
    """The promises of both sides, paired by owner, grade and order within the grade."""

    def keyed(rows: list[dict]) -> dict[tuple, dict]:
        seen: dict[tuple, int] = {}
        out = {}
        for row in rows:
            base = (row["owner"], row["grade"], "capacity" in row["promise"])
            seen[base] = seen.get(base, 0) + 1
            out[(*base, seen[base])] = row
        return out

    before, after = keyed(agreed), keyed(proposal)
    order = list(before) + [key for key in after if key not in before]
    return [(before.get(key), after.get(key)) for key in order]
