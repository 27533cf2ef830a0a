"""Compiling a fitted pipeline's parts for the scorer (`leadscore.scoring.scorer`): each
calibration map as its interpolation table or sigmoid, and the fitted ordinal encoder as a
value -> code dictionary per categorical field, read by running the encoder on every known
category. A part that cannot be compiled faithfully raises `CompileError`: the bundle is not
served."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from leadscore.core.schema import FeatureSpec


class CompileError(RuntimeError):
    """The pipeline cannot be compiled faithfully; the bundle is not served."""


@dataclass(frozen=True)
class Calibrator:
    """One fitted calibration map from raw booster output to probability."""

    method: str  # "isotonic" | "sigmoid"
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    a: float = 0.0
    b: float = 0.0

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            mapped: np.ndarray = np.interp(np.clip(raw, self.x[0], self.x[-1]), self.x, self.y)
            return mapped
        sigmoid: np.ndarray = expit(-(self.a * raw + self.b))
        return sigmoid


def compile_calibrators(calibrated: Any, booster: Any) -> tuple[Calibrator, ...]:
    compiled = []
    for member in calibrated.calibrated_classifiers_:
        inner = getattr(member.estimator, "estimator", member.estimator)
        if inner is not booster:
            raise CompileError("calibrated members wrap different boosters")
        (calibrator,) = member.calibrators
        if member.method == "isotonic":
            x, y = calibrator.X_thresholds_, calibrator.y_thresholds_
            compiled.append(Calibrator("isotonic", x=np.asarray(x), y=np.asarray(y)))
        elif member.method == "sigmoid":
            compiled.append(Calibrator("sigmoid", a=float(calibrator.a_), b=float(calibrator.b_)))
        else:
            raise CompileError(f"unsupported calibration method {member.method!r}")
    return tuple(compiled)


def category_codes(pipeline: Any, spec: FeatureSpec) -> tuple[dict[str, float], ...]:
    """value -> code of every known category, read by running the fitted encoder on them."""
    categorical = pipeline.named_steps["features"].named_transformers_.get("categorical")
    if not spec.categorical:
        return ()
    if categorical is None:
        raise CompileError("the pipeline has no 'categorical' transformer")
    encoder = categorical.steps[-1][1]
    known = [[c for c in cats if not pd.isna(c)] for cats in encoder.categories_]
    rows = max(len(values) for values in known)
    probe = pd.DataFrame(
        {
            name: [values[i % len(values)] for i in range(rows)]
            for name, values in zip(spec.categorical, known, strict=True)
        }
    )
    codes = categorical.transform(probe)
    return tuple(
        {str(value): float(codes[i, j]) for i, value in enumerate(probe[name])}
        for j, name in enumerate(spec.categorical)
    )
