"""The headline figures: the one small, numbers-only file DVC shows as the run's metrics.

`dvc metrics show`, `dvc metrics diff` and `dvc exp show` read only this file, so its keys are
few and short and its values rounded: a data scientist compares runs at a glance in a
120-column terminal. Everything else (curves, verdicts, sentences) stays in the stage reports.
"""

from __future__ import annotations

# Marketing promises lead quality and volume per grade (contract.json); sales promises
# follow-up (follow_up.json). A verdict counts as kept when it starts with "kept" ("kept where
# sales worked": the grade's leads that sales worked converted as promised).
KEPT = "kept"


def _missed(verdicts: list[str]) -> int:
    return sum(1 for v in verdicts if not v.startswith(KEPT))


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def headline(metrics: dict, contract: dict, follow_up: dict) -> dict[str, float | int | None]:
    """Eleven numbers from the evaluate, contract and follow_up reports.

    auc: test AUC; auc_lo: the publish gate's lower bound (worst interval over the spread);
    auc_sd: the spread's standard deviation; ece: calibration error; lift: top-decile lift;
    base: test base rate; a_conv / a_vol: A-grade conversion and leads per month;
    m_miss / s_miss: promises missed by marketing (the grades' conversion and capacity) and by
    sales (follow-up); pub: 1 when the publish gate passed. Short keys and rounded values keep
    `dvc metrics show` within 120 columns (the scorecard and contract.md say which promise).
    """
    grades = contract.get("grades", {})
    a_grade = grades.get("A", {})
    marketing = [v for g in grades.values() for v in g.get("verdicts", {}).values()]
    sales = [item["verdict"] for items in follow_up.get("promises", {}).values() for item in items]
    gate = contract.get("publish_gate", {})
    a_month = a_grade.get("leads_per_month")
    return {
        "auc": _round(metrics.get("roc_auc"), 4),
        "auc_lo": _round(metrics.get("roc_auc_gate_low", metrics.get("roc_auc_ci_low")), 4),
        "auc_sd": _round(metrics.get("test_auc_spread_sd"), 4),
        "ece": _round(metrics.get("ece"), 4),
        "lift": _round(metrics.get("top_lift"), 1),
        "base": _round(metrics.get("base_rate"), 3),
        "a_conv": _round(a_grade.get("conversion"), 4),
        "a_vol": None if a_month is None else round(a_month),
        "m_miss": _missed(marketing),
        "s_miss": _missed(sales),
        "pub": int(bool(gate.get("publishable"))),
    }
