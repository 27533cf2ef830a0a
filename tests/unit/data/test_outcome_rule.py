"""Outcome semantics: won, lost and open statuses; the outcome window defined once."""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.core import fields, outcome
from leadscore.core.config import parse_params
from leadscore.core.data_params import DataParams
from leadscore.core.params_file import ParamsError
from leadscore.data.field_kinds import infer_kinds
from leadscore.data.ingest import export_table_spec, ingest
from leadscore.data.sources import load_export
from leadscore.data.split import time_split

STATUS = {"column": "Stage", "won_values": ["Closed Won"], "lost_values": ["Closed Lost", "Dead"],
          "open_values": ["Open", "Negotiation"]}  # fmt: skip


def data(**outcome_overrides) -> DataParams:
    return DataParams(
        source="files",
        files=({"path": "leads.csv"},),
        id_column="id",
        created_column="created",
        outcome={**STATUS, **outcome_overrides},
    )


def test_the_window_boundary_compares_timestamps():
    created = pd.Series(pd.to_datetime(["2026-01-01 00:00"] * 3))
    won = pd.Series(pd.to_datetime(["2026-04-01 00:00", "2026-04-01 05:00", None]))
    # 2026-01-01 + 90 days = 2026-04-01 00:00: inside; five hours later: outside
    assert outcome.won_within_window(created, won, 90).tolist() == [True, False, False]


def test_open_statuses_are_never_negatives(tmp_path):
    (tmp_path / "leads.csv").write_text(
        "id,created,Stage,visits\n"
        "1,2026-01-05,Closed Won,4\n2,2026-01-06,closed lost,1\n3,2026-01-07, Open ,2\n"
        "4,2026-01-08,Negotiation,3\n5,2026-01-09,Dead,0\n"
    )
    export = load_export(data(), 90, tmp_path)
    leads = export.leads
    assert leads[fields.OUTCOME_STATUS].tolist() == ["won", "lost", "open", "open", "lost"]
    assert leads[fields.CONVERTED].tolist()[:2] == [True, False]
    assert leads[fields.CONVERTED].isna().tolist() == [False, False, True, True, False]
    counts = export.report["outcome"]
    assert (counts["won"], counts["lost"], counts["open"], counts["missing"]) == (1, 2, 2, 0)
    # ingest keeps open leads (they can be scored) with their outcome missing
    kinds = infer_kinds(leads, {})
    valid = ingest(leads, export_table_spec(kinds, leads.columns)).valid
    assert len(valid) == 5 and valid[fields.CONVERTED].isna().sum() == 2


def test_an_unlisted_status_is_an_error_listing_the_values(tmp_path):
    (tmp_path / "leads.csv").write_text(
        "id,created,Stage\n1,2026-01-05,Closed Won\n2,2026-01-06,Proposal\n"
        "3,2026-01-07,Proposal\n4,2026-01-08,On hold\n"
    )
    with pytest.raises(ParamsError) as error:
        load_export(data(), 90, tmp_path)
    message = str(error.value)
    assert "'Stage' has values listed in none of won_values, lost_values, open_values" in message
    assert "'Proposal' (2)" in message and "'On hold' (1)" in message


def test_lost_inside_the_window_is_final_and_a_late_win_is_negative(tmp_path):
    (tmp_path / "leads.csv").write_text(
        "id,created,Stage,won_on\n"
        "1,2026-01-10,Closed Won,2026-02-01\n"  # won within 90 days
        "2,2026-01-10,Closed Won,2026-05-01\n"  # won 111 days later: a negative
        "3,2026-10-20,Closed Lost,\n"  # lost 11 days before as-of: final, not censored
        "4,2026-10-25,Open,\n"  # open: counted apart
    )
    export = load_export(data(won_date_column="won_on"), 90, tmp_path)
    leads = export.leads.assign(**{fields.CREATED_AT: pd.to_datetime(export.leads["created_at"])})
    assert leads[fields.CONVERTED].tolist()[:3] == [True, False, False]
    assert export.report["outcome"]["won_after_window"] == 1
    result = time_split(leads, pd.Timestamp("2026-11-01"), 90, valid_months=1, test_months=1)
    assert result.summary["rows_censored"] == 0 and result.summary["rows_open"] == 1
    assert result.test[fields.LEAD_ID].tolist() == ["3"]  # the newest lead, lost, is tested
    assert result.open[fields.LEAD_ID].tolist() == ["4"]


def test_without_a_status_an_open_window_still_censors_everyone():
    leads = pd.DataFrame(
        {
            fields.LEAD_ID: ["a", "b", "c"],
            fields.CREATED_AT: pd.to_datetime(["2026-01-01", "2026-10-01", "2026-10-02"]),
            fields.CONVERTED: [True, True, False],
        }
    )
    result = time_split(leads, pd.Timestamp("2026-11-01"), 90, 1, 1)
    assert result.summary["rows_censored"] == 2 and result.summary["rows_open"] == 0


def test_status_lists_are_checked(default_params_raw):
    raw = dict(default_params_raw)
    bad = {**default_params_raw["data"], "outcome": {**STATUS, "positive_values": ["yes"]}}
    with pytest.raises(ParamsError, match="won_values/lost_values/open_values or positive_values"):
        parse_params({**raw, "data": bad})
    twice = {**STATUS, "open_values": ["Open", "Dead"]}
    with pytest.raises(ParamsError, match="listed more than once"):
        parse_params({**raw, "data": {**default_params_raw["data"], "outcome": twice}})
    orphan = {"column": "Stage", "open_values": ["Open"]}
    with pytest.raises(ParamsError, match="need won_values"):
        parse_params({**raw, "data": {**default_params_raw["data"], "outcome": orphan}})


def test_open_leads_without_a_created_date_are_counted_open_not_quarantined(tmp_path):
    (tmp_path / "leads.csv").write_text(
        "id,created,Stage,visits\n"
        "1,2026-01-05,Closed Won,4\n2,2026-01-06,Closed Lost,1\n3,,Open,2\n"
        "4,,Negotiation,3\n5,,Dead,0\n6,2026-01-09,Open,1\n"
    )
    leads = load_export(data(), 90, tmp_path).leads
    result = ingest(leads, export_table_spec(infer_kinds(leads, {}), leads.columns))
    assert sorted(result.valid["lead_id"].astype(str)) == ["1", "2", "3", "4", "6"]
    assert result.summary["open_without_created_date"] == 2
    # a decided lead still needs its date: it is quarantined, with the reason
    assert result.quarantine["quarantine_reason"].tolist() == ["created_at: is missing ('NaT')"]
    split = time_split(result.valid, pd.Timestamp("2026-06-01"), 90, 0, 0)
    assert len(split.open) == 3
