"""A made id that survives the outcome (issue 33): an event business's offers without an id,
exported once while open and again with outcomes, loss reasons, close dates, discount codes
and offer values filled in. Every made id is the same in both exports, the model card lists
the fields it is made from, and `leadscore score` on the open export makes the ids training
made.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from parity import card_inputs
from stages import files_params, run_score, run_stages

from leadscore.core import fields
from leadscore.core.data_params import DataParams
from leadscore.data.sources import load_export

N = 3000
HASHED = ["Company", "Event Type", "Guests", "Venue"]


def exports(n: int = N, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same offers, open and then decided (a few still open)."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 420, n), unit="D")
    event = rng.choice(["wedding", "gala", "conference", "birthday"], n)
    guests = rng.integers(10, 300, n)
    logit = 0.0 + 0.8 * (event == "wedding") - 0.004 * guests
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    still_open = created > pd.Timestamp("2026-02-10")
    base = pd.DataFrame(
        {
            "Company": [f"Company {i}" for i in rng.integers(0, 700, n)],
            "Event Type": event,
            "Guests": guests.astype(str),
            "Venue": rng.choice(["Hall A", "Hall B", "Garden", "Roof", "Cellar"], n),
            "Created": created.date.astype(str),
        }
    )
    blank = [""] * n
    opened = base.assign(
        Stage="Open", **{"Loss Reason": blank, "Close Date": blank, "Discount Code": blank}
    ).assign(**{"Offer Value": blank})
    closed_at = (created + pd.to_timedelta(rng.integers(3, 40, n), unit="D")).date.astype(str)
    lost = ~won & ~still_open
    decided = base.assign(
        Stage=np.where(still_open, "Open", np.where(won, "Won", "Lost")),
        **{
            "Loss Reason": np.where(lost, rng.choice(["price", "date taken", "no reply"], n), ""),
            "Close Date": np.where(still_open, "", closed_at),
            "Discount Code": np.where(won & ~still_open & (rng.random(n) < 0.5), "SPRING10", ""),
            "Offer Value": np.where(still_open, "", [f"${g * 95:,.2f} " for g in guests]),
        },
    )
    return opened, decided


def data() -> dict:
    return {
        "source": "files",
        "files": [{"path": "offers.csv"}],
        "id_column": None,
        "created_column": "Created",
        "value_column": "Offer Value",  # the won deal's value, written as money
        "types": {"Offer Value": "money"},
        "outcome": {
            "column": "Stage",
            "won_values": ["Won"],
            "lost_values": ["Lost"],
            "open_values": ["Open"],
        },
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory, default_params_raw):
    root = tmp_path_factory.mktemp("reexport")
    opened, decided = exports()
    opened.to_csv(root / "offers_open.csv", index=False)
    decided.to_csv(root / "offers.csv", index=False)
    raw = files_params(default_params_raw, data())
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_stages(root, monkeypatch)
    return root


def test_every_made_id_is_identical_across_the_two_exports(trained, tmp_path):
    (tmp_path / "offers.csv").write_bytes((trained / "offers_open.csv").read_bytes())
    opened = load_export(DataParams(**data()), 90, tmp_path)
    decided = load_export(DataParams(**data()), 90, trained)
    before, after = opened.leads[fields.LEAD_ID], decided.leads[fields.LEAD_ID]
    same = int((before.to_numpy() == after.to_numpy()).sum())
    print(f"made ids identical across the exports: {same:,} of {len(after):,}")
    assert same == len(after) == N and after.is_unique
    for export in (opened, decided):
        assert export.report["id"]["hashed_columns"] == HASHED


def test_the_card_lists_the_fields_the_id_is_made_from(trained):
    card, inputs = card_inputs(trained)
    assert inputs.made_id and list(inputs.made_id_columns) == HASHED
    assert card["inputs"]["made_id"]["columns"] == HASHED
    validation = json.loads((trained / "reports" / "validation.json").read_text())
    assert validation["fields"]["made_id_after_creation"] == {}  # the review agrees
    report = validation["export"]["id"]
    assert set(report["left_out"]) == {
        "Stage", "Created", "Loss Reason", "Close Date", "Discount Code", "Offer Value",
    }  # fmt: skip


def test_scoring_the_open_export_makes_the_ids_training_made(trained, tmp_path):
    output = tmp_path / "scores.parquet"
    done = run_score(
        str(trained / "offers_open.csv"), "-o", str(output), "--model", str(trained / "models")
    )
    assert done.exit_code == 0, done.output
    scored = pd.read_parquet(output)[fields.LEAD_ID]
    trained_ids = pd.read_parquet(trained / "data" / "raw" / "leads.parquet")[fields.LEAD_ID]
    assert len(scored) == N and set(scored) == set(trained_ids)


def test_the_value_column_is_read_as_money(trained):
    leads = pd.read_parquet(trained / "data" / "interim" / "leads.parquet")
    decided = leads[leads[fields.OUTCOME_STATUS] != "open"]
    assert decided[fields.DEAL_VALUE].dtype == "float64"
    assert (decided[fields.DEAL_VALUE] % 95 == 0).all() and decided[fields.DEAL_VALUE].min() > 0
