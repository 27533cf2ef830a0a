"""The model card: what a model version is, what it was trained on and how it was chosen.

The train stage builds a `ModelCard` and writes it as `models/model_card.json`; every reader
(later stages, the scorer, the service, whose `/v1/model` answer reuses these sections) parses
the file back into a `ModelCard` and reads typed attributes instead of string keys.

**Facts of the model, facts of the run.** The card's hash is committed (`dvc.lock`), so the
card holds only what the data, the params and the code decide: the same on any machine and in
any run. What one run adds (when it trained, how many seconds each fit took, its MLflow run and
version) is marked `PerRun`: `split_run_facts` takes those keys out into the training run's
own record (`models/training_run.json`, see `leadscore.model.bundle`), and `with_run_facts`
puts them back when both files describe the same model.

The JSON is written exactly as the card was built or read: a key that was never set (an
optional section an older card lacks, a candidate's `iterations` for a logistic regression) is
left out, not written as null, so a card read and written again gives the same bytes. Unknown
keys (a newer or hand-edited card) are kept as they are and never break a reader. A missing
required key raises `ModelCardError` naming the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Final, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from leadscore.core.errors import LeadscoreError
from leadscore.core.schema import FeatureSpec, InputNormalisation


class RunFact:
    """Marks a card key one training run decides (time, seconds, run ids), not the model."""


PER_RUN: Final = RunFact()


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
    non_negative: list[str] = Field(
        default_factory=list, description="numeric fields that must be >= 0"
    )

    @classmethod
    def of(cls, spec: FeatureSpec) -> FeatureRoles:
        return cls.model_validate(spec.to_dict())

    @property
    def spec(self) -> FeatureSpec:
        return FeatureSpec.from_dict(self.model_dump())


class TrainingData(CardSection):
    """The leads the model learned from (training period) and was calibrated on (validation)."""

    sha256: str = Field(description="hash of the training table")
    rows_train: int = Field(ge=0)
    rows_valid: int = Field(ge=0)
    created_from: str | None = Field(description="first lead's creation date (null: undated)")
    created_to: str | None = Field(description="last lead's creation date (null: undated)")


class CandidateRecord(CardSection):
    """One fitted candidate and its validation figures (`leadscore.model.candidates.Result`)."""

    name: str
    family: str
    settings: dict[str, Any]  # the estimator's settings; which ones depends on the family
    stage: str
    training_rows: int
    fit_seconds: Annotated[float | None, PER_RUN] = None
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
    fit_seconds: Annotated[float | None, PER_RUN] = None
    valid_roc_auc_ci_low: float | None = None
    valid_roc_auc_ci_high: float | None = None
    search_seconds: Annotated[float | None, PER_RUN] = None

    def figures(self) -> dict[str, float]:
        """Every metric present, by name (for MLflow and the model-health rules)."""
        return {
            name: float(value)
            for name, value in self.model_dump(exclude_unset=True).items()
            if isinstance(value, int | float)
        }


class TrainingRun(CardSection):
    """Where the training run and its registered version live in MLflow."""

    tracking_uri: str = Field(description="tracking store (credentials removed)")
    experiment_id: str
    run_id: str
    registered_model: str | None = None
    registered_version: str | None = None


class ModelSummary(CardSection):
    """What a model is, in the words the service's `/v1/model` answer reuses: its version, the
    data it learned from, its inputs, its validation figures and its MLflow run."""

    model_version: str
    trained_at: Annotated[str | None, PER_RUN] = None  # ISO 8601 in UTC, kept as written
    training_data: TrainingData
    features: FeatureRoles
    excluded_fields: list[str] = Field(description="fields the contract forbids the model")
    # cards before the family search held a booster
    model_family: str = Field("boosting", description="boosting or logistic: chosen on validation")
    booster_iterations: int | None = Field(
        None, ge=0, description="boosting rounds; null for a logistic regression"
    )
    metrics: TrainingMetrics
    mlflow: Annotated[
        TrainingRun | None, PER_RUN, Field(description="null when trained without MLflow")
    ] = None


class ModelCard(ModelSummary):
    """`models/model_card.json`. Optional sections are absent from older cards or from models
    trained without MLflow."""

    params: dict[str, Any]  # params.yaml `train` as trained with (its shape follows the params)
    outcome: dict[str, Any]  # the contract's outcome definition (`contract.outcome`)
    model_choice: ModelChoice | None = None
    calibration: Calibration | None = None
    input_example: dict[str, Any] | None = None  # one real lead: the API's request example
    inputs: dict[str, Any] | None = None  # `InputNormalisation.to_dict()`; None: built-in roles

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

    def model_record(self) -> dict[str, Any]:
        """The card without the run's facts: what `models/model_card.json` holds."""
        return split_run_facts(self.to_record(), type(self))[0]

    def run_facts(self) -> dict[str, Any]:
        """Only the run's facts (`PerRun` keys, in the card's nesting)."""
        return split_run_facts(self.to_record(), type(self))[1]

    def with_run_facts(self, facts: dict[str, Any]) -> ModelCard:
        """This card with a run's facts (`run_facts()` of the same model) put back."""
        return type(self).from_record(merged(self.to_record(), facts))

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


class RunRecord(BaseModel):
    """One training run's facts about the model it wrote (`models/training_run.json`): the
    `PerRun` keys of its card, and the SHA-256 of that model's file, so facts of one run are
    never shown for another model (after `dvc checkout` of another version, say)."""

    model_config = ConfigDict(extra="forbid")

    model_sha256: str
    card: dict[str, Any]


def section_type(info: FieldInfo) -> type[BaseModel] | None:
    """The card section a field holds (alone, optional or in a list), if any."""
    kinds = [info.annotation]
    while kinds:
        kind = kinds.pop()
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
        kinds.extend(get_args(kind))
    return None


def split_run_facts(
    record: dict[str, Any], model: type[BaseModel]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the record without its `PerRun` keys, those keys alone), nested as in the record; a
    list of sections gives a list of the same length (an empty dict where nothing was taken)."""
    kept: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    for key, value in record.items():
        info = model.model_fields.get(key)
        if info is not None and PER_RUN in info.metadata:
            facts[key] = value
            continue
        section = section_type(info) if info is not None else None
        if section is not None and isinstance(value, dict):
            kept[key], taken = split_run_facts(value, section)
            if taken:
                facts[key] = taken
        elif section is not None and isinstance(value, list):
            parts = [split_run_facts(item, section) for item in value]
            kept[key] = [part[0] for part in parts]
            if any(part[1] for part in parts):
                facts[key] = [part[1] for part in parts]
        else:
            kept[key] = value
    return kept, facts


def merged(record: Any, facts: Any) -> Any:
    """`record` with `facts` (from `split_run_facts`) put back at the same places."""
    if isinstance(record, dict) and isinstance(facts, dict):
        return {
            **{key: merged(value, facts.get(key)) for key, value in record.items()},
            **{key: value for key, value in facts.items() if key not in record},
        }
    if isinstance(record, list) and isinstance(facts, list) and len(record) == len(facts):
        return [merged(item, extra) for item, extra in zip(record, facts, strict=True)]
    return record if facts is None else facts


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
