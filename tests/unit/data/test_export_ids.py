"""Exports without an id: a stable id is made, reported, and the run carries on."""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.core import fields
from leadscore.core.data_params import DataParams
from leadscore.core.params_file import ParamsError
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
    assert report["hashed_columns"] == ["Company"]  # known when the lead is created
    assert report["left_out"] == {
        "Stage": "the outcome",
        "Visits": "named like a post-contact or status field (post-contact: 'visit')",
    }
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


# --- issue 33: a made id that survives the outcome; clear decisions on an incomplete id -----

OPEN_EXPORT = (
    "Company;Event Type;Guests;Created;Stage;Loss Reason;Close Date;Discount Code;Offer Value\n"
    "Acme;wedding;120;2026-01-03;Open;;;;\n"
    "Beta;gala;80;2026-01-04;Open;;;;\n"
    "Acme;gala;80;2026-01-05;Open;;;;$12K\n"
    "Gamma;wedding;40;2026-01-06;Open;;;;\n"
    "Acme;wedding;120;2026-01-09;Open;;;;\n"
)
CLOSED_EXPORT = (  # the same offers, exported again once most were decided
    "Company;Event Type;Guests;Created;Stage;Loss Reason;Close Date;Discount Code;Offer Value\n"
    "Acme;wedding;120;2026-01-03;Won;;2026-02-01;SPRING10;$33K\n"
    "Beta;gala;80;2026-01-04;Lost;price;2026-02-03;;\n"
    "Acme;gala;80;2026-01-05;Lost;date taken;2026-02-09;XMAS;$12.5K\n"
    "Gamma;wedding;40;2026-01-06;Open;;;;\n"
    'Acme;wedding;120;2026-01-09;Won;;2026-03-01;;"$1,932.00 "\n'
)


def offers(**overrides) -> DataParams:
    outcome = {"column": "Stage", "won_values": ["Won"], "lost_values": ["Lost"],
               "open_values": ["Open"]}  # fmt: skip
    return data(outcome=outcome, created_column="Created", **overrides)


def test_a_re_export_with_outcomes_filled_in_keeps_every_made_id(tmp_path):
    (tmp_path / "leads.csv").write_text(OPEN_EXPORT)
    before = load_export(offers(), 90, tmp_path)
    (tmp_path / "leads.csv").write_text(CLOSED_EXPORT)
    after = load_export(offers(), 90, tmp_path)
    assert before.leads[fields.LEAD_ID].tolist() == after.leads[fields.LEAD_ID].tolist()
    assert after.leads[fields.LEAD_ID].is_unique
    for export in (before, after):
        report = export.report["id"]
        assert report["hashed_columns"] == ["Company", "Event Type", "Guests"]
        assert report["left_out"] == {
            "Stage": "the outcome",
            "Created": "a date",
            "Loss Reason": "named like a post-contact or status field (post-contact: 'reason')",
            "Close Date": "a date",
            "Discount Code": "empty for every open lead: filled in with the outcome",
            "Offer Value": "a value (money or percent)",
        }
        assert export.inputs.made_id_columns == ("Company", "Event Type", "Guests")


def test_declared_money_and_percent_columns_are_never_hashed(tmp_path):
    (tmp_path / "leads.csv").write_text("Company;Deal;Stage\nAcme;12;won\nAcme;7;lost\n")
    export = load_export(data(types={"Deal": "money"}), 90, tmp_path)
    assert export.report["id"]["left_out"]["Deal"] == "a value (money or percent)"


INCOMPLETE = "Lead ID;Company;Stage\n" + "".join(  # 2 of 10 blank, L1 twice
    f"{ref};{company};{stage}\n"
    for ref, company, stage in zip(
        ["L1", "", "L1", "L4", "", "L6", "L7", "L8", "L9", "L10"],
        ["Acme", "Beta", "Gamma", "Delta", "Eps", "Zeta", "Eta", "Theta", "Iota", "Kappa"],
        ["won", "lost", "lost", "won", "open", "lost", "lost", "won", "lost", "open"],
        strict=True,
    )
)


@pytest.mark.parametrize("configured", [None, "Lead ID"])
def test_an_incomplete_id_column_leads_to_a_made_id_with_the_counts(tmp_path, configured, caplog):
    (tmp_path / "leads.csv").write_text(INCOMPLETE)
    export = load_export(data(id_column=configured), 90, tmp_path)
    ids = export.leads[fields.LEAD_ID]
    assert ids.is_unique and ids.str.startswith("row-").all()
    report = export.report["id"]
    assert report["made"] and report["left_out"]["Lead ID"] == "an id column with gaps"
    assert report["id_column_gaps"] == {
        "column": "Lead ID", "blank": 2, "repeated": 1,
        "decision": "made an id for every row (data.incomplete_id: make)",
    }  # fmt: skip
    assert "'Lead ID' is not a complete id (2 of 10 rows blank, 1 repeated)" in caplog.text


def test_an_incomplete_id_column_is_refused_when_declared(tmp_path):
    (tmp_path / "leads.csv").write_text(INCOMPLETE)
    with pytest.raises(ParamsError, match=r"2 of 10 rows blank, 1 repeated.*'refuse'"):
        load_export(data(incomplete_id="refuse"), 90, tmp_path)


def test_an_incomplete_id_column_keeps_each_first_row_when_declared(tmp_path):
    from leadscore.data.field_kinds import infer_kinds
    from leadscore.data.ingest import export_table_spec, ingest

    (tmp_path / "leads.csv").write_text(INCOMPLETE)
    export = load_export(data(incomplete_id="keep_first"), 90, tmp_path)
    report = export.report["id"]
    assert not report["made"] and report["source_column"] == "Lead ID"
    assert report["id_column_gaps"]["decision"].startswith("kept the first row of each id")
    kinds = infer_kinds(export.leads, {})
    result = ingest(export.leads, export_table_spec(kinds, export.leads.columns))
    assert result.valid[fields.LEAD_ID].tolist() == ["L1", "L4", "L6", "L7", "L8", "L9", "L10"]
    assert len(result.quarantine) == 3  # two blank ids, the second L1


def test_hashed_fields_the_leakage_review_finds_recorded_after_creation_are_named():
    from leadscore.data.ids import hashed_after_creation

    review = {
        "Company": {"verdict": "kept", "reasons": []},
        "Notes": {
            "verdict": "excluded",
            "reasons": ["present only for converted leads (40% vs 0.0%)"],
        },
        "Venue": {"verdict": "needs review", "reasons": ["name cue status-like: 'tag'"]},
        "Ref": {"verdict": "excluded", "reasons": ["identifier: id-like name"]},
    }
    found = hashed_after_creation(["Company", "Notes", "Venue", "Ref"], review)
    assert found == {"Notes": ["present only for converted leads (40% vs 0.0%)"]}
