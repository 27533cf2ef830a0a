"""Model tests: the contract's exclusions hold, and the model learns something real."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from leadscore.model.train import data_hash


def test_post_contact_field_is_not_a_model_input(tiny_models, tiny_params):
    pipeline, baseline, card = tiny_models
    assert "sales_status" in tiny_params.contract.excluded_fields
    inputs = set(pipeline.named_steps["features"].feature_names_in_)
    assert "sales_status" not in inputs
    assert "sales_status" not in set(baseline.named_steps["features"].feature_names_in_)
    assert "sales_status" not in card.spec.fields
    assert not set(tiny_params.contract.excluded_fields) & inputs


def test_pipeline_scores_raw_leads(tiny_models, tiny_split):
    pipeline, _, card = tiny_models
    raw = tiny_split.test  # raw lead rows, extra columns included
    probability = pipeline.predict_proba(raw)[:, 1]
    assert ((probability >= 0) & (probability <= 1)).all()
    auc = roc_auc_score(raw["converted"], probability)
    assert auc > 0.7, f"tiny model AUC {auc:.3f} shows it learned nothing"


def test_model_is_invariant_to_the_noise_field(tiny_models, tiny_split):
    pipeline, _, _ = tiny_models
    leads = tiny_split.test.head(300)
    flipped = leads.assign(form_variant=np.where(leads["form_variant"] == "a", "b", "a"))
    delta = np.abs(pipeline.predict_proba(leads)[:, 1] - pipeline.predict_proba(flipped)[:, 1])
    assert np.median(delta) < 0.01


def test_unseen_category_still_scores(tiny_models, tiny_split):
    pipeline, _, _ = tiny_models
    leads = tiny_split.test.head(5).assign(campaign="never-seen-before", job_title=None)
    assert np.isfinite(pipeline.predict_proba(leads)[:, 1]).all()


def test_data_hash_changes_with_content(tiny_split):
    frame = tiny_split.train.head(50)
    assert data_hash(frame) == data_hash(frame.copy())
    assert data_hash(frame) != data_hash(frame.assign(website_visits=frame["website_visits"] + 1))
