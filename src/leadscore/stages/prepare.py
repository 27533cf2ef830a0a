"""DVC stage `prepare`: the raw lead table, from the built-in generator or a CRM export.

`data.source: generator` writes the generated CRM (leads, true probabilities, channel costs);
`data.source: files` reads the configured export (leadscore.data.sources) and writes empty but
valid truth and channel-cost tables, so one dvc.yaml serves both.
"""

from __future__ import annotations

import logging
from pathlib import Path

from leadscore.core.config import load_params
from leadscore.data.generate import generate_crm, import_export, write_crm

log = logging.getLogger(__name__)


def main(params_path: Path = Path("params.yaml"), out_dir: Path = Path("data/raw")):
    params = load_params(params_path)
    if params.data.source == "files":
        return import_export(Path(params_path), out_dir)
    gen = params.generate
    crm = generate_crm(
        n_leads=gen.n_leads,
        months=gen.months,
        export_date=gen.export_date,
        window_days=params.contract.outcome.window_days,
        seed=gen.seed,
    )
    write_crm(crm, out_dir)
    log.info(
        "prepare: generated %d leads, %.1f%% converted",
        len(crm.leads),
        100 * crm.leads["converted"].mean(),
    )
    return crm
