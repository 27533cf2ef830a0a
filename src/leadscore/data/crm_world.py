"""The built-in CRM's world: the mix of leads it draws (titles, channels, sizes, regions, costs)
and the true effects of their fields on the log-odds of converting (`true_logit`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.core import fields

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
