"""bench/serve.py's behaviour case (issue 30): one lead with a stored history of 50 activity
events, scored by this service (its behaviour features computed as of now from the event
store, by the model's definition), against MLflow's plain one-lead scoring of the same model
(`mlflow models serve`, the features sent ready-made: it computes none). Goal: >= 20x the
throughput at concurrency 8.

The model is one trained on activity events: `make example-activity` trains examples/activity
(or `--activity DIR`, any project whose models/ were trained with data.events). Run by
`python bench/serve.py --activity examples/activity` (`make bench-serve` runs it when
examples/activity/models holds such a model). Not a test: the machine must be otherwise idle.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path

import pandas as pd

HISTORY = 50  # stored events per lead
LEADS = 300  # leads in the request mix (each with its history)
TYPES = ("web_page", "email_open", "email_click", "content_download", "pricing_page", "webinar")


def history(lead_id: str, end: pd.Timestamp, n: int = HISTORY) -> list[dict]:
    """`n` activity events of one lead over the 90 days before `end`, as POST /v1/events takes
    them (unique ids; types in turn; one demo request)."""
    step = pd.Timedelta(days=90) / n
    events = []
    for k in range(n):
        kind = "demo_request" if k == n - 3 else TYPES[k % len(TYPES)]
        at = end - pd.Timedelta(days=90) + k * step
        events.append({"event_id": f"{lead_id}-h{k}", "lead_id": lead_id,
                       "occurred_at": at.isoformat(), "event_type": kind})  # fmt: skip
    return events


def api_lead(record: dict, features: dict, computed: set[str]) -> dict:
    """A lead as the API takes it for a model trained on events: its id, its creation date and
    the CRM fields (the behaviour fields are computed by the service, never sent)."""
    lead = {"lead_id": str(record["lead_id"]),
            "created_at": pd.Timestamp(record["created_at"]).isoformat()}  # fmt: skip
    for kind in ("categorical", "numeric", "boolean"):
        for name in features[kind]:
            value = record.get(name)
            if name in computed or value is None or pd.isna(value):
                continue
            lead[name] = bool(value) if kind == "boolean" else (
                float(value) if kind == "numeric" else str(value))  # fmt: skip
    return lead


def snapshot_leads(project: Path, n: int = LEADS) -> pd.DataFrame:
    """`n` day-0 snapshot rows of the project's prepared leads, with their lead ids (the
    behaviour columns as training computed them: what MLflow is sent)."""
    from leadscore.data import behaviour

    raw = pd.read_parquet(project / "data" / "raw" / "leads.parquet")
    rows = raw[raw["lead_id"].str.endswith(f"{behaviour.SNAPSHOT_SEPARATOR}0")].head(n).copy()
    rows["lead_id"] = behaviour.lead_of(rows["lead_id"])
    return rows.reset_index(drop=True)


def behaviour_case(project: Path, seconds: float, mlflow_one: dict | None, tools) -> dict:
    """Start this service on `project`'s model, store HISTORY events per lead, then one-lead
    load at concurrency 1, 8 and 32; `mlflow_one`: MLflow's one-lead figures of the same
    model (measured by `tools.mlflow_one_lead` when None)."""
    from leadscore.model.bundle import read_card

    card = read_card(project / "models" / "model_card.json").to_record()
    computed = set((card["inputs"].get("behaviour") or {}).get("fields", {}))
    if not computed:
        raise SystemExit(f"{project}/models was trained without activity events")
    features = card["features"]
    rows = snapshot_leads(project)
    leads = [api_lead(r, features, computed) for r in rows.to_dict("records")]
    scratch = Path(tempfile.mkdtemp(prefix="leadscore-bench-behaviour-"))
    port = tools.free_port()
    server = tools.start_ours(project / "models", port, scratch)
    out: dict = {"project": str(project), "stored_events_per_lead": HISTORY, "leads": len(leads)}
    try:
        tools.wait_http(port, "/readyz", server)
        end = pd.Timestamp.now().normalize()
        for lead in leads:
            tools.post(port, "/v1/events", {"events": history(lead["lead_id"], end)})
        requests = [
            tools.http_request(port, "/v1/score", json.dumps({"leads": [lead], "reasons": False})
                               .encode())
            for lead in leads
        ]  # fmt: skip
        tools.run_load(port, requests, 4, 1.5)  # warm-up
        out["ours"] = {c: asdict(tools.run_load(port, requests, c, seconds)) for c in (1, 8, 32)}
    finally:
        tools.stop(server)
    out["mlflow"] = mlflow_one or tools.mlflow_one_lead(card, rows, seconds)
    ratio = out["ours"][8]["throughput"] / out["mlflow"][8]["throughput"]
    out["goal"] = {"ratio_c8": round(ratio, 2), "goal": ">= 20", "met": ratio >= 20}
    return out
