"""Grade stage: turn the contract's grade promises into probability thresholds, seal the bundle.

Thresholds are derived on the validation period (newer leads than training, calibrated
probabilities), so a change of the promises re-runs this stage and what follows, not the fit.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.core.contract import Contract, GradePromise, GradePromises
from leadscore.core.records import GradingRecord
from leadscore.model.grading import GRADES, Grading, raw_score_edges, score_edges

log = logging.getLogger(__name__)


NO_LEAD = math.nextafter(1.0, 2.0)  # a threshold no calibrated probability reaches


def busiest_month_volume(created_at: pd.Series, months: int) -> int:
    """Leads created in the busiest of the last `months` complete calendar months.

    Sales capacity is a monthly limit on leads still to come, so grade A is sized for the
    busiest recent month of incoming leads, not for the (older) validation period.
    """
    created = pd.to_datetime(created_at)
    counts = created.dt.to_period("M").value_counts().sort_index()
    newest = created.max()
    if newest.day < newest.days_in_month and len(counts) > 1:  # the newest month is partial
        counts = counts.iloc[:-1]
    return int(counts.tail(months).max())


@dataclass(frozen=True)
class Band:
    """The leads between a lower threshold and the grade above, as chosen for one grade."""

    threshold: float
    leads: int
    expected_conversion: float | None
    binding: str  # "conversion" | "capacity" | "floor" | "unkeepable"
    reach: int | None = None  # distinct leads in the band, when rows are snapshots of leads

    @property
    def distinct_leads(self) -> int:
        """The band's leads as sales receives them: a lead once, whatever its snapshots."""
        return self.leads if self.reach is None else self.reach


def choose_band(
    values: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray,
    target: float,
    max_leads: float | None = None,
    floor: float = 0.0,
    reach: np.ndarray | None = None,
) -> Band:
    """The lowest threshold whose band is expected to convert at `target` or better.

    `values` are the distinct probabilities below the grade above, descending; `counts` and
    `sums` the cumulative leads and summed probabilities of the band down to each value. The
    band's expected conversion only falls as it grows, so each limit holds on a prefix: the
    conversion target, the capacity `max_leads`, and the `floor` no lead of the band may be
    below (the next grade's promise, so a lower grade is not starved). `reach`: the cumulative
    distinct leads down to each value when rows are snapshots of leads; capacity counts those.
    """
    mean = sums / np.maximum(counts, 1)
    limits = {
        "conversion": int(np.argmin(mean >= target)) if (mean < target).any() else len(values),
        "capacity": len(values)
        if max_leads is None
        else int(np.searchsorted(counts if reach is None else reach, max_leads, side="right")),
        "floor": int(np.searchsorted(-values, -floor, side="right")),
    }
    if limits["conversion"] == 0:
        return Band(NO_LEAD, 0, None, "unkeepable")
    binding = min(limits, key=lambda name: (limits[name], name != "conversion"))
    n = limits[binding]
    if n == 0:
        return Band(NO_LEAD, 0, None, binding)
    distinct = None if reach is None else int(reach[n - 1])
    return Band(float(values[n - 1]), int(counts[n - 1]), float(mean[n - 1]), binding, distinct)


def distinct_reach(
    probability: np.ndarray, lead_codes: np.ndarray, upper: float, values: np.ndarray
) -> np.ndarray:
    """Per candidate threshold (`values`, descending): the distinct leads (`lead_codes`,
    0..n-1 per row) with at least one row in [value, upper)."""
    below = np.where(probability < upper, probability, -np.inf)
    best = np.full(int(lead_codes.max()) + 1, -np.inf)
    np.maximum.at(best, lead_codes, below)
    best.sort()
    return len(best) - np.searchsorted(best, values, side="left")


def band_note(grade: str, band: Band, promise: GradePromise, per_month: float) -> str:
    """The plain-words reason for a grade's threshold."""
    if band.binding == "unkeepable":
        return (
            f"No group of leads is expected to convert at {promise.min_conversion:.0%}: "
            f"grade {grade} stays empty until the promise or the model changes."
        )
    if band.leads == 0:
        return f"Grade {grade} stays empty: its {band.binding} limit leaves no lead for it."
    reason = {
        "conversion": f"the lowest bar that keeps the {promise.min_conversion:.0%} promise "
        "with the safety margin",
        "capacity": f"sales capacity wins: at most {promise.max_leads_per_month} {grade} leads "
        f"a month, so the bar is higher than the {promise.min_conversion:.0%} promise needs",
        "floor": "the bar stops at the next grade's promise, so no lead is graded above "
        "what its own chance supports",
    }[band.binding]
    return (
        f"{reason[0].upper()}{reason[1:]} (expected conversion {band.expected_conversion:.1%}, "
        f"{per_month:.0f} leads a month)."
    )


