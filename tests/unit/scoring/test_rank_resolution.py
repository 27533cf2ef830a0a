"""The 1-100 score ranks leads by the model's raw output; the grade follows the calibrated
probability. Calibration's flat steps must not tie leads the model separates.

The tiny bundle's calibration set is small, so it is calibrated by a sigmoid (no ties); these
tests use the same model calibrated by isotonic regression, whose steps do tie leads."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import grading_record_of

from leadscore.model.bundle import load_bundle, save_bundle
from leadscore.model.grading import Grading, raw_score_edges
from leadscore.model.train import raw_output
from leadscore.scoring.scorer import Scorer, score_leads

GRADE_ORDER = {"D": 0, "C": 1, "B": 2, "A": 3}


@pytest.fixture(scope="module")
def bundle(tiny_split, tiny_params, tmp_path_factory):
    from leadscore.model.train import train_models

    train = tiny_params.train
    calibration = train.calibration.model_copy(update={"method": "isotonic"})
    params = tiny_params.model_copy(
        update={"train": train.model_copy(update={"calibration": calibration})}
    )
    models = train_models(tiny_split.train, tiny_split.valid, params)
    assert models[2].calibration.method == "isotonic"
    directory = tmp_path_factory.mktemp("isotonic") / "models"
    save_bundle(directory, *models, grading_record_of(models, tiny_split, params))
    return load_bundle(directory)


@pytest.fixture(scope="module")
def scored(bundle, tiny_split):
    scorer = Scorer.from_bundle(bundle)
    matrix, _, _ = scorer.encode_frame(tiny_split.test)
    return scorer.score(matrix)


def test_the_score_separates_what_calibration_ties(bundle, scored):
    assert bundle.grading.raw_score_edges, "the grade stage cuts the score from the raw output"
    _, tied = np.unique(scored.probability, return_counts=True)
    steps, step_size = np.unique(scored.score, return_counts=True)
    assert len(steps) >= 90 > len(tied)  # calibration leaves fewer distinct values than that
    assert step_size.max() < tied.max()


def test_score_rises_with_the_raw_output_and_never_against_the_grade(scored):
    order = np.argsort(scored.raw, kind="stable")
    assert (np.diff(scored.score[order]) >= 0).all()
    assert (np.diff(scored.probability[order]) >= -1e-15).all()
    grades = np.array([GRADE_ORDER[g] for g in scored.grade[order]])
    assert (np.diff(grades) >= 0).all()


def test_pipeline_and_compiled_scorer_give_the_same_scores(bundle, scored, tiny_split):
    expected = score_leads(bundle, tiny_split.test)
    assert (scored.score == expected["score"].to_numpy()).all()
    assert (scored.grade == expected["grade"].to_numpy()).all()


def test_raw_edges_cut_equal_steps_away_from_any_calibration_lead(bundle, tiny_split):
    fields = list(Scorer.from_bundle(bundle).fields)
    raw = raw_output(bundle.pipeline, tiny_split.valid[fields])
    edges = np.asarray(raw_score_edges(raw))
    assert len(edges) == 99 and (np.diff(edges) >= 0).all()
    assert not np.isin(edges, raw).any()  # halfway between leads: last bits cannot flip a step
    grading = Grading({"A": 0.9, "B": 0.5, "C": 0.1}, (0.5,) * 99, tuple(edges))
    steps = np.bincount(grading.score(None, raw), minlength=101)[1:]
    assert steps.min() >= 0.5 * len(raw) / 100 and steps.max() <= 2 * len(raw) / 100
    nudged = grading.score(None, raw + np.where(np.arange(len(raw)) % 2, 1e-12, -1e-12))
    assert (nudged == grading.score(None, raw)).all()


def test_a_grading_without_raw_edges_scores_from_the_probability():
    old = Grading({"A": 0.5, "B": 0.2, "C": 0.1}, tuple(np.linspace(0.01, 0.99, 99)))
    assert old.score(np.array([0.0, 0.495, 1.0])).tolist() == [1, 50, 100]
    with pytest.raises(ValueError, match="raw"):
        Grading({"A": 0.5, "B": 0.2, "C": 0.1}, (0.5,) * 99, (0.0,) * 99).score(np.array([0.5]))
