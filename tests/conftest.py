"""Shared fixtures: a small generated CRM, its ingested and split tables, a trained bundle.

The tests mirror the layers: `tests/unit/<layer>/` test one room of `src/leadscore/` with
in-process fixtures, `tests/e2e/` run the pipeline, servers and examples. Every test under
`tests/e2e/` is marked `e2e`, every test under `tests/unit/` `unit` (`make test-fast` runs the
unit tests that start no server and no Spark session).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# MLflow's usage telemetry runs a background thread that sets and unsets an environment
# variable its HTTP client reads: under load that race failed a request ('_MLFLOW_TELEMETRY_
# SESSION_ID'). The project turns telemetry off everywhere (Makefile); so do the tests.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DVC_NO_ANALYTICS"] = "1"  # no analytics daemon from the DVC projects tests make
# One OpenMP thread per process (scikit-learn's boosting, BLAS) unless the caller sets it: on
# cores shared with other processes, OpenMP's spinning workers made a 3,000-lead boosting fit
# take 2-50 s instead of 0.1 s. Set before anything loads the OpenMP runtime; the stages and
# servers the tests start inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TINY_LEADS = 12_000
# The tiny project's params.yaml is the project's own file with these edits (comments, quotes
# and layout kept, so DVC's rewrite of the real file is what the end-to-end tests see).
# One booster candidate: the shared bundle exercises the tree path quickly; the model choice
# itself is tested on its own fixtures (tests/e2e/test_model_choice.py).
TINY_EDITS = {
    "n_leads: 200000": f"n_leads: {TINY_LEADS}",
    "max_iter: 1000": "max_iter: 60",
    "    - logistic\n    - boosting\n": "    - boosting\n",  # train.search.families
    "prefer: logistic ": "prefer: boosting ",
    **{  # boosting candidates b2..b4
        "".join(
            f"      b{i}:\n        leaf_size: {size}\n        leaves: {leaves}\n"
            f"        learning_rate: {rate}\n        l2_regularization: {l2}\n"
        ): ""
        for i, size, leaves, rate, l2 in (
            (2, 0.3, 0.6, 0.1, 0.0),
            (3, 0.1, 0.3, 0.1, 1.0),
            (4, 0.1, 0.6, 0.05, 0.0),
        )  # fmt: skip
    },
}
# This environment's dvc, called by its path as in the README (`.venv/bin/dvc repro`).
DVC = str(Path(sys.executable).parent / "dvc")
# Shared fixtures of both tiers: the small exports with a known truth and their model choice
# (tests/exports.py), the scoring-log databases of each backend (tests/scoring_log_stores.py).
pytest_plugins = ["exports", "scoring_log_stores"]


# Session fixtures that fit models, generate exports or start servers (seconds each).
COSTLY_FIXTURES = frozenset(
    {"tiny_crm", "tiny_split", "tiny_models", "tiny_grading_record", "tiny_bundle_dir",
     "leads_csv", "reviewed", "postgres", "pg_database", "tiny_project", "served", "exports",
     "fitted", "trained", "choice_params"}
)  # fmt: skip


def costly(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    return bool(names & COSTLY_FIXTURES) or "postgres" in item.nodeid


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tier of a test is the folder it lives in. Under mutation testing (`make mutation`:
    mutmut runs the tests that reach a mutant, stopping at the first failure), the tests
    without a costly session fixture run first, so a mutant they kill costs no model fit."""
    for item in items:
        parts = Path(str(item.path)).relative_to(PROJECT_ROOT / "tests").parts
        if parts[0] in ("unit", "e2e"):
            item.add_marker(parts[0])
    if "MUTANT_UNDER_TEST" in os.environ:
        items.sort(key=costly)  # stable: file order within each group


@pytest.fixture(scope="session", autouse=True)
def bundle_key_for_tests(tmp_path_factory):
    """Every bundle of the test session is sealed with one key pair of its own, never the
    developer's key files (servers and `dvc repro` inherit it through the environment): the
    private key's path; its public key is beside it (`.pub`)."""
    from leadscore.core.keys import write_key_pair

    private = tmp_path_factory.mktemp("bundle-keys") / "bundle-signing.key"
    write_key_pair(private, private.with_suffix(".pub"))
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LEADSCORE_BUNDLE_PUBLIC_KEY", raising=False)
        patch.delenv("LEADSCORE_BUNDLE_PUBLIC_KEY_FILE", raising=False)
        patch.setenv("LEADSCORE_BUNDLE_SIGNING_KEY_FILE", str(private))
        yield private


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def default_params_raw() -> dict:
    """params.yaml with the contract from contract.yaml, as one mapping."""
    from leadscore.core.params_file import read_raw_params

    return read_raw_params(PROJECT_ROOT / "params.yaml")


