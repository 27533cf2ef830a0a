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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from leadscore.core import fields
from leadscore.core.errors import LeadscoreError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerateParams(Section):
    n_leads: int = Field(200_000, ge=100)
    months: int = Field(24, ge=2)
    export_date: str = "2026-10-31"
    seed: int = 42
    # Also emit an activity log (data/raw/events.parquet) whose events drive conversion, and
    # train on snapshots of each lead's behaviour (data.behaviour); off for the built-in project.
    events: bool = False


class Owners(Section):
    """The two people who own the contract, as they sign their approvals."""

    sales: str = Field(min_length=1)
    marketing: str = Field(min_length=1)


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
    """What a model must show before it may be served (checked on the test period).

    `min_odds_ratio_over_base_rate`: the odds of an A lead converting (converted : not) must be
    this many times the odds of the average test lead. Unlike a plain lift (A conversion / base
    rate, which can never pass 1 / base rate: 2.0 is out of reach from a 50 % base rate), it can
    be met at any base rate, and at a low base rate it reads almost as a lift. The old lift rule
    is still checked when `min_lift_over_base_rate` is set.
    """

    min_positives: int = Field(100, ge=1)
    min_negatives: int = Field(100, ge=1)
    min_auc_lower_bound: float = Field(0.55, ge=0.5, lt=1)  # 95 % interval of the test AUC
    min_odds_ratio_over_base_rate: float = Field(2.5, ge=1)  # odds(A) / odds(base rate)
    min_lift_over_base_rate: float | None = Field(None, ge=1)  # A conversion / base rate
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


class AllowedField(Section):
    """A field both owners signed off as known at the moment of scoring, and why."""

    field: str = Field(min_length=1)
    reason: str = ""


class BusinessHours(Section):
    """The working day the follow-up promise counts in (Monday to Friday)."""

    start_hour: int = Field(9, ge=0, le=23)
    end_hour: int = Field(18, ge=1, le=24)

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHours:
        if self.end_hour <= self.start_hour:
            raise ValueError(f"end_hour ({self.end_hour}) must be after start_hour")
        return self


class FollowUpPromise(Section):
    """Sales' promise for a grade: at least `min_share` of its leads first contacted within
    `within_business_hours` business hours of their creation."""

    within_business_hours: float = Field(gt=0)
    min_share: float = Field(gt=0, le=1)
    says: str = ""  # the promise in the words the owners signed


class FollowUpContract(Section):
    """Sales' side of the contract: how fast and how fully it works what it was given."""

    business_hours: BusinessHours = BusinessHours()
    promises: dict[Literal["A", "B", "C", "D"], tuple[FollowUpPromise, ...]] = {}


class ScoringMoment(Section):
    """The moment a lead is scored (the decision point): behaviour features count only the
    activity events strictly before it, so they cannot leak. `creation`; `creation_plus_days`
    (creation + `days`); or `stage_date`: the date in `column` (such as the MQL date; a lead
    without one is not scored)."""

    at: Literal["creation", "creation_plus_days", "stage_date"] = "creation"
    days: int = Field(0, ge=0, le=730)
    column: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ScoringMoment:
        if (self.at == "stage_date") != (self.column is not None):
            raise ValueError("column (the stage date) is given exactly when at is stage_date")
        if self.days and self.at != "creation_plus_days":
            raise ValueError("days is for at: creation_plus_days")
        return self


