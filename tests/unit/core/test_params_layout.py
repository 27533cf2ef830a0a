"""`dvc exp run -S` keeps params.yaml as written: DVC's own param setter on every key changes
that key's line only, and every `dvc exp run -S` example in the docs names a real key."""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path

import pytest
from dvc.utils.hydra import apply_overrides  # what `dvc exp run -S` runs on the file

from leadscore.core.config import load_params
from leadscore.core.params_file import read_yaml

ROOT = Path(__file__).resolve().parents[3]
FILES = ("params.yaml", "contract.yaml", "contract.proposal.yaml")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "contract.proposal.yaml"]
EXAMPLE = re.compile(r"dvc exp run -S '?([\w.:+\-]+=[^'`\s]+)'?")  # not `-S <key>=<value>`


def scalar_keys(tree: object, path: str = "") -> list[tuple[str, object]]:
    """Dotted keys of every scalar in a mapping (lists are set whole, so not walked)."""
    if not isinstance(tree, dict):
        return [(path, tree)]
    return [
        pair
        for key, value in tree.items()
        if not (isinstance(value, list | dict) and not value) and not isinstance(value, list)
        for pair in scalar_keys(value, f"{path}.{key}" if path else str(key))
    ]


def changed(value: object) -> str:
    """A different value of the same kind, as an override writes it."""
    if isinstance(value, bool):
        return str(not value).lower()
    if isinstance(value, int | float):
        return str(value + 1)
    return "7" if value is None else "changed"


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def project(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


KEYS = scalar_keys(read_yaml(ROOT / "params.yaml"))


def test_every_tunable_knob_is_a_key():
    keys = dict(KEYS)
    assert keys["train.search.boosting.b1.learning_rate"] == 0.05
    assert len(KEYS) > 60


@pytest.mark.parametrize(("key", "value"), KEYS, ids=[k for k, _ in KEYS])
def test_setting_a_key_changes_its_line_only(tmp_path, key, value):
    path = project(tmp_path) / "params.yaml"
    before = path.read_text()
    apply_overrides(str(path), [f"{key}={changed(value)}"])
    lines = changed_lines(before, path.read_text())
    assert len(lines) == 2, lines  # one line out, one in: no comment moved, no quote re-styled
    name = key.rpartition(".")[2]
    assert lines[0].lstrip("- ").startswith(f"{name}:") and changed(value) in lines[1], lines


def examples() -> list[str]:
    found = {m for doc in DOCS for m in EXAMPLE.findall(doc.read_text())}
    return sorted(found)


def test_the_docs_show_experiments():
    assert "train.search.boosting.b1.learning_rate=0.06" in examples()


@pytest.mark.parametrize("example", examples())
def test_each_documented_experiment_sets_a_real_key_in_one_place(tmp_path, example):
    root = project(tmp_path)
    target, _, override = example.rpartition(":") if ".yaml:" in example else ("", "", example)
    target = target or "params.yaml"
    before = {name: (root / name).read_text() for name in FILES}
    apply_overrides(str(root / target), [override])
    after = {name: (root / name).read_text() for name in FILES}
    assert [n for n in FILES if before[n] != after[n]] == [target]
    key, _, value = override.lstrip("+").partition("=")
    if target == "params.yaml":
        lines = changed_lines(before[target], after[target])
        new = lines[1][1:].partition("#")[0].strip()
        assert len(lines) == 2 and new == f"{key.rpartition('.')[2]}: {value}", lines
    params = load_params(root / "params.yaml")  # the key exists and validates
    node: object = params
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    assert str(node) == value
