"""The gate on the lower end of the test AUC's spread, and the bootstrap spread. (The spread over
refits of the chosen recipe: tests/e2e/test_model_choice.py.)"""

from __future__ import annotations

import numpy as np

from leadscore.analysis.evaluate import (
    bootstrap_spread,
    signal_verdict,
    uses_refits,
)
from leadscore.core.stats import roc_auc_interval


def test_a_lucky_seed_cannot_pass_the_gate():
    """The gate reads the lowest interval end over the seeds, not the served point."""
    metrics = {"roc_auc": 0.66, "roc_auc_ci_low": 0.56, "roc_auc_gate_low": 0.53}
    verdict = signal_verdict(metrics, 0.55)
    assert not verdict["usable"] and "0.530" in verdict["reason"]
    assert signal_verdict({**metrics, "roc_auc_gate_low": 0.555}, 0.55)["usable"]


def test_the_bootstrap_spread_on_a_large_training_period(trained):
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.2).astype(int)
    probability = np.clip(0.2 + 0.3 * (y - 0.2) + rng.normal(0, 0.2, 3000), 0, 1)
    low, high = roc_auc_interval(y, probability)
    spread = bootstrap_spread(y, probability, 200, 0, low)
    assert spread["test_auc_spread_method"] == "bootstrap" and spread["test_auc_spread_n"] == 200
    assert low - 0.01 < spread["roc_auc_gate_low"] <= low
    assert spread["test_auc_spread_min"] < spread["test_auc_spread_max"] < high + 0.01
    _, _, card = trained
    data = card.training_data.model_copy(update={"rows_train": 120_000})
    card = card.model_copy(update={"training_data": data})
    from leadscore.core.config import EvaluateParams

    assert not uses_refits(card, EvaluateParams())
