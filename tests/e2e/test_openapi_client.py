"""The API contract, as a client developer meets it: the live service's /openapi.json is valid,
names the header each route checks and declares every error; a client generated from it with
`openapi-python-client` scores, reads the model card and gets typed errors back."""

from __future__ import annotations

import importlib
import json
import math
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import ADMIN_KEY, API_KEY
from openapi_spec_validator import validate

from leadscore.core.schema import FeatureSpec
from leadscore.model.bundle import load_bundle
from leadscore.scoring.scorer import score_leads

pytestmark = pytest.mark.server
PACKAGE = "leadscore_api_client"
PROBLEM = "application/problem+json"
OPEN_ROUTES = {"/healthz", "/readyz", "/metrics"}


@pytest.fixture(scope="module")
def server(served):
    return served[0]


@pytest.fixture(scope="module")
def spec(server) -> dict:
    return server.client.get("/openapi.json").json()


@pytest.fixture(scope="module")
def bundle(tiny_bundle_dir):
    return load_bundle(tiny_bundle_dir)


def operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_spec_is_valid_openapi(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # openapi-spec-validator: raises on any violation


def test_each_route_declares_the_key_it_checks(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ClientKey"] | {"description": ""} == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "",
    }
    assert schemes["AdminKey"]["name"] == "X-Admin-Key" and schemes["AdminKey"]["in"] == "header"
    declared = {(path, method): op.get("security") for path, method, op in operations(spec)}
    assert declared[("/v1/score", "post")] == [{"ClientKey": []}]
    assert declared[("/v1/model", "get")] == [{"ClientKey": []}]
    assert declared[("/admin/reload", "post")] == [{"AdminKey": []}]
    assert all(declared[(path, "get")] is None for path in OPEN_ROUTES)


def test_every_error_is_a_declared_problem_document(spec):
    schemas = spec["components"]["schemas"]
    problem = schemas["Problem"]
    assert set(problem["required"]) >= {"title", "status", "detail"}
    assert {"type", "instance", "errors"} <= set(problem["properties"])
    for path, method, operation in operations(spec):
        errors = {code for code in operation["responses"] if code[0] in "45"}
        assert "500" in errors, (path, method)
        for code in errors:
            content = operation["responses"][code]["content"]
            assert list(content) == [PROBLEM], (path, method, code)
            name = content[PROBLEM]["schema"]["$ref"].rsplit("/", 1)[-1]
            assert set(problem["properties"]) <= set(schemas[name]["properties"]), name
    score = spec["paths"]["/v1/score"]["post"]["responses"]
    assert {"401", "413", "415", "422"} <= set(score)
    assert "401" in spec["paths"]["/v1/model"]["get"]["responses"]
    assert {"401", "403", "409"} <= set(spec["paths"]["/admin/reload"]["post"]["responses"])
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]


def test_scores_and_reasons_are_tightly_typed(spec):
    schemas = spec["components"]["schemas"]
    lead = schemas["LeadScore"]["properties"]
    assert schemas["Grade"]["enum"] == ["A", "B", "C", "D"]
    assert lead["grade"]["$ref"].endswith("/Grade")
    assert (lead["probability"]["minimum"], lead["probability"]["maximum"]) == (0, 1)
    assert (lead["score"]["minimum"], lead["score"]["maximum"]) == (1, 100)
    kinds = {option.get("type") for option in schemas["Reason"]["properties"]["value"]["anyOf"]}
    assert kinds == {"string", "number", "integer", "boolean", "null"}
    card = spec["paths"]["/v1/model"]["get"]["responses"]["200"]["content"]["application/json"]
    assert card["schema"]["$ref"].endswith("/ModelCard")
    ready = spec["paths"]["/readyz"]["get"]["responses"]
    assert ready["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Readiness")
    assert ready["503"]["content"][PROBLEM]["schema"]["$ref"].endswith("/NotReady")


def test_errors_outside_the_routes_are_problems_too(server):
    client = server.client
    auth = {"X-API-Key": API_KEY}
    not_json = client.post(
        "/v1/score", content=b"lead_id=1", headers={**auth, "Content-Type": "text/plain"}
    )
    missing = client.get("/v1/nothing-here")
    wrong_method = client.get("/v1/score", headers=auth)
    for answer, status in ((not_json, 415), (missing, 404), (wrong_method, 405)):
        assert answer.status_code == status
        assert answer.headers["content-type"] == PROBLEM
        body = answer.json()
        assert body["status"] == status and body["title"] and body["detail"], body
        assert body["instance"] == answer.request.url.path and body["errors"] == []


# --- a generated client -------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(spec, tmp_path_factory):
    """The client package `openapi-python-client` generates from the live spec, imported."""
    root = tmp_path_factory.mktemp("generated")
    (root / "openapi.json").write_text(json.dumps(spec))
    (root / "config.json").write_text(
        json.dumps({"package_name_override": PACKAGE, "post_hooks": []})
    )
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"), "generate",
            "--path", "openapi.json", "--config", "config.json", "--meta", "none",
            "--output-path", PACKAGE,
        ],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def part(api, name: str):
    return importlib.import_module(f"{api.__name__}.{name}")


