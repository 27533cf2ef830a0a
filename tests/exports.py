"""Three small CRM exports for the model choice, each with a known truth (issue 19).

A pytest plugin of the suite (tests/conftest.py `pytest_plugins`): the unit tests use the
exports and the quick fits, the end-to-end tests the full model choice on them.

- `sparse`: 4,000 training leads; a partner score that 0.9 % of leads have converts two in three
  of them. A booster that needs 100 leads per leaf can never split on it.
- `drift`: conversion doubles over the test period (15 % before it, 30 % in its last month),
  with interactions a booster finds and a logistic regression does not.
- `linear`: the log-odds are a sum of 24 small linear effects: logistic regression is the true
  model, a booster on 3,200 leads only approximates it.

Each export is split by month: the oldest train, the next 3 months validate, the last 3 test.

`export_frame` is a raw CSV-like export with a field measured during the sales contact, for the
leakage review (unit) and the pipeline run on it (e2e).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import expit

from leadscore.core.schema import FeatureSpec

CHANNELS = ("email", "webinar", "paid", "organic", "events")


@dataclass(frozen=True)
class Export:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    spec: FeatureSpec


def _leads(months: int, per_month, n_numbers: int, rng) -> tuple[pd.DataFrame, np.ndarray]:
    """Leads created over `months` calendar months (`per_month`: a count or one per month)."""
    month = np.repeat(np.arange(months), np.broadcast_to(per_month, months))
    n = len(month)
    created = pd.to_datetime(
        {"year": 2025 + month // 12, "month": month % 12 + 1, "day": rng.integers(1, 29, n)}
    )
    frame = pd.DataFrame(
        {
            "lead_id": [f"L{i:06d}" for i in range(n)],
            "created_at": created,
            "channel": rng.choice(CHANNELS, n),
            **{f"x{i}": rng.normal(size=n) for i in range(n_numbers)},
        }
    )
    return frame, month


def make_export(kind: str, seed: int = 0) -> Export:
    rng = np.random.default_rng(seed)
    extra: tuple[str, ...] = ()
    if kind == "sparse":
        months, n_numbers = 14, 8
        frame, month = _leads(months, [500] * 8 + [1000] * 6, n_numbers, rng)
        has = rng.random(len(frame)) < 0.009
        frame["partner_score"] = np.where(has, rng.integers(1, 10, len(frame)), np.nan)
        logit = (
            -2.7
            + 0.6 * frame["x0"]
            + 0.4 * (frame["x1"] > 0.5)
            + 0.3 * (frame["channel"] == "webinar")
            + np.where(has, 4.0, 0.0)
        )
        extra = ("partner_score",)
    elif kind == "drift":
        months, n_numbers = 14, 8
        frame, month = _leads(months, 500, n_numbers, rng)
        logit = (
            -2.4
            + 0.9 * frame["x0"]
            + 1.0 * np.sin(2 * frame["x1"])
            + 0.8 * frame["x2"] * frame["x3"]
            + 0.4 * (frame["channel"] == "webinar")
        )
        into_test = np.clip(month - (months - 4), 0, None)  # 0 before the test period, then 1-3
        logit = logit + 2.0 * np.log1p(into_test / 3)
    elif kind == "linear":
        months, n_numbers = 10, 24
        frame, month = _leads(months, 800, n_numbers, rng)
        weights = np.resize([0.4, -0.35, 0.3, -0.25, 0.25, -0.2], n_numbers)
        logit = -1.0 + frame[[f"x{i}" for i in range(n_numbers)]].to_numpy() @ weights
        logit = logit + 0.3 * (frame["channel"] == "webinar") - 0.2 * (frame["channel"] == "paid")
    else:
        raise ValueError(kind)
    frame["converted"] = (rng.random(len(frame)) < expit(np.asarray(logit, dtype=float))).astype(
        int
    )
    spec = FeatureSpec(
        categorical=("channel",),
        numeric=(*(f"x{i}" for i in range(n_numbers)), *extra),
        boolean=(),
        non_negative=extra,
    )
    return Export(
        train=frame[month < months - 6].reset_index(drop=True),
        valid=frame[(month >= months - 6) & (month < months - 3)].reset_index(drop=True),
        test=frame[month >= months - 3].reset_index(drop=True),
        spec=spec,
    )


@pytest.fixture(scope="session")
def choice_params_raw(default_params_raw) -> dict:
    raw = yaml.safe_load(yaml.safe_dump(default_params_raw))
    raw["train"]["max_iter"] = 300
    return raw


@pytest.fixture(scope="session")
def choice_params(choice_params_raw):
    from leadscore.core.config import parse_params

    return parse_params(choice_params_raw)


@pytest.fixture(scope="session")
def exports() -> dict[str, Export]:
    return {kind: make_export(kind) for kind in ("sparse", "drift", "linear")}


@pytest.fixture(scope="session")
def fitted(exports, choice_params) -> dict:
    """The model choice, as the train stage makes it, on each export."""
    from leadscore.model.train import fit_models

    return {
        kind: fit_models(export.train, export.valid, export.spec, choice_params.train)
        for kind, export in exports.items()
    }


@pytest.fixture(scope="session")
def trained(exports, choice_params):
    """The train stage's result on the sparse export: (pipeline, baseline, card)."""
    from leadscore.model.train import train_models

    export = exports["sparse"]
    return train_models(export.train, export.valid, choice_params, export.spec)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def export_frame(n: int, seed: int, intercept: float = -1.3) -> pd.DataFrame:
    """A CRM export with a field measured during the sales contact (`call_minutes`).

    Converted leads talked longer to sales: alone the call length ranks converters with an AUC
    of about 0.8. `meeting_room` has a post-contact name and no signal. The outcome of the
    previous campaign is an earlier, finished interaction known before the contact: a
    suspicious name and a moderate signal.
    """
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 420, n), unit="D")
    page_views = rng.poisson(4, n)
    previous = rng.choice(["success", "failure", "none"], n, p=[0.15, 0.3, 0.55])
    source = rng.choice(["web", "event", "partner"], n)
    logit = intercept + 0.25 * (page_views - 4) + 0.9 * (previous == "success")
    logit = logit + 0.2 * (source == "web")
    converted = rng.random(n) < sigmoid(logit)
    follow_up = created + pd.to_timedelta(rng.integers(1, 30, n), unit="D")
    return pd.DataFrame(
        {
            "Lead Key": [f"K{i:05d}" for i in range(n)],
            "Created": created.astype(str),
            "Converted": np.where(converted, "yes", "no"),
            "page_views": page_views,
            "Source": source,
            "previous_campaign_outcome": previous,
            "call_minutes": np.exp(rng.normal(2.0 + 1.2 * converted, 1.0)).round(1),
            "meeting_room": rng.choice(["north", "south", "east"], n),
            "follow_up_date": follow_up.astype(str),
        }
    )


