"""Model inputs: which lead fields feed the model, and the column transformer that encodes them.

The transformer is the first step of the one sklearn Pipeline saved in the bundle. The fast
scorer (`leadscore.scoring.scorer`) compiles its encoding from this fitted transformer (the
category codes are read from it, not written by hand) and refuses to serve unless it reproduces
`pipeline.predict_proba` on a probe set, so batch scoring and the API encode leads exactly as
training did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from leadscore.core import fields
from leadscore.core.schema import FeatureSpec

MAX_CATEGORIES = 250  # gradient boosting bins categories into at most 255 values


def candidate_features() -> FeatureSpec:
    """Every field of the built-in lead table that could be an input (before the contract)."""
    return FeatureSpec(
        categorical=fields.CATEGORICAL_FEATURES + fields.POST_CONTACT_FIELDS,
        numeric=fields.NUMERIC_FEATURES,
        boolean=fields.BOOLEAN_FEATURES,
        non_negative=fields.NUMERIC_FEATURES,
    )


def apply_exclusions(spec: FeatureSpec, excluded: tuple[str, ...] | list[str]) -> FeatureSpec:
    """Drop the fields the contract says the model may never use."""
    drop = set(excluded)
    return FeatureSpec(
        categorical=tuple(f for f in spec.categorical if f not in drop),
        numeric=tuple(f for f in spec.numeric if f not in drop),
        boolean=tuple(f for f in spec.boolean if f not in drop),
        non_negative=tuple(f for f in spec.non_negative if f not in drop),
    )


def _as_float(values):
    """Booleans (possibly nullable) and numbers as float64, missing as NaN."""
    frame = pd.DataFrame(values)
    return frame.apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()


def _as_object(values):
    """Categories as plain Python objects with NaN for missing (what the encoders expect)."""
    frame = pd.DataFrame(values).astype(object)
    return frame.where(frame.notna(), np.nan).to_numpy()


def tree_preprocessor(spec: FeatureSpec, min_category_share: float) -> ColumnTransformer:
    """Ordinal-encoded categories (rare ones pooled, unseen ones as missing), numbers as floats.

    Categorical columns come first, so the classifier can be told they are categorical by index.
    """
    ordinal = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        min_frequency=min_category_share or None,
        max_categories=MAX_CATEGORIES,
    )
    transformers = [
        (
            "categorical",
            make_pipeline(FunctionTransformer(_as_object), ordinal),
            list(spec.categorical),
        ),
        ("numeric", FunctionTransformer(_as_float), [*spec.numeric, *spec.boolean]),
    ]
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
