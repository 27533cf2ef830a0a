"""DVC stage `ingest`: file I/O around leadscore.data.ingest."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pandas as pd

from leadscore.core import fields
from leadscore.core.config import Params, load_params
from leadscore.core.io import read_json, read_table, write_csv, write_json, write_parquet
from leadscore.core.units import NumberFormat
from leadscore.data import behaviour
from leadscore.data.generate import EXPORT_REPORT
from leadscore.data.ids import hashed_after_creation
from leadscore.data.ingest import (
    IngestResult,
    LeadTableError,
    LeadTableSpec,
    builtin_kinds,
    decided,
    export_table_spec,
    ingest,
    input_fields,
    outcome_counts,
    quarantine_share_error,
    unit_kinds,
)
from leadscore.data.input_policy import (
    configuration_reasons,
    never_inputs,
    proposed_types,
    typed_roles,
)

log = logging.getLogger(__name__)


def table_spec(
    params: Params, raw: pd.DataFrame, export: dict
) -> tuple[LeadTableSpec, dict[str, str]]:
    """The lead table's spec and each column's kind: the built-in CRM's (with the behaviour
    columns of a snapshot table), or inferred from an export (`data.types` overrides)."""
    from leadscore.data.field_kinds import infer_kinds

    if params.data.source == "generator":
        spec = with_columns(LeadTableSpec(), behaviour.table_kinds(export))
        return spec, builtin_kinds(spec)
    kinds, units = unit_kinds(infer_kinds(raw, typed_roles(params)))
    number_format = NumberFormat(**params.data.number_format.model_dump())
    return export_table_spec(kinds, raw.columns, units, number_format), kinds


def refuse_quarantine_share(result: IngestResult, max_share: float, out_dir: Path) -> None:
    """Stop when more than `max_share` of the rows are quarantined, keeping them aside."""
    if result.summary["quarantined_share"] > max_share:
        failed = out_dir / "quarantine.failed.csv"
        write_csv(result.quarantine, failed, index=False)
        raise LeadTableError(quarantine_share_error(result.summary, max_share, str(failed)))


def log_late_id_fields(late: dict[str, list[str]]) -> None:
    """Warn of fields a made lead id hashes that the review finds recorded after creation."""
    for name, findings in late.items():
        log.warning(
            "ingest: the made lead id hashes %r, which the leakage review finds recorded after "
            "creation (%s): add it to data.exclude so ids survive the outcome",
            name,
            "; ".join(findings),
        )


def log_review(review: dict[str, dict]) -> None:
    """One line per field the review does not plainly keep, with its reasons."""
    from leadscore.data.leakage import KEPT

    for name, row in review.items():
        if row["verdict"] != KEPT:
            signed = "allowed by the contract, " if row["allowed_by_contract"] else ""
            why = "; ".join(row["reasons"])
            log.info("ingest: %s %s (%s%s)", name, row["verdict"], signed, why)


def main(
    params_path: Path = Path("params.yaml"),
    raw_path: Path = Path("data/raw/leads.parquet"),
    out_dir: Path = Path("data/interim"),
    report_path: Path = Path("reports/validation.json"),
    leakage_path: Path | None = None,
) -> IngestResult:
    """`leakage_path`: the leakage review (default: `leakage.json` beside `report_path`)."""
    from leadscore.data.leakage import flagged, inputs_of, review_fields

    params = load_params(params_path)
    raw = read_table(raw_path)
    export_path = raw_path.with_name(EXPORT_REPORT)
    export = read_json(export_path) if export_path.is_file() else {}
    builtin = params.data.source == "generator"
    spec, kinds = table_spec(params, raw, export)
    result = ingest(raw, spec)
    # fail before any output is replaced, and before the review reads an emptied table
    refuse_quarantine_share(result, params.ingest.max_quarantine_share, out_dir)
    configured = never_inputs(params, kinds, builtin)
    review = review_fields(
        decided(result.valid),  # open leads have no outcome: no evidence either way
        kinds,
        params.data.leakage,
        configuration_reasons(configured, params),
        params.contract.allowed,
        every=result.valid,  # open leads too: whether a field is still being filled in
        built_before=behaviour.built_before_moment(export),
    )
    kept = inputs_of(review)
    late = hashed_after_creation(export.get("id", {}).get("hashed_columns", ()), review)
    log_late_id_fields(late)
    result.summary["fields"] = {
        "inputs": list(kept),
        "flagged": flagged(review),
        "excluded_by_configuration": list(configured),
        "proposed_types": proposed_types(raw, kinds),
        "made_id_after_creation": late,
    }
    result.summary["export"] = export
    result.summary["outcomes"] = outcome_counts(result.valid)
    write_parquet(result.valid, out_dir / "leads.parquet", index=False)
    write_csv(result.quarantine, out_dir / "quarantine.csv", index=False)
    features = input_fields(result.valid, kept, builtin)
    features["id"] = export.get("id", {"column": fields.LEAD_ID})
    write_json(out_dir / "features.json", features)
    write_json(report_path, result.summary)
    leakage_path = leakage_path or report_path.with_name("leakage.json")
    write_json(leakage_path, {"thresholds": params.data.leakage.model_dump(), "fields": review})
    log_review(review)
    log.info(
        "ingest: %d rows, %d valid, %d quarantined%s",
        result.summary["rows_in"],
        result.summary["rows_valid"],
        result.summary["rows_quarantined"],
        "".join(f"; {reason}: {n:,}" for reason, n in result.summary["reasons"].items()),
    )
    return result


def with_columns(spec: LeadTableSpec, kinds: dict[str, str]) -> LeadTableSpec:
    """The built-in table's spec with the behaviour columns of a prepared snapshot table."""
    if not kinds:
        return spec

    def of(kind: str) -> tuple[str, ...]:
        return tuple(name for name, k in kinds.items() if k == kind)

    return replace(
        spec,
        categorical=spec.categorical + of("categorical"),
        numeric=spec.numeric + of("numeric"),
        dates=spec.dates + of("date"),
    )
