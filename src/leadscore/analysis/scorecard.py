"""The scorecard `make run` prints: the few figures that say whether the run is any good.

Pure rows (and their table) from the stage reports; `leadscore scorecard` reads the files and
prints.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from leadscore.core.contract_report import (
    KEPT,
    KEPT_WHERE_WORKED,
    ContractReport,
    GateCheck,
    GateResult,
)
from leadscore.model.gate import REVIEW_CHECK


def _family_meaning(metrics: dict) -> str:
    """How the model family was chosen and calibrated."""
    return f"chosen on the validation period; {metrics.get('calibration_method')} calibration" + (
        ", flattened to the base rate: the model ranks the validation leads backwards"
        if metrics.get("calibration_backwards")
        else ""
    )


def _censored_meaning(split: dict) -> str:
    """Why leads were censored."""
    return split.get("censored_because") or (
        f"outcome window ({split['window_days']} days) still open at {split['as_of']}"
        if "as_of" in split
        else split.get("strategy", "")
    )


def scorecard_rows(metrics: dict, split: dict, validation: dict) -> list[tuple[str, str, str]]:
    """(figure, value, what it means) rows from the stage reports."""
    rows = [("model version", str(metrics.get("model_version", "?")), "")]
    if metrics.get("model_family"):
        rows.append(("model family", metrics["model_family"], _family_meaning(metrics)))
    auc = metrics["roc_auc"]
    rows.append(("model AUC (test)", f"{auc:.4f}", "ranking quality on the newest leads"))
    if "test_auc_spread_min" in metrics:
        rows.append(spread_row(metrics))
    if "oracle_roc_auc" in metrics:
        oracle = metrics["oracle_roc_auc"]
        rows.append(("oracle AUC", f"{oracle:.4f}", f"ceiling; model reaches {auc / oracle:.1%}"))
    rows.append(
        ("LR baseline AUC", f"{metrics['baseline_roc_auc']:.4f}", "plain logistic regression")
    )
    rows += [
        ("calibration error (ECE)", f"{metrics['ece']:.4f}", "10 equal-frequency bins"),
        (
            "top-decile lift",
            f"{metrics['top_lift']:.2f}x",
            f"catches {metrics['top_conversion_share']:.1%} of conversions",
        ),
        ("base rate (test)", f"{metrics['base_rate']:.2%}", f"{metrics['leads']:,} test leads"),
        (
            "rows quarantined",
            f"{validation['rows_quarantined']:,}",
            f"of {validation['rows_in']:,} ingested (see data/interim/quarantine.csv)",
        ),
        (
            "rows censored",
            f"{split['rows_censored']:,}",
            _censored_meaning(split),
        ),
    ]
    if split.get("rows_open"):
        rows.append(
            ("open leads", f"{split['rows_open']:,}", "still being worked: never negatives")
        )
    rows.append(("split", split_label(split), split_meaning(split)))
    made_id = validation.get("export", {}).get("id", {})
    if made_id.get("made"):
        rows.append(("lead id", "made", "no column is unique per lead: a stable hash per row"))
    rows += join_rows(validation.get("export", {}).get("joins", []))
    rows += exclusion_rows(validation.get("fields", {}))
    signal = metrics.get("signal")
    if signal:
        rows.append(("usable signal", "yes" if signal["usable"] else "NO", signal["reason"]))
    return rows


def spread_row(metrics: dict) -> tuple[str, str, str]:
    method = metrics["test_auc_spread_method"]
    how = (
        f"{metrics['test_auc_spread_n']} refits with other seeds"
        if method == "refits"
        else f"{metrics['test_auc_spread_n']} bootstrap resamples of the test leads"
    )
    return (
        "test AUC spread",
        f"{metrics['test_auc_spread_min']:.4f}-{metrics['test_auc_spread_max']:.4f}",
        f"{how}; sd {metrics['test_auc_spread_sd']:.4f}",
    )


def warning_rows(warnings: list[dict]) -> list[tuple[str, str, str]]:
    """One row per warning (from `leadscore.model.health`), or a plain 'none'."""
    if not warnings:
        return [("warnings", "none", "baseline, calibration drift, ECE, grade order and promises")]
    return [("WARNING", w["check"], w["message"]) for w in warnings]


def split_label(split: dict) -> str:
    return split.get("split") or ("time" if "as_of" in split else "stratified")


def split_meaning(split: dict) -> str:
    """Which leads test the model, in plain words."""
    kind = split_label(split)
    if kind == "time":
        return f"test: leads created {split['test_start']} to {split.get('test_end', '?')}"
    if kind == "row order":
        return "no creation dates; the last rows of the export test (rows in time order)"
    return "no creation dates; a stratified random sample tests"


def join_rows(joins: list[dict]) -> list[tuple[str, str, str]]:
    """One row per joined table: how many lead rows found their match."""
    rows = []
    for join in joins:
        unmatched = join["rows_unmatched"]
        meaning = f"{join['rows_matched']:,} lead rows matched on {join['key']}"
        if unmatched:
            top = ", ".join(repr(u["value"]) for u in join["top_unmatched"][:3])
            meaning += f"; {unmatched:,} unmatched ({join['unmatched_share']:.1%}), e.g. {top}"
        rows.append(
            (f"join {Path(join['table']).name}", f"{1 - join['unmatched_share']:.1%}", meaning)
        )
    return rows


def exclusion_rows(fields: dict) -> list[tuple[str, str, str]]:
    """Excluded fields: those the configuration excludes, apart from the leakage review's."""
    flagged = fields.get("flagged", {})
    configured = [
        n
        for n in fields.get("excluded_by_configuration", [])
        if n in flagged and flagged[n]["excluded"]
    ]
    configured += [
        n
        for n, f in flagged.items()
        if f["excluded"] and "excluded by configuration" in f["flags"] and n not in configured
    ]
    automatic = [n for n, f in flagged.items() if f["excluded"] and n not in configured]
    rows = []
    if configured:
        rows.append(
            ("fields excluded", f"{len(configured)}", "by configuration: " + ", ".join(configured))
        )
    if automatic:
        rows.append(
            (
                "fields excluded",
                f"{len(automatic)}",
                "by the leakage review: " + ", ".join(automatic),
            )
        )
    return rows


