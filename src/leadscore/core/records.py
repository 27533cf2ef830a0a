"""Typed records of the files stages hand each other: `models/grading.json` (the grade
stage's thresholds, sealed in the bundle) and `reports/metrics.json` (the evaluate stage's
figures).

The writer builds the record and writes `to_record()`; readers parse the file back with
`read` and get typed attributes, or an error naming the file and the keys at fault. Like the
model card, a record keeps the keys it does not know (a newer writer's) and leaves out the
keys never set, so a file read and written again gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadscore.core.card import describe
from leadscore.core.errors import LeadscoreError
from leadscore.core.io import read_json

# A number as written: an int stays an int (700, not 700.0), so a record read and written
# again gives the same bytes.
Number = int | float


class RecordError(LeadscoreError, ValueError):
    """A record file that cannot be read: the message names the file and the keys at fault."""


class Record(BaseModel):
    """A stage's file: unknown keys kept, unset keys left out when written."""

    model_config = ConfigDict(extra="allow")

    def to_record(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)

    @classmethod
    def from_record(cls, record: Any, source: str | None = None) -> Self:
        source = source or cls.__name__
        if not isinstance(record, dict):
            raise RecordError(f"{source}: a JSON object expected")
        try:
            return cls.model_validate(record)
        except ValidationError as error:
            raise RecordError(f"{source}: {describe(error)}") from None

    @classmethod
    def read(cls, path: Path) -> Self:
        return cls.from_record(read_json(path), str(path))


class GradeDerivation(Record):
    """How one grade's threshold was chosen from the contract's promise."""

    threshold: Number = Field(ge=0, description="minimum probability; above 1: no lead reaches it")
    binding: str = Field(description="what set the bar: conversion, capacity, floor, unkeepable")
    share_of_leads: Number = Field(ge=0, le=1)
    leads_per_month: Number = Field(ge=0)
    expected_conversion: Number | None = Field(ge=0, le=1, description="null: an empty band")
    observed_conversion: Number | None = Field(ge=0, le=1)
    note: str


class GradingDerivation(Record):
    """The method, the monthly volume and margin it used, and each grade's derivation."""

    grades: dict[str, GradeDerivation]
    method: str | None = None
    monthly_volume: Number | None = None
    safety_margin: Number | None = None


class GradingRecord(Record):
    """`models/grading.json`: thresholds, score cut points, their derivation, and the contract
    with its agreement (re-checked wherever it is read: `core.agreement.sealed_agreement`)."""

    thresholds: dict[str, Number]
    score_edges: list[Number]
    raw_score_edges: list[Number] | None = None  # absent: scores cut from the probability
    model_version: str
    derivation: GradingDerivation
    contract: dict[str, Any]  # `Contract.model_dump(mode="json")`
    agreement: dict[str, Any] = Field(default_factory=dict)


class EvaluationMetrics(Record):
    """`reports/metrics.json`: the test period's figures (the curves, the monthly calibration,
    the channels, the warnings and the signal verdict are kept as written)."""

    model_version: str
    leads: int = Field(ge=0)
    base_rate: Number
    roc_auc: Number
    ece: Number
    top_lift: Number
    roc_auc_ci_low: Number | None = None
    roc_auc_ci_high: Number | None = None
    roc_auc_gate_low: Number | None = None  # the worst interval end over the AUC spread
    test_auc_spread_sd: Number | None = None
    model_family: str | None = None
    calibration_method: str | None = None
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    signal: dict[str, Any] = Field(default_factory=dict)
