"""What the owners' page shows, as plain data: each promise of the agreed contract and how it
held on the test period, and the impact preview of the open proposal side by side.

Pure functions over the contract and the report JSON (`reports/contract.json`,
`reports/follow_up.json`, `reports/proposal.json`); the files are read in
leadscore_serve.owners. A report that is missing, or that was made under another contract, is
said plainly: the page never shows a verdict it cannot vouch for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadscore.core.agreement import short
from leadscore.core.contract import Contract, FollowUpPromise, GradePromise

REPORT_FILES = {
    "contract": "reports/contract.json",
    "follow_up": "reports/follow_up.json",
    "proposal": "reports/proposal.json",
}
GRADES = ("A", "B", "C", "D")
PREVIEW_COMMAND = "leadscore contract preview"


@dataclass(frozen=True)
class Reports:
    """The reports the page reads, each None when missing or unreadable (`problems` says why)."""

    contract: dict[str, Any] | None = None
    follow_up: dict[str, Any] | None = None
    proposal: dict[str, Any] | None = None
    problems: dict[str, str] = field(default_factory=dict)


def read_reports(root: Path) -> Reports:
    found: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, relative in REPORT_FILES.items():
        path = root / relative
        if not path.is_file():
            problems[name] = f"{relative} is missing"
            continue
        try:
            found[name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            problems[name] = f"{relative} cannot be read ({error})"
    return Reports(**found, problems=problems)


# --- numbers for people ------------------------------------------------------------------------


def pct(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f} %"


def interval(row: dict[str, Any], key: str) -> str:
    """`68.3 % (95 % interval 65.8-70.7 %)` from `<key>`, `<key>_ci_low`, `<key>_ci_high`."""
    low, high = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    if row.get(key) is None:
        return "no leads"
    if low is None or high is None:
        return pct(row[key])
    return f"{pct(row[key])} (95 % interval {low * 100:.1f}-{high * 100:.1f} %)"


def amount(value: Any, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def shown_value(value: Any) -> str:
    """A contract value in a change row: numbers as written, lists joined, none said."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(shown_value(item) for item in value) or "(empty)"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


# --- the agreed contract's promises ------------------------------------------------------------


def conversion_promise(grade: str, promise: GradePromise) -> str:
    return f"{grade} leads convert at {promise.min_conversion * 100:g} % or more"


def capacity_promise(grade: str, promise: GradePromise) -> str:
    return f"at most {promise.max_leads_per_month:,} {grade} leads a month (sales capacity)"


def follow_up_promise(grade: str, promise: FollowUpPromise) -> str:
    return promise.says or (
        f"at least {promise.min_share * 100:g} % of {grade} leads first contacted within "
        f"{promise.within_business_hours:g} business hours"
    )


def _row(owner: str, grade: str, promise: str, actual: str, verdict: str | None) -> dict[str, Any]:
    return {
        "owner": owner,
        "grade": grade,
        "promise": promise,
        "actual": actual,
        "verdict": verdict,
    }