@pytest.fixture(scope="module")
def keyed(api, server):
    return api.AuthenticatedClient(
        base_url=server.url, token=API_KEY, prefix="", auth_header_name="X-API-Key"
    )


def request_lead(row, spec: FeatureSpec) -> dict:
    """A test-period lead as JSON: present values only, counts as numbers."""
    lead = {"lead_id": str(row["lead_id"])}
    for name in spec.fields:
        value = row[name]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        value = value.item() if hasattr(value, "item") else value
        lead[name] = (
            float(value) if isinstance(value, int) and not isinstance(value, bool) else value
        )
    return lead


def test_a_generated_client_scores_one_lead_and_a_batch(api, keyed, bundle, tiny_split):
    models = part(api, "models")
    score_leads_api = part(api, "api.scoring.score_leads")
    spec = bundle.card.spec
    frame = tiny_split.test.head(25).reset_index(drop=True)
    leads = [models.Lead.from_dict(request_lead(row, spec)) for _, row in frame.iterrows()]
    expected = score_leads(bundle, frame)

    for batch in (leads[:1], leads):
        answer = score_leads_api.sync(client=keyed, body=models.ScoreRequest(leads=batch))
        assert isinstance(answer, models.ScoreResponse), answer
        assert answer.model_version == bundle.version
        assert [r.lead_id for r in answer.results] == [lead.lead_id for lead in batch]
        for result, (_, want) in zip(answer.results, expected.iterrows(), strict=False):
            assert isinstance(result, models.LeadScore)
            assert isinstance(result.grade, models.Grade) and result.grade.value == want["grade"]
            assert result.probability == pytest.approx(want["probability"], abs=1e-12)
            assert isinstance(result.score, int) and result.score == want["score"]
            explanation = result.explanation
            assert isinstance(explanation, models.Explanation)
            for reason in explanation.reasons:
                assert isinstance(reason, models.Reason) and reason.field in spec.fields
                assert isinstance(reason.contribution, float) and reason.phrase
            total = explanation.base_value + explanation.rest
            total += sum(reason.contribution for reason in explanation.reasons)
            assert total == pytest.approx(explanation.raw_output, abs=1e-9)


def test_a_generated_client_reads_the_model_card_typed(api, keyed, bundle):
    models = part(api, "models")
    card = part(api, "api.model.get_model_card").sync(client=keyed)
    assert isinstance(card, models.ModelCard), card
    assert card.model_version == bundle.version and isinstance(card.trained_at, datetime)
    assert card.contract_version == card.contract.version == bundle.contract_version
    assert card.training_data.sha256 == bundle.card.training_data.sha256
    assert card.metrics.valid_roc_auc == pytest.approx(bundle.card.metrics.valid_roc_auc)
    thresholds = card.grading.thresholds
    assert [thresholds.a, thresholds.b, thresholds.c] == [
        bundle.grading.thresholds[grade] for grade in "ABC"
    ]
    assert set(card.features.categorical) == set(bundle.card.features.categorical)
    ready = part(api, "api.operations.readiness").sync(client=api.Client(base_url=keyed._base_url))
    assert (
        isinstance(ready, models.Readiness)
        and ready.ready
        and ready.model_version == card.model_version
    )


def test_a_generated_client_gets_the_field_at_fault_from_a_422(api, keyed):
    models = part(api, "models")
    bad = models.Lead(lead_id="bad-1", website_visits=-1.0)
    answer = part(api, "api.scoring.score_leads").sync_detailed(
        client=keyed, body=models.ScoreRequest(leads=[bad])
    )
    assert answer.status_code == 422
    problem = answer.parsed
    assert isinstance(problem, models.Problem), answer.content
    assert problem.status == 422 and "leads[0].website_visits" in problem.detail
    (error,) = problem.errors
    assert isinstance(error, models.FieldError)
    assert (
        error.field == "leads[0].website_visits" and "greater than or equal to 0" in error.message
    )
    assert error.type_ == "greater_than_equal" and error.loc == [
        "body",
        "leads",
        0,
        "website_visits",
    ]


@pytest.mark.parametrize("key", ["none", "admin key as X-Admin-Key", "admin key as X-API-Key"])
def test_a_generated_client_is_refused_with_a_typed_401(api, server, key):
    models = part(api, "models")
    if key == "none":
        client = api.Client(base_url=server.url)
    else:
        header = "X-Admin-Key" if "X-Admin-Key" in key else "X-API-Key"
        client = api.AuthenticatedClient(
            base_url=server.url, token=ADMIN_KEY, prefix="", auth_header_name=header
        )
    body = models.ScoreRequest(leads=[models.Lead(lead_id="refused")])
    for answer in (
        part(api, "api.scoring.score_leads").sync_detailed(client=client, body=body),
        part(api, "api.model.get_model_card").sync_detailed(client=client),
    ):
        assert answer.status_code == 401
        problem = answer.parsed
        assert isinstance(problem, models.Problem), answer.content
        assert problem.status == 401 and "X-API-Key" in problem.detail
        assert re.search(r"X-API-Key", answer.headers["www-authenticate"])