class Contract(Section):
    """The A-lead contract agreed by sales and marketing (see DESIGN.md)."""

    version: str = Field(min_length=1)  # the label of the agreed version it starts from
    owners: Owners
    # The currency of every amount of money in the export (deal values, costs) and the reports:
    # an ISO 4217 code, shown next to each amount.
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    outcome: OutcomeDefinition = OutcomeDefinition()
    grades: GradePromises
    excluded_fields: tuple[str, ...] = ()
    # Fields the leakage review put under review (or would exclude) that both owners sign off
    # as known at the moment of scoring: `{field: ..., reason: ...}`, or a plain name.
    allowed_fields: tuple[AllowedField, ...] = ()
    publish_gate: PublishGate = PublishGate()
    profiles: Profiles
    follow_up: FollowUpContract = FollowUpContract()
    # When a lead is scored (null: at creation). Left out of the contract's meaning while
    # unset, so contracts agreed before it existed keep their approvals.
    scoring_moment: ScoringMoment | None = Field(None, exclude_if=lambda moment: moment is None)

    @model_validator(mode="before")
    @classmethod
    def _no_typed_agreement(cls, data: Any) -> Any:
        if isinstance(data, dict) and "agreed_by" in data:
            raise ValueError(
                "agreed_by is no longer typed in: name the owners in `owners: {sales: ..., "
                "marketing: ...}`; agreement is each owner's signed approval of the contract "
                "(`leadscore contract approve`, docs/contract.md)"
            )
        return data

    @field_validator("allowed_fields", mode="before")
    @classmethod
    def _plain_names(cls, entries: Any) -> Any:
        if isinstance(entries, list | tuple):
            return [{"field": e} if isinstance(e, str) else e for e in entries]
        return entries

    @model_validator(mode="after")
    def _allowed_or_excluded(self) -> Contract:
        both = sorted(set(self.allowed) & set(self.excluded_fields))
        if both:
            raise ValueError(f"fields both allowed and excluded: {', '.join(both)}")
        return self

    @property
    def allowed(self) -> dict[str, str]:
        """Signed-off fields: name -> reason."""
        return {entry.field: entry.reason for entry in self.allowed_fields}


class SourceFile(Section):
    """One table of a CRM export. The first is the leads table; others join onto it.

    The delimiter and the encoding are detected per file; `sep` and `encoding` override them.
    `date_format` (strftime, e.g. "%d.%m.%Y") or `dayfirst` say how this file writes dates.
    """

    path: str = Field(min_length=1)
    join_on: str | None = None  # key column shared with the leads table (tables after the first)
    sep: str | None = Field(None, min_length=1)  # null: detected (comma, semicolon, tab, pipe)
    encoding: str | None = Field(None, min_length=1)  # null: detected (UTF-8, BOM, cp1252)
    date_format: str | None = Field(None, min_length=2)  # null: detected per column
    dayfirst: bool | None = None  # null: detected per column (13/02/2026 is day-first)
    # exact: keys must be equal; normalised: case, spaces and punctuation are ignored
    match_keys: Literal["exact", "normalised"] = "exact"
    # this table's own limit (null: data.max_unmatched_share), e.g. 1.0 for a table of sales
    # that only won leads have
    max_unmatched_share: float | None = Field(None, ge=0, le=1)


OutcomeValue = str | int | float | bool


class OutcomeColumns(Section):
    """Where the outcome is (see leadscore.core.outcome for the rule):

    - a status `column` with `won_values`, `lost_values` and `open_values` (still being
      worked: never a negative); any other value is an error; with `won_date_column` too, a
      win after the outcome window is a negative;
    - a `column` with `positive_values` (everything else is not won);
    - or only a `won_date_column` (converted = won within the outcome window).
    """

    column: str | None = None
    positive_values: tuple[OutcomeValue, ...] = (1, True, "1", "yes", "true")
    won_values: tuple[OutcomeValue, ...] = ()
    lost_values: tuple[OutcomeValue, ...] = ()
    open_values: tuple[OutcomeValue, ...] = ()
    won_date_column: str | None = None

    @property
    def has_status(self) -> bool:
        """Won, lost and open are listed explicitly."""
        return bool(self.won_values)

    @model_validator(mode="after")
    def _one_source(self) -> OutcomeColumns:
        if self.has_status:
            if self.column is None:
                raise ValueError("won_values need column: the status column they are read from")
            if "positive_values" in self.model_fields_set:
                raise ValueError("give won_values/lost_values/open_values or positive_values")
            listed = [str(v).strip().lower() for v in self.won_values + self.lost_values]
            listed += [str(v).strip().lower() for v in self.open_values]
            twice = sorted({v for v in listed if listed.count(v) > 1})
            if twice:
                raise ValueError(f"status values listed more than once: {twice}")
            return self
        if self.lost_values or self.open_values:
            raise ValueError("lost_values/open_values need won_values (the won statuses)")
        if (self.column is None) == (self.won_date_column is None):
            raise ValueError("give exactly one of column or won_date_column")
        return self