@pytest.fixture(scope="session")
def tiny_params_raw(default_params_raw) -> dict:
    """The project's params with a tiny data set and a quick booster."""
    raw = yaml.safe_load(yaml.safe_dump(default_params_raw))
    raw["generate"]["n_leads"] = TINY_LEADS
    raw["train"]["max_iter"] = 60
    search = raw["train"]["search"]
    search["families"], search["boosting"] = ["boosting"], {"b1": search["boosting"]["b1"]}
    raw["train"]["choice"]["prefer"] = "boosting"
    return raw


def tiny_params_text() -> str:
    """The project's params.yaml text with TINY_EDITS applied (each exactly once)."""
    text = (PROJECT_ROOT / "params.yaml").read_text()
    for old, new in TINY_EDITS.items():
        assert text.count(old) == 1, f"params.yaml: expected one {old!r}"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="session")
def tiny_crm(tiny_params_raw):
    from leadscore.data.generate import generate_crm

    gen = tiny_params_raw["generate"]
    return generate_crm(
        n_leads=gen["n_leads"],
        months=gen["months"],
        export_date=gen["export_date"],
        window_days=tiny_params_raw["contract"]["outcome"]["window_days"],
        seed=gen["seed"],
    )


@pytest.fixture(scope="session")
def tiny_params(tiny_params_raw):
    from leadscore.core.config import parse_params

    return parse_params(tiny_params_raw)


@pytest.fixture(scope="session")
def tiny_split(tiny_crm, tiny_params):
    from leadscore.data.ingest import ingest
    from leadscore.data.split import resolve_as_of, time_split

    leads = ingest(tiny_crm.leads).valid
    return time_split(
        leads,
        as_of=resolve_as_of(leads, tiny_params.split.as_of),
        window_days=tiny_params.contract.outcome.window_days,
        valid_months=tiny_params.split.valid_months,
        test_months=tiny_params.split.test_months,
    )


@pytest.fixture(scope="session")
def tiny_models(tiny_split, tiny_params):
    """(pipeline, baseline, card) trained on the tiny split, without MLflow."""
    from leadscore.model.train import train_models

    return train_models(tiny_split.train, tiny_split.valid, tiny_params)


def grading_record_of(models, split, params) -> dict:
    """`grading.json` of a trained model, derived from the contract on the valid period."""
    from leadscore.core.agreement_files import AgreementFiles
    from leadscore.model.thresholds import derive_grading, grading_record
    from leadscore.model.train import raw_output

    pipeline, _, card = models
    valid = split.valid
    inputs = valid[list(card.spec.fields)]
    probability = pipeline.predict_proba(inputs)
    monthly_volume = len(valid) / params.split.valid_months
    grading, derivation = derive_grading(
        probability[:, 1],
        monthly_volume,
        params.contract.grades,
        valid["converted"],
        raw=raw_output(pipeline, inputs),
    )
    agreement = AgreementFiles(PROJECT_ROOT).sealed_record(params.contract)
    return grading_record(grading, derivation, params.contract, card.model_version, agreement)


@pytest.fixture(scope="session")
def tiny_grading_record(tiny_models, tiny_split, tiny_params) -> dict:
    """`grading.json` of the tiny model, derived from the contract on the tiny valid period."""
    return grading_record_of(tiny_models, tiny_split, tiny_params)


@pytest.fixture(scope="session")
def tiny_bundle_dir(tmp_path_factory, tiny_models, tiny_grading_record) -> Path:
    """A sealed bundle of the tiny model (read-only: copy it before tampering)."""
    from leadscore.model.bundle import save_bundle

    directory = tmp_path_factory.mktemp("bundle") / "models"
    save_bundle(directory, *tiny_models, tiny_grading_record)
    return directory


@pytest.fixture(scope="session")
def leads_csv(tmp_path_factory, tiny_split, tiny_bundle_dir) -> Path:
    """500 tiny test leads as a raw CSV (lead_id and the model's inputs), for the batch CLI."""
    from leadscore.model.bundle import load_bundle

    spec = load_bundle(tiny_bundle_dir).card.spec
    path = tmp_path_factory.mktemp("batch") / "leads.csv"
    tiny_split.test.head(500)[["lead_id", *spec.fields]].to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def reviewed(tiny_crm, tiny_params_raw, tmp_path_factory):
    """The leakage review of the generated table, run by the ingest stage itself (its `main`
    on the raw table, with the tiny params and their contract): (valid leads, the fields the
    model may use (name -> kind), the flagged fields as `reports/validation.json` lists them)."""
    import pandas as pd

    from leadscore.core.io import read_json
    from leadscore.stages.ingest import main

    root = tmp_path_factory.mktemp("reviewed")
    params, raw_path = root / "params.yaml", root / "raw" / "leads.parquet"
    params.write_text(yaml.safe_dump(tiny_params_raw))
    raw_path.parent.mkdir()
    tiny_crm.leads.to_parquet(raw_path, index=False)
    report = root / "reports" / "validation.json"
    main(params_path=params, raw_path=raw_path, out_dir=root / "interim", report_path=report)
    review = read_json(root / "reports" / "leakage.json")["fields"]
    kept = {name: row["kind"] for name, row in review.items() if row["input"]}
    valid = pd.read_parquet(root / "interim" / "leads.parquet")
    return valid, kept, read_json(report)["fields"]["flagged"]


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (loopback port, temporary cluster)."""
    from postgres import PostgresServer

    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.remove()


@pytest.fixture()
def pg_database(postgres, request) -> str:
    """A fresh database on the session's PostgreSQL; its SQLAlchemy URL (with the password)."""
    import re

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:50]
    return postgres.create_database(f"t_{name}_{os.getpid()}")


