"""The API's value-by-value input normalisation (`normalise_records`) gives what the table path
of training and batch scoring (`normalise`) gives, on generated messy leads (hypothesis)."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.core import fields
from leadscore.data.inputs import InputNormalisation, normalise, normalise_records

TOKENS = ("Select", "N/A", "-", "unknown", "Not provided")
CATEGORIES = ("Email", "Google", "Olark Chat", "Référence", "")
CATEGORICAL = ("channel", "Lead Source")
NUMERIC = ("visits", "Total Time Spent")
BOOLEAN = ("demo_requested",)

spaces = st.sampled_from(["", " ", "  ", "\t", " \n"])
texts = st.one_of(
    st.builds(lambda a, t, b: a + t + b, spaces, st.sampled_from(TOKENS + CATEGORIES), spaces),
    st.text(max_size=8),
    st.none(),
)


@st.composite
def leads(draw) -> tuple[InputNormalisation, list[dict]]:
    id_column = draw(st.sampled_from([fields.LEAD_ID, "Lead Number"]))
    tokens = tuple(draw(st.lists(st.sampled_from(TOKENS), unique=True, max_size=4)))
    inputs = InputNormalisation(id_column=id_column, missing_values=tokens)
    records = []
    for i in range(draw(st.integers(1, 6))):
        record: dict = {id_column: draw(st.one_of(st.just(f"L-{i}"), texts.filter(bool)))}
        for name in CATEGORICAL:
            if draw(st.booleans()):
                record[name] = draw(texts)
        for name in NUMERIC:
            if draw(st.booleans()):
                number = st.floats(allow_nan=False, allow_infinity=False, width=32)
                record[name] = draw(st.one_of(st.none(), number))
        for name in BOOLEAN:
            if draw(st.booleans()):
                record[name] = draw(st.one_of(st.none(), st.booleans()))
        records.append(record)
    return inputs, records


def same(a: object, b: object) -> bool:
    missing = (a is None or (isinstance(a, float) and math.isnan(a)), b is None)
    if any(missing):
        return all(missing)
    return a == b and type(a) is type(b)


@settings(max_examples=150, deadline=None)
@given(leads())
def test_records_are_normalised_as_the_table_path_normalises_them(case):
    inputs, records = case
    by_records = normalise_records(records, inputs, {})
    frame = normalise(pd.DataFrame.from_records(records), inputs, {})
    by_frame = frame.astype(object).where(frame.notna(), None).to_dict("records")
    assert len(by_records) == len(by_frame)
    for got, expected in zip(by_records, by_frame, strict=True):
        for name in {*expected, *got}:
            assert same(expected.get(name), got.get(name)), (name, got, expected)


def test_a_missing_value_token_in_spaces_is_missing():
    """The token rule strips surrounding spaces before it compares (mutation M5 of issue 29)."""
    inputs = InputNormalisation(missing_values=("Select",))
    (lead,) = normalise_records([{"lead_id": "L-1", "channel": "  Select "}], inputs, {})
    assert lead["channel"] is None