def agreement_rows(contract: ContractReport | None) -> list[tuple[str, str, str]]:
    """First: whether the contract is agreed, whether the model may publish, and why not."""
    if contract is None:
        return [("contract", "?", "no contract report yet (the contract stage writes it)")]
    agreement = contract.agreement
    rows = [
        (
            "contract",
            f"{contract.contract_version} agreed"
            if agreement["agreed"]
            else "[bold red]PROPOSAL: not agreed[/]",
            agreement["headline"],
        ),
        publishable_row(contract.publish_gate),
    ]
    under_review = contract.publish_gate.checks.get(REVIEW_CHECK)
    if under_review is not None and under_review.actual:
        rows.append(
            (
                "fields under review",
                str(len(under_review.actual)),
                "no sign-off in contract.allowed_fields: " + ", ".join(under_review.actual),
            )
        )
    rows += grade_rows(contract.grades)
    return rows


def failing_check(name: str, check: GateCheck) -> str:
    """`fields under review: a, b` or `auc lower bound 0.52 (needs 0.55)`: one failed check."""
    label = name.replace("_", " ")
    actual, required = check.actual, check.required
    if isinstance(actual, list):
        return f"{label}: {', '.join(map(str, actual))}"
    if isinstance(actual, float):
        return f"{label} {actual:.3g} (needs {required:.3g})"
    return f"{label} {actual} (needs {required})"


def publishable_row(gate: GateResult) -> tuple[str, str, str]:
    """Whether the publish gate lets the model serve, with each failing check named."""
    if gate.publishable:
        return ("publishable", "yes", "every check of the contract's publish gate passed")
    failing = [failing_check(name, gate.checks[name]) for name in gate.failed()]
    return ("publishable", "[bold red]NO[/]", "; ".join(failing) or "the publish gate failed")


def grade_rows(grades: dict) -> list[tuple[str, str, str]]:
    """Each grade's verdict in one line: kept or not, its conversion and volume."""
    rows = []
    for grade, figures in grades.items():
        verdicts = figures.get("verdicts", {})
        missed = [
            name for name, verdict in verdicts.items() if verdict not in (KEPT, KEPT_WHERE_WORKED)
        ]
        if not verdicts:
            value = "no promise"
        elif missed:
            value = "[bold red]NOT kept[/]: " + ", ".join(missed)
        else:
            value = "kept"
        promise = figures.get("promise") or {}
        conversion, per_month = figures.get("conversion"), figures.get("leads_per_month")
        meaning = "no leads" if conversion is None else f"{conversion:.1%} converted"
        if promise.get("min_conversion") is not None:
            meaning += f" (promise {promise['min_conversion']:.0%})"
        if per_month is not None:
            meaning += f", {per_month:,.0f} leads a month"
        if promise.get("max_leads_per_month") is not None:
            meaning += f" (at most {promise['max_leads_per_month']:,})"
        if KEPT_WHERE_WORKED in verdicts.values():
            meaning += "; kept on the leads sales worked"
        rows.append((f"grade {grade}", value, meaning))
    return rows


def scorecard(
    metrics: dict, split: dict, validation: dict, contract: ContractReport | None
) -> list[tuple[str, str, str]]:
    """The whole scorecard, first row first: the agreement and the gate (from the contract
    report, when the contract stage ran), the run's figures, then the warnings."""
    rows = agreement_rows(contract) + scorecard_rows(metrics, split, validation)
    warnings = contract.warnings if contract is not None else metrics.get("warnings", [])
    return rows + warning_rows(warnings)


def scorecard_table(rows: list[tuple[str, str, str]]) -> Table:
    """The rows as the table `leadscore scorecard` prints (Rich markup in the cells)."""
    table = Table(title="leadscore scorecard", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("meaning", style="dim")
    for row in rows:
        table.add_row(*row)
    return table
