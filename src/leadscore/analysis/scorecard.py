"""The scorecard `make run` prints: the few figures that say whether the run is any good."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from leadscore.core.io import read_json


def scorecard_rows(metrics: dict, split: dict, validation: dict) -> list[tuple[str, str, str]]:
    """(figure, value, what it means) rows from the stage reports."""
    rows = [("model version", str(metrics.get("model_version", "?")), "")]
    if metrics.get("model_family"):
        rows.append(
            (
                "model family",
                metrics["model_family"],
                f"chosen on the validation period; {metrics.get('calibration_method')} calibration",
            )
        )
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
            f"outcome window ({split['window_days']} days) still open at {split['as_of']}"
            if "as_of" in split
            else split.get("strategy", ""),
        ),
    ]
    excluded = [
        n for n, f in validation.get("fields", {}).get("flagged", {}).items() if f["excluded"]
    ]
    if excluded:
        rows.append(
            ("fields excluded", f"{len(excluded)}", "by the leakage guard: " + ", ".join(excluded))
        )
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


def render_scorecard(reports: Path) -> Table:
    metrics = read_json(reports / "metrics.json")
    rows = scorecard_rows(
        metrics,
        read_json(reports / "split.json"),
        read_json(reports / "validation.json"),
    )
    contract = reports / "contract.json"  # holds the model's warnings and the grades'
    warnings = read_json(contract).get("warnings") if contract.is_file() else None
    rows += warning_rows(metrics.get("warnings", []) if warnings is None else warnings)
    table = Table(title="leadscore scorecard", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("meaning", style="dim")
    for row in rows:
        table.add_row(*row)
    return table
