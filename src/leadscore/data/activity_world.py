"""The built-in CRM's activity log (`generate.events: true`): events whose pace is the lead's
interest, and a conversion that follows the same interest, so behaviour before the moment of
scoring tells how likely a lead is to convert, and the truth of each snapshot is exact.

Each lead has two hidden interest rates (events a day), drawn from Gamma laws whose scale grows
with the lead's fit (the static true logit of leadscore.data.generate): `web` (pages, email
opens and clicks) and `intent` (downloads, pricing page, webinars, demo requests). Events come
before creation at a low pace (`PRE_DAYS` days of anonymous visits) and after it at a pace that
fades as exp(-t / `FADE_DAYS`), until the export; the type within each group is drawn from fixed
shares. The lead converts at the first event of a process with rate (c_web * web + c_intent *
intent) * exp(-t / `FADE_DAYS`). A won customer is onboarded: web pages and emails at
`ONBOARDING_RATE` a day for `ONBOARDING_DAYS` after the win, the footprint of the outcome that a
pipeline counting events after the moment of scoring would learn from.

Because the events before the win and the win depend on the rates only, the chance that a
lead not yet won at `s` days after creation is won within the next W days, given the events
before `s`, is exact (Gamma-Poisson): with n_j events of group j before s, exposure
X_j(s) = PRE_RATE * PRE_DAYS + L(s) and L(s) = FADE_DAYS (1 - exp(-s / FADE_DAYS)),

    P = 1 - prod_j (R_j / (R_j + c_j (L(s + W) - L(s)))) ** (k_j + n_j),
    R_j = 1 / scale_j + X_j(s) + c_j L(s).

That is the oracle of each snapshot. The events after a snapshot are in the log too (up to the
export): they must never be counted for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.data.behaviour import EVENT_AT, EVENT_LEAD, EVENT_TYPE, EVENT_VALUE

FADE_DAYS = 40.0  # interest fades with this time constant after creation
PRE_DAYS = 30.0  # anonymous activity recorded before the lead came in ...
PRE_RATE = 0.5  # ... at this share of the lead's pace
GROUPS = {  # shape k, base scale, conversion weight c, how strongly fit scales the pace
    "web": (1.5, 0.12, 0.008, 0.3),
    "intent": (0.6, 0.05, 0.16, 0.5),
}
ONBOARDING_RATE = 0.4  # a won customer's events a day while it is onboarded ...
ONBOARDING_DAYS = 60.0  # ... for this long after the win (web pages and emails)
TYPE_SHARES = {
    "web": {"web_page": 0.6, "email_open": 0.3, "email_click": 0.1},
    "intent": {
        "content_download": 0.35,
        "pricing_page": 0.35,
        "webinar": 0.15,
        "demo_request": 0.15,
    },
}


@dataclass(frozen=True)
class ActivityWorld:
    """The hidden rates and scales of each lead, and what they produced."""

    shape: dict[str, float]
    scale: dict[str, np.ndarray]  # per lead
    weight: dict[str, float]
    events: pd.DataFrame  # lead_id, event_at, event_type, event_value, group
    won_at: np.ndarray  # datetime64 (NaT: not won before the export)


def faded(days: np.ndarray) -> np.ndarray:
    """L(t): the interest accumulated from creation to `days` after it."""
    return FADE_DAYS * (1 - np.exp(-np.maximum(days, 0.0) / FADE_DAYS))


def _after_creation(rng, rate, horizon) -> tuple[np.ndarray, np.ndarray]:
    """(lead index, days after creation) of the events of a faded Poisson process."""
    counts = rng.poisson(rate * faded(horizon))
    lead = np.repeat(np.arange(len(rate)), counts)
    reach = 1 - np.exp(-horizon[lead] / FADE_DAYS)
    days = -FADE_DAYS * np.log1p(-rng.random(len(lead)) * reach)
    return lead, days


def simulate(
    rng: np.random.Generator,
    lead_ids: np.ndarray,
    created: np.ndarray,
    fit: np.ndarray,
    export: pd.Timestamp,
) -> ActivityWorld:
    """Rates, events and the won date of each lead (`fit`: its static true logit)."""
    n = len(lead_ids)
    standard = (fit - fit.mean()) / max(fit.std(), 1e-9)
    horizon = ((export - pd.DatetimeIndex(created)) / pd.Timedelta(days=1)).to_numpy(float)
    shape, scale, weight, rate = {}, {}, {}, {}
    parts = []
    for group, (k, base, c, lift) in GROUPS.items():
        shape[group], weight[group] = k, c
        scale[group] = base * np.exp(lift * standard)
        rate[group] = rng.gamma(k, scale[group])
        before = rng.poisson(rate[group] * PRE_RATE * PRE_DAYS)
        lead_pre = np.repeat(np.arange(n), before)
        days_pre = -PRE_DAYS * rng.random(len(lead_pre))
        lead_post, days_post = _after_creation(rng, rate[group], horizon)
        lead = np.concatenate([lead_pre, lead_post])
        days = np.concatenate([days_pre, days_post])
        names = list(TYPE_SHARES[group])
        shares = np.array(list(TYPE_SHARES[group].values()))
        kind = np.array(names, dtype=object)[rng.choice(len(names), len(lead), p=shares)]
        minutes = np.where(kind == "web_page", np.round(rng.gamma(2.0, 1.5, len(lead)), 1), np.nan)
        parts.append(pd.DataFrame({"lead": lead, "days": days, "kind": kind, "value": minutes}))
    total = sum(weight[g] * rate[g] for g in GROUPS)
    needed = rng.exponential(1.0, n) / np.maximum(total, 1e-12)  # accumulated interest to win
    wins = needed < FADE_DAYS
    share = np.where(wins, needed, 0.0) / FADE_DAYS
    days_to_win = -FADE_DAYS * np.log1p(-share)
    won = pd.DatetimeIndex(created) + pd.to_timedelta(days_to_win, unit="D")
    won = won.round("s").where(wins & (won <= export))
    parts.append(_onboarding(rng, np.where(won.isna(), np.nan, days_to_win), horizon))
    drawn = pd.concat(parts, ignore_index=True).sort_values(["lead", "days"], kind="stable")
    at = pd.DatetimeIndex(created[drawn["lead"].to_numpy()]) + pd.to_timedelta(
        drawn["days"].to_numpy(), unit="D"
    )
    events = pd.DataFrame(
        {
            EVENT_LEAD: lead_ids[drawn["lead"].to_numpy()],
            EVENT_AT: at.round("s"),
            EVENT_TYPE: drawn["kind"].to_numpy(),
            EVENT_VALUE: drawn["value"].to_numpy(),
        }
    )
    return ActivityWorld(shape, scale, weight, events, won.to_numpy())


def _onboarding(rng: np.random.Generator, won_days: np.ndarray, horizon: np.ndarray):
    """A won customer's activity after the win (`won_days` after creation; NaN: not won before
    the export), up to the export: never before the win."""
    span = np.where(np.isnan(won_days), 0.0, np.minimum(horizon - won_days, ONBOARDING_DAYS))
    counts = rng.poisson(ONBOARDING_RATE * np.maximum(span, 0.0))
    lead = np.repeat(np.arange(len(won_days)), counts)
    days = won_days[lead] + rng.random(len(lead)) * span[lead]
    names = list(TYPE_SHARES["web"])
    shares = np.array(list(TYPE_SHARES["web"].values()))
    kind = np.array(names, dtype=object)[rng.choice(len(names), len(lead), p=shares)]
    return pd.DataFrame({"lead": lead, "days": days, "kind": kind, "value": np.nan})


def group_of(event_types: pd.Series) -> pd.Series:
    """Which hidden rate an event type reveals."""
    lookup = {kind: group for group, shares in TYPE_SHARES.items() for kind in shares}
    return event_types.map(lookup)


def snapshot_truth(
    world: ActivityWorld,
    lead_index: np.ndarray,
    days: np.ndarray,
    counts: dict[str, np.ndarray],
    window_days: int,
) -> np.ndarray:
    """The exact chance of a win within the window after each snapshot (lead `lead_index`, `days`
    after creation, `counts[group]` events before it), given no win before it."""
    gain = faded(days + window_days) - faded(days)
    stay = np.ones(len(days))
    for group in GROUPS:
        k, c = world.shape[group], world.weight[group]
        exposure = PRE_RATE * PRE_DAYS + faded(days)
        rate = 1 / world.scale[group][lead_index] + exposure + c * faded(days)
        stay *= (rate / (rate + c * gain)) ** (k + counts[group])
    return 1 - stay
