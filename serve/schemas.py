"""Request and response models. The lead model is derived from the model card's field roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from types import GenericAlias
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic.config import JsonDict
from typing_extensions import TypedDict

from leadscore.core import fields as roles
from leadscore.core.schema import FeatureSpec, InputNormalisation
from leadscore.core.units import NumberFormat, parse_value, unparseable_reason
from leadscore.core.values import NEGATIVE_REASON, NON_NEGATIVE_MIN
from leadscore.scoring.events_store import MAX_EVENTS, ActivityEvent
from leadscore_serve.problems import Problem

MAX_TEXT = 200


STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


def storable(text: str) -> str:
    """A value the scoring log can store: PostgreSQL text holds no NUL byte."""
    if "\x00" in text:
        raise ValueError("must not contain a NUL byte (\\u0000): the scoring log cannot store it")
    return text


def unit_reader(kind: str, inputs: InputNormalisation, non_negative: bool):
    """A money / percent / number field: a number, or text read by the export's rule
    (leadscore.core.units, after the missing-value tokens), as batch scoring reads it."""
    fmt, tokens = NumberFormat(**inputs.number_format), set(inputs.missing_values)

    def read(value: float | str | None) -> float | None:
        if value is None or (isinstance(value, str) and value.strip() in tokens):
            return None
        number = parse_value(value, kind, fmt)
        if number is None:
            raise ValueError(f"{unparseable_reason(kind, fmt)} ({str(value)[:40]!r})")
        if number != number:  # blank text
            return None
        if number in (float("inf"), float("-inf")):
            raise ValueError("must be finite")
        if non_negative and number < NON_NEGATIVE_MIN:
            raise ValueError(NEGATIVE_REASON)
        return number

    return read


class StrictModel(BaseModel):
    model_config = STRICT


class ResponseModel(BaseModel):
    """Part of an answer: every field is always sent, so the schema marks every one required."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


def id_field(inputs: InputNormalisation) -> str:
    """The request field holding the lead id: the export's id column (`lead_id` when the
    export had none and leadscore made its ids)."""
    return roles.LEAD_ID if inputs.made_id else inputs.id_column


EXAMPLE_LEAD_ID = "EXAMPLE-0001"
EXAMPLE_CATEGORY = "example"


EXAMPLE_CREATED = "2026-01-05T09:00:00Z"


def behaviour_fields(inputs: InputNormalisation) -> frozenset[str]:
    """The fields the service computes from activity events (never sent with a lead)."""
    return frozenset((inputs.behaviour or {}).get("fields", {}))


def request_example(spec: FeatureSpec, inputs: InputNormalisation) -> dict:
    """A made-up lead for the OpenAPI documents, which anyone may read: clearly fake values of
    each field's kind (`EXAMPLE-0001`, the category `example`, 1.0, false), never a training
    record. It validates and scores (its categories are reported as unseen)."""
    computed = behaviour_fields(inputs)
    example: dict = {id_field(inputs): EXAMPLE_LEAD_ID}
    if computed:
        example["created_at"] = EXAMPLE_CREATED
    example.update({name: EXAMPLE_CATEGORY for name in spec.categorical if name not in computed})
    example.update({name: 1.0 for name in spec.numeric if name not in computed})
    example.update(dict.fromkeys(spec.boolean, False))
    return example


