"""`make bench` reproduces the pipeline in a scratch copy of the project (bench/pipeline.py):
the copy must hold every file a stage reads that no stage writes, or the benchmark fails at
its first stage (it once missed the contract proposal and the owners' agreement)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_scratch_copy_holds_every_input_no_stage_writes():
    sys.path.insert(0, str(ROOT / "bench"))
    import pipeline

    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    text = lambda value: str(value).replace("${project_dir}/", "")  # noqa: E731
    written = {text(out if isinstance(out, str) else next(iter(out))) for stage in dvc.values()
               for out in [*stage.get("outs", []), *stage.get("metrics", []),
                           *stage.get("plots", [])]}  # fmt: skip
    read = {text(dep) for stage in dvc.values() for dep in stage.get("deps", [])}
    read |= {next(iter(p)) for stage in dvc.values() for p in stage.get("params", [])
             if isinstance(p, dict)}  # fmt: skip
    copied = set(pipeline.PROJECT_FILES) | {"params.yaml"}
    missing = [
        path
        for path in sorted(read - written)
        if path not in copied and path.split("/")[0] not in pipeline.PROJECT_DIRS
        and not any(path.startswith(f"{out}/") for out in written)
    ]  # fmt: skip
    assert missing == []
    assert all((ROOT / path).exists() for path in [*pipeline.PROJECT_FILES, *pipeline.PROJECT_DIRS])
