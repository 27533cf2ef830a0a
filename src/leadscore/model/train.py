"""Train stage: candidates of two families, one chosen on validation, calibrated, in one Pipeline.

Every candidate (logistic regression and gradient boosting, `leadscore.model.candidates`) learns
on the training period and is judged on the validation period; the declared rule picks the
family. The chosen model is then calibrated on the validation period (newer leads it never
saw), isotonic or sigmoid by the rule of `leadscore.model.calibration`, so the probabilities are
honest for the leads to come. The best logistic regression is kept as the baseline.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from leadscore.core import fields
from leadscore.core.card import (
    Calibration,
    CandidateRecord,
    FeatureRoles,
    ModelCard,
    ModelChoice,
    TrainingData,
    TrainingMetrics,
)
from leadscore.core.config import Params, TrainParams
from leadscore.core.schema import FeatureSpec
from leadscore.core.stats import roc_auc_interval
from leadscore.model.calibration import choose_method, fit_calibrated
from leadscore.model.candidates import (
    BOOSTING,
    LOGISTIC,
    Candidate,
    Result,
    best_of,
    candidate_from_record,
    choose,
    fit_candidates,
    fit_one,
    make_estimator,
)
from leadscore.model.features import apply_exclusions, candidate_features, tree_preprocessor
from leadscore.model.pipeline import booster_of, features_of

log = logging.getLogger(__name__)


def data_hash(frame: pd.DataFrame) -> str:
    """A content hash of a table (row order and values), stable across file formats."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(frame.columns).encode())
    return digest.hexdigest()


@dataclass
class Fitted:
    """The outcome of training: the served pipeline, the baseline and how both were chosen."""

    pipeline: Pipeline
    baseline: Pipeline
    choice: ModelChoice  # the rule, every candidate, the chosen one and why
    calibration: Calibration
    search_seconds: float
    results: list[Result]


def validation_months(valid: pd.DataFrame) -> pd.Series | None:
    """The calendar month of each validation lead (None for an undated export)."""
    if fields.CREATED_AT not in valid:
        return None
    return pd.to_datetime(valid[fields.CREATED_AT]).dt.to_period("M").astype(str)


def fit_models(
    train: pd.DataFrame, valid: pd.DataFrame, spec: FeatureSpec, params: TrainParams
) -> Fitted:
    """Fit the candidates, choose on validation, calibrate the chosen one on validation."""
    features = tree_preprocessor(spec, params.min_category_share)
    x_train = features.fit_transform(train[list(spec.fields)])
    x_valid = features.transform(valid[list(spec.fields)])
    y_train = train[fields.CONVERTED].to_numpy(int)
    y_valid = valid[fields.CONVERTED].to_numpy(int)
    started = time.perf_counter()
    results = fit_candidates(
        x_train, y_train, x_valid, y_valid, spec, params, validation_months(valid)
    )
    choice = choose(results, params.choice)
    search_seconds = time.perf_counter() - started
    log.info("model choice: %s", choice.reason)
    estimator = choice.chosen.estimator
    calibration = choose_method(estimator, x_valid, y_valid, params.calibration, params.seed)
    calibrated, adjusted = fit_calibrated(estimator, x_valid, y_valid, calibration["method"])
    log.info("calibration: %s (%s)", calibration["method"], calibration["reason"])
    if adjusted.get("backwards"):  # said once here, not for each fold of the method choice
        log.warning(
            "calibration: the model ranks the calibration leads backwards; every lead is served "
            "the base rate %.1f%% (no usable signal)",
            100 * adjusted["served_probability"],
        )
    linear = best_of(results, LOGISTIC) or fit_one(
        Candidate(LOGISTIC, {"C": 1.0}), spec, params, x_train, y_train
    )
    return Fitted(
        pipeline=Pipeline([("features", features), ("classifier", calibrated)]),
        baseline=Pipeline([("features", features), ("classifier", linear.estimator)]),
        choice=ModelChoice(
            rule=params.choice.model_dump(),
            chosen=CandidateRecord.model_validate(choice.chosen.record()),
            reason=choice.reason,
            checks=choice.checks,
            candidates=[CandidateRecord.model_validate(result.record()) for result in results],
        ),
        calibration=Calibration.model_validate({**calibration, **adjusted}),
        search_seconds=search_seconds,
        results=results,
    )


