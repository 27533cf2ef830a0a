"""The headline figures: the one DVC metric, a few short numbers from the stage reports."""

from __future__ import annotations

from pathlib import Path

import yaml

from leadscore.analysis.headline import headline

ROOT = Path(__file__).resolve().parents[3]

METRICS = {"roc_auc": 0.88551, "roc_auc_gate_low": 0.87663, "test_auc_spread_sd": 0.00351,
           "ece": 0.00721, "top_lift": 5.4012, "base_rate": 0.10693}  # fmt: skip
CONTRACT = {
    "grades": {
        "A": {"conversion": 0.68569, "leads_per_month": 658.21,
              "verdicts": {"conversion": "kept", "capacity": "not kept"}},
        "C": {"conversion": 0.09, "leads_per_month": 506.5,
              "verdicts": {"conversion": "kept where sales worked"}},
        "D": {"conversion": 0.02, "leads_per_month": 7000.0, "verdicts": {}},
    },
    "publish_gate": {"publishable": False, "checks": {}},
}  # fmt: skip
FOLLOW_UP = {"promises": {"A": [{"verdict": "not kept"}, {"verdict": "kept"}],
                          "B": [{"verdict": "not kept"}]}}  # fmt: skip


def test_the_headline_is_a_few_rounded_numbers():
    figures = headline(METRICS, CONTRACT, FOLLOW_UP)
    assert figures == {
        "auc": 0.8855, "auc_lo": 0.8766, "auc_sd": 0.0035, "ece": 0.0072, "lift": 5.4,
        "base": 0.107, "a_conv": 0.6857, "a_vol": 658, "m_miss": 1, "s_miss": 2, "pub": 0,
    }  # fmt: skip
    assert all(isinstance(v, int | float) for v in figures.values())


def test_the_headline_is_the_only_dvc_metric_and_every_other_json_an_uncached_out():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    metrics = [next(iter(m)) for s in stages.values() for m in s.get("metrics", [])]
    assert metrics == ["reports/headline.json"]
    reports = [
        (path, options)
        for stage in stages.values()
        for out in stage.get("outs", [])
        if isinstance(out, dict)
        for path, options in out.items()
        if path.startswith("reports/") and path.endswith(".json")
    ]
    assert len(reports) >= 10 and all(o == {"cache": False} for _, o in reports), reports
