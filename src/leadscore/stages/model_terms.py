"""DVC stage `model_terms`: the contract's terms that shape the data and the model, in one file.

The contract in force is `contract.yaml` with the open proposal (`contract.proposal.yaml`). DVC
cannot track keys that a proposal may or may not hold, so this stage writes the values in force
of the keys the data and training stages read (the outcome, the excluded and allowed fields,
the publish gate) to `data/contract/model_terms.json`; `prepare`, `ingest`, `split` and `train`
depend on that file. A proposal that changes only grade or follow-up promises then re-grades
without re-training; one that changes a field list or the outcome window re-trains.
"""

from __future__ import annotations

import logging
from pathlib import Path

from leadscore.core.config import load_params
from leadscore.core.io import write_json

log = logging.getLogger(__name__)

MODEL_TERMS = {"outcome", "excluded_fields", "allowed_fields", "publish_gate"}


def main(
    params_path: Path = Path("params.yaml"),
    out_path: Path = Path("data/contract/model_terms.json"),
) -> dict:
    params = load_params(params_path)
    terms = params.contract.model_dump(mode="json", include=MODEL_TERMS)
    write_json(out_path, terms)
    log.info("model terms: %s", out_path)
    return terms
