"""The parameter file is validated up front, with errors that name the key."""

from __future__ import annotations

import pytest

from leadscore.core.config import load_params, parse_params
from leadscore.core.params_file import ParamsError


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


def test_the_contract_is_read_from_contract_yaml(project_root):
    from leadscore.core.params_file import CONTRACT_FILE, read_yaml

    assert "contract" not in read_yaml(project_root / "params.yaml")
    assert set(read_yaml(project_root / CONTRACT_FILE)) == {"contract"}
    assert load_params(project_root / "params.yaml").contract.version


def test_yaml_is_read_as_dvc_writes_it(tmp_path, project_root):
    """DVC rewrites params.yaml without quotes where YAML 1.2 needs none: `yes` stays text."""
    import shutil

    shutil.copy(project_root / "contract.yaml", tmp_path / "contract.yaml")
    (tmp_path / "params.yaml").write_text(
        "data:\n  outcome:\n    column: Enrolled\n    positive_values:\n    - yes\n    - on\n"
    )
    params = load_params(tmp_path / "params.yaml")
    assert params.data.outcome.positive_values == ("yes", "on")


def test_a_contract_in_both_files_is_refused(tmp_path, project_root, default_params_raw):
    import shutil

    import yaml

    shutil.copy(project_root / "contract.yaml", tmp_path / "contract.yaml")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(default_params_raw))
    with pytest.raises(ParamsError, match="contract is in both"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "contract.yaml").write_text("contract: {}\ntrain: {}\n")
    (tmp_path / "params.yaml").write_text("train: {}\n")
    with pytest.raises(ParamsError, match="holds the contract section only"):
        load_params(tmp_path / "params.yaml")


# What the two owners agreed in the contract is its content, not a setting with a default.
AGREEMENT_CONTENT = {
    "contract.grades",
    "contract.excluded_fields",
    "contract.allowed_fields",
    "contract.profiles",
    "contract.follow_up.promises",  # sales' promises: none unless the owners sign some
}


def code_defaults_that_differ(model, default=None, path: str = "") -> list[str]:
    """Keys whose value in the parsed file differs from the code's default for that key.

    `default` is the default instance of `model`'s section, when the section has one.
    """
    from pydantic import BaseModel

    differ = []
    for name, field in type(model).model_fields.items():
        key = f"{path}.{name}" if path else name
        if key in AGREEMENT_CONTENT:
            continue
        value = getattr(model, name)
        if default is not None:
            expected, has_default = getattr(default, name), True
        else:
            has_default = not field.is_required()
            expected = field.get_default(call_default_factory=True) if has_default else None
        if isinstance(value, BaseModel):
            differ += code_defaults_that_differ(value, expected, key)
        elif has_default and expected != value:
            differ.append(f"{key}: code {expected!r}, params.yaml {value!r}")
    return differ


def test_code_defaults_agree_with_params_yaml(project_root):
    """A key left out of params.yaml behaves as the project's params.yaml documents it."""
    params = load_params(project_root / "params.yaml")
    assert code_defaults_that_differ(params) == []
