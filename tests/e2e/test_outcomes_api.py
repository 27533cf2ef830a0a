"""Live outcomes (issue 17): CRM events through POST /v1/outcomes (own key scope, idempotent by
event id, 422 naming the field) and a batch import, stored beside the scores; the monthly
feedback and the follow-up view read them from the database, with no hand export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from conftest import ADMIN_KEY, API_KEY, OUTCOME_KEY, Server
from test_serve import as_request_leads
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.model.bundle import load_bundle
from leadscore.scoring.outcomes import read_events

pytestmark = pytest.mark.server
CRM = {"X-Outcome-Key": OUTCOME_KEY}
EVENTS = [
    {"event_id": "e1", "lead_id": "L-1", "kind": "first_contact", "occurred_at": "2026-06-01T10:00",
     "lead_created_at": "2026-06-01T08:00"},
    {"event_id": "e2", "lead_id": "L-1", "kind": "touch", "occurred_at": "2026-06-02T11:00"},
    {"event_id": "e3", "lead_id": "L-1", "kind": "won", "occurred_at": "2026-07-01T09:00Z",
     "value": 12000},
    {"event_id": "e4", "lead_id": "L-2", "kind": "lost", "occurred_at": "2026-06-09T15:30+02:00",
     "reason": "no budget"},
]  # fmt: skip


@pytest.fixture()
def crm_server(start_server, tiny_bundle_dir, tiny_split, tmp_path):
    """A service with outcome keys, which has scored two leads (L-1, L-2)."""
    server = start_server(tiny_bundle_dir, outcome_keys=OUTCOME_KEY)
    spec = load_bundle(tiny_bundle_dir).card.spec
    leads = as_request_leads(tiny_split.test.head(2), spec.fields)
    for lead, name in zip(leads, ("L-1", "L-2"), strict=True):
        lead["lead_id"] = name
    answer = server.client.post("/v1/score", json={"leads": leads}, headers={"X-API-Key": API_KEY})
    assert answer.status_code == 200
    return server, f"sqlite:///{tmp_path / 'scoring_log.db'}"


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory, tiny_bundle_dir):
    """One service with outcome keys for the tests that only read its answers."""
    root = tmp_path_factory.mktemp("crm")
    env = {
        "LEADSCORE_MODEL_URI": str(tiny_bundle_dir),
        "LEADSCORE_API_KEYS": API_KEY,
        "LEADSCORE_ADMIN_KEY": ADMIN_KEY,
        "LEADSCORE_OUTCOME_KEYS": OUTCOME_KEY,
        "LEADSCORE_DATABASE_URL": f"sqlite:///{root / 'scoring_log.db'}",
    }
    server = Server(env, root / "server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_events_are_stored_once_and_read_by_feedback_and_follow_up(crm_server, tmp_path):
    server, url = crm_server
    client = server.client
    first = client.post("/v1/outcomes", json={"events": EVENTS}, headers=CRM)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 4, "stored": 4, "duplicates": 0, "never_scored": [],
                            "contradictory": []}  # fmt: skip
    replay = client.post("/v1/outcomes", json={"events": EVENTS[1:3]}, headers=CRM)
    assert replay.json() == {"received": 2, "stored": 0, "duplicates": 2, "never_scored": [],
                             "contradictory": []}  # fmt: skip
    # each key opens its own scope only
    assert (
        client.post("/v1/outcomes", json={"events": EVENTS}, headers={"X-API-Key": API_KEY})
    ).status_code == 401
    assert (
        client.post("/v1/score", json={"leads": [{"lead_id": "x"}]}, headers=CRM).status_code == 401
    )
    server.stop()  # the scoring log is flushed into its table

    events = read_events(url)
    assert sorted(events["event_id"]) == ["e1", "e2", "e3", "e4"]
    won = events.set_index("event_id").loc["e3"]
    assert won["value"] == 12000 and won["occurred_at"] == pd.Timestamp("2026-07-01 09:00")
    assert events.set_index("event_id").loc["e4", "occurred_at"] == pd.Timestamp("2026-06-09 13:30")

    from leadscore.scoring.log_reader import read_scores_and_events
    from leadscore.stages.feedback import main as feedback
    from leadscore.stages.follow_up import main as follow_up
    from leadscore.views.feedback import live_outcomes

    live = live_outcomes(*read_scores_and_events(url), 90)
    assert live.without == 0 and live.never_scored == [] and live.contradictory == []
    row = live.scored.set_index("lead_id").loc["L-1"]
    assert row["sales_touches"] == 2 and row["deal_value"] == 12000
    assert row["first_contact_at"] == pd.Timestamp("2026-06-01 10:00")
    params = server_params(tmp_path)
    report = feedback(params_path=params, scoring_log=url, reports_dir=tmp_path, as_of="2027-06-01")
    assert sum(month["leads"] for month in report["months"]) == 2
    assert report["outcomes"]["leads_never_scored"] == 0
    assert report["outcomes"]["leads_with_contradictory_outcomes"] == 0
    nurture = json.loads((tmp_path / "nurture.json").read_text())  # read from the same log
    assert (nurture["days"], nurture["until"][:10], nurture["crossings"]) == (7, "2027-06-01", [])
    view = follow_up(params_path=params, scoring_log=url, reports_dir=tmp_path)
    assert view["missing"] == [] and sum(m["leads"] for m in view["months"]) == 2


def server_params(tmp_path):
    """The project's params and contract, beside the reports of this test."""
    import shutil

    from conftest import PROJECT_ROOT

    for name in ("params.yaml", "contract.yaml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    return tmp_path / "params.yaml"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"kind": "won"}, "events[0].value", "needs the deal value"),
        ({"kind": "lost"}, "events[0].reason", "needs the reason"),
        ({"kind": "closed"}, "events[0].kind", "first_contact"),
        ({"value": 5}, "events[0].value", "only a won event has a value"),
        ({"occurred_at": "yesterday"}, "events[0].occurred_at", "datetime"),
        ({"event_id": ""}, "events[0].event_id", "at least 1 character"),
    ],
)
def test_bad_events_get_422_naming_the_field(shared_server, change, field, words):
    server = shared_server
    event = {**EVENTS[0], **change}
    answer = server.client.post("/v1/outcomes", json={"events": [event]}, headers=CRM)
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert any(item["field"] == field and words in item["message"] for item in errors), errors


