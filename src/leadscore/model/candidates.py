"""Model candidates, fitted on the training period and compared on the validation period only.

Two families compete (params `train.search`):

- **logistic** regression: categories one-hot (missing as its own category), non-negative numbers
  as log1p, numbers median-imputed with a missing indicator and standardised; L2 penalty, its
  strength `C` searched;
- **boosting** (histogram gradient boosting): tree size scaled to the n training leads
  (`min_samples_leaf = leaf_size * sqrt(n)`, `max_leaf_nodes = leaves * cbrt(n)`), learning rate
  and L2 from a declared list; early stopping on a held-out 10 % of the training period.

When the training period holds more than `max_rows` leads, each family's candidates compete on
one stratified subsample of that size and the family's best is refit on all training leads
(its refit stands for the family in the choice, and the best logistic refit is the baseline).

Both families read the same encoded matrix (the pipeline's `features` step: category codes and
numbers as floats), so the scorer encodes leads one way whichever family wins. The family is
chosen by a rule declared in `params.yaml` (`train.choice`) before the test period is looked at:
the preferred (simpler) family wins unless the other beats it on the validation period by the
margin, and, with `monthly_stability`, in more than half of the validation months.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from leadscore.core.card import CandidateRecord
from leadscore.core.config import BoostingConfig, ChoiceRule, TrainParams
from leadscore.core.schema import FeatureSpec

log = logging.getLogger(__name__)

LOGISTIC, BOOSTING = "logistic", "boosting"
FAMILY_NAMES = {LOGISTIC: "logistic regression", BOOSTING: "gradient boosting"}
MIN_MONTH_OUTCOMES = 10  # a validation month is judged with at least 10 of each outcome


@dataclass(frozen=True)
class Candidate:
    """One model recipe: its family and the estimator settings it is fitted with."""

    family: str
    settings: dict

    @property
    def name(self) -> str:
        shown = ", ".join(f"{key}={value:g}" for key, value in self.settings.items())
        return f"{self.family}({shown})"


@dataclass
class Result:
    """A fitted candidate and its validation figures."""

    candidate: Candidate
    estimator: Any  # a fitted scikit-learn estimator
    rows: int  # training leads it was fitted on
    fit_seconds: float
    valid_roc_auc: float = math.nan
    valid_log_loss: float = math.nan
    valid_monthly_auc: dict[str, float] = field(default_factory=dict)
    stage: str = "search"  # "search" | "refit" (the search winner refit on all training leads)

    def record(self) -> dict:
        """The candidate as it appears in the model card and in MLflow."""
        record = {
            "name": self.candidate.name,
            "family": self.candidate.family,
            "settings": dict(self.candidate.settings),
            "stage": self.stage,
            "training_rows": self.rows,
            "fit_seconds": round(self.fit_seconds, 2),
            "valid_roc_auc": self.valid_roc_auc,
            "valid_log_loss": self.valid_log_loss,
            "valid_monthly_roc_auc": dict(self.valid_monthly_auc),
        }
        if self.candidate.family == BOOSTING:
            record["iterations"] = int(self.estimator.n_iter_)
        return record


# --- recipes ---------------------------------------------------------------------------------


def boosting_settings(config: BoostingConfig, n_leads: int) -> dict:
    """Absolute booster settings of a scaled configuration for `n_leads` training leads."""
    return {
        "learning_rate": config.learning_rate,
        "min_samples_leaf": max(2, round(config.leaf_size * math.sqrt(n_leads))),
        "max_leaf_nodes": max(2, round(config.leaves * n_leads ** (1 / 3))),
        "l2_regularization": config.l2_regularization,
    }


def linear_encoder(spec: FeatureSpec) -> ColumnTransformer:
    """The logistic regression's view of the encoded matrix, one transformer per field.

    Categories (codes, missing as NaN) become one-hot columns, NaN its own; non-negative numbers
    go through log1p; numbers are median-imputed with a missing indicator and standardised. Each
    output column belongs to exactly one field, so the compiled scorer can add the coefficients
    up per field (`leadscore.scoring.linear`).
    """
    n_categorical = len(spec.categorical)
    parts = []
    for j, name in enumerate(spec.fields):
        if j < n_categorical:
            parts.append((name, OneHotEncoder(handle_unknown="ignore", sparse_output=False), [j]))
            continue
        steps = []
        if name in spec.non_negative and name not in spec.boolean:
            steps.append(("log", FunctionTransformer(np.log1p)))
        steps += [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("scale", StandardScaler()),
        ]
        parts.append((name, Pipeline(steps), [j]))
    return ColumnTransformer(parts, remainder="drop")


def make_estimator(
    candidate: Candidate, spec: FeatureSpec, params: TrainParams, seed: int | None = None
):
    """An unfitted estimator of the candidate that reads the pipeline's encoded matrix."""
    seed = params.seed if seed is None else seed
    if candidate.family == LOGISTIC:
        return Pipeline(
            [
                ("encode", linear_encoder(spec)),
                ("logistic", LogisticRegression(C=candidate.settings["C"], max_iter=2000)),
            ]
        )
    return HistGradientBoostingClassifier(
        **candidate.settings,
        max_iter=params.max_iter,
        categorical_features=list(range(len(spec.categorical))) or None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=params.early_stopping_rounds,
        scoring="loss",
        random_state=seed,
    )


