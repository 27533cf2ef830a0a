"""Reading any export: delimiter and encoding detected per file, overridable, clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leadscore.core.data_params import DataParams
from leadscore.core.io import TableReadError, detect_csv_format, read_table_with_format
from leadscore.core.params_file import ParamsError
from leadscore.data.dates import detect_dayfirst
from leadscore.data.sources import read_tables

ROWS = [
    ["Lead Ref", "Company", "City", "Visits"],
    ["L1", "Müller GmbH", "Köln", "3"],
    ["L2", "Café Crème", "Liège", "5"],
    ["L3", "Smith, Jones & Co", "Zürich", "1"],
]


def write(path: Path, sep: str, encoding: str, rows=ROWS, bom: bool = False) -> Path:
    """A CSV written the way a CRM would: fields containing the delimiter are quoted."""

    def field(value: str) -> str:
        return f'"{value}"' if sep in value or "," in value else value

    text = "\r\n".join(sep.join(field(v) for v in row) for row in rows) + "\r\n"
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def read(path: Path, **entry) -> tuple[pd.DataFrame, dict]:
    data = DataParams(source="files", files=({"path": path.name, **entry},), id_column=None)
    frame, report, _, _ = read_tables(data, path.parent)
    return frame, report


def test_a_semicolon_latin1_file_is_read_as_written(tmp_path):
    path = write(tmp_path / "leads.csv", ";", "cp1252")
    fmt = detect_csv_format(path)
    assert (fmt.sep, fmt.encoding) == (";", "cp1252")
    frame, report = read(path)
    assert frame.columns[:4].tolist() == ROWS[0]
    assert frame["Company"].tolist() == ["Müller GmbH", "Café Crème", "Smith, Jones & Co"]
    (entry,) = report["files"]
    assert entry["delimiter"] == "semicolon" and entry["encoding"] == "cp1252"
    assert entry["sep_detected"] and entry["encoding_detected"]


def test_a_utf8_bom_does_not_stick_to_the_first_column(tmp_path):
    path = write(tmp_path / "leads.csv", ",", "utf-8", bom=True)
    frame, report = read(path)
    assert frame.columns[0] == "Lead Ref"
    assert report["files"][0]["encoding"] == "utf-8-sig"
    assert frame["City"].tolist() == ["Köln", "Liège", "Zürich"]


@pytest.mark.parametrize(("sep", "name"), [("\t", "tab"), ("|", "pipe"), (",", "comma")])
def test_tab_pipe_and_comma_files(tmp_path, sep, name):
    path = write(tmp_path / "leads.csv", sep, "utf-8")
    frame, report = read(path)
    assert report["files"][0]["delimiter"] == name
    assert frame.shape == (3, 5)  # four columns and the lead_id role
    assert frame.loc[2, "Company"] == "Smith, Jones & Co"


def test_quoted_fields_may_contain_the_delimiter(tmp_path):
    rows = [*ROWS, ["L4", "Alpha; Beta; Gamma", "Köln", "2"], ["L5", "A;B", "Köln", "7"]]
    path = write(tmp_path / "leads.csv", ";", "utf-8", rows=rows)
    frame, _ = read(path)
    assert frame["Company"].tolist()[-2:] == ["Alpha; Beta; Gamma", "A;B"]
    assert frame["Visits"].tolist() == ["3", "5", "1", "2", "7"]


def test_the_configured_sep_and_encoding_win(tmp_path):
    path = write(tmp_path / "leads.csv", ";", "latin-1")
    frame, report = read(path, sep=";", encoding="latin-1")
    entry = report["files"][0]
    assert (entry["sep"], entry["encoding"]) == (";", "latin-1")
    assert not entry["sep_detected"] and not entry["encoding_detected"]
    assert frame["City"].tolist() == ["Köln", "Liège", "Zürich"]


def test_one_column_means_the_delimiter_is_probably_wrong(tmp_path):
    path = write(tmp_path / "leads.csv", ";", "utf-8", rows=[r[:3:2] for r in ROWS])
    with pytest.raises(ParamsError) as error:
        read(path, sep=",")
    message = str(error.value)
    assert "leads.csv parsed into a single column" in message
    assert "delimiter is probably wrong" in message and "semicolon ';'" in message
    assert "data.files[0].sep" in message and "comma (configured)" in message


def test_a_ragged_line_names_the_file_the_line_and_what_was_expected(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("id,name,visits\n1,a,3\n2,b,4\n3,c,5,extra\n")
    with pytest.raises(ParamsError) as error:
        read(path)
    message = str(error.value)
    assert "leads.csv" in message and "line 4" in message
    assert "expected 3 fields" in message and "found 4" in message
    assert "data.files[0].sep" in message


def test_a_wrong_encoding_names_the_line(tmp_path):
    path = write(tmp_path / "leads.csv", ",", "cp1252")
    with pytest.raises(TableReadError) as error:
        read_table_with_format(path, encoding="utf-8", dtype=str)
    message = str(error.value)
    assert "not valid utf-8" in message and "line 2" in message and "leads.csv" in message


def test_day_first_dates_are_detected_and_rewritten_as_iso(tmp_path):
    assert detect_dayfirst(pd.Series(["13/02/2026", "01/03/2026"])) is True
    assert detect_dayfirst(pd.Series(["02/13/2026", "03/01/2026"])) is False
    assert detect_dayfirst(pd.Series(["01/02/2026", "03/04/2026"])) is None
    path = tmp_path / "leads.csv"
    path.write_text("id;Created Date;status\n1;13.02.2026;won\n2;01.03.2026;lost\n")
    frame, report = read(path)
    assert frame["Created Date"].tolist() == ["2026-02-13", "2026-03-01"]
    assert report["files"][0]["dates"] == {"Created Date": "day-first (detected)"}


def test_a_configured_date_format_is_used(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("id,signup_date\n1,02-01-2026 14:30\n2,03-01-2026 09:00\n")
    frame, report = read(path, date_format="%d-%m-%Y %H:%M")
    assert frame["signup_date"].tolist() == ["2026-01-02 14:30:00", "2026-01-03 09:00:00"]
    assert "configured" in report["files"][0]["dates"]["signup_date"]


def test_an_empty_file_says_so(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("")
    with pytest.raises(ParamsError, match=r"leads.csv: line 1: expected a header line"):
        read(path)