BUNDLES: dict[str, object] = {}


def bundle_with(method: str, exports, raw_params: dict, directory) -> object:
    """A sealed bundle whose model is the logistic regression on the sparse export, calibrated
    by `method` (trained once per session and method)."""
    from stages import agreed_by_both

    from leadscore.core.config import parse_params
    from leadscore.model.bundle import load_bundle, save_bundle
    from leadscore.model.thresholds import derive_grading, grading_record
    from leadscore.model.train import train_models

    if method in BUNDLES:
        return BUNDLES[method]
    raw = {**raw_params}
    raw["train"] = {
        **raw["train"],
        "search": {**raw["train"]["search"], "families": ["logistic"]},
        "calibration": {**raw["train"]["calibration"], "method": method},
    }
    params = parse_params(raw)
    export = exports["sparse"]
    pipeline, baseline, card = train_models(export.train, export.valid, params, export.spec)
    probability = pipeline.predict_proba(export.valid[list(export.spec.fields)])[:, 1]
    grading, derivation = derive_grading(
        probability, len(export.valid) / 3, params.contract.grades, export.valid["converted"]
    )
    agreement = agreed_by_both(params.contract)  # the test contract, approved by both owners
    record = grading_record(grading, derivation, params.contract, card.model_version, agreement)
    save_bundle(directory / "models", pipeline, baseline, card, record)
    BUNDLES[method] = load_bundle(directory / "models")
    return BUNDLES[method]