def lead_model(
    spec: FeatureSpec, example: dict | None = None, inputs: InputNormalisation | None = None
) -> type:
    """The schema of one lead: its id required (under the export's id column name), every
    model input optional, and the keys of joined tables (their fields are looked up).

    Categories are strings (an unseen one is scored as unknown, with a warning); numbers are
    finite, and >= 0 where the training data says so; yes/no fields are JSON booleans.
    Fields the model does not use (for instance the post-contact `sales_status`) are refused.
    A model trained on activity events computes its behaviour fields (refused when sent) and
    requires `created_at`. A TypedDict: validated leads arrive as plain dicts.
    """
    inputs = inputs or InputNormalisation()
    computed = behaviour_fields(inputs)
    created = Field(description="when the lead was created (not scored)")
    fields: dict[str, Any] = {
        id_field(inputs): Annotated[
            str,
            Field(min_length=1, max_length=128, description="your id of the lead (no NUL byte)"),
            AfterValidator(storable),
        ],
        "created_at": (
            Annotated[datetime, created]
            if computed
            else NotRequired[Annotated[datetime | None, created]]
        ),
    }
    for key in inputs.keys:
        if key not in spec.fields and key not in fields:
            described = Field(max_length=MAX_TEXT, description="key of a joined table")
            fields[key] = NotRequired[Annotated[str | None, described]]
    for name in spec.categorical:
        if name not in computed:
            fields[name] = NotRequired[Annotated[str | None, Field(max_length=MAX_TEXT)]]
    for name in spec.numeric:
        if name in computed:
            continue
        bound: dict[str, Any] = {"ge": NON_NEGATIVE_MIN} if name in spec.non_negative else {}
        if name in inputs.units:
            kind, low = inputs.units[name], name in spec.non_negative
            described = Field(description=f"{kind}: a number, or text such as the export's")
            reader = AfterValidator(unit_reader(kind, inputs, low))
            fields[name] = NotRequired[Annotated[float | str | None, described, reader]]
            continue
        fields[name] = NotRequired[Annotated[float | None, Field(**bound)]]
    for name in spec.boolean:
        fields[name] = NotRequired[bool | None]
    # The functional form, built at run time from the model's fields (CRM field names may hold
    # spaces): a type no checker can see in advance.
    typed_dict: Any = TypedDict
    lead = typed_dict("Lead", fields)
    lead.__doc__ = "One lead: its id and the CRM fields the model reads (all optional)."
    examples: JsonDict | None = {"examples": [example]} if example else None
    lead.__pydantic_config__ = ConfigDict(**STRICT, json_schema_extra=examples)
    return lead


def with_example(model: type[BaseModel], example: dict | None) -> type[BaseModel]:
    """Attach a request example to a model's JSON schema (shown in the OpenAPI docs)."""
    if example:
        model.model_config = {**model.model_config, "json_schema_extra": {"examples": [example]}}
    return model


EVENTS_DESCRIPTION = (
    "activity events of these leads not yet sent to POST /v1/events, counted with the stored "
    "ones (an event id counts once; not stored). Only for a model trained on activity events"
)


def score_request_model(
    lead: type, max_batch: int, example: dict | None, events: bool = False
) -> type[BaseModel]:
    leads_field: Any = Annotated[
        GenericAlias(list, (lead,)),  # list[lead], of the lead type built at run time
        Field(min_length=1, max_length=max_batch, description=f"1 to {max_batch} leads"),
    ]
    extra: dict[str, Any] = {}
    if events:
        sent: Any = Field(
            default_factory=list, max_length=MAX_EVENTS, description=EVENTS_DESCRIPTION
        )
        extra["events"] = (list[ActivityEvent], sent)
    model = create_model(
        "ScoreRequest",
        __base__=StrictModel,
        leads=(leads_field, ...),
        reasons=(bool, Field(True, description="explain each score (off is faster)")),
        **extra,
    )
    return with_example(model, example and {"leads": [example], "reasons": True})


