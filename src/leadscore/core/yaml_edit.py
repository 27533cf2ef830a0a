"""YAML written by leadscore: whole files written atomically, and edits of a person's file that
keep its comments, quotes and layout (a one-number change is a one-line diff)."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)


def write_yaml(path: Path, header: str, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=4096)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(header + text, encoding="utf-8")
    temporary.replace(path)


# (mapping indent, sequence indent, sequence dash offset) of the usual YAML layouts
LAYOUTS = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4), (4, 4, 0))


def _round_trip(text: str) -> Any:
    """A round-trip YAML loader that writes `text` back byte for byte when one of the usual
    layouts does (comments, quotes and flow mappings on one line are kept)."""
    from ruamel.yaml import YAML

    def loader(layout: tuple[int, int, int]) -> YAML:
        yaml_ = YAML(typ="rt")
        yaml_.preserve_quotes = True
        yaml_.width = 4096
        yaml_.indent(mapping=layout[0], sequence=layout[1], offset=layout[2])
        return yaml_

    for layout in LAYOUTS:
        candidate = loader(layout)
        out = io.StringIO()
        candidate.dump(candidate.load(text), out)
        if out.getvalue() == text:
            return candidate
    log.warning(
        "the contract file's layout is not one leadscore can keep exactly: lines other "
        "than the changed ones may be re-indented (check git diff)"
    )
    return loader(LAYOUTS[0])


def edit_contract_file(path: Path, changes: dict[str, Any]) -> None:
    """Write `changes` (nested keys under `contract`) into the YAML file at `path`, keeping its
    comments, quotes and layout: a one-number change is a one-line diff."""
    text = path.read_text(encoding="utf-8")
    loader = _round_trip(text)
    document = loader.load(text)
    _set_nested(document["contract"], changes)
    out = io.StringIO()
    loader.dump(document, out)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(out.getvalue(), encoding="utf-8")
    temporary.replace(path)


def _set_nested(target: Any, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        old = target.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            _set_nested(old, value)
        elif isinstance(value, str) and isinstance(old, str) and type(old) is not str:
            target[key] = type(old)(value)  # the same quotes as before
        else:
            target[key] = value
