"""The model card as `/v1/model` answers it: `leadscore.core.card`'s sections, plus the grading,
the registry source and the contract's agreement the service adds."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from leadscore.core import card as model_card
from leadscore.core.config import TrainParams
from leadscore.core.contract import Contract, OutcomeDefinition
from leadscore_serve.schemas import ResponseModel

# The card's sections are `leadscore.core.card`'s, defined once; the service's subclasses only
# drop unknown keys from the answer and mark every field required (`ResponseModel`).
SERVED_CARD = ConfigDict(extra="ignore", json_schema_serialization_defaults_required=True)


class FeatureRoles(model_card.FeatureRoles):
    """The lead fields the model reads, by kind."""

    model_config = SERVED_CARD


class TrainingData(model_card.TrainingData):
    model_config = SERVED_CARD


class CardMetrics(model_card.TrainingMetrics):
    """Validation metrics measured at training time (more may be added)."""

    model_config = SERVED_CARD | ConfigDict(extra="allow")


class TrainingRun(model_card.TrainingRun):
    """Where the training run and the registered version live in MLflow."""

    model_config = SERVED_CARD


class GradeDerivation(ResponseModel):
    """How one grade's threshold was chosen from the contract's promise."""

    threshold: float = Field(ge=0, description="minimum probability; above 1: no lead reaches it")
    binding: str = Field(description="what set the bar: conversion, capacity, floor, unkeepable")
    share_of_leads: float = Field(ge=0, le=1)
    leads_per_month: float = Field(ge=0)
    expected_conversion: float | None = Field(ge=0, le=1, description="null: an empty band")
    observed_conversion: float | None = Field(ge=0, le=1)
    note: str


class GradingDerivation(ResponseModel):
    method: str
    monthly_volume: float
    safety_margin: float
    grades: dict[str, GradeDerivation]


class GradeThresholds(ResponseModel):
    """Minimum calibrated probability of each grade (above 1: the grade is empty); D is the
    rest."""

    A: float = Field(ge=0)
    B: float = Field(ge=0)
    C: float = Field(ge=0)


class GradingSummary(ResponseModel):
    thresholds: GradeThresholds
    derivation: GradingDerivation


class RegistrySource(ResponseModel):
    """The MLflow registry version the model was fetched from."""

    name: str
    version: str
    run_id: str
    uri: str


class OwnerApproval(ResponseModel):
    role: Literal["sales", "marketing"]
    owner: str
    contract: str = Field(description="sha256 of the contract's meaning the owner approved")
    approved_at: str
    key_id: str = Field(description="fingerprint of the owner's public key")


class ContractAgreement(ResponseModel):
    """Whether both owners approved exactly the contract the model was graded under, re-checked
    from the signed approvals the bundle carries."""

    status: Literal["agreed", "proposal"]
    agreed: bool
    headline: str = Field(description='"Contract ..., agreed by ... on ..." or "PROPOSAL: ..."')
    version: str
    contract_hash: str
    owners: dict[str, str]
    agreed_on: str | None
    approved_by: list[str]
    approvals: list[OwnerApproval]
    problems: list[str] = Field(description="approvals of this contract that were refused")
    override: bool = Field(description="served although not agreed (an explicit setting)")


class ModelCard(model_card.ModelSummary):
    """The served model: version, training data, metrics, and the contract it encodes."""

    model_config = SERVED_CARD

    # The card keeps the ISO text as written; the answer documents it as a date-time.
    trained_at: datetime | None = Field(  # type: ignore[assignment]
        description="when it was trained (UTC); null when the bundle holds no record of its "
        "training run (a bundle sealed after `dvc checkout` of another version)"
    )
    training_data: TrainingData
    features: FeatureRoles
    params: TrainParams = Field(description="training parameters (params.yaml `train`)")
    outcome: OutcomeDefinition
    metrics: CardMetrics
    mlflow: TrainingRun | None = Field(None, description="null when trained without MLflow")
    contract_version: str
    contract: Contract
    agreement: ContractAgreement
    grading: GradingSummary
    source: str = Field(description="bundle directory or registry URI it was loaded from")
    registry: RegistrySource | None = Field(description="null when loaded from a directory")
    loaded_at: datetime