class Grade(StrEnum):
    """The contract's grades: A converts best; D is the rest."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Reason(ResponseModel):
    field: str
    value: str | float | int | bool | None = Field(
        description="the lead's value of the field (null when missing)"
    )
    contribution: float = Field(description="signed effect on the raw score (log-odds)")
    phrase: str


class Explanation(ResponseModel):
    base_value: float = Field(description="average raw score (log-odds) of the training leads")
    reasons: list[Reason] = Field(description="up to 5 strongest positive and 5 negative")
    rest: float = Field(description="sum of the other fields' contributions")
    raw_output: float = Field(description="base_value + reasons + rest: the model's raw score")


class LeadScore(ResponseModel):
    lead_id: str
    probability: float = Field(
        ge=0, le=1, description="calibrated chance of converting in the contract's window"
    )
    score: int = Field(
        ge=1, le=100, description="percentile among the calibration leads by the raw output"
    )
    grade: Grade = Field(description="A, B, C or D, as the contract defines them")
    trend: Literal["rising", "steady", "falling", "new", "unknown"] = Field(
        description="the score since the lead's previous scoring in the log (rising / falling: "
        "5 points or more; new: never scored before, or no scoring log; unknown: the log cannot "
        "tell yet, e.g. the database has not been read since the start)"
    )
    previous_score: int | None = Field(None, ge=1, le=100, description="the previous score")
    previous_grade: Grade | None = Field(None, description="the previous grade")
    explanation: Explanation | None
    warnings: list[str]
    model_version: str
    contract_version: str


class ScoreResponse(ResponseModel):
    model_version: str
    contract_version: str
    behaviour_as_of: datetime | None = Field(
        None,
        description="the moment (UTC) the leads' behaviour features were counted as of, from "
        "their activity events strictly before it; null: the model reads no events",
    )
    results: list[LeadScore]


# --- readiness and reload -----------------------------------------------------------------


class Liveness(ResponseModel):
    status: str = Field(description="`alive` while the process answers")
    scoring_log: Literal[
        "ok", "connecting", "database-failing", "database-not-answering", "journal-failing", "off"
    ] = Field(
        description="the scoring log, from memory: `ok`; `connecting` (no answer from the "
        "database yet); `database-failing` (it refuses writes: rows wait in the journal); "
        "`database-not-answering` (a call runs past the timeout); `journal-failing`; `off`"
    )


class ScoringLogHealth(ResponseModel):
    healthy: bool = Field(description="the journal and the database both take rows now")
    state: str = Field(description="as in /healthz: ok, connecting, database-failing, ...")
    unshipped: int = Field(ge=0, description="rows in the journal not yet in the database")
    oldest_unshipped_seconds: float = Field(
        ge=0, description="how long the oldest of them has waited (0: none waits)"
    )
    dead_letters: int = Field(
        ge=0, description="rows refused for their values, waiting for `scoring-log replay`"
    )
    written: int = Field(ge=0, description="rows written to the table by this process")
    failed_writes: int = Field(ge=0, description="database writes that failed")
    spilled: int = Field(ge=0, description="rows kept in the journal while the database failed")
    replayed: int = Field(ge=0, description="spilled rows since written to the table")
    rejected: int = Field(ge=0, description="rows refused for their values (dead-lettered)")
    lost: int = Field(ge=0, description="rows neither in the table nor in the journal")
    journal_failures: int = Field(ge=0, description="journal commits that failed")
    last_error: str | None = Field(
        None, description="the last error, redacted (only with a valid API key)"
    )
    last_error_at: str | None = None


class ReloadOutcome(ResponseModel):
    reloaded: bool = Field(description="the new model is serving")
    serving: str | None = Field(description="the model version serving now")
    previous: str | None = Field(None, description="the version served before (on success)")
    error: str | None = Field(None, description="why the reload failed (on failure)")
    seconds: float = Field(ge=0, description="how long the reload took")
    at: datetime


class Readiness(ResponseModel):
    ready: bool = Field(description="a verified model is loaded and scoring")
    model_version: str | None
    contract_version: str | None
    contract_agreement: Literal["agreed", "proposal"] | None = Field(
        None, description="whether both owners approved the contract the model was graded under"
    )
    contract_override: bool | None = Field(
        None,
        description="true: served although its contract is not agreed "
        "(LEADSCORE_ALLOW_UNAGREED_CONTRACT)",
    )
    model_source: str | None = Field(
        None, description="bundle directory or registry URI (only with a valid API key)"
    )
    loaded_at: datetime | None
    last_reload: ReloadOutcome | None = Field(description="the last reload, if any")
    scoring_log: ScoringLogHealth | None = Field(description="null when the log is off")


class NotReady(Problem, Readiness):
    """503 from /readyz: a problem document that also carries the readiness fields."""


class ReloadFailed(Problem, ReloadOutcome):
    """409 from /admin/reload: a problem document that also carries the reload outcome."""