@pytest.fixture()
def mlflow_store(tmp_path, monkeypatch) -> str:
    """A private SQLite MLflow store for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory, tiny_params_raw) -> Path:
    """A copy of the project (code, dvc.yaml, contract, tiny params) in its own git repo,
    reproduced once with `<venv>/bin/dvc repro` and the venv *not* on PATH (as a user who never
    activated it): the stages must find the project's .venv through bin/leadscore."""
    from leadscore.core.params_file import read_raw_params

    root = tmp_path_factory.mktemp("project")
    for name in ("dvc.yaml", "pyproject.toml", ".dvcignore", "contract.yaml"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copy(PROJECT_ROOT / "contract.proposal.yaml", root / "contract.proposal.yaml")
    for name in ("src", "bin", "agreement"):
        shutil.copytree(
            PROJECT_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    (root / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    (root / ".gitignore").write_text("/.venv\n")
    (root / "params.yaml").write_text(tiny_params_text())
    assert read_raw_params(root / "params.yaml") == tiny_params_raw
    env = project_env(root)
    run(["git", "init", "-q"], root, env)
    run([DVC, "init", "-q"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-qm", "tiny project"], root, env)
    run([DVC, "repro"], root, env)
    return root


def project_env(root: Path) -> dict[str, str]:
    """The environment of a tiny project's commands: a private MLflow store, the copy's code,
    and a PATH without this virtual environment's bin directory."""
    venv_bin = Path(sys.executable).parent.resolve()
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    env = dict(os.environ)
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
        MPLBACKEND="Agg",
        PYTHONPATH=str(root / "src"),
        PATH=os.pathsep.join(p for p in path if Path(p).resolve() != venv_bin),
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A real `leadscore serve` (uvicorn) process on a free loopback port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        import httpx

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "leadscore"), "serve", "--port", str(self.port)],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def wait_ready(self, timeout: float = 90) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited ({self.process.returncode}):\n{self.output()}")
            try:
                if self.client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready after {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


API_KEY = "test-key-123"
ADMIN_KEY = "admin-key-456"
OUTCOME_KEY = "crm-key-789"


@pytest.fixture()
def start_server(tmp_path):
    """Start servers on demand (`start_server(model_dir, **settings)`); all stopped afterwards."""
    servers: list[Server] = []

    def start(model_uri: Path | str, wait: bool = True, **settings) -> Server:
        env = {
            "LEADSCORE_MODEL_URI": str(model_uri),
            "LEADSCORE_API_KEYS": API_KEY,
            "LEADSCORE_ADMIN_KEY": ADMIN_KEY,
            "LEADSCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'scoring_log.db'}",
            **{f"LEADSCORE_{key.upper()}": str(value) for key, value in settings.items()},
        }
        server = Server(env, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()


MAX_BATCH = 50


@pytest.fixture(scope="session")
def served(tmp_path_factory, tiny_bundle_dir):
    """One running server for the read-only tests: (server, scoring-log database path).

    Small batch and body limits, so the limits can be tested cheaply.
    """
    root = tmp_path_factory.mktemp("served")
    env = {
        "LEADSCORE_MODEL_URI": str(tiny_bundle_dir),
        "LEADSCORE_API_KEYS": f"other-key,{API_KEY}",
        "LEADSCORE_OUTCOME_KEYS": OUTCOME_KEY,
        "LEADSCORE_ADMIN_KEY": ADMIN_KEY,
        "LEADSCORE_DATABASE_URL": f"sqlite:///{root / 'scoring_log.db'}",
        "LEADSCORE_MAX_BATCH": str(MAX_BATCH),
        "LEADSCORE_MAX_BODY_BYTES": str(256 * 1024),
        "LEADSCORE_BODY_TIMEOUT_SECONDS": "2",
    }
    server = Server(env, root / "server.log")
    try:
        server.wait_ready()
        yield server, root / "scoring_log.db"
    finally:
        server.stop()
