"""Typed view of `params.yaml` and `contract.yaml`: each stage reads its own section.

The signed A-lead contract lives in its own file, `contract.yaml` beside `params.yaml`, so an
experiment (`dvc exp run -S train.choice.margin=...`, which rewrites `params.yaml`) never touches
it. Both files are read as YAML 1.2, the way DVC reads and writes them: `yes`, `on` and `no`
stay strings, so a value keeps its meaning after DVC has rewritten the file without quotes.

Validation errors name the offending key (for example `contract.outcome.window_days`), so a
malformed parameter file fails before any work is done.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadscore.core.contract import Contract
from leadscore.core.data_params import DataParams
from leadscore.core.params_file import (
    CONTRACT_FILE,
    PROPOSAL_FILE,
    ParamsError,
    read_proposal,
    read_raw_params,
)
from leadscore.core.section import Section


class GenerateParams(Section):
    n_leads: int = Field(200_000, ge=100)
    months: int = Field(24, ge=2)
    export_date: str = "2026-10-31"
    seed: int = 42
    # Also emit an activity log (data/raw/events.parquet) whose events drive conversion, and
    # train on snapshots of each lead's behaviour (data.behaviour); off for the built-in project.
    events: bool = False


class IngestParams(Section):
    max_quarantine_share: float = Field(0.05, ge=0, le=1)


class SplitParams(Section):
    # date of the export; default: the day after the newest won date (else the newest lead)
    as_of: str | None = None
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


def _default_boosting() -> dict[str, BoostingConfig]:
    return {
        "b1": BoostingConfig(leaf_size=0.3, leaves=0.3, learning_rate=0.05, l2_regularization=1.0),
        "b2": BoostingConfig(leaf_size=0.3, leaves=0.6, learning_rate=0.1, l2_regularization=0.0),
        "b3": BoostingConfig(leaf_size=0.1, leaves=0.3, learning_rate=0.1, l2_regularization=1.0),
        "b4": BoostingConfig(leaf_size=0.1, leaves=0.6, learning_rate=0.05, l2_regularization=0.0),
    }


class SearchParams(Section):
    """The candidates fitted on the training period and compared on the validation period.

    Boosting candidates are named (`b1`, `b2`, ...) so each setting is one flat key that
    `dvc exp run -S train.search.boosting.b1.learning_rate=0.06` changes in one line and MLflow
    compares as one param; a plain list (older params files) is named b1, b2, ... in order."""

    families: tuple[Family, ...] = Field(("logistic", "boosting"), min_length=1)
    logistic_c: tuple[float, ...] = Field((0.01, 0.1, 1.0), min_length=1)
    boosting: dict[str, BoostingConfig] = Field(default_factory=_default_boosting, min_length=1)
    max_rows: int = Field(30_000, ge=1_000)  # search on a subsample; each family's winner refit

    @field_validator("boosting", mode="before")
    @classmethod
    def _name_a_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return {f"b{i}": item for i, item in enumerate(value, start=1)}
        return value


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
    max_iter: int = Field(1000, ge=1)
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
    response_rate: float | None = Field(0.02, gt=0, le=1)  # leads per person reached; null: unknown


class MlflowParams(Section):
    experiment: str = "leadscore"
    registered_model: str = "leadscore"


class Params(BaseModel):
    """All of `params.yaml` and `contract.yaml`. Unknown top-level sections are kept for other
    tools."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # Where dvc.yaml finds the code and bin/leadscore, relative to this params file (DVC runs the
    # stages beside it): "." at the root, "../.." for an example under examples/.
    project_dir: str = "."
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
    """Read and validate a parameter file and the contract beside it."""
    path = Path(path)
    sources = str(path)
    if path.with_name(CONTRACT_FILE).is_file():
        sources += f" + {path.with_name(CONTRACT_FILE)}"
        if read_proposal(path):
            sources += f" + {path.with_name(PROPOSAL_FILE)}"
    return parse_params(read_raw_params(path), source=sources)


DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
