"""Reading the parameter files as DVC does: `params.yaml`, the `contract.yaml` beside it and the
open proposal's changed keys overlaid on the agreed contract (unvalidated mappings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadscore.core.errors import LeadscoreError


class ParamsError(LeadscoreError, ValueError):
    """`params.yaml` is missing, unreadable or does not match the expected shape."""


CONTRACT_FILE = "contract.yaml"


def read_yaml(path: Path) -> Any:
    """A YAML file as DVC reads it: YAML 1.2 (ruamel.yaml, pure Python, safe types only)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from None


def _mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ParamsError(f"{path} not found (run from the project root or pass --params)")
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path} must be a mapping of sections")
    return raw


def read_raw_params(path: Path | str = "params.yaml") -> dict[str, Any]:
    """`params.yaml` with the `contract` section of the `contract.yaml` beside it, unvalidated.

    Without a `contract.yaml`, the contract may sit in `params.yaml` itself (one file is handy
    for a quick in-process run); with one, it must be there only.
    """
    path = Path(path)
    raw = _mapping(path)
    contract_path = path.with_name(CONTRACT_FILE)
    if contract_path.is_file():
        if "contract" in raw:
            raise ParamsError(
                f"the contract is in both {path} and {contract_path}: keep it in "
                f"{contract_path} only (`dvc exp run -S contract.<key>=...` writes to "
                f"{path.name}; write `-S {CONTRACT_FILE}:contract.<key>=...`)"
            )
        contract = _mapping(contract_path)
        if set(contract) != {"contract"}:
            raise ParamsError(
                f"{contract_path} holds the contract section only (found {sorted(contract)})"
            )
        raw["contract"] = with_proposal(contract["contract"], read_proposal(path))
    return raw


PROPOSAL_FILE = "contract.proposal.yaml"


def read_proposal(params_path: Path | str = "params.yaml") -> dict[str, Any]:
    """The changed keys of the open proposal (`contract.proposal.yaml` beside `params.yaml`):
    `{}` when there is none. Only the keys a proposal changes are in it, so an experiment on
    the contract (`dvc exp run -S 'contract.proposal.yaml:+contract.grades.A.min_conversion=0.45'`)
    rewrites that small file and never the agreed `contract.yaml`."""
    path = Path(params_path).with_name(PROPOSAL_FILE)
    if not path.is_file():
        return {}
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict) or not set(raw) <= {"contract", "proposal"}:
        raise ParamsError(f"{path} holds `contract:` (the changed keys) and `proposal:` only")
    changes = raw.get("contract") or {}
    if not isinstance(changes, dict):
        raise ParamsError(f"{path}: `contract` must be a mapping of the changed keys")
    return changes


def with_proposal(agreed: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The agreed contract with a proposal's changed keys: mappings merge key by key, any other
    value (a number, a text, a list) is replaced whole."""
    merged = dict(agreed)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = with_proposal(merged[key], value)
        else:
            merged[key] = value
    return merged
