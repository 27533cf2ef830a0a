"""Built-in CRM generator: realistic B2B leads with a known truth, for running without a CRM.

Every lead gets a true probability of converting within the outcome window from a logit model
with non-linear effects and interactions (engagement that fades with recency, a demo request
that matters more at larger companies, a pricing-page threshold, saturating counts, seniority x
company size). The truth goes to a separate table, never into the features, so evaluation can
report the oracle AUC: the ceiling no model can pass.

Sales' follow-up is part of the world: each lead is worked by one of `SALES_REPS` reps (or by
nobody), after a number of business hours that grows when the month is busy and shrinks for
leads that asked for a demo. How fast a lead is reached changes its chance of converting
(`FOLLOW_UP_EFFECT`); a lead nobody works never converts. The CRM records what a real one would:
the first-contact timestamp, the number of sales touches and the owner. These are post-contact
fields: the leakage review must keep them out of the model. The truth is the chance of
converting given what is known when the lead is scored: averaged over how sales may follow up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from leadscore.core import fields, outcome
from leadscore.core.business_hours import add_business_hours
from leadscore.core.contract import ScoringMoment
from leadscore.core.data_params import BehaviourParams
from leadscore.data import activity_world, behaviour
from leadscore.data.activity_world import ActivityWorld

log = logging.getLogger(__name__)

# The fields with the largest effect on the truth, strongest first, and the pure-noise fields.
STRONGEST_FIELDS = (
    "demo_requested",
    "pricing_page_visits",
    "days_since_last_activity",
    "website_visits",
    "company_size",
    "seniority",
)
NOISE_FIELDS = ("form_variant",)

# What the generate stage read, beside data/raw/leads.parquet (ingest adds it to the report).
EXPORT_REPORT = "export.json"
GENERATOR_REPORT = {
    "source": "generator",
    "id": {"column": fields.LEAD_ID, "source_column": fields.LEAD_ID, "made": False},
}

# job title -> (seniority, department)
JOB_TITLES = {
    "CEO": ("c_level", "executive"),
    "CTO": ("c_level", "it"),
    "CFO": ("c_level", "finance"),
    "COO": ("c_level", "operations"),
    "CMO": ("c_level", "marketing"),
    "Founder": ("c_level", "executive"),
    "VP Engineering": ("vp", "it"),
    "VP Operations": ("vp", "operations"),
    "VP Finance": ("vp", "finance"),
    "VP Marketing": ("vp", "marketing"),
    "VP Sales": ("vp", "sales"),
    "IT Director": ("director", "it"),
    "Director of Operations": ("director", "operations"),
    "Finance Director": ("director", "finance"),
    "Marketing Director": ("director", "marketing"),
    "Sales Director": ("director", "sales"),
    "HR Director": ("director", "hr"),
    "IT Manager": ("manager", "it"),
    "Operations Manager": ("manager", "operations"),
    "Finance Manager": ("manager", "finance"),
    "Marketing Manager": ("manager", "marketing"),
    "Sales Manager": ("manager", "sales"),
    "HR Manager": ("manager", "hr"),
    "Project Manager": ("manager", "operations"),
    "Software Engineer": ("individual_contributor", "it"),
    "Data Analyst": ("individual_contributor", "it"),
    "System Administrator": ("individual_contributor", "it"),
    "Accountant": ("individual_contributor", "finance"),
    "Marketing Specialist": ("individual_contributor", "marketing"),
    "Account Executive": ("individual_contributor", "sales"),
    "Recruiter": ("individual_contributor", "hr"),
    "Operations Analyst": ("individual_contributor", "operations"),
}
TITLE_WEIGHTS = np.array([1, 2, 1, 1, 1, 1] + [1.5] * 5 + [3] * 6 + [5] * 7 + [6] * 8, float)

CHANNEL_MIX = {  # share of leads at the start and at the end of the period
    "webinar": (0.10, 0.12),
    "email": (0.18, 0.13),
    "direct_mail": (0.05, 0.03),
    "paid_search": (0.16, 0.19),
    "organic": (0.14, 0.15),
    "events": (0.07, 0.06),
    "referral": (0.05, 0.06),
    "partner": (0.06, 0.07),
    "social": (0.09, 0.09),
    "content_download": (0.10, 0.10),
}
CHANNEL_EFFECT = {
    "webinar": 0.25,
    "email": -0.15,
    "direct_mail": -0.30,
    "paid_search": 0.0,
    "organic": 0.10,
    "events": 0.35,
    "referral": 0.60,
    "partner": 0.30,
    "social": -0.40,
    "content_download": -0.05,
}
CHANNEL_ENGAGEMENT = {  # shift of the latent engagement by channel
    "webinar": 0.4,
    "email": 0.1,
    "direct_mail": -0.3,
    "paid_search": 0.0,
    "organic": 0.2,
    "events": 0.3,
    "referral": 0.1,
    "partner": 0.0,
    "social": -0.2,
    "content_download": 0.3,
}
COST_PER_LEAD = {
    "webinar": 85.0,
    "email": 25.0,
    "direct_mail": 140.0,
    "paid_search": 95.0,
    "organic": 12.0,
    "events": 260.0,
    "referral": 40.0,
    "partner": 120.0,
    "social": 55.0,
    "content_download": 45.0,
}
CAMPAIGN_TOPICS = ("ai_ops", "cost_control", "security", "cloud_migration", "analytics")
TOPIC_EFFECT = {
    "ai_ops": 0.0,
    "cost_control": 0.15,
    "security": 0.10,
    "cloud_migration": -0.05,
    "analytics": -0.10,
}
INDUSTRY_EFFECT = np.array([0.30, 0.20, 0.10, 0.0, -0.10, -0.30, -0.25, 0.05, 0.10, 0.0])
INDUSTRY_WEIGHTS = np.array([18, 12, 10, 14, 10, 7, 6, 12, 5, 6], float)
SIZE_WEIGHTS = np.array([20, 26, 22, 16, 10, 6], float)
SIZE_EFFECT = np.array([-0.70, -0.35, 0.0, 0.30, 0.45, 0.40])
SIZE_REVENUE = np.array([0.6, 3.0, 15.0, 70.0, 400.0, 2500.0]) * 1e6  # median annual revenue
SENIORITY_EFFECT = {
    "individual_contributor": -0.45,
    "manager": 0.0,
    "director": 0.35,
    "vp": 0.55,
    "c_level": 0.45,
}
DEPARTMENT_EFFECT = {
    "it": 0.20,
    "operations": 0.10,
    "finance": 0.0,
    "marketing": -0.05,
    "sales": -0.10,
    "hr": -0.40,
    "executive": 0.15,
}
REGION_WEIGHTS = np.array([45, 30, 17, 8], float)
REGION_EFFECT = np.array([0.10, 0.0, -0.05, -0.20])
BASE_LOGIT = -5.2

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


DEPARTMENT_FIT = {  # (industry, department) pairs that buy (+1) or never do (-1)
    ("software", "it"): 1,
    ("telecom", "it"): 1,
    ("financial_services", "finance"): 1,
    ("manufacturing", "operations"): 1,
    ("energy", "operations"): 1,
    ("retail", "marketing"): 1,
    ("software", "hr"): -1,
    ("retail", "it"): -1,
    ("education", "finance"): -1,
    ("healthcare", "marketing"): -1,
    ("public_sector", "marketing"): -1,
    ("manufacturing", "it"): -1,
}


def _department_fit(industry: np.ndarray, department: np.ndarray) -> np.ndarray:
    pairs = pd.Series(list(zip(industry, department, strict=True)))
    return pairs.map(DEPARTMENT_FIT).fillna(0).to_numpy(float)


def _topic_effect(campaign: pd.Series) -> np.ndarray:
    """Campaign topics matter a little: cost-control and security pull buyers."""
    topic = campaign.str.rsplit("-", n=1).str[-1]
    return topic.map(TOPIC_EFFECT).fillna(0.0).to_numpy(float)


def true_logit(frame: pd.DataFrame) -> np.ndarray:
    """The true log-odds of converting within the window, from observable fields only."""
    size = pd.Categorical(frame["company_size"], categories=fields.COMPANY_SIZES).codes
    seniority = frame["seniority"].map(SENIORITY_EFFECT).to_numpy(float)
    senior = frame["seniority"].isin(["director", "vp", "c_level"]).to_numpy()
    fade = np.exp(-frame["days_since_last_activity"].to_numpy(float) / 14.0)
    visits = frame["website_visits"].to_numpy(float)
    downloads = frame["content_downloads"].to_numpy(float)
    pricing = frame["pricing_page_visits"].to_numpy(float)
    demo = frame["demo_requested"].to_numpy(bool)
    minutes = frame["time_on_site_minutes"].to_numpy(float)
    pages = frame["pages_per_visit"].to_numpy(float)
    industry = pd.Categorical(frame["industry"], categories=fields.INDUSTRIES).codes
    region = pd.Categorical(frame["region"], categories=fields.REGIONS).codes
    channel = frame["channel"].to_numpy()
    return (
        BASE_LOGIT
        + 1.70 * fade * np.log1p(visits)  # engagement that fades with recency
        + 0.80 * fade * np.log1p(downloads)
        + 0.30 * np.log1p(frame["email_clicks"].to_numpy(float))
        + demo * (-0.90 + 0.80 * size)  # a demo request matters more at larger companies
        + 1.30 * (pricing >= 2)  # pricing-page threshold
        + 0.90 * np.exp(-((np.log1p(minutes) - np.log1p(25.0)) ** 2) / 0.6)  # sweet spot
        + frame["webinar_attended"].to_numpy(bool) * np.where(senior, 0.9, -0.1)
        + 0.80 * np.exp(-((pages - 4.0) ** 2) / 4.0)  # focused visits, not lost ones
        + 0.60 * _department_fit(frame["industry"].to_numpy(), frame["department"].to_numpy())
        + np.where(size >= 3, 0.6, -0.2) * (channel == "events")  # events land big accounts
        + np.where(size <= 1, 0.4, -0.5) * (channel == "social")
        + 0.5 * SIZE_EFFECT[size]
        + 0.5 * seniority
        + 1.10 * (senior & (size >= 3))
        - 0.50 * (senior & (size <= 1))  # seniority x company size
        + frame["department"].map(DEPARTMENT_EFFECT).to_numpy(float)
        + frame["channel"].map(CHANNEL_EFFECT).to_numpy(float)
        + _topic_effect(frame["campaign"])
        + INDUSTRY_EFFECT[industry]
        + REGION_EFFECT[region]
    )


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


def _priority(frame: pd.DataFrame) -> np.ndarray:
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


def _follow_up(
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
    load, priority = _month_load(created), _priority(frame)
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
        owner=np.where(worked, np.array(SALES_REPS, dtype=object)[rep], None),
        effect=effect,
        expected=_expected_probability(logit, plans),
    )


def _touches(
    rng: np.random.Generator, follow_up: FollowUp, priority: np.ndarray, won: np.ndarray
) -> np.ndarray:
    """Sales touches logged: none for a lead never worked; deals that close take more."""
    touches = 1 + rng.poisson(0.8 + 0.4 * priority + 2.5 * won)
    return np.where(follow_up.worked, touches, 0).astype(float)


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
    n = n_leads
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
    logit = true_logit(frame) + FOLLOW_UP_SHIFT
    sales = np.random.default_rng([seed, 17])  # its own stream: the lead fields stay as they were
    follow_up = _follow_up(sales, frame, export, logit, business_hours)
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
    if events:  # the log's world decides the outcome; the lead fields stay as they were
        activity = activity_world.simulate(
            np.random.default_rng([seed, 30]), frame[fields.LEAD_ID].to_numpy(), created,
            logit, export,
        )  # fmt: skip
        won_at = activity.won_at
        converted = outcome.won_within_window(
            frame[fields.CREATED_AT], pd.Series(won_at), window_days
        ).to_numpy()
        deal_value = np.where(np.isnat(won_at), np.nan, np.nan_to_num(deal_value, nan=8000.0))
    frame[fields.CONVERTED] = converted
    frame[fields.WON_AT] = won_at
    frame[fields.DEAL_VALUE] = deal_value
    frame["sales_status"] = _sales_status(rng, converted, ~np.isnat(won_at))
    frame[fields.FIRST_CONTACT_AT] = contact.where(follow_up.worked)
    frame[fields.SALES_TOUCHES] = _touches(sales, follow_up, _priority(frame), ~np.isnat(won_at))
    frame[fields.OWNER] = follow_up.owner
    leads = frame[list(fields.LEAD_COLUMNS)]
    truth = pd.DataFrame(
        {fields.LEAD_ID: frame[fields.LEAD_ID], "true_probability": follow_up.expected}
    )
    costs = pd.DataFrame(
        {
            "channel": list(fields.CHANNELS),
            "cost_per_lead": [COST_PER_LEAD[c] for c in fields.CHANNELS],
        }
    )
    return GeneratedCRM(leads=leads, truth=truth, channel_costs=costs, activity=activity)


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
