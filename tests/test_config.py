"""The parameter file is validated up front, with errors that name the key."""

from __future__ import annotations

import pytest

from leadscore.core.config import ParamsError, load_params, parse_params


def test_project_params_are_valid(project_root):
    params = load_params(project_root / "params.yaml")
    assert "sales_status" in params.contract.excluded_fields
    assert params.contract.outcome.window_days > 0


def test_bad_value_names_the_key(default_params_raw):
    raw = {**default_params_raw, "train": {**default_params_raw["train"], "learning_rate": -1}}
    with pytest.raises(ParamsError, match=r"train\.learning_rate"):
        parse_params(raw)


def test_unknown_key_is_refused(default_params_raw):
    raw = {**default_params_raw, "split": {**default_params_raw["split"], "test_month": 2}}
    with pytest.raises(ParamsError, match=r"split\.test_month"):
        parse_params(raw)


def test_missing_file_is_explained(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")
