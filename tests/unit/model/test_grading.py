"""A grading without raw-score edges (an older bundle) scores from the calibrated probability.
(The score cut from the raw output, on an isotonic model: tests/e2e/test_retraining.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from leadscore.model.grading import Grading


def test_a_grading_without_raw_edges_scores_from_the_probability():
    old = Grading({"A": 0.5, "B": 0.2, "C": 0.1}, tuple(np.linspace(0.01, 0.99, 99)))
    assert old.score(np.array([0.0, 0.495, 1.0])).tolist() == [1, 50, 100]
    with pytest.raises(ValueError, match="raw"):
        Grading({"A": 0.5, "B": 0.2, "C": 0.1}, (0.5,) * 99, (0.0,) * 99).score(np.array([0.5]))
