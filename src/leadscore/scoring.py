"""Scoring raw leads with a model bundle: the one code path behind batch scoring and the API."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore import fields
from leadscore.bundle import ModelBundle
from leadscore.features import FeatureSpec


def score_leads(bundle: ModelBundle, leads: pd.DataFrame) -> pd.DataFrame:
    """Calibrated probability, score 1-100 and grade for each lead (raw CRM fields in)."""
    spec = FeatureSpec.from_dict(bundle.card["features"])
    inputs = leads.reindex(columns=list(spec.fields))
    probability = bundle.pipeline.predict_proba(inputs)[:, 1]
    grading = bundle.grading
    ids = leads[fields.LEAD_ID] if fields.LEAD_ID in leads else pd.RangeIndex(len(leads))
    return pd.DataFrame(
        {
            fields.LEAD_ID: np.asarray(ids),
            "probability": probability,
            "score": grading.score(probability),
            "grade": grading.grade(probability),
        }
    )
