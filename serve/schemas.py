"""Request and response models. The lead model is derived from the model card's field roles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, ConfigDict, Field, create_model
from typing_extensions import TypedDict

from leadscore.core.schema import FeatureSpec

MAX_TEXT = 200


STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class StrictModel(BaseModel):
    model_config = STRICT


def lead_model(spec: FeatureSpec, example: dict | None = None) -> type:
    """The schema of one lead: `lead_id` required, every model input optional.

    Categories are strings (an unseen one is scored as unknown, with a warning); numbers are
    finite, and >= 0 where the training data says so; yes/no fields are JSON booleans.
    Fields the model does not use (for instance the post-contact `sales_status`) are refused.
    A TypedDict: validated leads arrive as plain dicts, with no model objects to build.
    """
    fields: dict[str, Any] = {
        "lead_id": Annotated[
            str, Field(min_length=1, max_length=128, description="your id of the lead")
        ],
        "created_at": NotRequired[
            Annotated[datetime | None, Field(description="when the lead was created (not scored)")]
        ],
    }
    for name in spec.categorical:
        fields[name] = NotRequired[Annotated[str | None, Field(max_length=MAX_TEXT)]]
    for name in spec.numeric:
        bound = {"ge": 0} if name in spec.non_negative else {}
        fields[name] = NotRequired[Annotated[float | None, Field(**bound)]]
    for name in spec.boolean:
        fields[name] = NotRequired[bool | None]
    lead = TypedDict("Lead", fields)  # the functional form: CRM field names may hold spaces
    lead.__doc__ = "One lead: its id and the CRM fields the model reads (all optional)."
    extra = {"json_schema_extra": {"examples": [example]}} if example else {}
    lead.__pydantic_config__ = ConfigDict(**STRICT, **extra)
    return lead


def with_example(model: type[BaseModel], example: dict | None) -> type[BaseModel]:
    """Attach a request example to a model's JSON schema (shown in the OpenAPI docs)."""
    if example:
        model.model_config = {**model.model_config, "json_schema_extra": {"examples": [example]}}
    return model


def score_request_model(lead: type, max_batch: int, example: dict | None):
    leads_field = Annotated[
        list[lead],
        Field(min_length=1, max_length=max_batch, description=f"1 to {max_batch} leads"),
    ]
    model = create_model(
        "ScoreRequest",
        __base__=StrictModel,
        leads=(leads_field, ...),
        reasons=(bool, Field(True, description="explain each score (off is faster)")),
    )
    return with_example(model, example and {"leads": [example], "reasons": True})


class Reason(BaseModel):
    field: str
    value: Any = Field(description="the lead's value of the field (null when missing)")
    contribution: float = Field(description="signed effect on the raw score (log-odds)")
    phrase: str


class Explanation(BaseModel):
    base_value: float = Field(description="average raw score (log-odds) of the training leads")
    reasons: list[Reason] = Field(description="up to 5 strongest positive and 5 negative")
    rest: float = Field(description="sum of the other fields' contributions")
    raw_output: float = Field(description="base_value + reasons + rest: the model's raw score")


class LeadScore(BaseModel):
    lead_id: str
    probability: float = Field(description="calibrated chance of converting in the window")
    score: int = Field(ge=1, le=100)
    grade: str = Field(description="A, B, C or D, as the contract defines them")
    explanation: Explanation | None
    warnings: list[str]
    model_version: str
    contract_version: str


class ScoreResponse(BaseModel):
    model_version: str
    contract_version: str
    results: list[LeadScore]
