"""DVC stage `ingest`: file I/O around leadscore.data.ingest."""

from __future__ import annotations

import logging
from pathlib import Path

from leadscore.core import fields
from leadscore.core.config import economics_columns, follow_up_columns, load_params
from leadscore.core.io import read_json, read_table, write_csv, write_json, write_parquet
from leadscore.data.generate import EXPORT_REPORT
from leadscore.data.ingest import (
    IngestResult,
    LeadTableError,
    LeadTableSpec,
    builtin_kinds,
    decided,
    excluded_by_configuration,
    export_table_spec,
    ingest,
    input_fields,
    outcome_counts,
)

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    raw_path: Path = Path("data/raw/leads.parquet"),
    out_dir: Path = Path("data/interim"),
    report_path: Path = Path("reports/validation.json"),
    leakage_path: Path | None = None,
) -> IngestResult:
    """`leakage_path`: the leakage review (default: `leakage.json` beside `report_path`)."""
    from leadscore.data.leakage import flagged, infer_kinds, inputs_of, review_fields

    params = load_params(params_path)
    raw = read_table(raw_path)
    export_path = raw_path.with_name(EXPORT_REPORT)
    export = read_json(export_path) if export_path.is_file() else {}
    builtin = params.data.source == "generator"
    if builtin:
        spec = LeadTableSpec()
        kinds = builtin_kinds(spec)
    else:
        kinds = infer_kinds(raw, params.data.types)
        spec = export_table_spec(kinds, raw.columns)
    result = ingest(raw, spec)
    economics = economics_columns(params.data)  # an export's won value and cost: never inputs
    # an export's declared follow-up columns are post-contact by definition (the generator's
    # are left to the leakage guard's evidence)
    never = () if builtin else economics.never_inputs + follow_up_columns(params.data).present
    configured = tuple(
        dict.fromkeys(
            (*excluded_by_configuration(params, kinds), *(n for n in never if n in kinds))
        )
    )
    review = review_fields(
        decided(result.valid),  # open leads have no outcome: no evidence either way
        kinds,
        params.data.leakage,
        {name: configuration_reason(name, params) for name in configured},
        params.contract.allowed,
        every=result.valid,  # open leads too: whether a field is still being filled in
    )
    kept = inputs_of(review)
    result.summary["fields"] = {
        "inputs": list(kept),
        "flagged": flagged(review),
        "excluded_by_configuration": list(configured),
    }
    result.summary["export"] = export
    result.summary["outcomes"] = outcome_counts(result.valid)
    share = result.summary["quarantined_share"]
    if share > params.ingest.max_quarantine_share:  # fail before any output is replaced
        failed = out_dir / "quarantine.failed.csv"
        write_csv(result.quarantine, failed, index=False)
        raise LeadTableError(
            f"{share:.1%} of rows were quarantined, above ingest.max_quarantine_share="
            f"{params.ingest.max_quarantine_share:.1%}; see {failed} (the previous outputs "
            "are left as they were)"
        )
    write_parquet(result.valid, out_dir / "leads.parquet", index=False)
    write_csv(result.quarantine, out_dir / "quarantine.csv", index=False)
    features = input_fields(result.valid, kept, builtin)
    features["id"] = export.get("id", {"column": fields.LEAD_ID})
    write_json(out_dir / "features.json", features)
    write_json(report_path, result.summary)
    leakage_path = leakage_path or report_path.with_name("leakage.json")
    write_json(leakage_path, {"thresholds": params.data.leakage.model_dump(), "fields": review})
    for name, row in review.items():
        if row["verdict"] != "kept":
            signed = "allowed by the contract, " if row["allowed_by_contract"] else ""
            why = "; ".join(row["reasons"])
            log.info("ingest: %s %s (%s%s)", name, row["verdict"], signed, why)
    log.info(
        "ingest: %d rows, %d valid, %d quarantined%s",
        result.summary["rows_in"],
        result.summary["rows_valid"],
        result.summary["rows_quarantined"],
        "".join(f"; {reason}: {n:,}" for reason, n in result.summary["reasons"].items()),
    )
    return result


def configuration_reason(name: str, params) -> str:
    """Which key of the configuration excludes a field, in the review's words."""
    if name in params.contract.excluded_fields:
        return "excluded by the contract (contract.excluded_fields)"
    if name in params.data.exclude:
        return "excluded by configuration (data.exclude)"
    return "excluded by configuration: deal value or lead cost (data.value_column, cost_column)"
