"""Data tests of the ingest stage: bad rows are quarantined with reasons, nothing is lost."""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.data.ingest import REASON_COLUMN, LeadTableError, ingest


@pytest.fixture()
def raw(tiny_crm) -> pd.DataFrame:
    return tiny_crm.leads.head(200).astype(object).copy()


def reasons_by_id(result) -> dict[str, str]:
    return dict(zip(result.quarantine["lead_id"], result.quarantine[REASON_COLUMN], strict=True))


def test_clean_table_passes_whole(tiny_crm):
    result = ingest(tiny_crm.leads)
    assert result.summary["rows_quarantined"] == 0
    assert len(result.valid) == len(tiny_crm.leads)
    assert result.valid["lead_id"].is_unique


def test_bad_rows_are_quarantined_with_reasons(raw):
    ids = raw["lead_id"].tolist()
    raw.loc[1, "website_visits"] = -3
    raw.loc[2, "pages_per_visit"] = "lots"
    raw.loc[3, "channel"] = "fax"
    raw.loc[4, "lead_id"] = ids[5]
    raw.loc[6, "created_at"] = "yesterday-ish"
    raw.loc[7, "won_at"] = pd.Timestamp(raw.loc[7, "created_at"]) - pd.Timedelta(days=3)
    raw.loc[8, "converted"] = "maybe"

    result = ingest(raw)
    reasons = result.quarantine[REASON_COLUMN].tolist()

    assert len(result.valid) + len(result.quarantine) == len(raw), "no row may be lost"
    assert result.summary["rows_quarantined"] == 7
    assert "website_visits: must be >= 0 ('-3.0')" in reasons
    assert "pages_per_visit: not a number ('lots')" in reasons
    assert "channel: not an allowed value ('fax')" in reasons
    assert any(r.startswith("lead_id: duplicate id") for r in reasons)
    assert any("created_at: not a date ('yesterday-ish')" in r for r in reasons)
    assert any(r.startswith("won_at must not be before created_at") for r in reasons)
    assert any("converted: not true/false ('maybe')" in r for r in reasons)
    # the first occurrence of a duplicated id stays valid, the repeat is quarantined
    assert ids[5] in set(result.valid["lead_id"])
    assert result.summary["reasons"]["lead_id: duplicate id"] == 1


def test_quarantine_keeps_original_values(raw):
    raw.loc[0, "pages_per_visit"] = "lots"
    result = ingest(raw)
    assert result.quarantine.iloc[0]["pages_per_visit"] == "lots"


def test_missing_column_is_a_table_error(tiny_crm):
    with pytest.raises(LeadTableError, match="lacks required columns: channel"):
        ingest(tiny_crm.leads.drop(columns=["channel"]))


def test_types_after_ingest(tiny_crm):
    valid = ingest(tiny_crm.leads.head(100)).valid
    assert pd.api.types.is_datetime64_any_dtype(valid["created_at"])
    assert valid["converted"].dtype == bool
    assert pd.api.types.is_float_dtype(valid["annual_revenue"])


def test_an_atomic_write_that_fails_keeps_the_old_file(tmp_path):
    from leadscore.core.io import atomic_path, write_json

    target = tmp_path / "report.json"
    write_json(target, {"version": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text('{"version": 2, "half": ')
        raise RuntimeError("the stage failed half-way")
    assert target.read_text() == '{\n  "version": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_unit_text_in_a_number_or_money_column_gets_a_reason_naming_the_type():
    from leadscore.core.units import NumberFormat
    from leadscore.data.ingest import export_table_spec

    raw = pd.DataFrame(
        {
            "lead_id": ["a", "b", "c"],
            "converted": ["true", "false", "true"],
            "Discount": ["17.00%", "2", "18.00%"],
            "Deal": ["$33K", "about 3 grand", None],
        }
    )
    kinds = {"Discount": "numeric", "Deal": "numeric"}
    spec = export_table_spec(kinds, raw.columns, {"Deal": "money"}, NumberFormat())
    result = ingest(raw, spec)
    reasons = result.quarantine.set_index("lead_id")[REASON_COLUMN].to_dict()
    assert reasons == {
        "a": "Discount: not a number (data.types: percent reads it) ('17.00%')",
        "b": "Deal: not money (decimal '.', thousands ',') ('about 3 grand')",
        "c": "Discount: not a number (data.types: percent reads it) ('18.00%')",
    }


def test_the_quarantine_share_failure_names_the_top_reasons_and_the_fixes(tiny_crm):
    from leadscore.data.ingest import quarantine_share_error

    raw = tiny_crm.leads.head(1000).copy()
    raw.loc[:99, "created_at"] = None  # 100 rows without a creation date
    raw.loc[500:529, "website_visits"] = -1  # 30 with a negative count
    summary = ingest(raw).summary
    message = quarantine_share_error(summary, 0.05, "data/interim/quarantine.failed.csv")
    assert message.startswith("13.0% of rows (130 of 1,000) were quarantined")
    assert "Top reasons: created_at: is missing (100 rows); website_visits: must be >= 0 (30" in (
        message
    )
    assert "raise ingest.max_quarantine_share" in message
    assert "data/interim/quarantine.failed.csv" in message
