"""Built-in CRM generator: realistic B2B leads with a known truth, for running without a CRM.

Every lead gets a true probability of converting within the outcome window from a logit model
with non-linear effects and interactions (engagement that fades with recency, a demo request
that matters more at larger companies, a pricing-page threshold, saturating counts, seniority x
company size). The truth goes to a separate table, never into the features, so evaluation can
report the oracle AUC: the ceiling no model can pass.

Sales' follow-up is part of the world (leadscore.data.sales_team): each lead is worked by one of
`SALES_REPS` reps (or by nobody), after a number of business hours that grows when the month is
busy and shrinks for leads that asked for a demo. How fast a lead is reached changes its chance
of converting (`FOLLOW_UP_EFFECT`); a lead nobody works never converts. The CRM records what a
real one would: the first-contact timestamp, the number of sales touches and the owner. These
are post-contact fields: the leakage review must keep them out of the model. The truth is the
chance of converting given what is known when the lead is scored: averaged over how sales may
follow up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from scipy.special import expit

from leadscore.core import fields, outcome
from leadscore.core.business_hours import add_business_hours
from leadscore.core.contract import ScoringMoment
from leadscore.core.data_params import BehaviourParams
from leadscore.data import activity_world, behaviour
from leadscore.data.activity_world import ActivityWorld
from leadscore.data.crm_world import (
    CAMPAIGN_TOPICS,
    CHANNEL_ENGAGEMENT,
    CHANNEL_MIX,
    COST_PER_LEAD,
    INDUSTRY_WEIGHTS,
    JOB_TITLES,
    REGION_WEIGHTS,
    SIZE_REVENUE,
    SIZE_WEIGHTS,
    TITLE_WEIGHTS,
    true_logit,
)
from leadscore.data.sales_team import (
    FOLLOW_UP_SHIFT,
    lead_priority,
    sales_follow_up,
    sales_touches,
)

log = logging.getLogger(__name__)

# What the generate stage read, beside data/raw/leads.parquet (ingest adds it to the report).
EXPORT_REPORT = "export.json"
GENERATOR_REPORT = {
    "source": "generator",
    "id": {"column": fields.LEAD_ID, "source_column": fields.LEAD_ID, "made": False},
}


@dataclass(frozen=True)
class GeneratedCRM:
    leads: pd.DataFrame
    truth: pd.DataFrame
    channel_costs: pd.DataFrame
    activity: ActivityWorld | None = None  # `events=True`: the activity log and its world

    @property
    def events(self) -> pd.DataFrame | None:
        return None if self.activity is None else self.activity.events


def _pick(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def _created_dates(rng: np.random.Generator, n: int, months: int, end: pd.Timestamp) -> np.ndarray:
    """Days over `months` months ending at `end`, with mild growth and a summer dip."""
    start = end - pd.DateOffset(months=months) + pd.Timedelta(days=1)
    days = pd.date_range(start, end, freq="D")
    t = np.linspace(0, 1, len(days))
    weight = (1 + 0.5 * t) * (1 - 0.15 * np.cos(2 * np.pi * (days.dayofyear.to_numpy() - 15) / 365))
    weight *= np.where(days.dayofweek.to_numpy() >= 5, 0.35, 1.0)
    picked = rng.choice(len(days), size=n, p=weight / weight.sum())
    return np.sort(days.to_numpy()[picked])


def _channels(rng: np.random.Generator, progress: np.ndarray) -> np.ndarray:
    """Channel per lead; the mix drifts linearly from the start shares to the end shares."""
    names = np.array(fields.CHANNELS)
    start = np.array([CHANNEL_MIX[c][0] for c in names])
    end = np.array([CHANNEL_MIX[c][1] for c in names])
    probs = start[None, :] * (1 - progress[:, None]) + end[None, :] * progress[:, None]
    cumulative = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    index = (rng.random(len(progress))[:, None] > cumulative).sum(axis=1)
    return names[np.minimum(index, len(names) - 1)]


def _campaigns(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    """One campaign per channel and topic, e.g. `webinar-security` (about 50 in all)."""
    topic = np.array(CAMPAIGN_TOPICS)[_pick(rng, len(channel), np.array([3, 2, 2, 2, 1.0]))]
    return (pd.Series(channel) + "-" + topic).to_numpy(dtype=object)


def _engagement(rng: np.random.Generator, latent: np.ndarray, channel: np.ndarray) -> dict:
    n = len(latent)
    visits = rng.poisson(np.exp(0.9 + 0.75 * latent))
    pages = np.round(rng.gamma(2.0, 1.2, n) * np.exp(0.15 * latent) + 1, 1)
    pages = np.where(visits == 0, 0.0, pages)
    time_on_site = np.round(visits * pages * rng.gamma(2.0, 0.9, n), 1)
    opens = rng.poisson(np.exp(1.1 + 0.45 * latent))
    clicks = rng.binomial(opens, np.clip(0.12 + 0.06 * latent, 0.01, 0.6))
    downloads = rng.poisson(np.exp(-0.6 + 0.6 * latent + 0.6 * (channel == "content_download")))
    webinar = rng.random(n) < 1 / (
        1 + np.exp(-(-2.6 + 0.6 * latent + 2.6 * (channel == "webinar")))
    )
    pricing = rng.poisson(np.exp(-1.4 + 0.8 * latent))
    demo = rng.random(n) < 1 / (1 + np.exp(-(-2.9 + 0.9 * latent + 0.25 * pricing)))
    recency = np.round(rng.exponential(np.exp(3.1 - 0.35 * latent)), 0)
    return {
        "website_visits": visits.astype(float),
        "pages_per_visit": pages,
        "time_on_site_minutes": time_on_site,
        "email_opens": opens.astype(float),
        "email_clicks": clicks.astype(float),
        "content_downloads": downloads.astype(float),
        "pricing_page_visits": pricing.astype(float),
        "days_since_last_activity": recency,
        "webinar_attended": webinar,
        "demo_requested": demo,
    }


def _outcomes(
    rng: np.random.Generator,
    probability: np.ndarray,
    created: np.ndarray,
    size: np.ndarray,
    export: pd.Timestamp,
    window_days: int,
    earliest_day: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Won within the window, won date and deal value; a win comes after the first contact
    (`earliest_day`: days from creation to the day after it)."""
    n = len(probability)
    earliest = np.zeros(n) if earliest_day is None else earliest_day
    wins_in_window = (rng.random(n) < probability) & (earliest < window_days)
    late_win = ~wins_in_window & (rng.random(n) < 0.25 * probability)
    delay = np.where(
        wins_in_window,
        np.minimum(np.maximum(rng.gamma(2.2, window_days / 6.0, n), earliest), window_days - 1),
        np.maximum(window_days + rng.gamma(2.0, 30.0, n), earliest),
    )
    won_at = pd.DatetimeIndex(created) + pd.to_timedelta(np.ceil(delay), unit="D")
    happened = (wins_in_window | late_win) & (won_at <= export)
    converted = wins_in_window & happened
    won_at = won_at.where(happened)
    value = np.round(rng.lognormal(np.log(8000) + 0.55 * size, 0.5, n), -1)
    deal_value = np.where(happened, value, np.nan)
    return converted, won_at.to_numpy(), deal_value


