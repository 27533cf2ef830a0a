"""DVC stage `split`: file I/O around leadscore.data.split."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core import fields
from leadscore.core.config import load_params
from leadscore.core.io import write_json, write_parquet
from leadscore.data.split import (
    SPLITS,
    SplitResult,
    resolve_as_of,
    row_order_split,
    stratified_split,
    time_split,
)
from leadscore.data.split_proposal import minimum_data_error

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    leads_path: Path = Path("data/interim/leads.parquet"),
    out_dir: Path = Path("data/processed"),
    report_path: Path = Path("reports/split.json"),
) -> SplitResult:
    params = load_params(params_path)
    split = params.split
    window_days = params.contract.outcome.window_days
    leads = pd.read_parquet(leads_path)
    default_as_of = None
    if fields.CREATED_AT in leads:
        default_as_of = resolve_as_of(leads, None)
        as_of = resolve_as_of(leads, split.as_of)
        result = time_split(leads, as_of, window_days, split.valid_months, split.test_months)
    elif params.data.rows_in_time_order:
        result = row_order_split(leads, split.valid_share, split.test_share)
    else:
        result = stratified_split(leads, split.valid_share, split.test_share, split.seed)
    gate = params.contract.publish_gate
    error = minimum_data_error(
        result,
        leads,
        gate.min_positives,
        gate.min_negatives,
        split.valid_months,
        split.test_months,
        default_as_of,
        window_days,
    )
    if error is not None:
        raise error
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        write_parquet(getattr(result, name), out_dir / f"{name}.parquet", index=False)
    write_json(report_path, result.summary)
    log.info("split: %s", split_line(result.summary))
    return result


def split_line(summary: dict) -> str:
    """`time split; train 119,734 leads (10.1% converted), valid ...; 30,561 censored`."""
    parts = [
        f"{name} {summary[f'rows_{name}']:,} leads ({summary[f'base_rate_{name}']:.1%} converted)"
        for name in SPLITS
        if f"rows_{name}" in summary and f"base_rate_{name}" in summary
    ]
    held = f"{summary['rows_censored']:,} censored, {summary['rows_open']:,} open"
    return f"{summary['split']} split; " + ", ".join(parts) + f"; {held}"
