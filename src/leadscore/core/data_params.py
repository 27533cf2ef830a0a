"""The `data` section of `params.yaml`: where the leads come from (generator or CRM export
files), which column plays which role, the outcome, number formats, the leakage review's
thresholds, the activity table and behaviour features; and the economic and follow-up columns
it names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from leadscore.core import fields
from leadscore.core.section import Section


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
