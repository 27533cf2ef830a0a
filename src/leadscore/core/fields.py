"""Column roles of a lead table: which column is the id, the creation date, the outcome, a feature.

The built-in CRM generator writes exactly these columns; a CRM export is mapped onto the same
roles by the data configuration.
"""

from __future__ import annotations

import re

# What an export's column names say about their role (matched on the name as written).
ID_NAME = re.compile(r"(^|[\s_\-])(id|uuid|guid|number|no|key)$", re.IGNORECASE)
DATE_NAME = re.compile(r"(date|time|_at$|created|updated|modified)", re.IGNORECASE)

LEAD_ID = "lead_id"
CREATED_AT = "created_at"
CONVERTED = "converted"
WON_AT = "won_at"
OUTCOME_STATUS = "outcome_status"  # won / lost / open, when the export lists its statuses
DEAL_VALUE = "deal_value"
CHANNEL = "channel"
CAMPAIGN = "campaign"
LEAD_COST = "lead_cost"  # marketing cost of one lead, from an export's data.cost_column
# What the CRM records when sales works a lead (sales' side of the contract; never inputs):
FIRST_CONTACT_AT = "first_contact_at"  # first sales contact (missing: never worked)
SALES_TOUCHES = "sales_touches"  # calls, emails and meetings sales logged on the lead
OWNER = "owner"  # the sales rep who worked the lead

CHANNELS = (
    "webinar",
    "email",
    "direct_mail",
    "paid_search",
    "organic",
    "events",
    "referral",
    "partner",
    "social",
    "content_download",
)
INDUSTRIES = (
    "software",
    "financial_services",
    "healthcare",
    "manufacturing",
    "retail",
    "education",
    "public_sector",
    "professional_services",
    "telecom",
    "energy",
)
COMPANY_SIZES = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+")
REGIONS = ("north_america", "emea", "apac", "latam")
SENIORITIES = ("individual_contributor", "manager", "director", "vp", "c_level")
DEPARTMENTS = ("it", "operations", "finance", "marketing", "sales", "hr", "executive")
SALES_STATUSES = ("open", "nurture", "disqualified", "qualified", "closed_won")
FORM_VARIANTS = ("a", "b", "c")

# Built-in features by kind. `form_variant` is pure noise by construction (a landing-page A/B
# test that did nothing), so importance analyses have a known zero to check against.
CATEGORICAL_FEATURES = (
    "channel",
    "campaign",
    "industry",
    "company_size",
    "region",
    "job_title",
    "seniority",
    "department",
    "form_variant",
)
NUMERIC_FEATURES = (
    "annual_revenue",
    "website_visits",
    "pages_per_visit",
    "time_on_site_minutes",
    "email_opens",
    "email_clicks",
    "content_downloads",
    "pricing_page_visits",
    "days_since_last_activity",
)
BOOLEAN_FEATURES = ("webinar_attended", "demo_requested")

# Numbers of the built-in table that are never negative (counts, minutes, money): ingest
# quarantines a negative value, and scoring rejects one (see `core.values.NON_NEGATIVE_MIN`).
NON_NEGATIVE_FIELDS = (*NUMERIC_FEATURES, DEAL_VALUE, SALES_TOUCHES)

# Set after sales worked the lead: leaks the outcome; the contract excludes it.
POST_CONTACT_FIELDS = ("sales_status",)

LEAD_COLUMNS = (
    LEAD_ID,
    CREATED_AT,
    *CATEGORICAL_FEATURES,
    *NUMERIC_FEATURES,
    *BOOLEAN_FEATURES,
    CONVERTED,
    WON_AT,
    DEAL_VALUE,
    *POST_CONTACT_FIELDS,
    FIRST_CONTACT_AT,
    SALES_TOUCHES,
    OWNER,
)
