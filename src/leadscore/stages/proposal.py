"""DVC stage `proposal` (and `leadscore contract preview`): the open proposal's impact.

Compares the last agreed contract (agreement/history.yaml, re-checked against the approvals)
with the contract this run is graded under (contract.yaml with contract.proposal.yaml), on the
same test leads, with the same model and the grade stage's own threshold derivation. Writes
`reports/proposal.json` and `reports/proposal.md`; with no open proposal, says so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from leadscore.core.agreement import Agreement, diff, meaning
from leadscore.core.agreement_files import AgreementFiles
from leadscore.core.card import ModelCard
from leadscore.core.config import Params, load_params
from leadscore.core.contract import Contract
from leadscore.core.data_params import economics_columns, follow_up_columns
from leadscore.core.io import write_json, write_text
from leadscore.core.records import EvaluationMetrics
from leadscore.model.bundle import read_fitted
from leadscore.stages.contract import test_context
from leadscore.stages.grade import grading_for, validation_leads
from leadscore.views.proposal import contract_side, headline, needs_retrain, render_markdown

log = logging.getLogger(__name__)

PROBABILITY = "probability"  # the calibrated probability column of test_scored.parquet


def last_agreed(files: AgreementFiles) -> tuple[Contract, Agreement] | None:
    """The newest version in the history that both owners' approvals still verify."""
    for entry in reversed(files.history()):
        contract = Contract.model_validate({**entry["contract"], "version": entry["version"]})
        agreement = files.check(contract)
        if agreement.agreed:
            return contract, agreement
    return None


def main(
    params_path: Path = Path("params.yaml"),
    data_dir: Path = Path("data/processed"),
    leads_path: Path = Path("data/interim/leads.parquet"),
    model_dir: Path = Path("models"),
    reports_dir: Path = Path("reports"),
) -> dict:
    params = load_params(params_path)
    files = AgreementFiles.beside(params_path)
    proposed = files.check(params.contract)
    if proposed.agreed:
        preview: dict[str, Any] = {"open": False, "agreed_headline": proposed.headline()}
    else:
        preview = open_preview(
            params, files, proposed, data_dir, leads_path, model_dir, reports_dir
        )
    write_json(reports_dir / "proposal.json", preview)
    write_text(reports_dir / "proposal.md", render_markdown(preview))
    if preview["open"]:
        log.warning("proposal: %s", proposed.headline())
        if preview.get("headline"):
            log.info("proposal: %s", preview["headline"])
    else:
        log.info("proposal: none open (%s)", proposed.headline())
    return preview


def open_record(proposed: Agreement, note: str) -> dict[str, Any]:
    """The preview of an open proposal before it is compared with the agreed version."""
    return {
        "open": True,
        "proposal": {
            "contract_hash": proposed.contract_hash,
            "based_on": proposed.version,
            "note": note,
            "changes": [],
            "agreement": proposed.to_dict(),
        },
        "agreed": None,
        "needs_retrain": [],
    }


def agreed_record(contract: Contract, agreement: Agreement) -> dict[str, Any]:
    """The agreed version the proposal changes: its version, hash, date and approvers."""
    return {
        "version": contract.version,
        "contract_hash": agreement.contract_hash,
        "agreed_on": agreement.agreed_on,
        "approved_by": {role: a.owner for role, a in agreement.approvals.items()},
    }


def open_preview(
    params: Params,
    files: AgreementFiles,
    proposed: Agreement,
    data_dir: Path,
    leads_path: Path,
    model_dir: Path,
    reports_dir: Path,
) -> dict[str, Any]:
    baseline = last_agreed(files)
    preview = open_record(proposed, files.proposal_note())
    if baseline is None:
        preview["headline"] = "No agreed version yet: this is the first proposal."
        return preview
    agreed_contract, agreement = baseline
    preview["agreed"] = agreed_record(agreed_contract, agreement)
    changes = diff(meaning(agreed_contract), meaning(params.contract))
    preview["proposal"]["changes"] = changes
    preview["needs_retrain"] = needs_retrain(changes)
    if preview["needs_retrain"]:
        return preview
    pipeline, card = read_fitted(model_dir)
    leads = validation_leads(params, pipeline, card, data_dir, leads_path)
    scored = pd.read_parquet(data_dir / "test_scored.parquet")
    context = test_context(
        params, scored, reports_dir, ModelCard.read(model_dir / "model_card.json")
    )
    metrics = EvaluationMetrics.read(reports_dir / "metrics.json").to_record()

    def side(contract: Contract) -> dict[str, Any]:
        grading, derivation = grading_for(contract, params, leads)
        return contract_side(
            scored,
            scored[PROBABILITY].to_numpy(),
            contract,
            grading,
            derivation,
            files.sealed_record(contract),
            metrics,
            context.months,
            context.review,
            params.warnings,
            context.worked,
            follow_up_columns(params.data),
            economics_columns(params.data),
        )

    sides = {"agreed": side(agreed_contract), "proposal": side(params.contract)}
    preview["sides"] = sides
    preview["test_period"] = sides["proposal"]["test_period"]
    preview["headline"] = headline(sides["agreed"], sides["proposal"])
    return preview
