"""One input normalisation from training to serving (issue 13 point 4).

A messy two-table export (id column with its own name, missing-value tokens in a numeric and a
text column, categories with stray spaces, a joined table whose keys match only once normalised)
is trained by the stage mains; then its raw test rows, exactly as the export writes them, are
scored through the batch CLI and through a real server: every probability equals evaluation's
and no row is rejected.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import API_KEY
from parity import assert_scored_as_evaluated, card_inputs, raw_test_rows
from stages import files_params, run_stages

from leadscore.core.schema import InputNormalisation, Lookup
from leadscore.data.inputs import normalise

ID = "Lead Key"


@pytest.fixture(scope="module")
def messy_project(tmp_path_factory, default_params_raw):
    root = tmp_path_factory.mktemp("messy")
    rng = np.random.default_rng(11)
    n, accounts = 4000, 300
    employees = rng.lognormal(4, 1.2, accounts).round()
    account = rng.integers(0, accounts, n)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 420, n), unit="D")
    visits = rng.poisson(3, n)
    source = rng.choice(["web", "event", "partner"], n)
    logit = -3.3 + 0.5 * np.log1p(employees[account]) + 0.35 * visits + (source == "event")
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    won_at = np.where(won, (created + pd.to_timedelta(rng.integers(5, 60, n), "D")).astype(str), "")
    visits_text = np.where(rng.random(n) < 0.1, "Select", visits.astype(str))
    source_text = np.where(rng.random(n) < 0.1, "Select", source)
    source_text = np.where(rng.random(n) < 0.3, " " + source_text + " ", source_text)
    pd.DataFrame(
        {
            ID: [f"K{i:05d}" for i in range(n)],
            "Account": [f" a{a:04d}" for a in account],  # the table writes A0001
            "Created": created.astype(str),
            "Won Date": won_at,
            "Visits": visits_text,
            "Source": source_text,
        }
    ).to_csv(root / "leads.csv", index=False)
    pd.DataFrame(
        {
            "Account": [f"A{a:04d}" for a in range(accounts)],
            "Employees": employees,
            "Industry": rng.choice(["retail", "software", "energy"], accounts),
        }
    ).to_csv(root / "accounts.csv", index=False)
    data = {
        "source": "files",
        "files": [
            {"path": "leads.csv"},
            {"path": "accounts.csv", "join_on": "Account", "match_keys": "normalised"},
        ],
        "missing_values": ["Select"],
        "id_column": ID,
        "created_column": "Created",
        "outcome": {"column": None, "won_date_column": "Won Date"},
    }
    raw = files_params(default_params_raw, data)
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_stages(root, monkeypatch)
    return root


def test_the_card_records_the_normalisation_and_the_bundle_seals_the_joined_fields(messy_project):
    card, inputs = card_inputs(messy_project)
    assert inputs.id_column == ID and inputs.missing_values == ("Select",)
    (lookup,) = inputs.lookups
    assert (lookup.table, lookup.key, lookup.match_keys) == (
        "accounts.csv",
        "Account",
        "normalised",
    )
    used = set(card["features"]["categorical"] + card["features"]["numeric"])
    assert {"Employees", "Visits", "Source"} <= used
    assert set(lookup.columns.values()) <= used  # only the joined fields the model reads
    sealed = json.loads((messy_project / "models" / "lookups.json").read_text())
    assert len(sealed["accounts.csv"]["Account"]) == 300


def test_raw_test_rows_score_exactly_as_evaluated_through_batch_and_api(
    messy_project, start_server, tmp_path
):
    raw = pd.read_csv(messy_project / "leads.csv", dtype=str, keep_default_na=False)
    rows = raw_test_rows(raw, ID, messy_project)
    batch, _ = assert_scored_as_evaluated(
        messy_project, rows, tmp_path / "raw_test_rows.csv", start_server
    )
    assert batch.compared > 200


def test_the_api_reads_the_export_id_and_looks_up_joined_fields(messy_project, start_server):
    server = start_server(messy_project / "models")
    schema = server.client.get("/openapi.json").json()["components"]["schemas"]["Lead"]
    assert ID in schema["required"] and "lead_id" not in schema["properties"]
    assert "Account" in schema["properties"]
    leads = [
        {ID: "new-1", "Account": "a0007 ", "Visits": 4.0, "Source": " event"},
        {ID: "new-2", "Visits": 4.0, "Source": "Select"},
    ]
    answer = server.client.post("/v1/score", json={"leads": leads}, headers={"X-API-Key": API_KEY})
    assert answer.status_code == 200, answer.text
    found, alone = answer.json()["results"]
    assert found["lead_id"] == "new-1"
    assert not [w for w in found["warnings"] if w.startswith(("Employees", "Source"))]
    assert {"Employees: missing; scored as unknown", "Source: missing; scored as unknown"} <= set(
        alone["warnings"]
    )
    missing = server.client.post(
        "/v1/score", json={"leads": [{"lead_id": "x"}]}, headers={"X-API-Key": API_KEY}
    )
    assert missing.status_code == 422 and ID in missing.text
    token_id = server.client.post(  # an id that is a missing-value token is no id
        "/v1/score",
        json={"leads": [{ID: "ok-1"}, {ID: " Select "}]},
        headers={"X-API-Key": API_KEY},
    )
    assert token_id.status_code == 422, token_id.text
    assert f"leads[1].{ID}" in token_id.text and "missing-value token" in token_id.text


def test_sent_values_win_over_looked_up_ones_and_tokens_are_missing():
    inputs = InputNormalisation(
        id_column="Key",
        missing_values=("Select", "n/a"),
        lookups=(Lookup("t.csv", "acct", "normalised", {"size": "size", "kind": "kind (t)"}),),
    )
    table = pd.DataFrame({"acct": ["A1", "A2"], "size": ["10", "20"], "kind": ["x", "Select"]})
    raw = pd.DataFrame(
        {"Key": ["k1", "k2", "k3"], "acct": ["a1 ", "A2", None], "size": ["99", None, "n/a"]}
    )
    leads = normalise(raw, inputs, {"t.csv": table})
    assert leads["lead_id"].tolist() == ["k1", "k2", "k3"]
    assert leads["size"].tolist()[:2] == ["99", "20"] and pd.isna(leads["size"][2])
    assert leads["kind (t)"][0] == "x" and pd.isna(leads["kind (t)"][1])