# --- fitting and judging -----------------------------------------------------------------------


def monthly_auc(y: np.ndarray, score: np.ndarray, months: pd.Series | None) -> dict[str, float]:
    """Validation AUC per calendar month with enough of both outcomes."""
    if months is None:
        return {}
    out = {}
    for month, rows in pd.Series(np.arange(len(y))).groupby(months.to_numpy()):
        part = y[rows.to_numpy()]
        if min(part.sum(), len(part) - part.sum()) >= MIN_MONTH_OUTCOMES:
            out[str(month)] = float(roc_auc_score(part, score[rows.to_numpy()]))
    return out


def judge(
    result: Result,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    months,
    probability: np.ndarray | None = None,
) -> Result:
    """Fill in the validation figures of a fitted candidate (`probability`: its predictions on
    the validation leads, when already made)."""
    if probability is None:
        probability = result.estimator.predict_proba(x_valid)[:, 1]
    result.valid_roc_auc = float(roc_auc_score(y_valid, probability))
    result.valid_log_loss = float(log_loss(y_valid, np.clip(probability, 1e-12, 1 - 1e-12)))
    result.valid_monthly_auc = monthly_auc(y_valid, probability, months)
    log.info(
        "candidate %s (%s) on %d leads: validation AUC %.4f (%.1f s)",
        result.candidate.name,
        result.stage,
        result.rows,
        result.valid_roc_auc,
        result.fit_seconds,
    )
    return result


def fit_one(
    candidate: Candidate, spec: FeatureSpec, params: TrainParams, x: np.ndarray, y: np.ndarray
) -> Result:
    started = time.perf_counter()
    estimator = make_estimator(candidate, spec, params).fit(x, y)
    return Result(candidate, estimator, len(y), time.perf_counter() - started)


