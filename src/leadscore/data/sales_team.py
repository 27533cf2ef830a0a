"""The built-in CRM's sales team: who works each lead (or nobody), after how many business hours,
what that speed does to the odds, and the truth averaged over how sales may follow up."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from leadscore.core import fields
from leadscore.core.business_hours import add_business_hours

# Sales follow-up: who works a lead, how fast (business hours), and what speed does to the odds.
SALES_REPS = tuple(
    f"{first} {last}"
    for first, last in (
        ("Ava", "Moreno"), ("Ben", "Clarke"), ("Chloe", "Nakamura"), ("Dev", "Patel"),
        ("Elena", "Rossi"), ("Femi", "Adeyemi"), ("Grace", "Kim"), ("Hugo", "Lindqvist"),
        ("Isla", "Murphy"), ("Jonas", "Weber"), ("Kira", "Ivanova"), ("Luis", "Ortega"),
    )
)  # fmt: skip
REP_SPEED_SPREAD = 0.45  # sd of each rep's log response time
FOLLOW_UP_SHIFT = 0.1  # added to the logit: prompt follow-up is the reference
# (business hours up to which the first contact counts, effect on the log-odds)
FOLLOW_UP_EFFECT = ((4.0, 0.30), (24.0, 0.0), (45.0, -0.45), (np.inf, -0.95))
RESPONSE_HOURS = 10.0  # median business hours to first contact in a normal month
RESPONSE_SPREAD = 1.1  # sd of the log response time


@dataclass(frozen=True)
class FollowUp:
    """How sales worked each lead, and the truth averaged over how it might have."""

    worked: np.ndarray  # bool: sales reached the lead (before the export)
    hours: np.ndarray  # business hours to first contact (NaN: never worked)
    owner: np.ndarray  # the rep (None: never worked)
    effect: np.ndarray  # what the follow-up did to the log-odds (-inf: never worked)
    expected: np.ndarray  # chance of converting averaged over reps and response times


def _month_load(created: np.ndarray) -> np.ndarray:
    """Leads of the lead's creation month relative to the median month: a fixed sales team
    falls behind as lead volume grows."""
    month = pd.DatetimeIndex(created).to_period("M")
    counts = pd.Series(month).map(pd.Series(month).value_counts()).to_numpy(float)
    return counts / np.median(pd.Series(month).value_counts().to_numpy(float))


def lead_priority(frame: pd.DataFrame) -> np.ndarray:
    """What reps see and act on first: a demo request, pricing-page visits, a senior title."""
    senior = frame["seniority"].isin(["director", "vp", "c_level"]).to_numpy()
    return (
        1.0 * frame["demo_requested"].to_numpy(bool)
        + 0.5 * (frame["pricing_page_visits"].to_numpy(float) >= 2)
        + 0.3 * senior
    )


def _follow_up_plan(load: np.ndarray, priority: np.ndarray, rep_speed: float) -> tuple:
    """For one rep: chance the lead is never worked, and the log-normal response time."""
    never = expit(-2.7 + 3.0 * (load - 1) - 0.9 * priority + 0.8 * rep_speed)
    log_hours = np.log(RESPONSE_HOURS) + 1.2 * (load - 1) - 0.45 * priority + rep_speed
    return never, log_hours


def _expected_probability(logit: np.ndarray, plans: list[tuple]) -> np.ndarray:
    """The chance of converting averaged over the reps (equally likely) and response times."""
    total = np.zeros(len(logit))
    for never, log_hours in plans:
        previous = np.zeros(len(logit))
        for upper, effect in FOLLOW_UP_EFFECT:
            reached = ndtr((np.log(upper) - log_hours) / RESPONSE_SPREAD)
            total += (1 - never) * (reached - previous) * expit(logit + effect)
            previous = reached
    return total / len(plans)


def sales_follow_up(
    rng: np.random.Generator,
    frame: pd.DataFrame,
    export: pd.Timestamp,
    logit: np.ndarray,
    business_hours: tuple[int, int],
) -> FollowUp:
    """Who worked each lead, how many business hours after creation (`business_hours`: the
    contract's working day, start and end hour), and its effect."""
    n = len(frame)
    created = frame[fields.CREATED_AT].to_numpy()
    load, priority = _month_load(created), lead_priority(frame)
    rep_speed = rng.normal(0, REP_SPEED_SPREAD, len(SALES_REPS))
    plans = [_follow_up_plan(load, priority, speed) for speed in rep_speed]
    rep = rng.integers(0, len(SALES_REPS), n)
    never = np.choose(rep, [plan[0] for plan in plans])
    log_hours = np.choose(rep, [plan[1] for plan in plans])
    hours = np.round(np.exp(log_hours + RESPONSE_SPREAD * rng.normal(0, 1, n)), 2)
    contact = add_business_hours(pd.Series(created), hours, *business_hours).to_numpy()
    worked = (rng.random(n) >= never) & (contact <= export)
    edges = np.array([upper for upper, _ in FOLLOW_UP_EFFECT])
    effects = np.array([effect for _, effect in FOLLOW_UP_EFFECT])
    effect = np.where(worked, effects[np.searchsorted(edges, hours)], -np.inf)
    return FollowUp(
        worked=worked,
        hours=np.where(worked, hours, np.nan),
        owner=np.where(
            worked, np.array(SALES_REPS, dtype=object)[rep], np.array(None, dtype=object)
        ),
        effect=effect,
        expected=_expected_probability(logit, plans),
    )


def sales_touches(
    rng: np.random.Generator, follow_up: FollowUp, priority: np.ndarray, won: np.ndarray
) -> np.ndarray:
    """Sales touches logged: none for a lead never worked; deals that close take more."""
    touches = 1 + rng.poisson(0.8 + 0.4 * priority + 2.5 * won)
    return np.where(follow_up.worked, touches, 0).astype(float)
