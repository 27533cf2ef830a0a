"""The fields that are never model inputs, whatever the leakage review finds, and why."""

from __future__ import annotations

import yaml

from leadscore.core.config import parse_params
from leadscore.data.input_policy import configuration_reasons, never_inputs


def export_params(default_params_raw) -> object:
    raw = yaml.safe_load(yaml.safe_dump(default_params_raw))
    raw["data"].update(
        source="files",
        files=[{"path": "export.csv"}],
        exclude=["notes"],
        value_column="Amount",
        first_contact_column="First Call",
    )
    return parse_params(raw)


KINDS = {
    "notes": "categorical",
    "sales_status": "categorical",
    "deal_value": "numeric",
    "first_contact_at": "date",
    "website_visits": "numeric",
}


def test_an_exports_money_and_follow_up_columns_are_never_inputs(default_params_raw):
    params = export_params(default_params_raw)
    never = never_inputs(params, KINDS, builtin=False)
    # configured first (data.exclude, then the contract's), then the won value and first contact
    assert never == ("notes", "sales_status", "deal_value", "first_contact_at")
    without_contract = params.model_copy(
        update={"contract": params.contract.model_copy(update={"excluded_fields": []})}
    )
    assert configuration_reasons(("deal_value",), without_contract) == {
        "deal_value": "excluded by configuration: deal value or lead cost "
        "(data.value_column, cost_column)"
    }
    reasons = configuration_reasons(never, params)
    assert reasons["notes"] == "excluded by configuration (data.exclude)"
    assert reasons["sales_status"] == "excluded by the contract (contract.excluded_fields)"
    assert reasons["first_contact_at"] == (
        "excluded by configuration: recorded by sales after the contact "
        "(data.first_contact_column, touches_column, owner_column)"
    )


def test_the_built_in_data_leave_their_follow_up_columns_to_the_review(default_params_raw):
    params = parse_params(default_params_raw)
    # only what the configuration names and the table has: the contract's exclusions
    assert never_inputs(params, KINDS, builtin=True) == ("sales_status", "deal_value")
