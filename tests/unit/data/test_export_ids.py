"""Exports without an id: a stable id is made, reported, and the run carries on."""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.core import fields
from leadscore.core.config import DataParams, ParamsError
from leadscore.data.ids import made_ids, unique_id_column
from leadscore.data.sources import load_export

ROWS = "Company;Visits;Stage\nAcme;3;won\nBeta;1;lost\nAcme;3;lost\nAcme;3;won\nGamma;2;open\n"


def data(**overrides) -> DataParams:
    settings = {
        "source": "files",
        "files": ({"path": "leads.csv"},),
        "id_column": None,
        "created_column": None,
        "outcome": {"column": "Stage", "won_values": ["won"], "lost_values": ["lost"],
                    "open_values": ["open"]},
    }  # fmt: skip
    return DataParams(**(settings | overrides))


def test_no_unique_column_gives_a_made_id_that_says_so(tmp_path):
    (tmp_path / "leads.csv").write_text(ROWS)
    export = load_export(data(), 90, tmp_path)
    ids = export.leads[fields.LEAD_ID]
    assert ids.is_unique and ids.str.startswith("row-").all()
    # identical rows (outcome aside) get the same hash and an ordinal: Acme;3 appears 3 times
    acme = ids[export.leads["Company"] == "Acme"].tolist()
    assert acme[1] == acme[0] + "-2" and acme[2] == acme[0] + "-3"
    report = export.report["id"]
    assert report["made"] and report["column"] == fields.LEAD_ID
    assert report["hashed_columns"] == ["Company", "Visits"]  # the outcome is left out
    assert "sha256" in report["rule"]


def test_made_ids_are_stable_across_runs_order_and_outcome_updates(tmp_path):
    (tmp_path / "leads.csv").write_text(ROWS)
    first = load_export(data(), 90, tmp_path).leads
    again = load_export(data(), 90, tmp_path).leads
    assert first[fields.LEAD_ID].tolist() == again[fields.LEAD_ID].tolist()
    lines = ROWS.splitlines()
    updated = [lines[0], lines[5].replace("open", "won"), lines[2], *lines[1:2], *lines[3:5]]
    (tmp_path / "leads.csv").write_text("\n".join(updated) + "\n")
    moved = load_export(data(), 90, tmp_path).leads

    def by_company(frame: pd.DataFrame) -> dict:
        return dict(zip(frame["Company"] + frame["Visits"], frame[fields.LEAD_ID], strict=True))

    assert by_company(moved)["Gamma2"] == by_company(first)["Gamma2"]
    assert by_company(moved)["Beta1"] == by_company(first)["Beta1"]


def test_a_unique_id_like_column_is_found():
    frame = pd.DataFrame({"Visits": ["1", "2"], "Prospect ID": ["a", "b"], "Note": ["x", "y"]})
    assert unique_id_column(frame) == "Prospect ID"
    # a unique number or date is no id; a unique text column is, when nothing is named like one
    frame = pd.DataFrame({"Amount": ["10", "20"], "created_at": ["2026-01-01", "2026-01-02"]})
    assert unique_id_column(frame) is None
    assert unique_id_column(frame.assign(email=["a@x", "b@x"])) == "email"


def test_the_configured_id_column_is_kept_beside_lead_id(tmp_path):
    (tmp_path / "leads.csv").write_text("Ref;Stage\nR1;won\nR2;lost\n")
    export = load_export(data(id_column="Ref"), 90, tmp_path)
    assert export.leads[fields.LEAD_ID].tolist() == ["R1", "R2"]
    assert export.report["id"] == {
        "column": fields.LEAD_ID, "source_column": "Ref", "made": False,
        "rule": "configured (data.id_column)",
    }  # fmt: skip
    with pytest.raises(ParamsError, match="data.id_column: 'ref' is not a column"):
        load_export(data(id_column="ref"), 90, tmp_path)


def test_made_ids_do_not_depend_on_the_index():
    frame = pd.DataFrame({"a": ["1", None], "b": ["x", "y"]}, index=[7, 3])
    assert made_ids(frame).tolist() == made_ids(frame.reset_index(drop=True)).tolist()


def test_made_ids_hash_the_values_as_written_not_as_rewritten(tmp_path):
    # ambiguous dates are read month-first; a new row reveals day-first and the dates are
    # rewritten differently, but the ids of the rows already there do not move
    (tmp_path / "leads.csv").write_text("Company;Created;Stage\nAcme;01/02/2026;won\n")
    before = load_export(data(), 90, tmp_path)
    (tmp_path / "leads.csv").write_text(
        "Company;Created;Stage\nAcme;01/02/2026;won\nBeta;13/02/2026;lost\n"
    )
    after = load_export(data(), 90, tmp_path)
    assert before.leads["Created"].tolist() == ["2026-01-02"]
    assert after.leads["Created"].tolist() == ["2026-02-01", "2026-02-13"]
    assert after.leads[fields.LEAD_ID][0] == before.leads[fields.LEAD_ID][0]
