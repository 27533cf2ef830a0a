"""Calibration fits the calibration set: isotonic only when large and better; never 0 or 1."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from leadscore.core.config import CalibrationRule
from leadscore.core.stats import wilson_centre
from leadscore.model.calibration import choose_method, fit_calibrated


def plateau_data(n: int, seed: int = 0):
    """A score whose conversion is flat, then jumps, then flat again: not a sigmoid shape."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, size=(n, 1))
    p = np.where(x[:, 0] < 0, 0.03, np.where(x[:, 0] < 1.5, 0.45, 0.5))
    return x, (rng.random(n) < p).astype(int)


@pytest.fixture(scope="module")
def scorer_model():
    x, y = plateau_data(4000, seed=1)
    return LogisticRegression().fit(x, y)


def test_isotonic_only_on_a_large_set_where_it_beats_the_sigmoid(scorer_model):
    rule = CalibrationRule(isotonic_min_leads=10_000, folds=3)
    x, y = plateau_data(20_000)
    large = choose_method(scorer_model, x, y, rule, seed=0)
    assert large["method"] == "isotonic", large
    assert large["cv_log_loss"]["isotonic"] < large["cv_log_loss"]["sigmoid"]
    small = choose_method(scorer_model, x[:3_000], y[:3_000], rule, seed=0)
    assert small["method"] == "sigmoid" and "fewer than the 10,000" in small["reason"]
    fixed = choose_method(scorer_model, x[:3_000], y[:3_000], rule.model_copy(
        update={"method": "isotonic"}), seed=0)  # fmt: skip
    assert fixed["method"] == "isotonic" and "fixed" in fixed["reason"]


def test_isotonic_on_a_small_set_never_serves_0_or_1():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 1))
    y = (x[:, 0] > 1.2).astype(int)  # the top leads all convert, the bottom ones never
    y[rng.choice(np.flatnonzero(np.abs(x[:, 0] - 1.2) < 0.4), 10)] ^= 1
    model = LogisticRegression().fit(x, y)
    plain = CalibratedClassifierCV(FrozenEstimator(model), method="isotonic").fit(x, y)
    unbounded = plain.predict_proba(x)[:, 1]
    assert unbounded.min() == 0.0 and unbounded.max() == 1.0  # what sklearn alone serves
    calibrated, record = fit_calibrated(model, x, y, "isotonic")
    bounds = record["bounds"]
    probability = calibrated.predict_proba(x)[:, 1]
    assert 0 < bounds["floor"] == probability.min() and probability.max() == bounds["ceiling"] < 1
    bottom, top = unbounded == 0.0, unbounded == 1.0
    steps = np.unique(unbounded)
    assert bounds["floor"] == pytest.approx(min(wilson_centre(0, int(bottom.sum())), steps[1]))
    assert bounds["ceiling"] == pytest.approx(
        max(wilson_centre(top.sum(), int(top.sum())), steps[-2])
    )
    np.testing.assert_allclose(probability, np.clip(unbounded, bounds["floor"], bounds["ceiling"]))
    new = calibrated.predict_proba(np.array([[-10.0], [10.0]]))[:, 1]
    assert new[0] > 0 and new[1] < 1  # leads beyond the calibration range too


def test_a_sigmoid_that_would_turn_the_order_round_serves_the_base_rate(scorer_model):
    x, y = plateau_data(3_000, seed=2)
    calibrated, record = fit_calibrated(scorer_model, x, y, "sigmoid")
    assert record == {"bounds": {}}  # the model orders these leads the right way: a sigmoid
    forward = calibrated.predict_proba(x)[:, 1]
    assert np.corrcoef(forward, x[:, 0])[0, 1] > 0.9
    backwards = -x  # the same leads, the model's output now falls as conversion rises
    calibrated, record = fit_calibrated(scorer_model, backwards, y, "sigmoid")
    assert record == {
        "bounds": {},
        "backwards": True,
        "served_probability": pytest.approx(y.mean()),
    }
    assert np.allclose(calibrated.predict_proba(backwards)[:, 1], y.mean())
