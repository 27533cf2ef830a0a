"""Train stage: one sklearn Pipeline (features -> gradient boosting -> calibration) and a baseline.

The booster learns on the training period; the calibration is fitted on the validation period
(newer leads the booster never saw), so the probabilities are honest for the leads to come.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from leadscore.core import fields
from leadscore.core.config import Params, TrainParams
from leadscore.core.schema import FeatureSpec
from leadscore.model.features import (
    apply_exclusions,
    candidate_features,
    linear_preprocessor,
    tree_preprocessor,
)
from leadscore.model.pipeline import booster_of, features_of

log = logging.getLogger(__name__)


def data_hash(frame: pd.DataFrame) -> str:
    """A content hash of a table (row order and values), stable across file formats."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(frame.columns).encode())
    return digest.hexdigest()


def make_booster(params: TrainParams, n_categorical: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=params.learning_rate,
        max_iter=params.max_iter,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        categorical_features=list(range(n_categorical)) or None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=params.early_stopping_rounds,
        scoring="loss",
        random_state=params.seed,
    )


def fit_scoring_pipeline(
    train: pd.DataFrame, valid: pd.DataFrame, spec: FeatureSpec, params: TrainParams
) -> Pipeline:
    """Fit features + booster on train, calibrate on valid; return one Pipeline of both."""
    features = tree_preprocessor(spec, params.min_category_share)
    x_train = features.fit_transform(train[list(spec.fields)])
    booster = make_booster(params, len(spec.categorical))
    booster.fit(x_train, train[fields.CONVERTED].to_numpy())
    calibrated = CalibratedClassifierCV(FrozenEstimator(booster), method=params.calibration)
    calibrated.fit(features.transform(valid[list(spec.fields)]), valid[fields.CONVERTED].to_numpy())
    return Pipeline([("features", features), ("classifier", calibrated)])


def fit_baseline(train: pd.DataFrame, spec: FeatureSpec, params: TrainParams) -> Pipeline:
    """Logistic regression on the raw fields: the plain model the booster must beat."""
    baseline = Pipeline(
        [
            ("features", linear_preprocessor(spec, params.min_category_share)),
            ("classifier", LogisticRegression(max_iter=2000, C=1.0)),
        ]
    )
    return baseline.fit(train[list(spec.fields)], train[fields.CONVERTED].to_numpy())


def raw_output(pipeline: Pipeline, inputs: pd.DataFrame) -> np.ndarray:
    """The booster's raw output (log-odds) for leads: what the calibration maps to probability."""
    encoded = features_of(pipeline).transform(inputs)
    return booster_of(pipeline).decision_function(encoded)


def model_version(trained_on: str, training_hash: str, params: TrainParams, spec: dict) -> str:
    """Deterministic version: the same data, params and inputs give the same version."""
    payload = training_hash + params.model_dump_json() + repr(sorted(spec.items()))
    return f"{trained_on}+{hashlib.sha256(payload.encode()).hexdigest()[:10]}"


def build_card(
    params: Params,
    spec: FeatureSpec,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    metrics: dict[str, float],
    n_iter: int,
) -> dict:
    training_hash = data_hash(train)
    dated = fields.CREATED_AT in train
    trained_on = valid[fields.CREATED_AT].max().strftime("%Y.%m") if dated else "undated"
    return {
        "model_version": model_version(trained_on, training_hash, params.train, spec.to_dict()),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_data": {
            "sha256": training_hash,
            "rows_train": len(train),
            "rows_valid": len(valid),
            "created_from": str(train[fields.CREATED_AT].min().date()) if dated else None,
            "created_to": str(valid[fields.CREATED_AT].max().date()) if dated else None,
        },
        "features": spec.to_dict(),
        "excluded_fields": list(params.contract.excluded_fields),
        "params": params.train.model_dump(),
        "booster_iterations": n_iter,
        "outcome": params.contract.outcome.model_dump(mode="json"),
        "metrics": metrics,
    }


def example_lead(frame: pd.DataFrame, spec: FeatureSpec) -> dict:
    """One real lead's inputs as plain JSON values: the API's documented request example."""
    row = frame.iloc[0]
    example = {fields.LEAD_ID: str(row[fields.LEAD_ID])} if fields.LEAD_ID in frame else {}
    for name in spec.fields:
        value = row[name]
        if pd.isna(value):
            continue
        if name in spec.boolean:
            example[name] = bool(value)
        elif name in spec.numeric:
            example[name] = float(value)
        else:
            example[name] = str(value)
    return example


class NotEnoughData(ValueError):
    """Too few converted or unconverted leads to train a score worth publishing."""


def check_enough_data(labels: pd.Series, gate) -> None:
    """Refuse to train below the contract's publish gate minimums (named in the message)."""
    positives = int(labels.sum())
    negatives = int(len(labels) - positives)
    if positives < gate.min_positives or negatives < gate.min_negatives:
        raise NotEnoughData(
            f"not enough data to train: {positives} converted and {negatives} unconverted leads "
            f"with a known outcome; the contract's publish gate needs at least "
            f"{gate.min_positives} converted (contract.publish_gate.min_positives) and "
            f"{gate.min_negatives} unconverted (contract.publish_gate.min_negatives)"
        )


def train_models(
    train: pd.DataFrame, valid: pd.DataFrame, params: Params, candidates: FeatureSpec | None = None
):
    """Fit the scoring pipeline and the baseline; return both with the model card.

    `candidates` are the inputs the ingest stage's leakage guard kept (default: the built-in
    table's fields); the contract's excluded fields are always removed.
    """
    labels = pd.concat([train[fields.CONVERTED], valid[fields.CONVERTED]])
    check_enough_data(labels.astype(int), params.contract.publish_gate)
    spec = apply_exclusions(candidates or candidate_features(), params.contract.excluded_fields)
    started = time.perf_counter()
    pipeline = fit_scoring_pipeline(train, valid, spec, params.train)
    fit_seconds = time.perf_counter() - started
    baseline = fit_baseline(train, spec, params.train)
    y_valid = valid[fields.CONVERTED].to_numpy()
    x_valid = valid[list(spec.fields)]
    p_valid = pipeline.predict_proba(x_valid)[:, 1]
    metrics = {
        "valid_roc_auc": float(roc_auc_score(y_valid, p_valid)),
        "valid_baseline_roc_auc": float(
            roc_auc_score(y_valid, baseline.predict_proba(x_valid)[:, 1])
        ),
        "fit_seconds": round(fit_seconds, 3),
    }
    card = build_card(params, spec, train, valid, metrics, int(booster_of(pipeline).n_iter_))
    card["input_example"] = example_lead(valid, spec)
    return pipeline, baseline, card
