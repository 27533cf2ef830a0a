"""Score 1-100 and grade A/B/C/D from a calibrated probability.

The grading (grade thresholds and score cut points) is learned at training time and stored in
the model card, so batch scoring and the API grade identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRADES = ("A", "B", "C", "D")
SCORE_STEPS = 100


@dataclass(frozen=True)
class Grading:
    """Minimum probability per grade (A > B > C; D is the rest) and the score cut points."""

    thresholds: dict[str, float]
    score_edges: tuple[float, ...]

    def score(self, probability: np.ndarray) -> np.ndarray:
        """1-100: the lead's percentile among the calibration leads (monotone in probability)."""
        return 1 + np.searchsorted(np.asarray(self.score_edges), probability, side="right")

    def grade(self, probability: np.ndarray) -> np.ndarray:
        probability = np.asarray(probability)
        grades = np.full(probability.shape, GRADES[-1], dtype=object)
        for name in reversed(GRADES[:-1]):  # C, then B, then A overwrite
            grades[probability >= self.thresholds[name]] = name
        return grades

    def to_dict(self) -> dict:
        return {"thresholds": dict(self.thresholds), "score_edges": list(self.score_edges)}

    @classmethod
    def from_dict(cls, data: dict) -> Grading:
        return cls(thresholds=dict(data["thresholds"]), score_edges=tuple(data["score_edges"]))


def score_edges(probability: np.ndarray) -> tuple[float, ...]:
    """The 99 probability quantiles that cut the calibration leads into 100 equal score steps."""
    quantiles = np.quantile(probability, np.arange(1, SCORE_STEPS) / SCORE_STEPS)
    return tuple(float(q) for q in quantiles)
