"""`reports/contract.md`: the contract's promises, the verdicts, the warnings, the publish gate
and the leakage review, readable without the code."""

from __future__ import annotations

from leadscore.core.contract_report import ContractReport
from leadscore.views.format import pct
from leadscore.views.leakage_review import review_markdown


def _header(report: dict) -> list[str]:
    """The title, the agreement, the outcome, the test period and what the report misses."""
    agreement = report["agreement"]
    period = report["test_period"]
    title = "promises vs the test period"
    lines = [
        f"# A-lead contract {report['contract_version']}: {title}"
        if agreement["agreed"]
        else f"# PROPOSAL (not agreed): {title}",
        "",
        agreement["headline"] if agreement["agreed"] else f"**{agreement['headline']}**",
        "",
        f"Converted = {report['outcome']['converted_when']} "
        f"({report['outcome']['window_days']} days).",
        (
            f"Test period {period['from']} to {period['to']} ({period['months']} months): "
            if period["from"]
            else f"Test set (no creation dates; about {period['months']} months of leads): "
        )
        + f"{report['leads']:,} leads, {report['conversions']:,} conversions, base rate "
        f"{pct(report['base_rate'])}.",
        "",
    ]
    lines += [f"> {item['message']}" for item in report.get("missing", [])]
    lines += [""] if report.get("missing") else []
    signal = report.get("signal")
    if signal and not signal["usable"]:
        lines += [f"**The data carry no usable signal.** {signal['reason']}.", ""]
    return lines


def _grade_lines(grades: dict) -> list[str]:
    """The grades' table (promise, achieved, volume, verdict) and one note per grade."""
    lines = [
        "| grade | promise | achieved (95 % interval) | leads/month | share of conversions "
        "| verdict |",
        "|---|---|---|---|---|---|",
    ]
    for grade, row in grades.items():
        promise = row["promise"]
        if promise:
            text = f">= {pct(promise['min_conversion'], 0)}"
            if promise.get("max_leads_per_month"):
                text += f", <= {promise['max_leads_per_month']}/month"
            verdict = ", ".join(f"{k}: {v}" for k, v in row["verdicts"].items())
        else:
            text, verdict = "the rest", "-"
        lines.append(
            f"| {grade} | {text} | {pct(row['conversion'])} ({pct(row['conversion_ci_low'])}"
            f"-{pct(row['conversion_ci_high'])}) | {row['leads_per_month']:.0f} "
            f"| {pct(row['share_of_conversions'])} | {verdict} |"
        )
    return [*lines, "", *[f"- **{g}**: {row['note']}" for g, row in grades.items()], ""]


def _gate_lines(gate: dict) -> list[str]:
    """The publish gate's checks, and the explanation of those that carry one."""
    lines = [
        f"## Publish gate: {'publishable' if gate['publishable'] else 'NOT publishable'}",
        "",
        "| check | required | actual | passed |",
        "|---|---|---|---|",
    ]
    for name, item in gate["checks"].items():
        lines.append(
            f"| {name} ({item['why']}) | {shown(item['required'])} | {shown(item['actual'])} "
            f"| {'yes' if item['passed'] else 'NO'} |"
        )
    explained = [item for item in gate["checks"].values() if item.get("explanation")]
    if explained:
        lines += ["", *[f"- **{item['why']}**: {item['explanation']}" for item in explained]]
    return lines


def render_markdown(typed: ContractReport) -> str:
    """`reports/contract.md`: the promises and the verdicts, readable without the code."""
    report = typed.to_json()
    lines = [*_header(report), *_grade_lines(report["grades"])]
    lines += render_warnings(report.get("warnings", []))
    lines += _gate_lines(report["publish_gate"])
    if report.get("field_review"):
        lines += ["", *review_markdown(report["field_review"])]
    return "\n".join(lines) + "\n"


def render_warnings(warnings: list[dict]) -> list[str]:
    if not warnings:
        return ["## Warnings: none", ""]
    return [f"## Warnings ({len(warnings)})", "", *[f"- {w['message']}" for w in warnings], ""]


def shown(value) -> str:
    """A gate figure for people: 4 significant digits, lists joined, nothing as "none"."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "none"
    return "-" if value is None else str(value)
