"""Second trainings on the generated data (the shared tiny model is trained once, in
tests/conftest.py): training is reproducible, a model trained on every field the leakage guard
keeps never sees sales' follow-up, and the same model calibrated by isotonic regression keeps
the 1-100 score apart from calibration's ties. Each trains a real model, so end to end."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import grading_record_of

from leadscore.core import fields
from leadscore.data.ingest import input_fields
from leadscore.model.bundle import load_bundle, save_bundle
from leadscore.model.grading import Grading, raw_score_edges
from leadscore.model.train import booster_of, raw_output
from leadscore.scoring.scorer import Scorer, score_leads


def test_training_is_reproducible(tiny_models, tiny_split, tiny_params):
    from leadscore.model.train import train_models

    _, _, card = tiny_models
    pipeline2, _, card2 = train_models(tiny_split.train, tiny_split.valid, tiny_params)
    assert card2.model_version == card.model_version
    assert card2.metrics.valid_roc_auc == card.metrics.valid_roc_auc
    assert booster_of(pipeline2).n_iter_ == card.booster_iterations


FOLLOW_UP = (fields.FIRST_CONTACT_AT, fields.SALES_TOUCHES, fields.OWNER)


def test_a_model_trained_on_the_generated_table_never_sees_follow_up(
    reviewed, tiny_split, tiny_params
):
    from leadscore.core.schema import FeatureSpec
    from leadscore.model.train import train_models

    valid, kept, _ = reviewed
    candidates = FeatureSpec.from_dict(input_fields(valid, kept, builtin=True))
    pipeline, _, card = train_models(tiny_split.train, tiny_split.valid, tiny_params, candidates)
    inputs = set(card.spec.fields)
    assert inputs and not inputs & set(FOLLOW_UP)
    assert not inputs & {"sales_status", fields.DEAL_VALUE}
    assert not set(FOLLOW_UP) & set(pipeline.feature_names_in_)


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
