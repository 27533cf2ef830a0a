"""Tracked outputs are the same bytes on any CPU: floats that differ in their last bits
(FMA, AVX-512, BLAS kernels) are written as the same value."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from leadscore.core.io import write_parquet
from leadscore.model.bundle import canonical_parameters, round_significant


def last_bits_apart(values: np.ndarray, ulps: int = 40) -> np.ndarray:
    """The same values a few units in the last place away: another CPU's result."""
    other = values.copy()
    for _ in range(ulps):
        other = np.nextafter(other, np.inf)
    return other


def test_a_table_written_on_another_cpu_has_the_same_bytes(tmp_path):
    rng = np.random.default_rng(3)
    truth = pd.DataFrame(
        {"lead_id": np.arange(1000), "p": 1 / (1 + np.exp(-rng.normal(size=1000)))}
    )
    other = truth.assign(p=last_bits_apart(truth["p"].to_numpy()))
    write_parquet(truth, tmp_path / "a.parquet", index=False)
    write_parquet(other, tmp_path / "b.parquet", index=False)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    back = pd.read_parquet(tmp_path / "a.parquet")["p"]
    assert np.abs(back - truth["p"]).max() < 1e-10


def test_a_linear_model_fitted_on_another_cpu_pickles_the_same(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 6)) * [1, 10, 1e3, 1e6, 0.01, 1]
    y = (x[:, 0] + rng.normal(size=2000) > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    other = joblib.load(io.BytesIO(pickled(model)))
    for step in other:  # every fitted parameter a few last bits away
        for name in ("coef_", "intercept_", "mean_", "var_", "scale_"):
            if hasattr(step, name):
                setattr(step, name, last_bits_apart(getattr(step, name)))
    assert pickled(model) != pickled(other)
    assert pickled(canonical_parameters(model)) == pickled(canonical_parameters(other))
    assert np.abs(model.predict_proba(x) - other.predict_proba(x)).max() < 1e-5


def pickled(fitted) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    return buffer.getvalue()


def test_significant_digits_keep_zeros_and_non_finite_values():
    values = np.array([0.0, 123456789.0, -0.000123456789, np.inf, np.nan])
    rounded = round_significant(values)
    assert rounded[:3].tolist() == [0.0, 123457000.0, -0.000123457]
    assert np.isinf(rounded[3]) and np.isnan(rounded[4])


def test_a_json_report_written_on_another_cpu_has_the_same_bytes(tmp_path):
    from leadscore.core.io import write_json

    auc = np.array([0.8855123456789012, 1 / 3, 2e-7])
    for name, values in (("a", auc), ("b", last_bits_apart(auc))):
        write_json(tmp_path / f"{name}.json", {"auc": values[0], "figures": list(values[1:])})
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()
    assert '"auc": 0.8855123457' in (tmp_path / "a.json").read_text()
