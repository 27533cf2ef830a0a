"""The base of every section of `params.yaml` and `contract.yaml`: unknown keys are refused
(the error names them) and a parsed section never changes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