def band_record(band: Band, threshold: float, leads: int, to_monthly: float) -> dict:
    """How a grade's threshold was chosen: its binding rule, share and monthly volume."""
    return {
        "threshold": threshold,
        "binding": band.binding,
        "share_of_leads": band.leads / leads,
        "leads_per_month": round(band.distinct_leads * to_monthly, 1),
        "expected_conversion": band.expected_conversion,
    }


def band_below(
    probability: np.ndarray,
    upper: float,
    promise: GradePromise,
    safety_margin: float,
    floor: float,
    to_monthly: float,
    lead_codes: np.ndarray | None,
) -> Band:
    """One grade's band among the leads below `upper` (the grade above's threshold)."""
    values, counts = np.unique(probability[probability < upper], return_counts=True)
    values, counts = values[::-1], counts[::-1]
    capacity = promise.max_leads_per_month
    return choose_band(
        values,
        np.cumsum(counts),
        np.cumsum(values * counts),
        promise.min_conversion + safety_margin,
        None if capacity is None else capacity / to_monthly,
        floor,
        None if lead_codes is None else distinct_reach(probability, lead_codes, upper, values),
    )


def derive_grading(
    probability: np.ndarray,
    monthly_volume: float,
    promises: GradePromises,
    converted: np.ndarray | None = None,
    safety_margin: float = 0.0,
    raw: np.ndarray | None = None,
    lead_keys: np.ndarray | None = None,
) -> tuple[Grading, dict]:
    """Grade thresholds and score cut points from calibrated validation probabilities.

    A, then B, then C: each grade takes the lowest threshold (below the grade above) at which
    its band's expected conversion keeps the promise plus `safety_margin`, without going below
    the next grade's promise. A's share of the leads is capped so that `monthly_volume`
    incoming leads a month give at most the sales capacity in A leads; capacity wins over a
    lower bar. Returns the grading and, per grade, how the threshold was chosen (with the
    observed validation conversion when `converted` is given). With `raw` (the booster's raw
    output on the same leads) the score is cut from the raw output. With `lead_keys` (each
    row's lead, when rows are snapshots of leads) capacity and volumes count distinct leads:
    a lead graded A at two snapshots is one A lead for sales.
    """
    probability = np.asarray(probability, dtype=float)
    converted = None if converted is None else np.asarray(converted)
    codes = None if lead_keys is None else pd.factorize(np.asarray(lead_keys))[0]
    distinct = len(probability) if codes is None else int(codes.max()) + 1
    to_monthly = monthly_volume / distinct  # valid leads -> leads a month
    graded = GRADES[:-1]
    thresholds: dict[str, float] = {}
    record: dict[str, dict] = {}
    upper = np.inf
    for position, grade in enumerate(graded):
        promise: GradePromise = getattr(promises, grade)
        floor = (
            getattr(promises, graded[position + 1]).min_conversion
            if position + 1 < len(graded)
            else 0.0
        )
        band = band_below(probability, upper, promise, safety_margin, floor, to_monthly, codes)
        threshold = band.threshold if band.leads else min(NO_LEAD, upper)  # empty band
        in_band = (probability >= threshold) & (probability < upper)
        thresholds[grade] = threshold
        observed = converted[in_band] if converted is not None and in_band.any() else None
        record[grade] = band_record(band, threshold, len(probability), to_monthly)
        record[grade]["observed_conversion"] = None if observed is None else float(observed.mean())
        record[grade]["note"] = band_note(grade, band, promise, band.distinct_leads * to_monthly)
        upper = min(upper, threshold)
    derivation = {
        "method": "contract_promises",
        "monthly_volume": monthly_volume,
        "safety_margin": safety_margin,
        "grades": record,
    }
    rank_edges = () if raw is None else raw_score_edges(raw)
    return Grading(thresholds, score_edges(probability), rank_edges), derivation


def grading_record(
    grading: Grading,
    derivation: dict,
    contract: Contract,
    model_version: str,
    agreement: dict | None = None,
) -> dict:
    """What `grading.json` holds: thresholds, score edges, how they were derived, the contract
    and its agreement (the owners' approvals and public keys, re-checked wherever it is read:
    leadscore.core.agreement.sealed_agreement)."""
    record = {
        **grading.to_dict(),
        "model_version": model_version,
        "derivation": derivation,
        "contract": contract.model_dump(mode="json"),
        "agreement": agreement or {},
    }
    return GradingRecord.from_record(record, "grading.json").to_record()  # checked as written