def refit_recipe(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    spec: FeatureSpec,
    params: TrainParams,
    card: ModelCard,
    seed: int,
    share: float = 0.9,
) -> Pipeline:
    """The card's chosen recipe refit on a seeded stratified `share` of the training period.

    Same family, settings and calibration method; only the seed (early-stopping hold-out) and
    the training leads differ. Used to show the spread of the test AUC.
    """
    y = train[fields.CONVERTED].to_numpy(int)
    rows, _ = train_test_split(np.arange(len(y)), train_size=share, stratify=y, random_state=seed)
    part = train.iloc[np.sort(rows)]
    features = tree_preprocessor(spec, params.min_category_share)
    x = features.fit_transform(part[list(spec.fields)])
    if card.model_choice is None or card.calibration is None:
        raise ValueError(f"model card {card.model_version} does not record its recipe")
    candidate = candidate_from_record(card.model_choice.chosen)
    estimator = make_estimator(candidate, spec, params, seed).fit(x, y[np.sort(rows)])
    x_valid = features.transform(valid[list(spec.fields)])
    calibrated, _ = fit_calibrated(
        estimator, x_valid, valid[fields.CONVERTED].to_numpy(int), card.calibration.method
    )
    return Pipeline([("features", features), ("classifier", calibrated)])


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
    metrics: TrainingMetrics,
    fitted: Fitted,
) -> ModelCard:
    training_hash = data_hash(train)
    dated = fields.CREATED_AT in train
    trained_on = valid[fields.CREATED_AT].max().strftime("%Y.%m") if dated else "undated"
    chosen = fitted.choice.chosen
    return ModelCard(
        model_version=model_version(trained_on, training_hash, params.train, spec.to_dict()),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        training_data=TrainingData(
            sha256=training_hash,
            rows_train=len(train),
            rows_valid=len(valid),
            created_from=str(train[fields.CREATED_AT].min().date()) if dated else None,
            created_to=str(valid[fields.CREATED_AT].max().date()) if dated else None,
        ),
        features=FeatureRoles.of(spec),
        excluded_fields=list(params.contract.excluded_fields),
        params=params.train.model_dump(),
        model_family=chosen.family,
        booster_iterations=chosen.iterations if chosen.family == BOOSTING else None,
        model_choice=fitted.choice,
        calibration=fitted.calibration,
        outcome=params.contract.outcome.model_dump(mode="json"),
        metrics=metrics,
    )


def example_lead(frame: pd.DataFrame, spec: FeatureSpec) -> dict:
    """One real lead's inputs as plain JSON values: the API's documented request example."""
    row = frame.iloc[0]
    example: dict[str, Any] = (
        {fields.LEAD_ID: str(row[fields.LEAD_ID])} if fields.LEAD_ID in frame else {}
    )
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
) -> tuple[Pipeline, Pipeline, ModelCard]:
    """Fit the scoring pipeline and the baseline; return both with the model card.

    `candidates` are the inputs the ingest stage's leakage guard kept (default: the built-in
    table's fields); the contract's excluded fields are always removed.
    """
    labels = pd.concat([train[fields.CONVERTED], valid[fields.CONVERTED]])
    check_enough_data(labels.astype(int), params.contract.publish_gate)
    spec = apply_exclusions(candidates or candidate_features(), params.contract.excluded_fields)
    started = time.perf_counter()
    fitted = fit_models(train, valid, spec, params.train)
    fit_seconds = time.perf_counter() - started
    y_valid = valid[fields.CONVERTED].to_numpy(int)
    x_valid = valid[list(spec.fields)]
    p_valid = fitted.pipeline.predict_proba(x_valid)[:, 1]
    low, high = roc_auc_interval(y_valid, p_valid)
    metrics = TrainingMetrics(
        valid_roc_auc=float(roc_auc_score(y_valid, p_valid)),
        valid_roc_auc_ci_low=low,
        valid_roc_auc_ci_high=high,
        valid_baseline_roc_auc=float(
            roc_auc_score(y_valid, fitted.baseline.predict_proba(x_valid)[:, 1])
        ),
        fit_seconds=round(fit_seconds, 3),
        search_seconds=round(fitted.search_seconds, 3),
    )
    card = build_card(params, spec, train, valid, metrics, fitted)
    card.input_example = example_lead(valid, spec)
    return fitted.pipeline, fitted.baseline, card