# money / percent / number: text with units, read by leadscore.core.units (data.number_format)
FieldKind = Literal["categorical", "numeric", "boolean", "date", "money", "percent", "number"]


class NumberFormatParams(Section):
    """How the export writes numbers of `money`, `percent` and `number` columns."""

    decimal: Literal[".", ","] = "."
    thousands: Literal[",", ".", " ", "'", ""] = ","

    @model_validator(mode="after")
    def _distinct(self) -> NumberFormatParams:
        if self.decimal == self.thousands:
            raise ValueError(f"decimal and thousands are both {self.decimal!r}")
        return self


class LeakageParams(Section):
    """Thresholds of the leakage review (see leadscore.data.leakage)."""

    max_single_field_auc: float = Field(0.85, gt=0.5, le=1.0)  # alone this good: excluded
    review_single_field_auc: float = Field(0.75, gt=0.5, le=1.0)  # alone this good: review
    max_importance_share: float = Field(0.5, gt=0, le=1.0)  # one field carrying more: review
    # the newest leads told from slightly older ones this well (lower end of the 95 % interval
    # of that AUC): the field is still being filled in after creation, review
    review_recent_auc_lower_bound: float = Field(0.6, gt=0.5, le=1.0)
    folds: int = Field(5, ge=2, le=20)

    @model_validator(mode="after")
    def _review_below_exclusion(self) -> LeakageParams:
        if self.review_single_field_auc > self.max_single_field_auc:
            raise ValueError(
                f"review_single_field_auc ({self.review_single_field_auc}) must not exceed "
                f"max_single_field_auc ({self.max_single_field_auc})"
            )
        return self


class EventsSource(Section):
    """An activity table (emails opened, pages visited, demos requested, ...): one row per
    event, read by the same CSV rule and input normalisation as the leads.

    Each file's `path`, `sep`, `encoding`, `date_format` and `dayfirst` are read as for a lead
    table; `lead_column` holds the lead key (the leads' id column), `time_column` the event's
    date and time, `type_column` its type, `value_column` an optional amount (minutes, score)."""

    files: tuple[SourceFile, ...] = Field(min_length=1)
    lead_column: str = Field(min_length=1)
    time_column: str = Field(min_length=1)
    type_column: str = Field(min_length=1)
    value_column: str | None = Field(None, min_length=1)


