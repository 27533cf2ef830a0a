"""The input normalisation rule by rule, on hand-built rows: missing-value tokens, text
clean-up, units, the lead id, the joined tables and what the bundle seals of them.
(The API's value path against the table path, property-tested: test_input_records.py.)"""

from __future__ import annotations

import math

import pandas as pd

from leadscore.core import fields
from leadscore.core.units import NumberFormat
from leadscore.data.ids import made_ids
from leadscore.data.inputs import (
    InputNormalisation,
    Lookup,
    clean_text,
    inputs_record,
    is_missing_token,
    looked_up,
    mark_missing,
    normalise,
    normalise_records,
    number_format,
    read_units,
    sealed_inputs,
    tables_from_record,
    tables_record,
    with_lead_id,
)

COMPANIES = pd.DataFrame(
    {"company": ["ACME-01", "Beta", None], "size": ["200", "10", "5"], "note": ["x", "y", "z"]}
)
SIZE = Lookup("companies", "company", "exact", {"size": "company_size"})


def test_a_missing_token_is_a_text_that_is_one_once_stripped():
    tokens = frozenset({"Select", "N/A"})
    assert is_missing_token(" Select ", tokens)
    assert not is_missing_token("Selected", tokens)
    assert not is_missing_token("select", tokens)  # tokens are matched as written
    assert not is_missing_token(None, tokens) and not is_missing_token(1, tokens)


def test_text_is_stripped_and_empty_text_is_missing():
    cleaned = clean_text(pd.Series([" Email ", "", "   ", None, "Olark Chat"]))
    assert cleaned.dtype == "string"
    assert cleaned.tolist() == ["Email", pd.NA, pd.NA, pd.NA, "Olark Chat"]


def test_missing_tokens_become_missing_in_every_text_column_only():
    frame = pd.DataFrame(
        {
            "source": [" Select", "Google", "N/A"],
            "typed": pd.Series(["Select ", "x", None], dtype="string"),
            "visits": [1, 2, 3],
        }
    )
    marked = mark_missing(frame, ["Select", "N/A"])
    assert marked["source"].isna().tolist() == [True, False, True]
    assert marked["source"][1] == "Google"
    assert marked["typed"].isna().tolist() == [True, False, True]
    assert marked["visits"].tolist() == [1, 2, 3]
    assert frame["source"][0] == " Select"  # the caller's frame is left as it was
    assert mark_missing(frame, []) is frame


def test_units_are_read_as_numbers_and_an_unreadable_value_stays_as_written():
    inputs = InputNormalisation(units={"budget": "money", "rate": "percent", "absent": "number"})
    frame = pd.DataFrame(
        {
            "budget": ["$33K", "1,200", None],
            "rate": ["18.00%", "lots", "5%"],
            "name": ["a", "b", "c"],
        }
    )
    read = read_units(frame, inputs)
    assert read["budget"].tolist()[:2] == [33000.0, 1200.0] and math.isnan(read["budget"][2])
    assert read["budget"].dtype == "float64"
    assert read["rate"].tolist() == [18.0, "lots", 5.0]  # refused later with the unit's reason
    assert read["name"].tolist() == ["a", "b", "c"]
    assert frame["budget"][0] == "$33K"
    numbers = pd.DataFrame({"budget": [1, 2]})
    assert read_units(numbers, inputs)["budget"].dtype == "float64"
    untouched = pd.DataFrame({"other": ["$1"]})
    assert read_units(untouched, inputs) is untouched


def test_the_exports_number_format_reads_its_numbers():
    inputs = InputNormalisation(
        units={"budget": "money"}, number_format={"decimal": ",", "thousands": "."}
    )
    assert number_format(inputs) == NumberFormat(decimal=",", thousands=".")
    assert read_units(pd.DataFrame({"budget": ["1.234,5"]}), inputs)["budget"][0] == 1234.5


def test_the_lead_id_comes_from_the_id_column_else_a_made_id():
    frame = pd.DataFrame({"Lead Number": ["7", "8"], "source": ["a", "a"]})
    assert with_lead_id(frame, InputNormalisation()) is frame
    with_id = with_lead_id(frame, InputNormalisation(id_column="Lead Number"))
    assert with_id[fields.LEAD_ID].tolist() == ["7", "8"]
    own = pd.DataFrame({fields.LEAD_ID: ["L1"]})
    assert with_lead_id(own, InputNormalisation()) is own
    assert with_lead_id(own, InputNormalisation(id_column="Lead Number")) is own
    made = InputNormalisation(id_column="absent", made_id_columns=("source",))
    assert (
        with_lead_id(frame, made)[fields.LEAD_ID].tolist() == made_ids(frame[["source"]]).tolist()
    )
    assert with_lead_id(frame, made)[fields.LEAD_ID][1].endswith("-2")  # the same values again
    partial = InputNormalisation(id_column="absent", made_id_columns=("source", "other"))
    assert fields.LEAD_ID not in with_lead_id(frame, partial)


