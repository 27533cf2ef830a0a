"""Where the parts of the fitted scoring Pipeline sit: features, calibration, booster.

Training builds `Pipeline([(FEATURES, transformer), (CLASSIFIER, calibrated booster)])`; the
scorer compiles it and the tests take it apart through these accessors only.
"""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

FEATURES = "features"
CLASSIFIER = "classifier"


def features_of(pipeline: Pipeline) -> ColumnTransformer:
    """The fitted column transformer: raw lead fields -> model matrix."""
    return pipeline.named_steps[FEATURES]


def calibrated_of(pipeline: Pipeline) -> CalibratedClassifierCV:
    """The calibrated classifier: the booster's raw output -> probability."""
    return pipeline.named_steps[CLASSIFIER]


def booster_of(pipeline: Pipeline) -> HistGradientBoostingClassifier:
    """The fitted gradient-boosting model inside the calibrated pipeline."""
    return calibrated_of(pipeline).calibrated_classifiers_[0].estimator.estimator