def _sales_status(rng: np.random.Generator, converted: np.ndarray, won: np.ndarray) -> np.ndarray:
    """What sales recorded after working the lead: mostly, not perfectly, tied to the outcome."""
    n = len(converted)
    other = np.array(["open", "nurture", "disqualified", "qualified"])
    status = other[rng.choice(4, n, p=[0.30, 0.30, 0.30, 0.10])]
    status = np.where(won, "closed_won", status)
    slip = converted & (rng.random(n) < 0.08)
    return np.where(slip, "qualified", status)


def _draw_leads(
    rng: np.random.Generator, n: int, months: int, export: pd.Timestamp
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The lead fields known at creation: the table, the creation dates and each lead's
    company-size index."""
    created = _created_dates(rng, n, months, export)
    progress = (created - created[0]) / max(created[-1] - created[0], np.timedelta64(1, "D"))
    channel = _channels(rng, progress.astype(float))
    size = _pick(rng, n, SIZE_WEIGHTS)
    titles = np.array(list(JOB_TITLES))
    title = titles[_pick(rng, n, TITLE_WEIGHTS)]
    mapping = pd.DataFrame.from_dict(
        JOB_TITLES, orient="index", columns=["seniority", "department"]
    )
    person = mapping.reindex(title)
    revenue = np.round(SIZE_REVENUE[size] * rng.lognormal(0, 0.6, n), -3)
    revenue_missing = rng.random(n) < np.where(size <= 1, 0.40, 0.25)
    channel_shift = pd.Series(channel).map(CHANNEL_ENGAGEMENT).to_numpy(float)
    latent = rng.normal(0, 1, n) + channel_shift
    frame = pd.DataFrame(
        {
            fields.LEAD_ID: np.char.add("L", np.char.zfill(np.arange(1, n + 1).astype(str), 7)),
            fields.CREATED_AT: created,
            "channel": channel,
            "campaign": _campaigns(rng, channel),
            "industry": np.array(fields.INDUSTRIES)[_pick(rng, n, INDUSTRY_WEIGHTS)],
            "company_size": np.array(fields.COMPANY_SIZES)[size],
            "region": np.array(fields.REGIONS)[_pick(rng, n, REGION_WEIGHTS)],
            "job_title": title,
            "seniority": person["seniority"].to_numpy(),
            "department": person["department"].to_numpy(),
            "form_variant": np.array(fields.FORM_VARIANTS)[rng.integers(0, 3, n)],
            "annual_revenue": np.where(revenue_missing, np.nan, revenue),
            **_engagement(rng, latent, channel),
        }
    )
    return frame, created, size


def _activity_outcomes(
    seed: int,
    frame: pd.DataFrame,
    created: np.ndarray,
    logit: np.ndarray,
    export: pd.Timestamp,
    window_days: int,
    deal_value: np.ndarray,
) -> tuple[ActivityWorld, np.ndarray, np.ndarray, np.ndarray]:
    """The activity log's world decides the outcome (the lead fields stay as they were): the
    world, won dates, converted and deal values."""
    activity = activity_world.simulate(
        np.random.default_rng([seed, 30]), frame[fields.LEAD_ID].to_numpy(), created,
        logit, export,
    )  # fmt: skip
    won_at = activity.won_at
    converted = outcome.won_within_window(
        frame[fields.CREATED_AT], pd.Series(won_at), window_days
    ).to_numpy()
    deal_value = np.where(np.isnat(won_at), np.nan, np.nan_to_num(deal_value, nan=8000.0))
    return activity, won_at, converted, deal_value


def _channel_costs() -> pd.DataFrame:
    """Marketing cost per lead of each channel."""
    return pd.DataFrame(
        {
            "channel": list(fields.CHANNELS),
            "cost_per_lead": [COST_PER_LEAD[c] for c in fields.CHANNELS],
        }
    )


def generate_crm(
    n_leads: int,
    months: int,
    export_date: str | date,
    window_days: int,
    seed: int,
    business_hours: tuple[int, int] = (9, 18),
    events: bool = False,
) -> GeneratedCRM:
    """Generate `n_leads` B2B leads over `months` months ending at `export_date`.

    `business_hours`: the contract's working day (start, end hour) sales' follow-up runs in.
    `events`: also an activity log (leadscore.data.activity_world) that drives conversion: the
    leads' outcome then follows the log's world, and the truth is per snapshot
    (`generated_snapshots`)."""
    rng = np.random.default_rng(seed)
    export = pd.Timestamp(export_date)
    frame, created, size = _draw_leads(rng, n_leads, months, export)
    logit = true_logit(frame) + FOLLOW_UP_SHIFT
    sales = np.random.default_rng([seed, 17])  # its own stream: the lead fields stay as they were
    follow_up = sales_follow_up(sales, frame, export, logit, business_hours)
    probability = expit(logit + follow_up.effect)  # what actually happened to this lead
    contact = add_business_hours(
        frame[fields.CREATED_AT], np.nan_to_num(follow_up.hours), *business_hours
    )
    earliest = (contact.dt.normalize() - frame[fields.CREATED_AT]).dt.days.to_numpy() + 1
    converted, won_at, deal_value = _outcomes(
        rng,
        probability,
        created,
        size,
        export,
        window_days,
        np.where(follow_up.worked, earliest, 0),
    )
    activity = None
    if events:
        activity, won_at, converted, deal_value = _activity_outcomes(
            seed, frame, created, logit, export, window_days, deal_value
        )
    frame[fields.CONVERTED] = converted
    frame[fields.WON_AT] = won_at
    frame[fields.DEAL_VALUE] = deal_value
    frame["sales_status"] = _sales_status(rng, converted, ~np.isnat(won_at))
    frame[fields.FIRST_CONTACT_AT] = contact.where(follow_up.worked)
    won = ~np.isnat(won_at)
    frame[fields.SALES_TOUCHES] = sales_touches(sales, follow_up, lead_priority(frame), won)
    frame[fields.OWNER] = follow_up.owner
    leads = frame[list(fields.LEAD_COLUMNS)]
    truth = pd.DataFrame(
        {fields.LEAD_ID: frame[fields.LEAD_ID], "true_probability": follow_up.expected}
    )
    return GeneratedCRM(leads=leads, truth=truth, channel_costs=_channel_costs(), activity=activity)


def generated_snapshots(
    crm: GeneratedCRM,
    spec: BehaviourParams,
    moment: ScoringMoment | None,
    window_days: int,
    export_date: str | date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The snapshot table of a CRM generated with events (leadscore.data.behaviour.snapshots)
    and each snapshot's exact truth (never counting an event after the snapshot, whatever
    `spec.count_after_decision` says)."""
    if crm.activity is None:
        raise ValueError("the CRM was generated without events")
    events = behaviour.normalise_events(crm.activity.events)
    table = behaviour.snapshots(
        crm.leads, events, spec, moment, window_days, pd.Timestamp(export_date)
    )
    grouped = events.assign(
        **{behaviour.EVENT_TYPE: activity_world.group_of(events[behaviour.EVENT_TYPE])}
    )
    groups = BehaviourParams(types=tuple(activity_world.GROUPS), windows_days=(1,))
    lead = behaviour.lead_of(table[fields.LEAD_ID])
    counted = behaviour.behaviour_features(
        grouped, lead, table[behaviour.SCORED_AT], table[fields.CREATED_AT], groups
    )
    position = pd.Index(crm.leads[fields.LEAD_ID]).get_indexer(lead)
    truth = activity_world.snapshot_truth(
        crm.activity,
        position,
        counted[behaviour.LEAD_AGE].to_numpy(float),
        {g: counted[f"{g}_events"].to_numpy(float) for g in activity_world.GROUPS},
        window_days,
    )
    return table, pd.DataFrame({fields.LEAD_ID: table[fields.LEAD_ID], "true_probability": truth})
