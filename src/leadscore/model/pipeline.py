"""Where the parts of the fitted scoring Pipeline sit: features, calibration, chosen model.

Training builds `Pipeline([(FEATURES, transformer), (CLASSIFIER, calibrated model)])`, the
model being a gradient-boosting classifier or a logistic regression (the model choice); the
scorer compiles it through these accessors.
"""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

FEATURES = "features"
CLASSIFIER = "classifier"


def features_of(pipeline: Pipeline) -> ColumnTransformer:
    """The fitted column transformer: raw lead fields -> model matrix."""
    return pipeline.named_steps[FEATURES]


def calibrated_of(pipeline: Pipeline) -> CalibratedClassifierCV:
    """The calibrated classifier: the booster's raw output -> probability."""
    return pipeline.named_steps[CLASSIFIER]


def booster_of(pipeline: Pipeline) -> HistGradientBoostingClassifier | LogisticRegression:
    """The fitted model inside the calibrated pipeline (a booster or a logistic regression)."""
    return calibrated_of(pipeline).calibrated_classifiers_[0].estimator.estimator