NOW = datetime.now(UTC)
EVENT = '{"event_id": "e9", "lead_id": "L-9", "kind": "won", "occurred_at": "2026-07-01T09:00Z"'


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ('"value": Infinity', "events[0].value", "finite number"),
        ('"value": -Infinity', "events[0].value", "finite number"),
        ('"value": NaN', "events[0].value", "finite number"),
        ('"value": 1e309', "events[0].value", "finite number"),
        ('"value": true', "events[0].value", "a number, not true or false"),
        ('"value": 5, "occurred_at": "0001-01-01T00:00"', "events[0].occurred_at", "before 1990"),
        ('"value": 5, "occurred_at": "2999-01-01T00:00"', "events[0].occurred_at", "the future"),
        (f'"value": 5, "occurred_at": "{(NOW + timedelta(hours=1)).isoformat()}"',
         "events[0].occurred_at", "allowed clock skew of 300 s"),
        ('"value": 5, "lead_created_at": "0001-01-01T00:00"', "events[0].lead_created_at",
         "before 1990"),
        ('"value": 5, "lead_created_at": "2026-07-02T00:00"', "events[0].occurred_at",
         "before the lead's creation (2026-07-02T00:00:00)"),
    ],
)  # fmt: skip
def test_implausible_values_and_dates_get_422_naming_the_field(shared_server, fields, field, words):
    body = f'{{"events": [{EVENT}, {fields}}}]}}'
    answer = shared_server.client.post(
        "/v1/outcomes", content=body, headers={**CRM, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert any(item["field"] == field and words in item["message"] for item in errors), errors


def test_a_small_clock_skew_is_accepted(shared_server):
    soon = (NOW + timedelta(seconds=60)).isoformat()
    event = {**EVENTS[0], "event_id": "skew-1", "occurred_at": soon, "lead_created_at": None}
    answer = shared_server.client.post("/v1/outcomes", json={"events": [event]}, headers=CRM)
    assert answer.status_code == 200, answer.text


def import_events(path, url, *options):
    return CliRunner().invoke(
        app, ["outcomes", "import", str(path), "--database-url", url, *options]
    )


def test_the_import_applies_the_apis_rules(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    good = pd.DataFrame(EVENTS)
    good.to_csv(tmp_path / "events.csv", index=False)
    assert import_events(tmp_path / "events.csv", url).exit_code == 0
    bad_rows = [
        ({"value": float("inf")}, "row 3, value: Input should be a finite number"),
        ({"value": True}, "row 3, value: Value error, a deal value is a number, not true"),
        ({"occurred_at": "0001-01-01T00:00"}, "row 3, occurred_at: Value error, before 1990"),
        ({"occurred_at": "2999-01-01T00:00"}, "row 3, occurred_at: Value error, in the future"),
    ]
    for change, words in bad_rows:
        table = good.astype(object)
        for column, value in change.items():
            table.loc[2, column] = value
        table.to_parquet(tmp_path / "bad.parquet")
        bad = import_events(tmp_path / "bad.parquet", url)
        assert bad.exit_code == 2 and words in bad.output, bad.output
    changed = good.assign(value=good["value"].where(good["event_id"] != "e3", 99.0))
    changed.to_csv(tmp_path / "changed.csv", index=False)
    conflict = import_events(tmp_path / "changed.csv", url)
    assert conflict.exit_code == 2 and "event id(s) e3 already stored (or sent earlier" in (
        conflict.output
    )
    before = pd.DataFrame([{"event_id": "e5", "lead_id": "L-1", "kind": "touch",
                            "occurred_at": "2026-05-01T10:00"}])  # fmt: skip
    before.to_csv(tmp_path / "before.csv", index=False)
    early = import_events(tmp_path / "before.csv", url)
    assert early.exit_code == 2 and "row 1, occurred_at: before the lead's creation" in early.output
    flagged = pd.DataFrame([
        {"event_id": "e6", "lead_id": "L-1", "kind": "lost", "occurred_at": "2026-07-02T10:00",
         "reason": "budget"},
        {"event_id": "e7", "lead_id": "L-77", "kind": "touch", "occurred_at": "2026-07-02T10:00"},
    ])  # fmt: skip
    flagged.to_csv(tmp_path / "flagged.csv", index=False)
    done = import_events(tmp_path / "flagged.csv", url)
    assert done.exit_code == 0, done.output
    assert "2 events stored" in done.output
    assert "2 lead(s) never scored (events kept): L-1, L-77" in done.output
    assert "1 lead(s) with contradictory outcomes" in done.output
    events = read_events(url)
    assert sorted(events["event_id"]) == ["e1", "e2", "e3", "e4", "e6", "e7"]
    assert events.set_index("event_id").loc["e3", "value"] == 12000  # the original kept


def test_batch_import_is_idempotent_and_names_a_bad_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    table = pd.DataFrame(EVENTS)
    table.to_csv(tmp_path / "events.csv", index=False)
    runner = CliRunner()
    once = runner.invoke(
        app, ["outcomes", "import", str(tmp_path / "events.csv"), "--database-url", url]
    )
    again = runner.invoke(
        app, ["outcomes", "import", str(tmp_path / "events.csv"), "--database-url", url]
    )
    assert once.exit_code == 0 and "4 events stored, 0 already there" in once.output
    assert again.exit_code == 0 and "0 events stored, 4 already there" in again.output
    assert len(read_events(url)) == 4
    table.loc[2, "value"] = None  # a won event without its value
    table.to_parquet(tmp_path / "bad.parquet")
    bad = runner.invoke(
        app, ["outcomes", "import", str(tmp_path / "bad.parquet"), "--database-url", url]
    )
    assert bad.exit_code == 2 and "row 3, value: Value error, a won event needs" in bad.output


def test_trend_across_three_scorings_of_one_lead(shared_server, tiny_split, tiny_bundle_dir):
    server = shared_server
    spec = load_bundle(tiny_bundle_dir).card.spec
    (lead,) = as_request_leads(tiny_split.test.head(1), spec.fields)
    cold = {**lead, "lead_id": "T-1", "website_visits": 0.0, "pricing_page_visits": 0.0,
            "demo_requested": False, "days_since_last_activity": 90.0}  # fmt: skip
    hot = {**cold, "website_visits": 12.0, "pricing_page_visits": 4.0, "demo_requested": True,
           "days_since_last_activity": 1.0}  # fmt: skip
    answers = []
    for body in (cold, hot, hot, cold):
        answer = server.client.post(
            "/v1/score", json={"leads": [body]}, headers={"X-API-Key": API_KEY}
        )
        answers.append(answer.json()["results"][0])
    first, second, third, fourth = answers
    assert first["trend"] == "new" and first["previous_grade"] is None
    assert second["score"] >= first["score"] + 5
    assert second["trend"] == "rising" and second["previous_grade"] == first["grade"]
    assert second["previous_score"] == first["score"]
    assert third["trend"] == "steady" and third["previous_grade"] == second["grade"]
    assert fourth["trend"] == "falling" and fourth["previous_score"] == third["score"]


def test_batch_output_carries_trend_and_previous_grade(tmp_path, tiny_bundle_dir, tiny_split):
    from leadscore.scoring.batch import score_file
    from leadscore.scoring.loading import load_served_model
    from leadscore.scoring.log import ScoringLog

    scorer = load_served_model(str(tiny_bundle_dir)).scorer
    leads = tiny_split.test.head(30)
    leads.to_csv(tmp_path / "leads.csv", index=False)
    scoring_log = ScoringLog(f"sqlite:///{tmp_path / 'log.db'}", tmp_path / "journal")
    try:
        score_file(scorer, tmp_path / "leads.csv", tmp_path / "first.csv", scoring_log=scoring_log)
        score_file(scorer, tmp_path / "leads.csv", tmp_path / "again.csv", scoring_log=scoring_log)
    finally:
        scoring_log.close()
    first, again = pd.read_csv(tmp_path / "first.csv"), pd.read_csv(tmp_path / "again.csv")
    assert (first["trend"] == "new").all() and first["previous_grade"].isna().all()
    assert (again["trend"] == "steady").all()
    assert again["previous_grade"].tolist() == first["grade"].tolist()
