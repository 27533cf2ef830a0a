"""Profile rules: each operator, all/any, missing values, unknown fields."""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.core.contract import LeadProfile
from leadscore.data.profiles import ProfileError, profile_mask

LEADS = pd.DataFrame(
    {
        "company_size": ["1-10", "5000+", "201-1000", None],
        "pricing_page_visits": [0, 3, 2, 1],
        "demo_requested": [False, True, False, True],
    }
)


def fits(match: str, *rules: dict) -> list[bool]:
    profile = LeadProfile.model_validate({"match": match, "rules": list(rules)})
    return profile_mask(LEADS, profile).tolist()


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "demo_requested", "op": "eq", "value": True}, [False, True, False, True]),
        ({"field": "pricing_page_visits", "op": "ge", "value": 2}, [False, True, True, False]),
        ({"field": "pricing_page_visits", "op": "lt", "value": 1}, [True, False, False, False]),
        (
            {"field": "company_size", "op": "in", "value": ["201-1000", "5000+"]},
            [False, True, True, False],
        ),
        ({"field": "company_size", "op": "not_in", "value": ["1-10"]}, [False, True, True, False]),
        ({"field": "company_size", "op": "ne", "value": "1-10"}, [False, True, True, False]),
        ({"field": "company_size", "op": "missing"}, [False, False, False, True]),
        ({"field": "company_size", "op": "present"}, [True, True, True, False]),
    ],
)
def test_each_operator(rule, expected):
    assert fits("all", rule) == expected


def test_all_and_any():
    demo = {"field": "demo_requested", "op": "eq", "value": True}
    pricing = {"field": "pricing_page_visits", "op": "ge", "value": 2}
    assert fits("all", demo, pricing) == [False, True, False, False]
    assert fits("any", demo, pricing) == [False, True, True, True]


def test_unknown_field_is_named():
    with pytest.raises(ProfileError, match="'budget'"):
        fits("all", {"field": "budget", "op": "gt", "value": 1})


def test_rule_value_must_fit_the_operator():
    with pytest.raises(ValueError, match="needs a list value"):
        LeadProfile.model_validate({"rules": [{"field": "x", "op": "in", "value": 3}]})