def search_rows(y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """All training rows, or a stratified subsample of `max_rows` of them."""
    if len(y) <= max_rows:
        return np.arange(len(y))
    rows, _ = train_test_split(
        np.arange(len(y)), train_size=max_rows, stratify=y, random_state=seed
    )
    return np.sort(rows)


def logistic_search(
    x: np.ndarray,
    y: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    spec: FeatureSpec,
    params: TrainParams,
    months: pd.Series | None,
) -> list[Result]:
    """One logistic candidate per `C`, judged on validation. Their encoder is fitted once (it
    does not depend on `C`): each candidate is the pipeline `make_estimator` would fit."""
    started = time.perf_counter()
    encoder = linear_encoder(spec).fit(x, y)
    encoded, encoded_valid = encoder.transform(x), encoder.transform(x_valid)
    shared = (time.perf_counter() - started) / len(params.search.logistic_c)
    results = []
    for c in params.search.logistic_c:
        started = time.perf_counter()
        model = LogisticRegression(C=c, max_iter=2000).fit(encoded, y)
        estimator = Pipeline([("encode", encoder), ("logistic", model)])  # one fitted encoder
        seconds = shared + time.perf_counter() - started
        result = Result(Candidate(LOGISTIC, {"C": c}), estimator, len(y), seconds)
        probability = model.predict_proba(encoded_valid)[:, 1]
        results.append(judge(result, x_valid, y_valid, months, probability))
    return results


def refit_winner(
    candidate: Candidate,
    x: np.ndarray,
    y: np.ndarray,
    spec: FeatureSpec,
    params: TrainParams,
) -> Result:
    """The search winner's recipe refit on all training leads (stage "refit")."""
    refit = fit_one(candidate, spec, params, x, y)
    refit.stage = "refit"
    return refit


def fit_candidates(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    spec: FeatureSpec,
    params: TrainParams,
    months: pd.Series | None = None,
) -> list[Result]:
    """Fit every candidate on the training period and judge it on the validation period.

    On more than `train.search.max_rows` training leads, each family's candidates compete on
    the same stratified subsample of that size, and the family's winner is refit on all
    training leads (its refit stands for the family in the choice)."""
    search = params.search
    rows = search_rows(y_train, search.max_rows, params.seed)
    sampled = len(rows) < len(y_train)
    x_search, y_search = x_train[rows], y_train[rows]
    results: list[Result] = []
    if LOGISTIC in search.families:
        searched = logistic_search(x_search, y_search, x_valid, y_valid, spec, params, months)
        results += searched
        if sampled:
            winner = max(searched, key=lambda r: r.valid_roc_auc).candidate
            refit = refit_winner(winner, x_train, y_train, spec, params)
            results.append(judge(refit, x_valid, y_valid, months))
    if BOOSTING in search.families:
        configs = []
        for config in search.boosting.values():
            candidate = Candidate(BOOSTING, boosting_settings(config, len(rows)))
            result = fit_one(candidate, spec, params, x_search, y_search)
            configs.append((config, judge(result, x_valid, y_valid, months)))
        results += [result for _, result in configs]
        if sampled:
            config, _ = max(configs, key=lambda item: item[1].valid_roc_auc)
            candidate = Candidate(BOOSTING, boosting_settings(config, len(y_train)))
            refit = refit_winner(candidate, x_train, y_train, spec, params)
            results.append(judge(refit, x_valid, y_valid, months))
    return results


def best_of(results: list[Result], family: str) -> Result | None:
    """The family's best candidate on the validation period (a refit stands for its search)."""
    mine = [r for r in results if r.candidate.family == family]
    refits = [r for r in mine if r.stage == "refit"]
    pool = refits or mine
    return max(pool, key=lambda r: r.valid_roc_auc) if pool else None


# --- the choice ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    chosen: Result
    reason: str
    checks: dict


def months_won(challenger: Result, preferred: Result) -> tuple[int, int]:
    """Validation months (judged for both) in which the challenger ranks better, and how many."""
    common = sorted(set(challenger.valid_monthly_auc) & set(preferred.valid_monthly_auc))
    wins = sum(challenger.valid_monthly_auc[m] > preferred.valid_monthly_auc[m] for m in common)
    return wins, len(common)


def choose(results: list[Result], rule: ChoiceRule) -> Choice:
    """Apply the declared rule to the validation figures; say why in plain words."""
    best = {family: best_of(results, family) for family in (LOGISTIC, BOOSTING)}
    present = {family: result for family, result in best.items() if result is not None}
    if len(present) == 1:
        ((family, only),) = present.items()
        return Choice(only, f"{FAMILY_NAMES[family]} is the only family searched", {})
    other = BOOSTING if rule.prefer == LOGISTIC else LOGISTIC
    preferred, challenger = present[rule.prefer], present[other]
    gain = challenger.valid_roc_auc - preferred.valid_roc_auc
    wins, judged = months_won(challenger, preferred)
    checks = {
        "preferred": rule.prefer,
        "auc_gain": gain,
        "margin": rule.margin,
        "months_won": wins,
        "months_judged": judged,
    }
    figures = (
        f"validation AUC {challenger.valid_roc_auc:.4f} for {FAMILY_NAMES[other]} against "
        f"{preferred.valid_roc_auc:.4f} for {FAMILY_NAMES[rule.prefer]}"
    )
    if gain < rule.margin:
        return Choice(
            preferred,
            f"{FAMILY_NAMES[rule.prefer]} (preferred) chosen: {figures}; the difference "
            f"{gain:+.4f} is below the margin {rule.margin}",
            checks,
        )
    if rule.monthly_stability and judged and wins * 2 <= judged:
        return Choice(
            preferred,
            f"{FAMILY_NAMES[rule.prefer]} (preferred) chosen: {figures} ({gain:+.4f}), but "
            f"{FAMILY_NAMES[other]} ranks better in only {wins} of {judged} validation months",
            checks,
        )
    stability = (
        f", better in {wins} of {judged} validation months"
        if rule.monthly_stability and judged
        else ", no validation month to check stability on"
        if rule.monthly_stability
        else ""
    )
    return Choice(
        challenger,
        f"{FAMILY_NAMES[other]} chosen: {figures} ({gain:+.4f} >= margin {rule.margin}){stability}",
        checks,
    )


def candidate_from_record(record: CandidateRecord) -> Candidate:
    """The chosen recipe back from the model card (for refits of the same recipe)."""
    return Candidate(record.family, dict(record.settings))
