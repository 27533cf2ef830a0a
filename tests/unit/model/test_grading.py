"""A grading without raw-score edges (an older bundle) scores from the calibrated probability.
(The score cut from the raw output, on an isotonic model: tests/e2e/test_retraining.py.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

from leadscore.model.grading import Grading, raw_score_edges, score_edges


def test_a_grading_without_raw_edges_scores_from_the_probability():
    old = Grading({"A": 0.5, "B": 0.2, "C": 0.1}, tuple(np.linspace(0.01, 0.99, 99)))
    assert old.score(np.array([0.0, 0.495, 1.0])).tolist() == [1, 50, 100]
    with pytest.raises(ValueError, match="raw"):
        Grading({"A": 0.5, "B": 0.2, "C": 0.1}, (0.5,) * 99, (0.0,) * 99).score(np.array([0.5]))


EDGES = tuple(k / 100 for k in range(1, 100))  # 0.01 ... 0.99: one score step per hundredth
GRADING = Grading({"A": 0.5, "B": 0.2, "C": 0.1}, EDGES)


def test_a_probability_on_a_threshold_takes_that_grade():
    probability = np.array([0.0, 0.0999, 0.1, 0.1999, 0.2, 0.4999, 0.5, 1.0])
    assert GRADING.grade(probability).tolist() == ["D", "D", "C", "C", "B", "B", "A", "A"]


def test_a_probability_on_a_score_edge_takes_the_step_above():
    probability = np.array([0.0, 0.0099, 0.01, 0.495, 0.5, 0.99, 1.0])
    assert GRADING.score(probability).tolist() == [1, 1, 2, 50, 51, 100, 100]


def test_a_grading_with_raw_edges_scores_from_the_raw_output_alone():
    raw_edges = tuple(float(edge) for edge in range(-49, 50))  # -49 ... 49
    grading = Grading(GRADING.thresholds, EDGES, raw_edges)
    probability = np.full(5, 0.5)  # would score 51 from the probability
    raw = np.array([-100.0, -49.0, 0.0, 48.5, 49.0])
    assert grading.score(probability, raw).tolist() == [1, 2, 51, 99, 100]
    with pytest.raises(ValueError) as raised:
        grading.score(probability)
    assert str(raised.value) == "this grading scores from the raw model output: pass `raw`"


def test_a_grading_round_trips_through_its_record():
    old = GRADING.to_dict()
    assert old == {"thresholds": {"A": 0.5, "B": 0.2, "C": 0.1}, "score_edges": list(EDGES)}
    assert Grading.from_dict(old) == GRADING
    assert Grading.from_dict(old).raw_score_edges == ()
    new = Grading(GRADING.thresholds, EDGES, (1.0, 2.0))
    assert new.to_dict() == {**old, "raw_score_edges": [1.0, 2.0]}
    assert Grading.from_dict(new.to_dict()) == new


def test_the_probability_edges_are_the_99_percentiles():
    assert score_edges(np.arange(101.0)) == pytest.approx([float(k) for k in range(1, 100)])


def test_each_raw_edge_lies_halfway_between_the_values_around_its_percentile():
    # 200 distinct values: the k-th percentile falls at 1.99 k, between floor(1.99 k) and the next
    expected = [math.floor(1.99 * k) + 0.5 for k in range(1, 100)]
    assert raw_score_edges(np.arange(200.0)) == pytest.approx(expected)


def test_tied_raw_outputs_share_one_score():
    # half the leads at 0, half at 1: percentiles 1-49 sit on the value 0, 50-99 reach 1
    raw = np.repeat([0.0, 1.0], 50)
    edges = raw_score_edges(raw)
    assert edges == tuple([0.0] * 49 + [0.5] * 50)
    grading = Grading(GRADING.thresholds, EDGES, edges)
    assert grading.score(np.zeros(2), np.array([0.0, 1.0])).tolist() == [50, 100]
