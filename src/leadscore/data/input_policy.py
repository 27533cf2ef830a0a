"""Which fields may never be model inputs, whatever the leakage review finds, and why.

The configuration excludes fields by name (`data.exclude`, `contract.excluded_fields`); an
export's won value and lead cost are never inputs (they are the outcome's money), and the
follow-up columns an export declares are post-contact by definition. The built-in data leave
their follow-up columns to the review's evidence. The ingest stage asks this module which
fields the review must treat as configured out, and with which reason.
"""

from __future__ import annotations

import logging

import pandas as pd

from leadscore.core import fields
from leadscore.core.config import Params
from leadscore.core.data_params import economics_columns, follow_up_columns
from leadscore.core.units import propose_unit_type
from leadscore.data.ingest import excluded_by_configuration

log = logging.getLogger(__name__)


def never_inputs(params: Params, kinds: dict[str, str], builtin: bool) -> tuple[str, ...]:
    """The table's fields the configuration keeps out of the model, each once, in order: the
    configured exclusions, then an export's won value, cost and follow-up columns."""
    economics = economics_columns(params.data)
    never = () if builtin else economics.never_inputs + follow_up_columns(params.data).present
    named = (*excluded_by_configuration(params, kinds), *(n for n in never if n in kinds))
    return tuple(dict.fromkeys(named))


def configuration_reason(name: str, params: Params) -> str:
    """Which key of the configuration excludes a field, in the review's words."""
    if name in params.contract.excluded_fields:
        return "excluded by the contract (contract.excluded_fields)"
    if name in params.data.exclude:
        return "excluded by configuration (data.exclude)"
    if name in follow_up_columns(params.data).present:
        return (
            "excluded by configuration: recorded by sales after the contact "
            "(data.first_contact_column, touches_column, owner_column)"
        )
    return "excluded by configuration: deal value or lead cost (data.value_column, cost_column)"


def configuration_reasons(names: tuple[str, ...], params: Params) -> dict[str, str]:
    """Each configured-out field with its reason (what the leakage review is told)."""
    return {name: configuration_reason(name, params) for name in names}


def typed_roles(params: Params) -> dict[str, str]:
    """`data.types` with the won-value and cost columns under the names they are read as
    (`types: {Amount: money}` reads `deal_value` as money)."""
    types: dict[str, str] = dict(params.data.types)
    for column, role in (
        (params.data.value_column, fields.DEAL_VALUE),
        (params.data.cost_column, fields.LEAD_COST),
    ):
        if column in types:
            types[role] = types.pop(column)
    return types


def proposed_types(raw: pd.DataFrame, kinds: dict[str, str]) -> dict[str, str]:
    """Text columns whose values mostly read as money or percent (`propose_unit_type`): the
    `data.types` a user would add; logged and written to the validation report."""
    proposed = {}
    for name, kind in kinds.items():
        unit = propose_unit_type(raw[name]) if kind == "categorical" else None
        if unit:
            proposed[name] = unit
            log.warning(
                "ingest: %r reads as %s in most rows but is typed as a category; set "
                "data.types: {%s: %s} (and data.number_format) to read it as a number",
                name,
                unit,
                name,
                unit,
            )
    return proposed
