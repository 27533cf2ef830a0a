"""The model card: what a model version is, what it was trained on and how it was chosen.

The train stage builds a `ModelCard` and writes it as `models/model_card.json`; every reader
(later stages, the scorer, the service) parses the file back into a `ModelCard` and reads typed
attributes instead of string keys.

The JSON is written exactly as the card was built or read: a key that was never set (an
optional section an older card lacks, a candidate's `iterations` for a logistic regression) is
left out, not written as null, so a card read and written again gives the same bytes. Unknown
keys (a newer or hand-edited card) are kept as they are and never break a reader. A missing
required key raises `ModelCardError` naming the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadscore.core.errors import LeadscoreError
from leadscore.core.schema import FeatureSpec, InputNormalisation


class ModelCardError(LeadscoreError, ValueError):
    """A model card that cannot be read: the message names the file and the keys at fault."""


class CardSection(BaseModel):
    """A part of the card: unknown keys are kept; assignments are validated."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)


class FeatureRoles(CardSection):
    """The lead fields the model reads, by kind (`leadscore.core.schema.FeatureSpec`)."""

    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    boolean: list[str] = Field(default_factory=list)
    non_negative: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, spec: FeatureSpec) -> FeatureRoles:
        return cls.model_validate(spec.to_dict())

    @property
    def spec(self) -> FeatureSpec:
        return FeatureSpec.from_dict(self.model_dump())


class TrainingData(CardSection):
    """The leads the model learned from (training period) and was calibrated on (validation)."""

    sha256: str
    rows_train: int
    rows_valid: int
    created_from: str | None  # first lead's creation date; None for an undated export
    created_to: str | None


class CandidateRecord(CardSection):
    """One fitted candidate and its validation figures (`leadscore.model.candidates.Result`)."""

    name: str
    family: str
    settings: dict[str, Any]  # the estimator's settings; which ones depends on the family
    stage: str
    training_rows: int
    fit_seconds: float
    valid_roc_auc: float
    valid_log_loss: float
    valid_monthly_roc_auc: dict[str, float]
    iterations: int | None = None  # boosting only (absent for a logistic regression)


class ModelChoice(CardSection):
    """The declared rule, the candidates it judged, and which one it chose and why."""

    rule: dict[str, Any]  # params `train.choice` as declared
    chosen: CandidateRecord
    reason: str
    checks: dict[str, Any]  # the figures the rule compared; empty when one family was searched
    candidates: list[CandidateRecord]


class Calibration(CardSection):
    """The calibration method chosen for the validation period, and why."""

    method: str
    reason: str
    cv_log_loss: dict[str, float] | None = None  # per method, only when `method: auto` compared
    bounds: dict[str, float] = Field(default_factory=dict)  # isotonic floor and ceiling
    backwards: bool | None = None  # set when a sigmoid ranking backwards was flattened
    served_probability: float | None = None  # the base rate every lead is then served


class TrainingMetrics(CardSection):
    """Validation figures measured at training time (more may be added)."""

    valid_roc_auc: float
    valid_baseline_roc_auc: float
    fit_seconds: float
    valid_roc_auc_ci_low: float | None = None
    valid_roc_auc_ci_high: float | None = None
    search_seconds: float | None = None

    def figures(self) -> dict[str, float]:
        """Every metric present, by name (for MLflow and the model-health rules)."""
        return {
            name: float(value)
            for name, value in self.model_dump(exclude_unset=True).items()
            if isinstance(value, int | float)
        }


class TrainingRun(CardSection):
    """Where the training run and its registered version live in MLflow."""

    tracking_uri: str  # credentials removed: the card is served
    experiment_id: str
    run_id: str
    registered_model: str | None = None
    registered_version: str | None = None


class ModelCard(CardSection):
    """`models/model_card.json`. Optional sections are absent from older cards or from models
    trained without MLflow."""

    model_version: str
    trained_at: str  # ISO 8601 in UTC, kept as written
    training_data: TrainingData
    features: FeatureRoles
    excluded_fields: list[str]
    params: dict[str, Any]  # params.yaml `train` as trained with (its shape follows the params)
    outcome: dict[str, Any]  # the contract's outcome definition (`contract.outcome`)
    metrics: TrainingMetrics
    model_family: str = "boosting"  # cards before the family search held a booster
    booster_iterations: int | None = None
    model_choice: ModelChoice | None = None
    calibration: Calibration | None = None
    input_example: dict[str, Any] | None = None  # one real lead: the API's request example
    inputs: dict[str, Any] | None = None  # `InputNormalisation.to_dict()`; None: built-in roles
    mlflow: TrainingRun | None = None

    @property
    def spec(self) -> FeatureSpec:
        """The model's inputs by kind."""
        return self.features.spec

    @property
    def input_normalisation(self) -> InputNormalisation:
        """The rules that turn a raw row into the model's inputs."""
        return InputNormalisation.from_dict(self.inputs)

    def to_record(self) -> dict[str, Any]:
        """The card as written: only the keys it was built or read with, unknown keys kept."""
        return self.model_dump(exclude_unset=True)

    @classmethod
    def from_record(cls, record: Any, source: str = "model card") -> ModelCard:
        """Parse a card; a missing or malformed key raises `ModelCardError` naming it."""
        if not isinstance(record, dict):
            raise ModelCardError(f"{source}: not a model card (a JSON object expected)")
        try:
            return cls.model_validate(record)
        except ValidationError as error:
            raise ModelCardError(f"{source}: {describe(error)}") from None

    @classmethod
    def from_json(cls, data: bytes | str, source: str = "model card") -> ModelCard:
        try:
            record = json.loads(data)
        except json.JSONDecodeError as error:
            raise ModelCardError(f"{source} is not valid JSON: {error}") from None
        return cls.from_record(record, source)

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        return cls.from_json(path.read_bytes(), str(path))


def describe(error: ValidationError) -> str:
    """`missing key 'training_data.sha256'; key 'metrics.valid_roc_auc': ...` for a card."""
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        if item["type"] == "missing":
            problems.append(f"missing key '{key}'")
        else:
            problems.append(f"key '{key}': {item['msg']}")
    return "; ".join(problems)
