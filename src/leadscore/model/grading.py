"""Score 1-100 and grade A/B/C/D of a lead.

The grade comes from the calibrated probability. The score is the lead's rank among the
calibration leads, cut from the booster's raw output: isotonic calibration is a step function
that gives whole blocks of leads one probability, while the raw output keeps them apart (see
`bench/rank_resolution.py`). Gradings made before that cut the score from the probability.
The grading (grade thresholds and score cut points) is derived by the grade stage from the
contract's promises on validation leads and sealed into the bundle as `grading.json`, so batch
scoring, Spark and the API grade identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadscore.core.contract import GradeLetter

GRADES: tuple[GradeLetter, ...] = ("A", "B", "C", "D")
SCORE_STEPS = 100


@dataclass(frozen=True)
class Grading:
    """Minimum probability per grade (A > B > C; D is the rest) and the score cut points
    (of the raw output when `raw_score_edges` is set, else of the probability)."""

    thresholds: dict[str, float]
    score_edges: tuple[float, ...]
    raw_score_edges: tuple[float, ...] = ()

    def score(self, probability: np.ndarray, raw: np.ndarray | None = None) -> np.ndarray:
        """1-100: the lead's percentile among the calibration leads (monotone in the raw output,
        hence in the probability)."""
        if self.raw_score_edges:
            if raw is None:
                raise ValueError("this grading scores from the raw model output: pass `raw`")
            return 1 + np.searchsorted(np.asarray(self.raw_score_edges), raw, side="right")
        return 1 + np.searchsorted(np.asarray(self.score_edges), probability, side="right")

    def grade(self, probability: np.ndarray) -> np.ndarray:
        probability = np.asarray(probability)
        grades = np.full(probability.shape, GRADES[-1], dtype=object)
        for name in reversed(GRADES[:-1]):  # C, then B, then A overwrite
            grades[probability >= self.thresholds[name]] = name
        return grades

    def to_dict(self) -> dict:
        data = {"thresholds": dict(self.thresholds), "score_edges": list(self.score_edges)}
        if self.raw_score_edges:
            data["raw_score_edges"] = list(self.raw_score_edges)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Grading:
        return cls(
            thresholds=dict(data["thresholds"]),
            score_edges=tuple(data["score_edges"]),
            raw_score_edges=tuple(data.get("raw_score_edges", ())),
        )


def score_edges(probability: np.ndarray) -> tuple[float, ...]:
    """The 99 probability quantiles that cut the calibration leads into 100 equal score steps."""
    quantiles = np.quantile(probability, np.arange(1, SCORE_STEPS) / SCORE_STEPS)
    return tuple(float(q) for q in quantiles)


def raw_score_edges(raw: np.ndarray) -> tuple[float, ...]:
    """The 99 cut points of the raw output that split the calibration leads into 100 equal
    score steps. Each lies halfway between two neighbouring distinct raw values (the leads fall
    on the same sides as at the quantile), so the score does not hinge on the last bits of a
    lead's raw output, which the compiled scorer and the pipeline compute in different order."""
    values = np.unique(raw)
    quantiles = np.quantile(raw, np.arange(1, SCORE_STEPS) / SCORE_STEPS)
    upper = np.searchsorted(values, quantiles, side="left")  # first value >= the quantile
    edges = (values[np.maximum(upper - 1, 0)] + values[upper]) / 2
    return tuple(float(edge) for edge in edges)
