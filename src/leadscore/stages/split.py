"""DVC stage `split`: file I/O around leadscore.data.split."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core import fields
from leadscore.core.config import load_params
from leadscore.core.io import write_json
from leadscore.data.split import SPLITS, SplitResult, resolve_as_of, stratified_split, time_split

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    leads_path: Path = Path("data/interim/leads.parquet"),
    out_dir: Path = Path("data/processed"),
    report_path: Path = Path("reports/split.json"),
) -> SplitResult:
    params = load_params(params_path)
    leads = pd.read_parquet(leads_path)
    if fields.CREATED_AT in leads:
        result = time_split(
            leads,
            as_of=resolve_as_of(leads, params.split.as_of),
            window_days=params.contract.outcome.window_days,
            valid_months=params.split.valid_months,
            test_months=params.split.test_months,
        )
    else:
        split = params.split
        result = stratified_split(leads, split.valid_share, split.test_share, split.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        getattr(result, name).to_parquet(out_dir / f"{name}.parquet", index=False)
    write_json(report_path, result.summary)
    log.info("split: %s", result.summary)
    return result
