"""Money, percent and numbers written with units (leadscore.core.units): exact values, the
declared decimal convention, refusals that name the value's type, and the profile's proposal."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from leadscore.core.units import (
    NumberFormat,
    parse_value,
    parse_values,
    propose_unit_type,
    unparseable,
    unparseable_reason,
)

US, EU = NumberFormat(".", ","), NumberFormat(",", ".")


@pytest.mark.parametrize(
    ("text", "kind", "fmt", "value"),
    [
        ("$1,932.00 ", "money", US, 1932.0),
        ("$33K", "money", US, 33000.0),
        ("$0.0M", "money", US, 0.0),
        ("$0.1M", "money", US, 100000.0),  # decimal arithmetic: not 100000.00000000001
        ("$2.5B", "money", US, 2_500_000_000.0),
        ("1.200,50 €", "money", EU, 1200.5),
        ("€ 1.200,50", "money", EU, 1200.5),
        ("USD 1,200", "money", US, 1200.0),
        ("1,200 EUR", "money", US, 1200.0),
        ("(1,200.00)", "money", US, -1200.0),
        ("-$5", "money", US, -5.0),
        ("\u00a0£7\u00a0", "money", US, 7.0),
        ("1932", "money", US, 1932.0),
        ("18.00%", "percent", US, 18.0),
        ("18,5 %", "percent", EU, 18.5),
        ("7", "percent", US, 7.0),
        ("12 345,6", "number", NumberFormat(",", " "), 12345.6),
        ("1.5k", "number", US, 1500.0),
    ],
)
def test_each_variant_reads_exactly(text, kind, fmt, value):
    assert parse_value(text, kind, fmt) == value


@pytest.mark.parametrize(
    ("text", "kind", "fmt"),
    [
        ("1,5", "money", US),  # the other convention: refused, never misread as 15
        ("1.200,50", "money", US),
        ("$$5", "money", US),
        ("$5 EUR", "money", US),
        ("abc", "money", US),
        ("18%%", "percent", US),
        ("$18", "percent", US),
        ("5K", "percent", US),
        ("1.2.3", "number", US),
        ("OPP-00001", "money", US),  # an id, not a currency code and a negative amount
        ("ABC 5", "money", US),
    ],
)
def test_what_does_not_follow_the_rule_is_unparseable(text, kind, fmt):
    assert parse_value(text, kind, fmt) is None


def test_missing_and_blank_values_are_missing_not_unparseable():
    values = pd.Series(["$1K", None, "  ", "n/a?", "$2K"])
    parsed = parse_values(values, "money", US)
    assert parsed.iloc[0] == 1000.0 and parsed.iloc[4] == 2000.0
    assert parsed.iloc[1:4].isna().all()
    assert unparseable(values, "money", US).tolist() == [False, False, False, True, False]
    assert math.isnan(parse_value(None, "money"))


def test_numbers_pass_through():
    assert parse_values(pd.Series([1.5, None]), "money").tolist()[0] == 1.5
    assert parse_value(3, "percent") == 3.0


def test_the_reason_names_the_type_and_the_convention():
    assert unparseable_reason("money", EU) == "not money (decimal ',', thousands '.')"


def test_the_profile_proposes_money_and_percent_for_text_columns():
    assert propose_unit_type(["$1,932.00 ", "$33K", None, "$0.0M", "$12"]) == "money"
    assert propose_unit_type(["1.200,50 €", "3,00 €", "€ 7"]) == "money"
    assert propose_unit_type(["18.00%", "17%", "", "0.5%"]) == "percent"
    assert propose_unit_type(["web", "event", "$3"]) is None
    assert propose_unit_type(["1", "2", "3.5"]) is None  # plain numbers are numbers already
    assert propose_unit_type([None, ""]) is None
    assert propose_unit_type(["OPP-00001", "OPP-00002"]) is None


def test_ingest_proposes_the_types_of_text_columns_in_its_log(caplog):
    from leadscore.data.input_policy import proposed_types

    raw = pd.DataFrame(
        {
            "Amount": ["$1,932.00 ", "$33K", "$0.0M"],
            "Off": ["18.00%", "5%", "0%"],
            "Ok": list("abc"),
        }
    )
    kinds = {"Amount": "categorical", "Off": "categorical", "Ok": "categorical"}
    assert proposed_types(raw, kinds) == {"Amount": "money", "Off": "percent"}
    assert "set data.types: {Amount: money}" in caplog.text
    assert proposed_types(raw, kinds | {"Amount": "money"}) == {"Off": "percent"}


@pytest.mark.parametrize("dtype", [object, "str", "string"])
def test_a_text_column_gets_the_same_proposal_as_its_values(dtype):
    for values in (["$1,932.00 ", "$33K", None, "$0.0M", "$12"], ["18.00%", " 17% ", "", "0.5%"],
                   ["web", "event", "$3"], ["1", "2", "3.5"], [None, ""]):  # fmt: skip
        column = pd.Series(values * 30, dtype=dtype)
        assert propose_unit_type(column) == propose_unit_type(values), (dtype, values)
