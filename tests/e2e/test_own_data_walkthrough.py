"""docs/own-data.md's walk-through, run as written on ../shared/datasets/real-estate-funnel/:
`leadscore init`, the owners' keys and approvals, `dvc repro` (outside git) and the scorecard.
Only the contract's TODOs are answered in between (as the example's owners answered them), and
the booster is made quick for the test."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ROOT
from test_init_examples import answer_todos, quick

DATA = PROJECT_ROOT.parent / "shared" / "datasets" / "real-estate-funnel"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(
    not (DATA / "Leads.csv").is_file(), reason=f"the real-estate export is not at {DATA}"
)


def walkthrough() -> list[str]:
    """The commands of the walk-through's shell blocks, in order (comments dropped)."""
    text = (PROJECT_ROOT / "docs" / "own-data.md").read_text()
    section = text.split("## Walk-through")[1].split("\n## ")[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line:
                commands.append(line)
    return commands


def test_the_walkthrough_runs_on_the_real_estate_funnel(tmp_path):
    commands = walkthrough()
    assert commands[0].startswith(".venv/bin/leadscore init ")
    folder, keys = tmp_path / "my-funnel", tmp_path / "keys"
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    cwd, outputs, answered = PROJECT_ROOT, [], False
    for command in commands:
        words = [
            w.replace("../my-funnel", str(folder)).replace("~/.leadscore", str(keys))
            for w in shlex.split(command)
        ]
        if words[0] == "cd":
            cwd = Path(words[1])
            continue
        if words[0] in ("leadscore", ".venv/bin/leadscore"):
            words[0] = str(BIN / "leadscore")
        elif words[0] == "dvc":
            words[0] = str(BIN / "dvc")
        if not answered and "contract" in words and "approve" in words:
            answer_todos(folder, PROJECT_ROOT / "examples" / "real-estate")
            params = yaml.safe_load((folder / "params.yaml").read_text())
            (folder / "params.yaml").write_text(yaml.safe_dump(quick(params), sort_keys=False))
            answered = True
        result = subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    assert "10 TODOs to answer" in outputs[0] and "next: cd" in outputs[0]
    assert "no_scm = True" in (folder / ".dvc" / "config").read_text()
    contract = json.loads((folder / "reports" / "contract.json").read_text())
    assert contract["agreement"]["agreed"]
    assert contract["publish_gate"]["publishable"] is False  # no usable signal, as documented
    assert contract["currency"] == "AED"
    assert "AED " in (folder / "reports" / "report.html").read_text()
