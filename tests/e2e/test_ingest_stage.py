"""The ingest stage's main, in-process: a failed ingest leaves the previous outputs intact."""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.data.ingest import LeadTableError


def test_a_failed_ingest_leaves_the_previous_outputs_intact(tmp_path, tiny_crm, tiny_params_raw):
    import yaml

    from leadscore.stages.ingest import main

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params_raw))
    raw_path, out_dir = tmp_path / "raw.parquet", tmp_path / "interim"
    report = tmp_path / "validation.json"
    raw = tiny_crm.leads.head(3000).copy()
    raw.to_parquet(raw_path, index=False)
    main(params_path=params, raw_path=raw_path, out_dir=out_dir, report_path=report)
    outputs = [out_dir / "leads.parquet", out_dir / "features.json", report]
    outputs.append(tmp_path / "leakage.json")  # beside the validation report
    before = {path: path.read_bytes() for path in outputs}

    raw.loc[: len(raw) // 3, "website_visits"] = -1  # a third of the rows are bad
    raw.to_parquet(raw_path, index=False)
    with pytest.raises(LeadTableError, match="previous outputs are left as they were") as error:
        main(params_path=params, raw_path=raw_path, out_dir=out_dir, report_path=report)
    # the cause (the top reasons, counted) and the fix are in the message
    message = str(error.value)
    assert "(1,001 of 3,000) were quarantined" in message
    assert "Top reasons: website_visits: must be >= 0 (1,001 rows)" in message
    assert "raise ingest.max_quarantine_share" in message and "data.types" in message
    assert {path: path.read_bytes() for path in outputs} == before
    assert len(pd.read_csv(out_dir / "quarantine.failed.csv")) > 1000
    assert not list(tmp_path.rglob(".*.tmp"))  # no temporary file left behind
