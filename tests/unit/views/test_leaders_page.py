"""The leaders' first screen of report.html: both sides' promises counted the same way, every
verdict word in its own colour, money with its currency, an empty grade judged as no leads."""

from __future__ import annotations

from leadscore.core.contract_report import KEPT, KEPT_WHERE_WORKED, NO_LEADS, NOT_KEPT
from leadscore.views.contract import grade_verdicts
from leadscore.views.format import cash
from leadscore.views.report import (
    credit_summary,
    follow_up_promises,
    headline,
    month_below,
    next_actions,
    status_class,
)


def grade_row(conversion, verdicts, leads=100, promise=0.4, worked=None):
    return {
        "conversion": conversion,
        "leads": leads,
        "leads_per_month": leads / 2,
        "share_of_conversions": 0.4,
        "promise": {"min_conversion": promise, "max_leads_per_month": None},
        "verdicts": verdicts,
        "worked": worked,
    }


CONTRACT = {
    "grades": {
        "A": grade_row(0.6, {"conversion": KEPT}),
        "B": grade_row(0.3, {"conversion": KEPT}, promise=0.25),
        "C": grade_row(
            0.09,
            {"conversion": KEPT_WHERE_WORKED},
            promise=0.1,
            worked={"leads": 90, "conversion": 0.11},
        ),
    },
    "publish_gate": {"publishable": True},
}


def follow_up_item(grade, hours, share, required, verdict):
    return {
        "label": f"{grade} leads first contacted within {hours} business hours",
        "share": share,
        "promise": {"within_business_hours": hours, "min_share": required},
        "verdict": verdict,
    }


FOLLOW_UP = {
    "promises": {
        "A": [
            follow_up_item("A", 24, 0.724, 0.95, NOT_KEPT),
            follow_up_item("A", 45, 0.828, 0.90, NOT_KEPT),
        ],
        "B": [follow_up_item("B", 45, 0.783, 0.80, NOT_KEPT)],
    },
    "a_cost": {
        "groups": {"never worked": {"leads": 115}},
        "deals_lost": 117.3,
        "revenue_lost": 6681471.2,
    },
}


def test_headline_counts_sales_promises_too():
    text = headline(CONTRACT, FOLLOW_UP)
    assert "Sales' follow-up: 0 of 3 promises kept" in text
    assert "A contacted within 24 business hours: 72.4% against 95%" in text
    assert "Marketing's grades: 3 of 3 promises kept" in text
    assert "kept only on the leads sales worked: C" in text
    assert "Every other promise" not in text


def test_headline_of_an_export_without_follow_up_names_the_grades_only():
    text = headline(CONTRACT, None)
    assert "Marketing's grades: 3 of 3" in text and "follow-up" not in text


def test_empty_grade_is_no_leads_not_broken_and_left_out_of_the_count():
    empty = {"leads": 0, "conversion": None, "leads_per_month": 0.0}
    assert grade_verdicts(empty, 0.4, None)["conversion"] == NO_LEADS
    contract = {
        **CONTRACT,
        "grades": {**CONTRACT["grades"], "A": grade_row(None, {"conversion": NO_LEADS}, leads=0)},
    }
    assert "Marketing's grades: 2 of 2 promises kept" in headline(contract)


def test_every_verdict_word_has_its_own_colour():
    classes = {word: status_class(word) for word in (KEPT, NOT_KEPT, KEPT_WHERE_WORKED, NO_LEADS)}
    assert classes == {
        KEPT: "kept",
        NOT_KEPT: "notkept",
        KEPT_WHERE_WORKED: "partial",
        NO_LEADS: "idle",
    }


def test_a_month_with_a_grade_below_promise_is_not_ok():
    month = {"grades": {"A": {"below_promise": False}, "B": {"below_promise": True}}}
    assert month_below(month) == ["B"]


def test_money_carries_its_currency_and_actions_name_owner_and_figure():
    assert cash(1656951.0, "EUR") == "EUR 1,656,951"
    assert cash(None, "EUR") == "-"
    credit = {
        "totals": {
            "a_leads": 1384,
            "a_worked": 1269,
            "a_won": 949,
            "a_won_revenue": 54048470.0,
            "cost": 1656951.0,
            "cost_per_won_a_deal": 1746.0,
            "won": 2406,
            "won_revenue": 112752060.0,
        },
        "channels": [
            {"channel": "organic", "cost_per_won_a_deal": 248.0},
            {"channel": "direct_mail", "cost_per_won_a_deal": 14900.0},
        ],
    }
    figures = dict(credit_summary(credit, "EUR"))
    assert figures["revenue of won A deals"] == "EUR 54,048,470"
    actions = next_actions(CONTRACT, FOLLOW_UP, credit, "EUR")
    assert any(
        a.startswith("Sales: 115 A leads were never worked") and "EUR 6,681,471" in a
        for a in actions
    )
    assert any("direct_mail" in a and "EUR 14,900" in a for a in actions)
    assert sum(a.startswith("Sales: A leads contacted within") for a in actions) == 2
    assert any(a.startswith("Sales: 10 leads graded C were never worked") for a in actions)
    assert len(follow_up_promises(FOLLOW_UP)) == 3
