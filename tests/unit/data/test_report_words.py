"""Words: the test period of an undated export, one "no usable signal", exclusions by whom."""

from __future__ import annotations

import pandas as pd

from leadscore.analysis.evaluate import signal_verdict
from leadscore.analysis.scorecard import exclusion_rows, scorecard_rows
from leadscore.core.config import parse_params
from leadscore.views.contract import contract_report
from leadscore.views.contract_markdown import render_markdown


def undated_report(default_params_raw, signal: dict) -> str:
    contract = parse_params(default_params_raw).contract
    scored = pd.DataFrame(
        {
            "grade": ["A", "B", "C", "D"] * 10,
            "converted": [1, 0, 0, 0] * 10,
            "demo_requested": [True, False] * 20,
            "pricing_page_visits": [0] * 40,
            "seniority": ["vp"] * 40,
            "company_size": ["1-10"] * 40,
        }
    )
    grading = {"thresholds": {"A": 0.6, "B": 0.3, "C": 0.1}, "derivation": {"grades": {}}}
    metrics = {"leads": 40, "base_rate": 0.25, "roc_auc_ci_low": 0.4, "signal": signal}
    return render_markdown(contract_report(scored, contract, grading, metrics, months=2.4))


def test_an_undated_test_set_is_not_a_period_from_none_to_none(default_params_raw):
    signal = signal_verdict({"roc_auc": 0.52, "roc_auc_ci_low": 0.41}, 0.55)
    text = undated_report(default_params_raw, signal)
    assert "None" not in text
    assert "Test set (no creation dates; about 2.4 months of leads): 40 leads" in text
    assert text.lower().count("no usable signal") == 1
    assert "**The data carry no usable signal.** The test AUC is 0.520" in text


def test_configured_exclusions_are_not_credited_to_the_leakage_guard():
    fields = {
        "excluded_by_configuration": ["sales_status"],
        "flagged": {
            "sales_status": {"excluded": True, "flags": ["excluded by configuration"]},
            "notes": {"excluded": True, "flags": ["excluded by configuration", "constant"]},
            "Tags": {"excluded": True, "flags": ["post-contact: a status-like field name"]},
            "Country": {"excluded": False, "flags": ["x"], "allowed_by_contract": True},
        },
    }
    assert exclusion_rows(fields) == [
        ("fields excluded", "2", "by configuration: sales_status, notes"),
        ("fields excluded", "1", "by the leakage review: Tags"),
    ]


def test_the_scorecard_names_the_split_and_counts_open_leads():
    metrics = {"roc_auc": 0.7, "baseline_roc_auc": 0.6, "ece": 0.01, "top_lift": 2.0,
               "top_conversion_share": 0.2, "base_rate": 0.3, "leads": 100}  # fmt: skip
    validation = {"rows_quarantined": 0, "rows_in": 500,
                  "export": {"id": {"made": True}, "joins": []}}  # fmt: skip
    split = {"split": "row order", "rows_censored": 0, "rows_open": 42,
             "strategy": "row order (no creation dates; rows declared in time order)"}  # fmt: skip
    rows = {row[0]: row[1:] for row in scorecard_rows(metrics, split, validation)}
    assert rows["split"][0] == "row order" and "last rows" in rows["split"][1]
    assert rows["open leads"][0] == "42" and "never negatives" in rows["open leads"][1]
    assert rows["lead id"][0] == "made"
