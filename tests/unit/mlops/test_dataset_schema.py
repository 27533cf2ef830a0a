"""The data sets a training run logs carry the schema of the whole frame, read cheaply."""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.types.utils import _infer_schema

from leadscore.mlops.tracking import schema_rows


def messy_leads(n: int = 5000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "channel": pd.Series(rng.choice(["web", "event", None], n), dtype="str"),
            "industry": pd.Series(rng.choice(["retail", "energy"], n), dtype="str"),
            "visits": rng.poisson(3, n).astype(float),
            "revenue": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
            "demo": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "converted": rng.random(n) < 0.1,
            "created_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 99, n), "D"),
        }
    )
    frame.loc[n - 1, "industry"] = None  # missing only in the very last row
    return frame


def test_the_schema_of_a_few_rows_is_the_schema_of_the_frame():
    frame = messy_leads()
    rows = schema_rows(frame)
    assert len(rows) <= 2 * frame.shape[1]
    assert infer_signature(rows).inputs == _infer_schema(frame)
    assert not infer_signature(rows).inputs.input_dict()["industry"].required


def test_a_column_of_mixed_python_objects_is_read_in_full():
    frame = messy_leads(200).assign(note=[1, "a"] * 100)
    assert schema_rows(frame) is frame
