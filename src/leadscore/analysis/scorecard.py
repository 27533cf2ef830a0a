"""The scorecard `make run` prints: the few figures that say whether the run is any good."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from leadscore.core.io import read_json


def scorecard_rows(metrics: dict, split: dict, validation: dict) -> list[tuple[str, str, str]]:
    """(figure, value, what it means) rows from the stage reports."""
    rows = [("model version", str(metrics.get("model_version", "?")), "")]
    auc = metrics["roc_auc"]
    rows.append(("model AUC (test)", f"{auc:.4f}", "ranking quality on the newest leads"))
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


def render_scorecard(reports: Path) -> Table:
    rows = scorecard_rows(
        read_json(reports / "metrics.json"),
        read_json(reports / "split.json"),
        read_json(reports / "validation.json"),
    )
    table = Table(title="leadscore scorecard", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("meaning", style="dim")
    for row in rows:
        table.add_row(*row)
    return table
