"""dvc.yaml lists every parameter a stage reads, so a params change re-runs the right stages.

Every stage's `main()` runs in-process on tiny data, twice: on the built-in generator (dated
leads) and on a CRM export without creation dates (the examples run the same dvc.yaml).
Meanwhile each read of a `params.yaml` value is recorded by its dotted path
(`contract.outcome.window_days`); reading a whole section (`model_dump`) records the section.
Each read must be covered by the stage's `params:` in dvc.yaml (a section covers its keys;
the contract's keys are declared under `contract.yaml:`, the file it lives in).
The imports each stage runs are checked by `tests/unit/test_dvc_deps.py`.
"""

from __future__ import annotations

import contextlib
import importlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from leadscore.core import config, section

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "dvc.yaml"  # the examples run this same file through a symlink
DROPPED_FROM_EXPORT = ("created_at", "won_at", "deal_value", "sales_status")


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class ParamsReads:
    """Records which `params.yaml` values are read, by dotted path, while it is active."""

    def __init__(self) -> None:
        self.paths: dict[int, tuple[BaseModel, str]] = {}
        self.reads: set[str] = set()

    def register(self, model: BaseModel, path: str) -> None:
        self.paths[id(model)] = (model, path)
        for name in type(model).model_fields:
            value = model.__dict__.get(name)
            if isinstance(value, BaseModel):
                self.register(value, join(path, name))

    def path_of(self, model: BaseModel) -> str | None:
        if isinstance(model, config.Params) and id(model) not in self.paths:
            self.register(model, "")  # every Params object is a whole params.yaml
        entry = self.paths.get(id(model))
        return entry[1] if entry is not None and entry[0] is model else None

    def read(self, model: BaseModel, name: str, value: object) -> None:
        path = self.path_of(model)
        if path is None:
            return
        inner = isinstance(value, BaseModel) and self.path_of(value) is not None
        if not inner:  # a leaf value; a section is recorded when one of its values is read
            self.reads.add(join(path, name))

    def read_all(self, model: BaseModel, include: object = None, path: str | None = None) -> None:
        """A dump of a section (or of the keys in `include`) reads all it contains."""
        path = self.path_of(model) if path is None else path
        if path is None:
            return
        if not include:
            self.reads.add(path)
            return
        for key in include:
            nested = include[key] if isinstance(include, dict) else None
            if isinstance(nested, set | dict):
                self.read_all(model, nested, join(path, key))
            else:
                self.reads.add(join(path, key))

    @contextlib.contextmanager
    def recording(self) -> Iterator[set[str]]:
        """Instrument the params models; yields the set the reads go into."""
        reads = self

        def getattribute(model: BaseModel, name: str) -> object:
            value = object.__getattribute__(model, name)
            if not name.startswith("_") and name in type(model).model_fields:
                reads.read(model, name, value)
            return value

        def dumping(method):
            def dump(model: BaseModel, *args, **kwargs):
                reads.read_all(model, kwargs.get("include"))
                return method(model, *args, **kwargs)

            return dump

        def model_copy(model: BaseModel, *args, **kwargs) -> BaseModel:
            copy = BaseModel.model_copy(model, *args, **kwargs)
            path = reads.path_of(model)
            if path is not None:
                reads.register(copy, path)
            return copy

        with pytest.MonkeyPatch.context() as patch:
            for cls in (section.Section, config.Params):
                patch.setattr(cls, "__getattribute__", getattribute)
                patch.setattr(cls, "model_dump", dumping(BaseModel.model_dump))
                patch.setattr(cls, "model_dump_json", dumping(BaseModel.model_dump_json))
                patch.setattr(cls, "__iter__", dumping(BaseModel.__iter__))
                patch.setattr(cls, "model_copy", model_copy)
            yield self.reads


