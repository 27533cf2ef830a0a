"""The A-lead contract's typed terms (`contract.yaml`): owners, outcome, grade promises, the
publish gate, the lead profiles, signed-off fields, sales' follow-up promises and the moment of
scoring."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from leadscore.core.section import Section

# the four grades, best first (model/grading.GRADES is this order)
GradeLetter = Literal["A", "B", "C", "D"]


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
    promises: dict[GradeLetter, tuple[FollowUpPromise, ...]] = {}


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
