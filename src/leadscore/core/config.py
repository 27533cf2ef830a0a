"""Typed view of `params.yaml`: each stage reads its own section through these models.

Validation errors name the offending key (for example `contract.outcome.window_days`), so a
malformed parameter file fails before any work is done.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerateParams(Section):
    n_leads: int = Field(200_000, ge=100)
    months: int = Field(24, ge=2)
    export_date: str = "2026-10-31"
    seed: int = 42


class AgreedBy(Section):
    sales_owner: str = Field(min_length=1)
    marketing_owner: str = Field(min_length=1)
    date: str


class OutcomeDefinition(Section):
    converted_when: str = "a deal is won within the outcome window"
    window_days: int = Field(90, ge=1, le=730)


class GradePromise(Section):
    """What a grade promises sales: a minimum conversion rate, and for A a monthly capacity."""

    min_conversion: float = Field(gt=0, lt=1)
    max_leads_per_month: int | None = Field(None, ge=1)


class GradePromises(Section):
    """A, B and C promise decreasing minimum conversion rates; D is the rest."""

    A: GradePromise
    B: GradePromise
    C: GradePromise

    @model_validator(mode="after")
    def _decreasing(self) -> GradePromises:
        if not self.A.min_conversion > self.B.min_conversion > self.C.min_conversion:
            raise ValueError(
                "min_conversion must decrease from A to B to C "
                f"(got A={self.A.min_conversion}, B={self.B.min_conversion}, "
                f"C={self.C.min_conversion})"
            )
        if self.A.max_leads_per_month is None:
            raise ValueError("A.max_leads_per_month (sales capacity) is required")
        return self


class PublishGate(Section):
    """What a model must show before it may be served (checked on the test period)."""

    min_positives: int = Field(100, ge=1)
    min_negatives: int = Field(100, ge=1)
    min_auc_lower_bound: float = Field(0.55, ge=0.5, lt=1)  # 95 % interval of the test AUC
    min_lift_over_base_rate: float = Field(2.0, ge=1)  # A-grade conversion / base rate
    min_margin_over_best_profile: float = Field(0.0, ge=-1, le=1)  # A minus best profile


RuleOperator = Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "missing", "present"]


class ProfileRule(Section):
    """One declarative condition on a lead field, e.g. `company_size in [1001-5000, 5000+]`."""

    field: str = Field(min_length=1)
    op: RuleOperator
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> ProfileRule:
        if self.op in ("in", "not_in") and not isinstance(self.value, list | tuple):
            raise ValueError(f"op '{self.op}' needs a list value (got {self.value!r})")
        if self.op in ("gt", "ge", "lt", "le") and not isinstance(self.value, int | float):
            raise ValueError(f"op '{self.op}' needs a number value (got {self.value!r})")
        if self.op in ("eq", "ne") and self.value is None:
            raise ValueError(f"op '{self.op}' needs a value")
        return self


class LeadProfile(Section):
    """One side's picture of the ideal lead: rules combined with all (AND) or any (OR)."""

    description: str = ""
    match: Literal["all", "any"] = "all"
    rules: tuple[ProfileRule, ...] = Field(min_length=1)


class Profiles(Section):
    marketing: LeadProfile
    sales: LeadProfile


class Contract(Section):
    """The A-lead contract agreed by sales and marketing (see DESIGN.md)."""

    version: str = Field(min_length=1)
    agreed_by: AgreedBy
    outcome: OutcomeDefinition = OutcomeDefinition()
    grades: GradePromises
    excluded_fields: tuple[str, ...] = ()
    # Fields the leakage guard would exclude that both owners explicitly allow.
    allowed_fields: tuple[str, ...] = ()
    publish_gate: PublishGate = PublishGate()
    profiles: Profiles


class SourceFile(Section):
    """One table of a CRM export. The first is the leads table; others join onto it."""

    path: str = Field(min_length=1)
    join_on: str | None = None  # key column shared with the leads table (tables after the first)


class OutcomeColumns(Section):
    """Where the outcome is: a column with positive values, or a won date within the window."""

    column: str | None = None
    positive_values: tuple[str | int | float | bool, ...] = (1, True, "1", "yes", "true")
    won_date_column: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> OutcomeColumns:
        if (self.column is None) == (self.won_date_column is None):
            raise ValueError("give exactly one of column or won_date_column")
        return self


