"""Join coverage: matched and unmatched keys reported, a limit, a hint on near-misses."""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.analysis.scorecard import join_rows
from leadscore.core.data_params import DataParams
from leadscore.core.params_file import ParamsError
from leadscore.data.sources import read_tables


@pytest.fixture()
def twenty_percent_unmatched(tmp_path):
    """100 leads on 10 accounts; the 20 leads of two accounts carry keys written differently."""
    accounts = [f"ACC-{i:02d}" for i in range(10)]
    keys = [accounts[i % 10] for i in range(100)]
    keys = [k.lower() if k == "ACC-03" else k for k in keys]  # case
    keys = [f" {k} " if k == "ACC-07" else k for k in keys]  # spaces kept in quotes
    pd.DataFrame({"lead": [f"L{i}" for i in range(100)], "account": keys}).to_csv(
        tmp_path / "leads.csv", index=False
    )
    pd.DataFrame({"account": accounts, "employees": [str(10 * i) for i in range(10)]}).to_csv(
        tmp_path / "accounts.csv", index=False
    )
    return tmp_path


def data(**overrides) -> DataParams:
    account = {"path": "accounts.csv", "join_on": "account", **overrides.pop("account", {})}
    return DataParams(
        source="files",
        files=({"path": "leads.csv"}, account),
        id_column="lead",
        **overrides,
    )


def test_twenty_percent_unmatched_fails_by_default_with_a_hint(twenty_percent_unmatched):
    with pytest.raises(ParamsError) as error:
        read_tables(data(), twenty_percent_unmatched)
    message = str(error.value)
    assert "data.files[1]" in message and "20 of 100 lead rows (20.0%)" in message
    assert "data.max_unmatched_share=5.0%" in message
    assert "set data.files[1].max_unmatched_share to accept it" in message
    assert "'acc-03' (10)" in message and "' ACC-07 ' (10)" in message
    assert "would match ignoring case, spaces and punctuation" in message
    assert "match_keys: normalised" in message


@pytest.mark.parametrize(
    "limit", [{"max_unmatched_share": 0.25}, {"account": {"max_unmatched_share": 0.25}}]
)
def test_a_higher_limit_passes_and_reports_the_coverage(twenty_percent_unmatched, limit):
    leads, report, _, _ = read_tables(data(**limit), twenty_percent_unmatched)
    (join,) = report["joins"]
    assert (join["rows_matched"], join["rows_unmatched"]) == (80, 20)
    assert (join["keys_matched"], join["keys_unmatched"]) == (8, 2)
    assert join["unmatched_share"] == 0.2 and join["rows_matching_if_normalised"] == 20
    assert {u["value"] for u in join["top_unmatched"]} == {"acc-03", " ACC-07 "}
    assert leads["employees"].isna().sum() == 20
    (row,) = join_rows(report["joins"])
    assert row[0] == "join accounts.csv" and row[1] == "80.0%" and "20 unmatched" in row[2]


def test_normalised_keys_join_the_near_misses(twenty_percent_unmatched):
    leads, report, _, _ = read_tables(
        data(account={"match_keys": "normalised"}), twenty_percent_unmatched
    )
    assert report["joins"][0]["rows_unmatched"] == 0
    assert leads["employees"].notna().all()
    assert leads.loc[leads["account"] == "acc-03", "employees"].unique().tolist() == ["30"]


def test_a_missing_key_matches_nothing(tmp_path):
    pd.DataFrame({"lead": ["a", "b"], "account": ["X", None]}).to_csv(
        tmp_path / "leads.csv", index=False
    )
    pd.DataFrame({"account": ["X", None], "size": ["1", "2"]}).to_csv(
        tmp_path / "accounts.csv", index=False
    )
    leads, report, _, _ = read_tables(data(), tmp_path)
    assert leads["size"].tolist()[0] == "1" and pd.isna(leads["size"].tolist()[1])
    assert report["joins"][0]["rows_without_key"] == 1
    assert report["joins"][0]["unmatched_share"] == 0.0
