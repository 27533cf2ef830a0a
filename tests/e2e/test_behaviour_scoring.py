"""Behaviour as of now, three ways (issue 30): the same leads scored through the API (their
events stored with POST /v1/events, some sent with the score request, then POST /v1/score at a
fixed clock), the batch CLI (`leadscore score --events --as-of`) and Spark (`leadscore
score-spark --events --as-of`) get the same probability to 1e-12. A lead with no new activity
decays, and the API's trend says so against its previous score. A real uvicorn server, a real
Spark (local[2]) and a model trained on examples/activity."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import API_KEY
from stages import activity_project, run_score
from typer.testing import CliRunner

from leadscore.core import fields
from leadscore.data import behaviour

pytestmark = pytest.mark.server
KEY = {"X-API-Key": API_KEY}
AS_OF = pd.Timestamp("2026-08-01T00:00:00")
LATER = AS_OF + pd.Timedelta(days=45)
N_LEADS = 24
PARITY = 1e-12


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("activity-served")
    return activity_project(root, 3_000, ("prepare", "ingest", "split", "train", "grade"))


def _card(project) -> dict:
    return json.loads((project / "models" / "model_card.json").read_text())


@pytest.fixture(scope="module")
def chosen(project, tmp_path_factory):
    """N_LEADS leads created before AS_OF, the busiest first and two without any event: their
    raw fields (what a CRM sends: no behaviour field), and their events to the second (as a
    CRM stores them), written as the batch CLI and Spark read them."""
    card = _card(project)
    computed = set(card["inputs"]["behaviour"]["fields"])
    features = card["features"]
    sent = [n for kind in ("categorical", "numeric", "boolean") for n in features[kind]]
    raw = pd.read_parquet(project / "data" / "raw" / "leads.parquet")
    raw = raw[raw[fields.LEAD_ID].str.endswith("@0")].copy()
    raw[fields.LEAD_ID] = behaviour.lead_of(raw[fields.LEAD_ID])
    raw = raw[raw[fields.CREATED_AT] < AS_OF - pd.Timedelta(days=3)]
    events = pd.read_parquet(project / "data" / "raw" / "events.parquet")
    events[behaviour.EVENT_AT] = events[behaviour.EVENT_AT].dt.floor("s")
    before = events[events[behaviour.EVENT_AT] < AS_OF]
    busy = before[behaviour.EVENT_LEAD].value_counts()
    ids = [i for i in busy.index if i in set(raw[fields.LEAD_ID])][: N_LEADS - 2]
    ids += [i for i in raw[fields.LEAD_ID] if i not in set(events[behaviour.EVENT_LEAD])][:2]
    leads = raw.set_index(fields.LEAD_ID).loc[ids].reset_index()
    leads = leads[[fields.LEAD_ID, fields.CREATED_AT, *(n for n in sent if n not in computed)]]
    events = events[events[behaviour.EVENT_LEAD].isin(ids)].reset_index(drop=True)
    events["event_id"] = [f"e-{i}" for i in range(len(events))]
    root = tmp_path_factory.mktemp("chosen")
    leads.to_parquet(root / "leads.parquet", index=False)
    events.drop(columns="event_id").to_parquet(root / "events.parquet", index=False)
    return leads, events, root


def api_leads(leads: pd.DataFrame, boolean: list[str]) -> list[dict]:
    """The leads as the API takes them: JSON types, missing values left out."""
    out = []
    for record in leads.to_dict("records"):
        lead = {}
        for name, value in record.items():
            if pd.isna(value):
                continue
            if name == fields.CREATED_AT:
                lead[name] = pd.Timestamp(value).isoformat()
            elif name in boolean:
                lead[name] = bool(value)
            elif isinstance(value, (int, float, np.number)):
                lead[name] = float(value)
            else:
                lead[name] = str(value)
        out.append(lead)
    return out


def api_events(events: pd.DataFrame) -> list[dict]:
    return [
        {
            "event_id": row.event_id,
            "lead_id": row.lead_id,
            "occurred_at": row.event_at.isoformat(),
            "event_type": row.event_type,
            **({} if pd.isna(row.event_value) else {"event_value": float(row.event_value)}),
        }
        for row in events.itertuples()
    ]


def store_events(server, events: list[dict]) -> None:
    for start in range(0, len(events), 1000):
        answer = server.client.post("/v1/events", json={"events": events[start : start + 1000]},
                                    headers=KEY)  # fmt: skip
        assert answer.status_code == 200, answer.text


def score_api(server, leads: list[dict], sent: list[dict]) -> dict:
    body = {"leads": leads, "reasons": False, "events": sent}
    answer = server.client.post("/v1/score", json=body, headers=KEY)
    assert answer.status_code == 200, answer.text
    return answer.json()


def batch_cli(project, root, moment: pd.Timestamp) -> pd.Series:
    out = root / f"batch-{moment:%Y%m%d}.parquet"
    result = run_score(str(root / "leads.parquet"), "--output", str(out), "--model",
                       str(project / "models"), "--no-log", "--events",
                       str(root / "events.parquet"), "--as-of", moment.isoformat())  # fmt: skip
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out).set_index(fields.LEAD_ID)["probability"]


def test_the_api_and_the_batch_cli_give_the_same_probability(project, chosen, start_server):
    leads, events, root = chosen
    boolean = _card(project)["features"]["boolean"]
    held = events[fields.LEAD_ID] == leads[fields.LEAD_ID].iloc[0]  # sent with the request
    server = start_server(project / "models", fixed_now=AS_OF.isoformat())
    store_events(server, api_events(events[~held]))
    sent = api_events(events[held])
    answer = score_api(server, api_leads(leads, boolean), sent[:5] + sent)  # each id once
    assert answer["behaviour_as_of"] == "2026-08-01T00:00:00+00:00"
    got = pd.Series({r["lead_id"]: r["probability"] for r in answer["results"]})
    batch = batch_cli(project, root, AS_OF)
    assert len(got) == len(batch) == N_LEADS
    assert np.abs(got.reindex(batch.index) - batch).max() <= PARITY
    assert batch.nunique() > N_LEADS // 2  # behaviour tells the leads apart


def test_a_quiet_lead_decays_the_trend_says_so_and_the_nurture_view_lists_crossings(
    project, chosen, start_server
):
    """The same leads, stored events only, scored at AS_OF and again 45 days later: a lead
    with no new event decays (engagement halves every 14 days); each answer is the batch
    CLI's at its moment, the trend compares it with the previous score in the scoring log, and
    GET /v1/nurture lists the leads that crossed into or out of A with the events between."""
    leads, events, root = chosen
    boolean = _card(project)["features"]["boolean"]
    first_server = start_server(project / "models", fixed_now=AS_OF.isoformat())
    store_events(first_server, api_events(events))
    first = {r["lead_id"]: r for r in score_api(first_server, api_leads(leads, boolean), [])[
        "results"]}  # fmt: skip
    first_server.stop()
    later_server = start_server(project / "models", fixed_now=LATER.isoformat())
    until_ok(later_server)
    later = {r["lead_id"]: r for r in score_api(later_server, api_leads(leads, boolean), [])[
        "results"]}  # fmt: skip
    batch = batch_cli(project, root, LATER)
    quiet = events.groupby(behaviour.EVENT_LEAD)[behaviour.EVENT_AT].max()
    for lead_id, result in later.items():
        assert abs(result["probability"] - batch[lead_id]) <= PARITY
        assert result["previous_score"] == first[lead_id]["score"]
        change = result["score"] - first[lead_id]["score"]
        expected = "rising" if change >= 5 else "falling" if change <= -5 else "steady"
        assert result["trend"] == expected, (lead_id, change)
    active = [i for i in later if i in quiet.index and quiet[i] < AS_OF]  # nothing new since
    fell = [i for i in active if later[i]["probability"] < first[i]["probability"]]
    assert len(fell) > len(active) // 2, (len(fell), len(active))
    assert any(later[i]["trend"] == "falling" for i in fell)
    check_nurture(later_server, events, first, later)


def check_nurture(server, events, first, later) -> None:
    crossed = {
        i: "into_A" if later[i]["grade"] == "A" else "out_of_A"
        for i in later
        if (first[i]["grade"] == "A") != (later[i]["grade"] == "A")
    }
    pages, offset = [], 0
    while True:
        answer = server.client.get(
            "/v1/nurture", params={"days": 50, "limit": 2, "offset": offset}, headers=KEY
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages += page["crossings"]
        offset += 2
        if offset >= page["total"]:
            break
    assert crossed  # the seeded leads at the two fixed clocks: one lead crosses
    assert page["total"] == len(crossed) and len(pages) == len(crossed)
    assert {row["lead_id"]: row["direction"] for row in pages} == crossed
    between = events[(events[behaviour.EVENT_AT] >= AS_OF) & (events[behaviour.EVENT_AT] < LATER)]
    for row in pages:
        own = between[between[behaviour.EVENT_LEAD] == row["lead_id"]]
        assert sorted(e["event_id"] for e in row["events"]) == sorted(own["event_id"])
    week = server.client.get("/v1/nurture", headers=KEY).json()  # the default: 7 days
    assert week["days"] == 7 and week["total"] == len(crossed)  # the crossings are today's
    assert server.client.get("/v1/nurture", params={"days": 0}, headers=KEY).status_code == 422
    assert server.client.get("/v1/nurture").status_code == 401


def until_ok(server, seconds: float = 20.0) -> None:
    """Wait until the scoring log has read the table (the trend index knows earlier scores)."""
    import time

    deadline = time.monotonic() + seconds
    while server.client.get("/healthz").json()["scoring_log"] != "ok":
        assert time.monotonic() < deadline, "the scoring log never became ok"
        time.sleep(0.1)


def test_leads_without_a_creation_date_and_strangers_events_are_refused(
    project, chosen, start_server
):
    leads, events, _ = chosen
    server = start_server(project / "models", fixed_now=AS_OF.isoformat())
    lead = {fields.LEAD_ID: "L-x"}
    answer = server.client.post("/v1/score", json={"leads": [lead]}, headers=KEY)
    assert answer.status_code == 422 and "leads[0].created_at" in answer.text, answer.text
    stranger = {**api_events(events.head(1))[0], "lead_id": "someone-else"}
    body = {"leads": [{**lead, "created_at": "2026-06-01T00:00:00"}], "events": [stranger]}
    answer = server.client.post("/v1/score", json=body, headers=KEY)
    assert answer.status_code == 422 and "events[0].lead_id" in answer.text, answer.text
    body = {"leads": [{**lead, "created_at": "2026-06-01T00:00:00", "engagement": 3.0}]}
    answer = server.client.post("/v1/score", json=body, headers=KEY)
    assert answer.status_code == 422 and "engagement" in answer.text  # computed, never sent


@pytest.mark.spark
def test_spark_gives_the_batch_cli_probability(project, chosen):
    leads, _, root = chosen
    out = root / "spark-scores.parquet"
    result = CliRunner().invoke(
        __import__("leadscore.cli", fromlist=["app"]).app,
        ["score-spark", str(root / "leads.parquet"), "--output", str(out), "--model",
         str(project / "models"), "--no-log", "--master", "local[2]", "--events",
         str(root / "events.parquet"), "--as-of", AS_OF.isoformat()],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    spark = pd.read_parquet(out).set_index(fields.LEAD_ID)["probability"]
    batch = batch_cli(project, root, AS_OF)
    assert len(spark) == len(batch) == N_LEADS
    assert np.abs(spark.reindex(batch.index) - batch).max() <= PARITY


def test_a_frozen_database_gets_a_503_never_a_frozen_service(
    project, chosen, start_server, postgres, pg_database, tmp_path
):
    """The event store's PostgreSQL stopped (SIGSTOP): scoring a lead whose behaviour needs it
    answers 503 with Retry-After within the timeout, /healthz keeps answering, and once the
    database is back the same request scores."""
    import time

    leads, events, _ = chosen
    boolean = _card(project)["features"]["boolean"]
    server = start_server(project / "models", fixed_now=AS_OF.isoformat(),
                          database_url=pg_database, journal_dir=tmp_path / "journal",
                          outcome_timeout_seconds=1, database_timeout_seconds=1)  # fmt: skip
    store_events(server, api_events(events.head(50)))
    body = {"leads": api_leads(leads.head(2), boolean), "reasons": False}
    postgres.freeze()
    try:
        began = time.monotonic()
        answer = server.client.post("/v1/score", json=body, headers=KEY, timeout=10)
        assert time.monotonic() - began < 5
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] and "events-unavailable" in answer.json()["type"]
        assert server.client.get("/healthz", timeout=2).status_code == 200
    finally:
        postgres.thaw()
    deadline = time.monotonic() + 20
    while (again := server.client.post("/v1/score", json=body, headers=KEY)).status_code != 200:
        assert time.monotonic() < deadline, again.text
        time.sleep(0.2)
    assert len(again.json()["results"]) == 2