def grade_rows(contract: Contract, report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Marketing's side: each grade's conversion promise (and A's capacity) and how it held."""
    rows = []
    for grade in ("A", "B", "C"):
        promise: GradePromise = getattr(contract.grades, grade)
        figures = (report or {}).get("grades", {}).get(grade)
        checks = [("conversion", conversion_promise(grade, promise))]
        if promise.max_leads_per_month is not None:
            checks.append(("capacity", capacity_promise(grade, promise)))
        for kind, text in checks:
            if figures is None:
                rows.append(_row("marketing", grade, text, "no contract report", None))
            elif figures.get("promise") != promise.model_dump():
                rows.append(
                    _row("marketing", grade, text, "the report graded another promise", None)
                )
            else:
                actual = (
                    interval(figures, "conversion")
                    if kind == "conversion"
                    else f"{amount(figures.get('leads_per_month'))} {grade} leads a month"
                )
                rows.append(_row("marketing", grade, text, actual, figures["verdicts"].get(kind)))
    return rows


def follow_up_rows(contract: Contract, report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Sales' side: each follow-up promise and how it held (matched by its terms)."""
    rows = []
    for grade, promises in contract.follow_up.promises.items():
        held = (report or {}).get("promises", {}).get(grade, [])
        for promise in promises:
            text = follow_up_promise(grade, promise)
            match = next((h for h in held if h.get("promise") == promise.model_dump()), None)
            if report is None:
                rows.append(_row("sales", grade, text, "no follow-up report", None))
            elif match is None:
                rows.append(_row("sales", grade, text, "the report checked other terms", None))
            else:
                actual = (
                    f"{interval(match, 'share')} within "
                    f"{promise.within_business_hours:g} business hours"
                )
                rows.append(_row("sales", grade, text, actual, match.get("verdict")))
    return rows


def report_notes(agreed_hash: str, version: str, reports: Reports) -> list[str]:
    """Why the promise verdicts may be missing or not those of the agreed contract."""
    notes = [
        f"{reports.problems[name]}: run `make run` to make it"
        for name in ("contract", "follow_up")
        if name in reports.problems
    ]
    report = reports.contract
    if report is not None:
        made_under = (report.get("agreement") or {}).get("contract_hash")
        if made_under is not None and made_under != agreed_hash:
            notes.append(
                f"reports/contract.json was made under contract {short(made_under)}, not the "
                f"agreed version {version} ({short(agreed_hash)}): run `make run` for the "
                "agreed contract's figures"
            )
        elif made_under is None and report.get("contract_version") != version:
            notes.append(
                f"reports/contract.json was made under contract "
                f"{report.get('contract_version')}, not the agreed version {version}"
            )
    return notes


def test_period(report: dict[str, Any] | None) -> str | None:
    period = (report or {}).get("test_period") or {}
    if not period.get("from"):
        return None
    return f"{period['from']} to {period['to']} ({period.get('months')} months)"


# --- the impact preview --------------------------------------------------------------------------

GRADE_MEASURES = (
    ("leads a month", lambda g: amount(g.get("leads_per_month"), 1)),
    ("conversion", lambda g: interval(g, "conversion")),
    ("share of all conversions", lambda g: pct(g.get("share_of_conversions"))),
    ("revenue", lambda g: amount(g.get("revenue"))),
    ("score threshold", lambda g: "-" if g.get("threshold") is None else f"{g['threshold']:.3f}"),
)


def preview_state(preview: dict[str, Any] | None, proposal_hash: str) -> tuple[str, str]:
    """(state, what to say): missing, closed, stale, needs_retrain or ready."""
    if preview is None:
        return "missing", (
            f"No impact preview yet (reports/proposal.json): run `{PREVIEW_COMMAND}`."
        )
    previewed = (preview.get("proposal") or {}).get("contract_hash")
    if not preview.get("open") or previewed is None:
        return "closed", (
            "The impact preview in reports/proposal.json is of no open proposal: run "
            f"`{PREVIEW_COMMAND}` to preview this one."
        )
    if previewed != proposal_hash:
        return "stale", (
            f"The impact preview is stale: it is of proposal {short(previewed)}, and the open "
            f"proposal is {short(proposal_hash)}. Refresh it with `{PREVIEW_COMMAND}`."
        )
    retrain = preview.get("needs_retrain") or []
    if retrain or "sides" not in preview:
        return "needs_retrain", (
            "This proposal changes keys that shape the model ("
            + ", ".join(retrain)
            + "): grading again cannot preview it. Run it as an experiment, "
            "`dvc exp run`, and compare the runs."
        )
    return "ready", preview.get("headline", "")


def side_by_side(preview: dict[str, Any]) -> dict[str, Any]:
    """The preview's figures as rows of (what, agreed, proposal, changed)."""
    agreed, proposal = preview["sides"]["agreed"], preview["sides"]["proposal"]

    def pair(label: str, left: str, right: str, grade: str = "") -> dict[str, Any]:
        return {"grade": grade, "what": label, "agreed": left, "proposal": right,
                "changed": left != right}  # fmt: skip

    grades = []
    for grade in GRADES:
        left, right = agreed["grades"].get(grade), proposal["grades"].get(grade)
        if left is None and right is None:
            continue
        for label, shown in GRADE_MEASURES:
            grades.append(
                pair(label, shown(left) if left else "-", shown(right) if right else "-", grade)
            )
    overall = [
        pair(
            "sales capacity holds",
            _yes(agreed.get("capacity_holds")),
            _yes(proposal.get("capacity_holds")),
        ),  # fmt: skip
        pair(
            "won revenue of all test leads",
            amount(agreed.get("revenue")),
            amount(proposal.get("revenue")),
        ),  # fmt: skip
        pair("publishable", _yes(agreed.get("publishable")), _yes(proposal.get("publishable"))),
    ]
    return {"grades": grades, "overall": overall, "promises": promise_pairs(agreed, proposal)}


def _yes(value: Any) -> str:
    return "-" if value is None else ("yes" if value else "NO")


PROMISE_PARTS = ("promise", "actual", "verdict")


def promise_pairs(agreed: dict[str, Any], proposal: dict[str, Any]) -> list[dict[str, Any]]:
    """Each promise on both sides, matched by owner, grade and its place among that owner's
    promises for the grade (a changed promise keeps its place)."""

    def keyed(side: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
        seen: dict[tuple[str, str], int] = {}
        out = {}
        for item in side.get("promises", []):
            group = (item.get("owner", ""), item.get("grade", ""))
            seen[group] = seen.get(group, 0) + 1
            out[(*group, seen[group])] = item
        return out

    left, right = keyed(agreed), keyed(proposal)
    order = list(left) + [key for key in right if key not in left]
    rows = []
    for key in order:
        a, p = left.get(key, {}), right.get(key, {})
        rows.append(
            {
                "owner": key[0],
                "grade": key[1],
                "agreed": a,
                "proposal": p,
                "changed": any(a.get(part) != p.get(part) for part in PROMISE_PARTS),
            }
        )
    return rows