def run_pipeline(root: Path, pipeline: Path, params: dict) -> dict[str, set[str]]:
    """Run the pipeline's stages in dvc.yaml order in `root`; the params each one read."""
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    reads: dict[str, set[str]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        for stage in yaml.safe_load(pipeline.read_text())["stages"]:
            recorder = ParamsReads()
            with recorder.recording() as stage_reads:
                importlib.import_module(f"leadscore.stages.{stage}").main()
            reads[stage] = set(stage_reads)
    return reads


def tiny(default_params_raw: dict) -> dict:
    raw = yaml.safe_load(yaml.safe_dump(default_params_raw))
    raw["generate"]["n_leads"] = 6000
    raw["train"]["max_iter"] = 30
    raw["importance"].update(max_rows=500, shap_rows=100, repeats=1)
    raw["contract"]["publish_gate"].update(min_positives=30, min_negatives=30)  # tiny periods
    return raw


def undated_export(root: Path, crm, default_params_raw: dict) -> dict:
    """The generated leads as a CSV export without dates; params that read it."""
    leads = crm.leads.drop(columns=list(DROPPED_FROM_EXPORT)).sample(5000, random_state=0)
    leads.to_csv(root / "export.csv", index=False)
    raw = tiny(default_params_raw)
    raw["data"].update(
        source="files",
        files=[{"path": "export.csv"}],
        created_column=None,
        export_months=24,
        outcome={"column": "converted", "won_date_column": None},
    )
    raw["contract"]["excluded_fields"] = []
    return raw


@pytest.fixture(scope="module")
def stage_reads(tmp_path_factory, default_params_raw, tiny_crm) -> dict[str, dict[str, set[str]]]:
    """Params read per stage: in each run, and (for the project's dvc.yaml) in either run,
    since the project reads the built-in data or a CRM export as `data.source` says."""
    built_in = tmp_path_factory.mktemp("built-in")
    export = tmp_path_factory.mktemp("export")
    runs = {
        "built-in": run_pipeline(built_in, PIPELINE, tiny(default_params_raw)),
        "export": run_pipeline(
            export, PIPELINE, undated_export(export, tiny_crm, default_params_raw)
        ),
    }
    either: dict[str, set[str]] = defaultdict(set)
    for run in runs.values():
        for stage, reads in run.items():
            either[stage] |= reads
    return {"built-in": dict(either), "export": runs["export"]}


def declared(pipeline: Path, stage: str) -> list[str]:
    """The keys in the stage's `params:`, from params.yaml and from the other files named."""
    keys: list[str] = []
    for entry in yaml.safe_load(pipeline.read_text())["stages"][stage].get("params", []):
        # a file named with no keys (the proposal overlay) is tracked whole: it declares no key
        # beyond those the agreed contract's entry names
        keys += (
            [entry] if isinstance(entry, str) else [k for ks in entry.values() for k in ks or []]
        )
    return keys


def undeclared(reads: set[str], params: list[str]) -> list[str]:
    return sorted(r for r in reads if not any(r == p or r.startswith(p + ".") for p in params))


@pytest.mark.parametrize("name", ["built-in", "export"])
def test_every_param_a_stage_reads_is_declared(stage_reads, name):
    pipeline, reads = PIPELINE, stage_reads[name]
    missing = {
        stage: undeclared(reads[stage], declared(pipeline, stage))
        for stage in yaml.safe_load(pipeline.read_text())["stages"]
    }
    assert {stage: keys for stage, keys in missing.items() if keys} == {}


def test_the_recorder_sees_leaves_sections_and_undated_branches(stage_reads):
    reads = stage_reads["built-in"]
    assert "contract.outcome.window_days" in reads["split"]
    assert "train" in reads["train"]  # the card keeps the whole train section
    assert "data.export_months" in stage_reads["export"]["contract"]  # an undated export only
    assert "generate.n_leads" not in stage_reads["export"]["prepare"]  # files, no generator
    assert "contract" not in reads["split"]  # a section is not read by reading one key
