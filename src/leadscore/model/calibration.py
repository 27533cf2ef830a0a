"""Calibration that fits the calibration set: isotonic or sigmoid, never a probability of 0 or 1.

The calibration is fitted on the validation period (leads the model never trained on). Isotonic
regression is flexible but needs many leads: on a few thousand its end steps are small blocks
that converted 0 % or 100 %, and every lead beyond them would be served a probability of exactly
0 or 1. The rule (params `train.calibration`):

- `method: auto` considers isotonic only when the calibration set holds at least
  `isotonic_min_leads` leads, and then takes it only if its log loss, cross-validated over
  `folds` stratified folds of the calibration set, is lower than the sigmoid's;
- an isotonic map is always bounded: an end step at exactly 0 or 1 is pulled to the Wilson
  centre of its own leads, `(k + z^2/2) / (n + z^2)`, strictly inside (0, 1), but not past
  the next step (the end step then joins it);
- a sigmoid fitted with a slope that ranks the calibration leads backwards (conversion falls as
  the model's output rises) is replaced by the calibration set's base rate: a model that orders
  new leads the wrong way has no usable signal, and turning its order round would be a model
  fitted on the calibration set, never checked on leads of its own.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

from leadscore.core.config import CalibrationRule
from leadscore.core.stats import wilson_centre

log = logging.getLogger(__name__)


def isotonic_bounds(fitted: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Floor and ceiling of an isotonic map: an end step at exactly 0 (or 1) is raised (lowered)
    to the Wilson centre of its own leads, but never past the next step, so the order of the
    steps and every other step stay as fitted."""
    steps = np.unique(fitted)
    floor, ceiling = float(steps[0]), float(steps[-1])
    if floor <= 0.0:
        bottom = fitted == steps[0]
        floor = wilson_centre(y[bottom].sum(), int(bottom.sum()))
        floor = min(floor, float(steps[1])) if len(steps) > 1 else floor
    if ceiling >= 1.0:
        top = fitted == steps[-1]
        ceiling = wilson_centre(y[top].sum(), int(top.sum()))
        ceiling = max(ceiling, float(steps[-2])) if len(steps) > 1 else ceiling
    return floor, ceiling


def bound_isotonic(calibrated: CalibratedClassifierCV, x: np.ndarray, y: np.ndarray) -> dict:
    """Refit each isotonic calibrator with its Wilson floor and ceiling; return the bounds.

    The bounded isotonic fit equals the unbounded one clipped to [floor, ceiling], so the order
    of the leads is unchanged; only the end steps move inside (0, 1).
    """
    bounds = {}
    for member in calibrated.calibrated_classifiers_:
        (isotonic,) = member.calibrators
        raw = member.estimator.decision_function(x)
        floor, ceiling = isotonic_bounds(isotonic.predict(raw), np.asarray(y))
        bounded = IsotonicRegression(y_min=floor, y_max=ceiling, out_of_bounds="clip")
        member.calibrators = [bounded.fit(raw, y)]
        bounds = {"floor": float(floor), "ceiling": float(ceiling)}
    return bounds


def flatten_backwards_sigmoid(calibrated: CalibratedClassifierCV, y: np.ndarray) -> dict:
    """Replace a sigmoid that ranks the leads backwards by the base rate of `y`; say so."""
    found: dict = {}
    rate = float(np.mean(y))
    for member in calibrated.calibrated_classifiers_:
        (sigmoid,) = member.calibrators
        if sigmoid.a_ > 0:  # p = expit(-(a * raw + b)): a > 0 falls as the raw output rises
            sigmoid.a_, sigmoid.b_ = 0.0, float(np.log((1 - rate) / rate))
            found = {"backwards": True, "served_probability": rate}
    return found


def fit_calibrated(
    estimator, x: np.ndarray, y: np.ndarray, method: str
) -> tuple[CalibratedClassifierCV, dict]:
    """The fitted model calibrated on (x, y); isotonic maps bounded away from 0 and 1, a sigmoid
    that would turn the model's order round flattened to the base rate.

    The record says what was adjusted: `bounds` (isotonic floor and ceiling; empty for a
    sigmoid), and for a flattened sigmoid `backwards` and `served_probability`.
    """
    calibrated = CalibratedClassifierCV(FrozenEstimator(estimator), method=method).fit(x, y)
    if method == "isotonic":
        return calibrated, {"bounds": bound_isotonic(calibrated, x, y)}
    return calibrated, {"bounds": {}, **flatten_backwards_sigmoid(calibrated, np.asarray(y))}


class RawOutput(ClassifierMixin, BaseEstimator):
    """A model's raw output computed once (column 0 of X), so the cross-validation below fits
    its calibrators on exactly the values the real fit sees without re-running the model."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X, dtype=float)[:, 0]

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def cross_validated_log_loss(
    raw: np.ndarray, y: np.ndarray, method: str, folds: int, seed: int
) -> float:
    """Log loss of the calibration method on held-out folds of the calibration set."""
    losses, weights = [], []
    x = raw.reshape(-1, 1)
    scorer = RawOutput().fit(x, y)
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)
    for fit_rows, held_out in splits:
        calibrated, _ = fit_calibrated(scorer, x[fit_rows], y[fit_rows], method)
        probability = calibrated.predict_proba(x[held_out])[:, 1]
        losses.append(log_loss(y[held_out], probability, labels=[0, 1]))
        weights.append(len(held_out))
    return float(np.average(losses, weights=weights))


def choose_method(
    estimator, x: np.ndarray, y: np.ndarray, rule: CalibrationRule, seed: int
) -> dict:
    """Isotonic or sigmoid for this calibration set, by the declared rule, with the reason."""
    n = len(y)
    if rule.method != "auto":
        return {"method": rule.method, "reason": f"fixed by train.calibration.method ({n:,} leads)"}
    if n < rule.isotonic_min_leads:
        return {
            "method": "sigmoid",
            "reason": f"{n:,} calibration leads, fewer than the {rule.isotonic_min_leads:,} "
            "isotonic needs (train.calibration.isotonic_min_leads)",
        }
    folds = min(rule.folds, int(min(y.sum(), n - y.sum())))
    if folds < 2:
        return {"method": "sigmoid", "reason": "too few leads of one outcome to cross-validate"}
    raw = estimator.decision_function(x)
    losses = {
        method: cross_validated_log_loss(raw, y, method, folds, seed)
        for method in ("isotonic", "sigmoid")
    }
    method = "isotonic" if losses["isotonic"] < losses["sigmoid"] else "sigmoid"
    return {
        "method": method,
        "reason": f"{folds}-fold log loss on {n:,} calibration leads: isotonic "
        f"{losses['isotonic']:.5f}, sigmoid {losses['sigmoid']:.5f}",
        "cv_log_loss": losses,
    }