class BehaviourParams(Section):
    """Behaviour features, one definition for training and scoring (leadscore.data.behaviour),
    computed from the events strictly before the moment of scoring (contract.scoring_moment)."""

    # event types counted on their own (any other type is counted as `other`)
    types: tuple[str, ...] = (
        "web_page",
        "email_open",
        "email_click",
        "content_download",
        "pricing_page",
        "webinar",
        "demo_request",
    )
    windows_days: tuple[int, ...] = Field((7, 30), min_length=1)  # counts per type in these
    half_life_days: float = Field(14.0, gt=0)  # the engagement score halves in this many days
    # training snapshots: each lead scored at the moment of scoring + each of these days
    snapshot_days: tuple[int, ...] = Field((0, 7, 30), min_length=1)
    # WRONG ON PURPOSE, for the leakage demonstration only: count the events up to the export
    # date, after the moment of scoring too. The leakage review flags what it builds.
    count_after_decision: bool = False

    @field_validator("windows_days", "snapshot_days")
    @classmethod
    def _distinct_days(cls, days: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        least = 1 if info.field_name == "windows_days" else 0
        if any(day < least for day in days) or len(set(days)) != len(days):
            raise ValueError(f"days must be distinct and at least {least} (got {list(days)})")
        return tuple(sorted(days))


class DataParams(Section):
    """Where the leads come from and which column plays which role (see README)."""

    source: Literal["generator", "files"] = "generator"
    files: tuple[SourceFile, ...] = ()
    missing_values: tuple[str, ...] = ()  # values meaning "not answered", e.g. "Select"
    # null: found automatically (unique, id-like name), else made (see leadscore.data.ids)
    id_column: str | None = "lead_id"
    # the id column (configured or found) is blank or repeated for some rows: make an id for
    # every row, refuse the export, or keep each id's first row (the rest are quarantined)
    incomplete_id: Literal["make", "refuse", "keep_first"] = "make"
    created_column: str | None = "created_at"  # null: no creation date (stratified split)
    export_months: float = Field(12.0, gt=0)  # months an undated export covers (leads/month)
    # no creation date, but the rows are in the order the leads came: a chronological split
    rows_in_time_order: bool = False
    # a joined table may leave at most this share of lead rows without a match
    max_unmatched_share: float = Field(0.05, ge=0, le=1)
    outcome: OutcomeColumns = OutcomeColumns(column="converted")
    types: dict[str, FieldKind] = {}  # overrides of the automatic typing
    number_format: NumberFormatParams = NumberFormatParams()  # of money / percent / number
    exclude: tuple[str, ...] = ()
    leakage: LeakageParams = LeakageParams()
    # Columns of an export for the funnel and the report (null: the export has none, and the
    # views say what they miss). Value and cost are economics, never model inputs.
    channel_column: str | None = None  # the lead-generation channel (webinar, paid search, ...)
    campaign_column: str | None = None  # the campaign within the channel
    value_column: str | None = None  # value of the won deal
    cost_column: str | None = None  # marketing cost of the lead
    # What the CRM records when sales works a lead (the follow-up view; never model inputs):
    first_contact_column: str | None = None  # date and time of the first sales contact
    touches_column: str | None = None  # number of sales touches (calls, emails, meetings)
    owner_column: str | None = None  # the sales rep who owns the lead
    # An activity table of the export (null: none); see EventsSource and data.behaviour.
    events: EventsSource | None = None
    behaviour: BehaviourParams = BehaviourParams()

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
        if self.rows_in_time_order and self.created_column:
            raise ValueError(
                "rows_in_time_order is for exports without created_column (set it to null)"
            )
        return self


@dataclass(frozen=True)
class EconomicsColumns:
    """Which column of the scored leads plays each economic role (None: the data lack it)."""

    channel: str | None
    campaign: str | None
    deal_value: str | None
    lead_cost: str | None  # per lead; without it, costs come from the channel cost table

    @property
    def never_inputs(self) -> tuple[str, ...]:
        """Deal value and cost describe the outcome and the spend, not the lead."""
        return tuple(c for c in (self.deal_value, self.lead_cost) if c)


GENERATOR_ECONOMICS = EconomicsColumns(fields.CHANNEL, fields.CAMPAIGN, fields.DEAL_VALUE, None)


@dataclass(frozen=True)
class FollowUpColumns:
    """Which column of the scored leads holds what sales recorded (None: the data lack it)."""

    first_contact: str | None
    touches: str | None
    owner: str | None

    @property
    def present(self) -> tuple[str, ...]:
        """Post-contact by definition: never model inputs."""
        return tuple(c for c in (self.first_contact, self.touches, self.owner) if c)


GENERATOR_FOLLOW_UP = FollowUpColumns(fields.FIRST_CONTACT_AT, fields.SALES_TOUCHES, fields.OWNER)


def follow_up_columns(data: DataParams) -> FollowUpColumns:
    """The built-in CRM's follow-up columns, or those an export maps with `data.*_column`
    (renamed to the built-in names when the export is read)."""
    if data.source == "generator":
        return GENERATOR_FOLLOW_UP
    return FollowUpColumns(
        first_contact=fields.FIRST_CONTACT_AT if data.first_contact_column else None,
        touches=fields.SALES_TOUCHES if data.touches_column else None,
        owner=fields.OWNER if data.owner_column else None,
    )


def economics_columns(data: DataParams) -> EconomicsColumns:
    """The built-in CRM's columns, or those the `data.*_column` keys name for an export.

    An export's value and cost columns are renamed to `deal_value` and `lead_cost` when it is
    read (leadscore.data.sources); channel and campaign keep their names (they are inputs).
    """
    if data.source == "generator":
        return GENERATOR_ECONOMICS
    return EconomicsColumns(
        channel=data.channel_column,
        campaign=data.campaign_column,
        deal_value=fields.DEAL_VALUE if data.value_column else None,
        lead_cost=fields.LEAD_COST if data.cost_column else None,
    )


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


class ParamsError(LeadscoreError, ValueError):
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


CONTRACT_FILE = "contract.yaml"


def read_yaml(path: Path) -> Any:
    """A YAML file as DVC reads it: YAML 1.2 (ruamel.yaml, pure Python, safe types only)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from None


def _mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ParamsError(f"{path} not found (run from the project root or pass --params)")
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path} must be a mapping of sections")
    return raw


def read_raw_params(path: Path | str = "params.yaml") -> dict[str, Any]:
    """`params.yaml` with the `contract` section of the `contract.yaml` beside it, unvalidated.

    Without a `contract.yaml`, the contract may sit in `params.yaml` itself (one file is handy
    for a quick in-process run); with one, it must be there only.
    """
    path = Path(path)
    raw = _mapping(path)
    contract_path = path.with_name(CONTRACT_FILE)
    if contract_path.is_file():
        if "contract" in raw:
            raise ParamsError(
                f"the contract is in both {path} and {contract_path}: keep it in "
                f"{contract_path} only (`dvc exp run -S contract.<key>=...` writes to "
                f"{path.name}; write `-S {CONTRACT_FILE}:contract.<key>=...`)"
            )
        contract = _mapping(contract_path)
        if set(contract) != {"contract"}:
            raise ParamsError(
                f"{contract_path} holds the contract section only (found {sorted(contract)})"
            )
        raw["contract"] = with_proposal(contract["contract"], read_proposal(path))
    return raw


PROPOSAL_FILE = "contract.proposal.yaml"


def read_proposal(params_path: Path | str = "params.yaml") -> dict[str, Any]:
    """The changed keys of the open proposal (`contract.proposal.yaml` beside `params.yaml`):
    `{}` when there is none. Only the keys a proposal changes are in it, so an experiment on
    the contract (`dvc exp run -S 'contract.proposal.yaml:+contract.grades.A.min_conversion=0.45'`)
    rewrites that small file and never the agreed `contract.yaml`."""
    path = Path(params_path).with_name(PROPOSAL_FILE)
    if not path.is_file():
        return {}
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict) or not set(raw) <= {"contract", "proposal"}:
        raise ParamsError(f"{path} holds `contract:` (the changed keys) and `proposal:` only")
    changes = raw.get("contract") or {}
    if not isinstance(changes, dict):
        raise ParamsError(f"{path}: `contract` must be a mapping of the changed keys")
    return changes


def with_proposal(agreed: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The agreed contract with a proposal's changed keys: mappings merge key by key, any other
    value (a number, a text, a list) is replaced whole."""
    merged = dict(agreed)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = with_proposal(merged[key], value)
        else:
            merged[key] = value
    return merged


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
