"""Quality per snapshot age: with activity events every lead is scored at several moments
(leadscore.data.behaviour), and the model must rank leads well at each of them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from leadscore.core import fields
from leadscore.core.stats import roc_auc_interval
from leadscore.data import behaviour


def has_snapshots(test: pd.DataFrame) -> bool:
    """The rows are snapshots of leads (a prepared table with activity events)."""
    return behaviour.SCORED_AT in test


def by_snapshot_day(
    test: pd.DataFrame, probability: np.ndarray, truth: pd.Series | None
) -> list[dict]:
    """Per snapshot day: leads, conversion, the model's AUC with its 95 % interval and, for
    generated data, the oracle AUC and the ratio of the two."""
    day = behaviour.snapshot_day(test[fields.LEAD_ID]).to_numpy()
    y = test[fields.CONVERTED].to_numpy(int)
    rows = []
    for value in np.unique(day):
        mine = day == value
        row: dict = {
            "snapshot_day": int(value),
            "leads": int(mine.sum()),
            "conversion": float(y[mine].mean()),
        }
        if 0 < y[mine].sum() < mine.sum():
            auc = float(roc_auc_score(y[mine], probability[mine]))
            low, high = roc_auc_interval(y[mine], probability[mine])
            row |= {"roc_auc": auc, "roc_auc_ci_low": low, "roc_auc_ci_high": high}
            if truth is not None:
                oracle = float(roc_auc_score(y[mine], truth.to_numpy()[mine]))
                row |= {"oracle_roc_auc": oracle, "auc_to_oracle": auc / oracle}
        rows.append(row)
    return rows