FieldKind = Literal["categorical", "numeric", "boolean", "date"]


class LeakageParams(Section):
    max_single_field_auc: float = Field(0.85, gt=0.5, le=1.0)  # alone this good: suspicious
    folds: int = Field(5, ge=2, le=20)


class DataParams(Section):
    """Where the leads come from and which column plays which role (see README)."""

    source: Literal["generator", "files"] = "generator"
    files: tuple[SourceFile, ...] = ()
    missing_values: tuple[str, ...] = ()  # values meaning "not answered", e.g. "Select"
    id_column: str | None = "lead_id"  # null: found automatically (unique, id-like name)
    created_column: str | None = "created_at"  # null: no creation date (stratified split)
    export_months: float = Field(12.0, gt=0)  # months an undated export covers (leads/month)
    outcome: OutcomeColumns = OutcomeColumns(column="converted")
    types: dict[str, FieldKind] = {}  # overrides of the automatic typing
    exclude: tuple[str, ...] = ()
    leakage: LeakageParams = LeakageParams()

    @model_validator(mode="after")
    def _consistent(self) -> DataParams:
        if self.source == "files" and not self.files:
            raise ValueError("source 'files' needs at least one entry in files")
        for index, table in enumerate(self.files[1:], start=1):
            if not table.join_on:
                raise ValueError(f"files[{index}] needs join_on: the key it shares with the leads")
        if self.outcome.won_date_column and not self.created_column:
            raise ValueError(
                "outcome.won_date_column needs created_column (the window starts there)"
            )
        return self


class IngestParams(Section):
    max_quarantine_share: float = Field(0.05, ge=0, le=1)


class SplitParams(Section):
    as_of: str | None = None  # date of the export; default: the day after the newest lead
    valid_months: int = Field(3, ge=1)
    test_months: int = Field(3, ge=1)
    # Without creation dates (data.created_column: null) the split is stratified at random:
    valid_share: float = Field(0.2, gt=0, lt=0.5)
    test_share: float = Field(0.2, gt=0, lt=0.5)
    seed: int = 42


Family = Literal["logistic", "boosting"]


class BoostingConfig(Section):
    """One gradient-boosting candidate, its tree size scaled to the training size n:
    min_samples_leaf = leaf_size * sqrt(n), max_leaf_nodes = leaves * cbrt(n)."""

    leaf_size: float = Field(gt=0)
    leaves: float = Field(gt=0)
    learning_rate: float = Field(gt=0, le=1)
    l2_regularization: float = Field(0.0, ge=0)


def _default_boosting() -> tuple[BoostingConfig, ...]:
    return (
        BoostingConfig(leaf_size=0.3, leaves=0.3, learning_rate=0.05, l2_regularization=1.0),
        BoostingConfig(leaf_size=0.3, leaves=0.6, learning_rate=0.1, l2_regularization=0.0),
        BoostingConfig(leaf_size=0.1, leaves=0.3, learning_rate=0.1, l2_regularization=1.0),
        BoostingConfig(leaf_size=0.1, leaves=0.6, learning_rate=0.05, l2_regularization=0.0),
    )


class SearchParams(Section):
    """The candidates fitted on the training period and compared on the validation period."""

    families: tuple[Family, ...] = Field(("logistic", "boosting"), min_length=1)
    logistic_c: tuple[float, ...] = Field((0.01, 0.1, 1.0), min_length=1)
    boosting: tuple[BoostingConfig, ...] = Field(default_factory=_default_boosting, min_length=1)
    max_rows: int = Field(30_000, ge=1_000)  # boosting search on a subsample; the winner is refit


class ChoiceRule(Section):
    """How the family is chosen on the validation period (declared before the test is seen)."""

    prefer: Family = "logistic"  # the simpler model wins unless the other beats it ...
    margin: float = Field(0.005, ge=0, lt=0.5)  # ... by this much validation AUC ...
    monthly_stability: bool = True  # ... and in more than half of the validation months


