"""The contract report (`reports/contract.json`) and its publish gate, as typed records.

The contract stage writes the report through `ContractReport`; the stages and the service that
read it (report, headline, credit, the scorecard, the owners' page) read it through the same
model. `GateResult` is what `leadscore.model.gate` decides: the contract stage stores it once
on the training run, and `leadscore promote` reads it back as the same record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from leadscore.core.io import read_json, write_json

# The verdict words of every promise (grades and follow-up), defined once.
KEPT, NOT_KEPT = "kept", "not kept"
# The grade's leads missed the promise, but those sales worked kept it: the shortfall is the
# leads never worked, which is sales' side of the contract (the follow-up view), not the grading.
KEPT_WHERE_WORKED = "kept where sales worked"
# No lead fell in the grade in the period: nothing to judge, neither kept nor broken.
NO_LEADS = "no leads"


class GateCheck(BaseModel):
    """One check of the publish gate: what the contract requires, what the model has, why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    required: Any
    actual: Any
    passed: bool
    why: str
    explanation: str = ""
    # the odds-ratio check only: the A-grade conversion the required odds ratio means here
    required_a_conversion: float | None = None

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("required_a_conversion") is None:
            data.pop("required_a_conversion", None)
        return data


class GateResult(BaseModel):
    """May this model be served? Every check with its numbers; publishable when all pass."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    publishable: bool
    checks: dict[str, GateCheck]

    @classmethod
    def of(cls, checks: dict[str, GateCheck]) -> GateResult:
        """The result of these checks: publishable when every one passed."""
        return cls(publishable=all(c.passed for c in checks.values()), checks=checks)

    def failed(self) -> list[str]:
        """The names of the checks that failed, in the gate's order."""
        return [name for name, check in self.checks.items() if not check.passed]

    def with_check(self, name: str, check: GateCheck) -> GateResult:
        """The same gate with `check` in place of (or added as) `name`."""
        return GateResult.of({**self.checks, name: check})


class TestPeriod(BaseModel):
    """The test period: first and last creation day (None for an undated export), months."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    start: str | None = Field(alias="from")
    end: str | None = Field(alias="to")
    months: float


class ContractReport(BaseModel):
    """`reports/contract.json`: each grade's promise beside the test period, and the gate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    contract_version: str
    agreement: dict[str, Any]
    owners: dict[str, Any]
    currency: str
    outcome: dict[str, Any]
    test_period: TestPeriod
    signal: dict[str, Any] | None
    leads: int
    conversions: int
    base_rate: float
    grades: dict[str, dict[str, Any]]
    profiles: dict[str, dict[str, Any]]
    derivation: dict[str, Any]
    field_review: dict[str, Any] | None
    publish_gate: GateResult
    warnings: list[dict[str, Any]]
    missing: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The report as `reports/contract.json` holds it."""
        return self.model_dump(mode="json", by_alias=True)

    def write(self, path: Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> ContractReport:
        return cls.model_validate(read_json(path))
