"""DVC stage `generate`: file I/O around leadscore.data.generate."""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from leadscore.data.generate import generate_crm, import_export, write_crm

log = logging.getLogger(__name__)


def main(params_path: Path = Path("params.yaml"), out_dir: Path = Path("data/raw")):
    raw = yaml.safe_load(Path(params_path).read_text())
    if (raw.get("data") or {}).get("source", "generator") == "files":
        return import_export(Path(params_path), out_dir)
    gen = raw["generate"]
    crm = generate_crm(
        n_leads=int(gen["n_leads"]),
        months=int(gen["months"]),
        export_date=str(gen["export_date"]),
        window_days=int(raw["contract"]["outcome"]["window_days"]),
        seed=int(gen["seed"]),
    )
    write_crm(crm, out_dir)
    log.info(
        "generate: %d leads, %.1f%% converted", len(crm.leads), 100 * crm.leads["converted"].mean()
    )
    return crm
