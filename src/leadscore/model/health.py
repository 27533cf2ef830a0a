"""Model-health warnings: the rules the scorecard, contract report and monthly feedback share.

Each rule takes figures (never files) and returns warnings as plain dicts: which check, which
month or period, the figures, and one sentence that names them. Thresholds come from params
`warnings` (`WarningParams`). The rules:

- `baseline_beats_model`: the logistic-regression baseline ranks better than the served model
  by more than the model's 95 % AUC interval (its AUC is above the interval's upper end);
- `calibration_drift`: a month's mean predicted probability lies outside the actual
  conversion's 95 % interval widened by `calibration_band` (relative) on both sides;
- `ece_limit`: the expected calibration error on the test period exceeds `max_test_ece`;
- `grades_out_of_order`: a lower grade converts above the upper end of a higher grade's interval;
- `far_above_promise`: a grade's conversion interval lies wholly above `above_promise` times its
  promise, while its threshold was set by that promise (not by capacity): the bar is stale;
- `below_promise`: a grade's conversion interval lies wholly below its promise (a point below
  it but an interval reaching it is the noise of a small group, noted by the views, not flagged);
- `threshold_at_bound`: a grade threshold of 0 or 1 (a degenerate calibration step).

Groups with fewer than `min_leads` leads are not judged.
"""

from __future__ import annotations

from leadscore.core.config import WarningParams
from leadscore.core.contract import GradePromises
from leadscore.core.stats import conversion_figures, wilson_interval
from leadscore.model.grading import GRADES


def warning(check: str, where: str, message: str, **figures) -> dict:
    return {"check": check, "month": where, "message": f"{where}: {message}", **figures}


def baseline_beats_model(
    where: str, model_auc: float | None, model_ci_high: float, baseline_auc: float | None
) -> list[dict]:
    """The LR baseline above the upper end of the served model's AUC interval."""
    if baseline_auc is None or model_auc is None or not baseline_auc > model_ci_high:
        return []
    return [
        warning(
            "baseline_beats_model",
            where,
            f"the logistic-regression baseline ranks better than the served model (AUC "
            f"{baseline_auc:.4f} against {model_auc:.4f}, above its 95 % interval up to "
            f"{model_ci_high:.4f}); re-check the model choice",
            model_auc=model_auc,
            model_ci_high=model_ci_high,
            baseline_auc=baseline_auc,
        )
    ]


def calibration_drift(
    where: str, leads: int, conversions: int, predicted: float, settings: WarningParams
) -> list[dict]:
    """Mean predicted probability outside the actual conversion's widened interval."""
    if leads < settings.min_leads:
        return []
    low, high = wilson_interval(conversions, leads)
    band = settings.calibration_band
    band_low, band_high = low * (1 - band), high * (1 + band)
    if band_low <= predicted <= band_high:
        return []
    actual = conversions / leads
    direction = "too low" if predicted < band_low else "too high"
    return [
        warning(
            "calibration_drift",
            where,
            f"mean predicted probability {predicted:.1%} against {actual:.1%} converted "
            f"(95 % interval {low:.1%}-{high:.1%}, band {band_low:.1%}-{band_high:.1%}): the "
            f"model is {direction}"
            + (f" ({predicted / actual:.2f}x)" if actual else " (no lead converted)")
            + "; recalibrate or retrain",
            leads=leads,
            predicted=predicted,
            actual=actual,
        )
    ]


def ece_limit(where: str, ece: float, settings: WarningParams) -> list[dict]:
    if ece is None or ece <= settings.max_test_ece:
        return []
    return [
        warning(
            "ece_limit",
            where,
            f"expected calibration error {ece:.3f} exceeds the limit {settings.max_test_ece} "
            "(warnings.max_test_ece): the probabilities are not to be taken at face value",
            ece=ece,
            limit=settings.max_test_ece,
        )
    ]


def grade_rates(counts: dict[str, tuple[int, int]]) -> dict[str, dict]:
    """Per grade: leads, conversions, conversion and its Wilson interval."""
    return {
        grade: conversion_figures(conversions, leads)
        for grade, (leads, conversions) in counts.items()
    }


def grades_out_of_order(
    where: str, counts: dict[str, tuple[int, int]], settings: WarningParams
) -> list[dict]:
    """A lower grade converting above the interval of a higher grade."""
    rates = grade_rates(counts)
    judged = [g for g in GRADES if g in rates and rates[g]["leads"] >= settings.min_leads]
    out = []
    for i, higher in enumerate(judged):
        for lower in judged[i + 1 :]:
            if rates[lower]["conversion"] > rates[higher]["conversion_ci_high"]:
                out.append(
                    warning(
                        "grades_out_of_order",
                        where,
                        f"grade {lower} converted {rates[lower]['conversion']:.1%} "
                        f"({rates[lower]['leads']} leads), above grade {higher}'s "
                        f"{rates[higher]['conversion']:.1%} ({rates[higher]['leads']} leads, "
                        f"interval up to {rates[higher]['conversion_ci_high']:.1%}): the grades "
                        "no longer rank the leads",
                        higher=higher,
                        lower=lower,
                        higher_conversion=rates[higher]["conversion"],
                        lower_conversion=rates[lower]["conversion"],
                    )
                )
    return out


def promise_checks(
    where: str,
    counts: dict[str, tuple[int, int]],
    promises: GradePromises,
    settings: WarningParams,
    bindings: dict[str, str] | None = None,
) -> list[dict]:
    """Every promised grade against its promise: below it, or far above it (a stale bar).

    A grade whose threshold was set by sales capacity (`bindings[grade] == "capacity"`)
    converts above its promise by design and is not called stale.
    """
    rates = grade_rates(counts)
    bindings = bindings or {}
    out = []
    for grade in GRADES[:-1]:
        rate, promise = rates.get(grade), getattr(promises, grade).min_conversion
        if rate is None or rate["leads"] < settings.min_leads:
            continue
        figures = {"grade": grade, "conversion": rate["conversion"], "promise": promise}
        low, high = rate["conversion_ci_low"], rate["conversion_ci_high"]
        if high < promise:
            out.append(
                warning(
                    "below_promise",
                    where,
                    f"grade {grade} converted {rate['conversion']:.1%} of {rate['leads']} "
                    f"(95 % interval {low:.1%}-{high:.1%}), below its promise of {promise:.0%}",
                    **figures,
                )
            )
        elif low > promise * settings.above_promise and bindings.get(grade) != "capacity":
            out.append(
                warning(
                    "far_above_promise",
                    where,
                    f"grade {grade} converted {rate['conversion']:.1%} of {rate['leads']} "
                    f"(95 % interval from {low:.1%}), more than "
                    f"{settings.above_promise:g}x its promise of {promise:.0%}: its threshold "
                    "is stale (conversion has moved); re-derive the grades",
                    **figures,
                )
            )
    return out


def threshold_at_bound(where: str, thresholds: dict[str, float]) -> list[dict]:
    """Grade thresholds of 0 or 1: every lead, or none, clears them."""
    return [
        warning(
            "threshold_at_bound",
            where,
            f"the grade {grade} threshold is {value:.4f}: "
            + (
                "every lead clears it"
                if value <= 0
                else "only a probability of exactly 1 reaches it"
                if value == 1
                else f"no lead can reach it, grade {grade} stays empty"
            ),
            grade=grade,
            threshold=value,
        )
        for grade, value in thresholds.items()
        if value <= 0 or value >= 1
    ]