def test_joined_fields_are_filled_only_where_missing():
    frame = pd.DataFrame(
        {"company": ["Beta", "ACME-01", "acme 01", None], "company_size": [None, "999", None, None]}
    )
    filled = looked_up(frame, SIZE, COMPANIES)
    assert filled["company_size"][0] == "10"
    assert filled["company_size"][1] == "999"  # a fresher value the row carries is kept
    assert pd.isna(filled["company_size"][2]) and pd.isna(filled["company_size"][3])
    assert "note" not in filled and "size" not in filled
    assert filled.index.tolist() == frame.index.tolist()
    normalised = Lookup("companies", "company", "normalised", {"size": "company_size"})
    assert looked_up(frame, normalised, COMPANIES)["company_size"][2] == "200"
    new = looked_up(frame[["company"]], SIZE, COMPANIES)
    assert new["company_size"][0] == "10" and pd.isna(new["company_size"][3])
    assert looked_up(frame[["company_size"]], SIZE, COMPANIES).equals(frame[["company_size"]])
    assert looked_up(frame, SIZE, pd.DataFrame()) is frame


def test_a_frame_with_its_own_index_keeps_it():
    frame = pd.DataFrame({"company": ["Beta", "ACME-01"]}, index=[10, 20])
    filled = looked_up(frame, SIZE, COMPANIES)
    assert filled.loc[10, "company_size"] == "10" and filled.loc[20, "company_size"] == "200"


def test_normalise_applies_every_rule_in_order():
    inputs = InputNormalisation(
        id_column="Lead Number",
        missing_values=("Select",),
        lookups=(SIZE,),
        units={"budget": "money"},
    )
    frame = pd.DataFrame(
        {"Lead Number": ["7"], "company": ["Beta"], "source": ["Select "], "budget": ["$2K"]}
    )
    out = normalise(frame, inputs, {"companies": COMPANIES})
    assert out[fields.LEAD_ID][0] == "7"
    assert out["company_size"][0] == "10"
    assert pd.isna(out["source"][0])
    assert out["budget"][0] == 2000.0
    # a table the bundle lacks joins nothing
    assert "company_size" not in normalise(frame, inputs, {})


def test_records_take_the_value_path_when_no_table_is_needed():
    records = [{fields.LEAD_ID: "L1", "source": "Google"}]
    assert normalise_records(records, InputNormalisation(), {}) == records
    tokens = InputNormalisation(missing_values=("Select",))
    assert normalise_records([{fields.LEAD_ID: "L1", "source": " Select"}], tokens, {}) == [
        {fields.LEAD_ID: "L1", "source": None}
    ]
    by_column = InputNormalisation(id_column="Lead Number")
    assert normalise_records([{"Lead Number": "7", "x": 1}], by_column, {}) == [
        {"Lead Number": "7", "x": 1, fields.LEAD_ID: "7"}
    ]
    assert normalise_records([{fields.LEAD_ID: "L1"}], by_column, {}) == [{fields.LEAD_ID: "L1"}]


def test_records_needing_a_table_go_through_normalise():
    joined = InputNormalisation(lookups=(SIZE,))
    records = [{fields.LEAD_ID: "L1", "company": "Beta"}, {fields.LEAD_ID: "L2", "company": "x"}]
    out = normalise_records(records, joined, {"companies": COMPANIES})
    assert out == [
        {fields.LEAD_ID: "L1", "company": "Beta", "company_size": "10"},
        {fields.LEAD_ID: "L2", "company": "x", "company_size": None},
    ]
    units = InputNormalisation(units={"budget": "money"})
    assert normalise_records([{"budget": "$1K"}], units, {}) == [{"budget": 1000.0}]
    assert normalise_records([{"budget": 5}], units, {}) == [{"budget": 5}]  # a number as is
    made = InputNormalisation(id_column="absent", made_id_columns=("source",))
    (lead,) = normalise_records([{"source": "a"}], made, {})
    assert lead[fields.LEAD_ID] == made_ids(pd.DataFrame({"source": ["a"]}))[0]


def test_the_sealed_tables_hold_the_key_and_the_used_columns_as_text():
    inputs = InputNormalisation(lookups=(SIZE,))
    tables = {"companies": COMPANIES.assign(size=[200, float("nan"), 5])}
    record = tables_record(inputs, tables)
    assert record == {"companies": {"company": ["ACME-01", "Beta"], "size": ["200.0", None]}}
    back = tables_from_record(record)
    assert back["companies"].to_dict("list") == record["companies"]
    assert back["companies"]["size"].dtype == object
    assert inputs_record(inputs, tables) == {"normalisation": inputs.to_dict(), "tables": record}


def test_only_the_joined_fields_the_model_reads_are_sealed():
    two = Lookup("companies", "company", "exact", {"size": "company_size", "note": "company_note"})
    inputs = InputNormalisation(lookups=(two,))
    record = inputs_record(inputs, {"companies": COMPANIES})
    card_inputs, lookups = sealed_inputs(record, ["company_size"])
    assert card_inputs["lookups"][0]["columns"] == {"size": "company_size"}
    assert lookups == {"companies": {"company": ["ACME-01", "Beta"], "size": ["200", "10"]}}
    nothing, no_tables = sealed_inputs({"normalisation": None}, [])
    assert nothing == InputNormalisation().to_dict() and no_tables == {}
