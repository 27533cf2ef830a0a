"""End to end through the stages on one messy export: semicolons, Windows-1252, no id column,
day-first dates and open statuses. generate (reading the files) -> ingest -> split."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from leadscore.core import fields

N_LEADS = 2400


@pytest.fixture()
def messy_export(tmp_path) -> Path:
    """24 months of leads as a European CRM writes them; newer leads are more often open."""
    rng = np.random.default_rng(13)
    created = pd.Timestamp("2024-11-01") + pd.to_timedelta(rng.integers(0, 730, N_LEADS), "D")
    created = created.sort_values()
    visits = rng.poisson(3, N_LEADS)
    won = rng.random(N_LEADS) < 1 / (1 + np.exp(-(-2.2 + 0.4 * visits)))
    age = (pd.Timestamp("2026-11-01") - created).days.to_numpy()
    still_open = rng.random(N_LEADS) < np.clip(1 - age / 120, 0.02, 0.9)
    lost = rng.choice(["Verloren", "Kein Bedarf"], N_LEADS)
    closed = np.where(won, "Gewonnen", lost)
    stage = np.where(still_open, rng.choice(["Offen", "In Verhandlung"], N_LEADS), closed)
    frame = pd.DataFrame(
        {
            "Firma": rng.choice(
                ["Müller GmbH", "Café Crème; Söhne", "Zürich Re", "Øresund"], N_LEADS
            ),  # fmt: skip
            "Erstellt am": created.strftime("%d.%m.%Y"),
            "Besuche": visits,
            "Quelle": rng.choice(["Messe", "Webinar", "Empfehlung", "Select"], N_LEADS),
            "Phase": stage,
        }
    )
    frame.to_csv(tmp_path / "export.csv", sep=";", encoding="cp1252", index=False)
    return tmp_path


def params(default_params_raw) -> dict:
    raw = yaml.safe_load(yaml.safe_dump(default_params_raw))
    raw["data"] = {
        **raw["data"],
        "source": "files",
        "files": [{"path": "export.csv"}],
        "missing_values": ["Select"],
        "id_column": None,
        "created_column": "Erstellt am",
        "outcome": {
            "column": "Phase",
            "won_values": ["Gewonnen"],
            "lost_values": ["Verloren", "Kein Bedarf"],
            "open_values": ["Offen", "In Verhandlung"],
        },
    }
    gate = raw["contract"]["publish_gate"]
    gate.update(min_positives=20, min_negatives=20)
    return raw


def run(root: Path, monkeypatch, stages: tuple[str, ...]) -> None:
    monkeypatch.chdir(root)
    for stage in stages:
        importlib.import_module(f"leadscore.stages.{stage}").main()


def test_a_messy_export_reads_ingests_and_splits(messy_export, default_params_raw, monkeypatch):
    (messy_export / "params.yaml").write_text(yaml.safe_dump(params(default_params_raw)))
    run(messy_export, monkeypatch, ("prepare", "ingest", "split"))
    reports = messy_export / "reports"
    validation = json.loads((reports / "validation.json").read_text())
    (read,) = validation["export"]["files"]
    assert (read["delimiter"], read["encoding"]) == ("semicolon", "cp1252")
    assert read["dates"] == {"Erstellt am": "day-first (detected)"}
    assert validation["export"]["id"]["made"] and validation["rows_quarantined"] == 0
    outcomes = validation["outcomes"]
    assert outcomes["open"] > 0 and outcomes["won"] + outcomes["lost"] + outcomes["open"] == N_LEADS
    assert validation["fields"]["inputs"] == ["Firma", "Besuche", "Quelle"]

    leads = pd.read_parquet(messy_export / "data" / "interim" / "leads.parquet")
    assert leads[fields.LEAD_ID].is_unique and set(leads["Firma"]) >= {"Café Crème; Söhne"}
    assert leads["Quelle"].isna().any() and not (leads["Quelle"] == "Select").any()
    features = json.loads((messy_export / "data" / "interim" / "features.json").read_text())
    assert features["id"]["column"] == fields.LEAD_ID and features["id"]["made"]

    split = json.loads((reports / "split.json").read_text())
    assert split["split"] == "time" and split["rows_open"] == outcomes["open"]
    parts = [pd.read_parquet(messy_export / "data" / "processed" / f"{p}.parquet")
             for p in ("train", "valid", "test")]  # fmt: skip
    used = pd.concat(parts)
    assert (used[fields.OUTCOME_STATUS] != "open").all()
    assert len(used) + split["rows_open"] + split["rows_censored"] == N_LEADS
    assert used[fields.CONVERTED].dtype == bool
    # lost leads inside their window are final: the newest decided leads are tested
    newest_decided = leads.loc[leads[fields.OUTCOME_STATUS] != "open", fields.CREATED_AT].max()
    assert parts[2][fields.CREATED_AT].max() == newest_decided
    assert split["positives_test"] >= 20 and split["negatives_test"] >= 20