class CalibrationRule(Section):
    """Isotonic only on a calibration set this large, and only when its cross-validated log
    loss beats the sigmoid's; `method` fixes one instead."""

    method: Literal["auto", "isotonic", "sigmoid"] = "auto"
    isotonic_min_leads: int = Field(10_000, ge=100)
    folds: int = Field(5, ge=2, le=20)


class TrainParams(Section):
    seed: int = 42
    max_iter: int = Field(400, ge=1)
    early_stopping_rounds: int = Field(30, ge=1)
    search: SearchParams = SearchParams()
    choice: ChoiceRule = ChoiceRule()
    calibration: CalibrationRule = CalibrationRule()
    min_category_share: float = Field(0.002, ge=0, lt=0.5)

    @model_validator(mode="after")
    def _preferred_is_searched(self) -> TrainParams:
        if self.choice.prefer not in self.search.families and len(self.search.families) > 1:
            raise ValueError(f"choice.prefer {self.choice.prefer!r} is not in search.families")
        return self


class GradeParams(Section):
    volume_months: int = Field(6, ge=1)  # A capacity is sized for the busiest of these months
    safety_margin: float = Field(0.02, ge=0, lt=0.5)  # aim this far above each promise


class EvaluateParams(Section):
    calibration_bins: int = Field(10, ge=2)
    top_share: float = Field(0.10, gt=0, lt=1)
    # Spread of the test AUC: refits of the chosen recipe (seeded 90 % subsamples of the training
    # period) up to this many training leads; above it a bootstrap over the test leads.
    stability_refits: int = Field(3, ge=2, le=10)
    stability_max_train_leads: int = Field(40_000, ge=0)
    stability_bootstrap: int = Field(200, ge=20)


class WarningParams(Section):
    """When the scorecard, contract report and monthly feedback raise a warning."""

    max_test_ece: float = Field(0.05, gt=0, lt=1)  # calibration error on the test period
    calibration_band: float = Field(0.25, ge=0, lt=1)  # predicted outside actual's interval +-25 %
    above_promise: float = Field(2.0, gt=1)  # a grade's interval wholly above 2x its promise
    min_leads: int = Field(30, ge=1)  # months and grades with fewer leads are not judged


class ImportanceParams(Section):
    seed: int = 42
    max_rows: int = Field(4_000, ge=100)  # permutation importance on a stratified subsample
    shap_rows: int = Field(500, ge=50)  # tree contributions on a smaller one
    repeats: int = Field(3, ge=1, le=50)
    calibration_bins: int = Field(10, ge=2)  # for the per-segment calibration error


class PromotionParams(Section):
    max_auc_drop: float = Field(0.005, ge=0, lt=0.5)  # challenger vs champion, same test rows


class FunnelParams(Section):
    revenue_target: float = Field(150_000_000, gt=0)
    response_rate: float | None = Field(None, gt=0, le=1)  # leads per person reached


class MlflowParams(Section):
    experiment: str = "leadscore"
    registered_model: str = "leadscore"


class Params(BaseModel):
    """All of `params.yaml`. Unknown top-level sections are kept for other tools."""

    model_config = ConfigDict(extra="allow", frozen=True)

    data: DataParams = DataParams()
    generate: GenerateParams = GenerateParams()
    contract: Contract
    ingest: IngestParams = IngestParams()
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    grade: GradeParams = GradeParams()
    evaluate: EvaluateParams = EvaluateParams()
    warnings: WarningParams = WarningParams()
    funnel: FunnelParams = FunnelParams()
    importance: ImportanceParams = ImportanceParams()
    promotion: PromotionParams = PromotionParams()
    mlflow: MlflowParams = MlflowParams()


class ParamsError(ValueError):
    """`params.yaml` is missing, unreadable or does not match the expected shape."""


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        lines.append(f"  {key}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def parse_params(raw: dict[str, Any], source: str = "params.yaml") -> Params:
    """Validate a parsed parameter mapping; errors name the dotted key at fault."""
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(f"{source} is invalid:\n{_describe(error)}") from None


def load_params(path: Path | str = "params.yaml") -> Params:
    """Read and validate a parameter file."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path} not found (run from the project root or pass --params)")
    with path.open() as handle:
        raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path} must be a mapping of sections")
    return parse_params(raw, source=str(path))


DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
