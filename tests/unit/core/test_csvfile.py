"""The one CSV rule (leadscore.core.csvfile): records with their line, broken quotes that cost
their own line only, every line accounted for, and cells a spreadsheet opens safely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadscore.core.csvfile import (
    BadLine,
    CsvRecords,
    LineCounts,
    TableReadError,
    column_names,
    detect_csv_format,
)
from leadscore.core.csvframes import parsed_values, plain_text_frame, text_frame
from leadscore.core.io import read_table_with_format
from leadscore.core.spreadsheet import spreadsheet_safe, spreadsheet_safe_frame


def records(path: Path) -> tuple[list[tuple[int, list[str]] | BadLine], CsvRecords]:
    with CsvRecords(path, detect_csv_format(path)) as reader:
        items = list(reader)
    reader.counts.check(path)
    return items, reader


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "leads.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_a_quote_that_never_closes_costs_its_own_line_only(tmp_path):
    path = write(tmp_path, 'id,name,visits\n1,a,3\n2,"b,4\n3,c,5\n4,d,6\n')
    items, reader = records(path)
    assert items[0] == (2, ["1", "a", "3"])
    assert isinstance(items[1], BadLine) and items[1].line == 3 and items[1].raw == '2,"b,4'
    assert "a quote opened on this line does not close" in items[1].reason
    assert items[2:] == [(4, ["3", "c", "5"]), (5, ["4", "d", "6"])]
    assert (reader.counts.lines, reader.counts.rows, reader.counts.bad) == (5, 4, 1)


def test_a_quote_closed_by_a_later_field_is_caught_and_the_rows_between_are_read(tmp_path):
    text = 'id,name,visits\n1,"a,3\n2,b,4\n3,"Smith, Jones",5\n4,d,6\n'
    items, _ = records(write(tmp_path, text))
    assert isinstance(items[0], BadLine) and items[0].line == 2
    assert items[1:] == [
        (3, ["2", "b", "4"]),
        (4, ["3", "Smith, Jones", "5"]),
        (5, ["4", "d", "6"]),
    ]


def test_a_stray_quote_on_the_last_line_never_closes(tmp_path):
    items, _ = records(write(tmp_path, 'id,name\n1,a\n2,"b\n'))
    assert items[1] == BadLine(
        3, "malformed line: a quote opened on this line never closes", '2,"b'
    )


def test_quoted_line_breaks_belong_to_their_record(tmp_path):
    text = 'id,notes,visits\r\n1,"called;\r\nwill call again",3\r\n\r\n2,"",4\r\n'
    items, reader = records(write(tmp_path, text))
    assert items == [(2, ["1", "called;\r\nwill call again", "3"]), (5, ["2", "", "4"])]
    counts = reader.counts
    assert (counts.lines, counts.record_lines, counts.blank, counts.records) == (5, 3, 1, 2)


def test_a_ragged_line_and_undecodable_bytes_are_bad_lines(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(b"id,name\n1,a,extra\n2,b\xff\n3,c\n")
    with CsvRecords(path, detect_csv_format(path, encoding="utf-8")) as reader:
        items = list(reader)
    assert [i.line for i in items if isinstance(i, BadLine)] == [2, 3]
    assert items[0].reason == "malformed line: 3 fields where the header has 2"  # type: ignore[union-attr]
    assert items[1].reason == "malformed line: bytes that are not utf-8 text"  # type: ignore[union-attr]
    assert items[1].raw == "2,b\ufffd"  # type: ignore[union-attr]
    assert items[2] == (4, ["3", "c"])


def test_a_missing_line_fails_the_account():
    counts = LineCounts(lines=10, header=1, blank=1, records=7, record_lines=7)
    with pytest.raises(TableReadError, match="read 10 lines but accounted for 9"):
        counts.check("leads.csv")


def test_repeated_header_names_get_a_number_in_file_order():
    assert column_names(["id", "", "x", "x", "x (2)", "x"]) == [
        "id", "Unnamed: 1", "x", "x (3)", "x (2)", "x (4)",
    ]  # fmt: skip
    assert column_names(["Quota", "Owner", "Quota"]) == ["Quota", "Owner", "Quota (2)"]


def test_repeated_header_names_are_renamed_with_a_warning_naming_them(tmp_path, caplog):
    path = write(tmp_path, "Quota,Owner,Quota,Owner\n1,a,2,b\n", "utf-8")
    frame, _ = read_table_with_format(path, dtype=str)
    assert frame.columns.tolist() == ["Quota", "Owner", "Quota (2)", "Owner (2)"]
    assert frame.attrs["renamed_headers"] == {
        "Quota": ["Quota", "Quota (2)"],
        "Owner": ["Owner", "Owner (2)"],
    }
    assert "'Quota' -> Quota, Quota (2)" in caplog.text
    assert "'Owner' -> Owner, Owner (2)" in caplog.text


def test_training_reads_what_pandas_reads(tmp_path):
    """Quoted delimiters and line breaks, doubled quotes, missing words, a BOM, ';'."""
    text = (
        "Lead Ref;Company;Notes;Visits;Visits\r\n"
        'L1;"Müller; GmbH";"said ""hi""\r\nthen left";3;NA\r\n'
        "L2;Café;;null;5\r\n"
    )
    path = write(tmp_path, text, "utf-8-sig")
    ours, fmt = read_table_with_format(path, dtype=str)
    expected = pd.read_csv(path, sep=";", encoding="utf-8-sig", dtype=str)
    expected.columns = ["Lead Ref", "Company", "Notes", "Visits", "Visits (2)"]
    pd.testing.assert_frame_equal(ours, expected)
    assert (fmt.sep, fmt.encoding) == (";", "utf-8-sig")
    typed, _ = read_table_with_format(path)
    pandas_typed = pd.read_csv(path, sep=";", encoding="utf-8-sig")
    pandas_typed.columns = expected.columns
    pd.testing.assert_frame_equal(typed, pandas_typed)


def test_formula_cells_get_a_quote_and_numbers_stay_numbers():
    for formula in ["=1+2", '=HYPERLINK("x")', "@SUM(A1)", "+A1", "-A1", "-2+3+cmd|' /C calc'!A0",
                    "\t=1", "\r=1"]:  # fmt: skip
        assert spreadsheet_safe(formula) == "'" + formula
    for plain in ["-2", "+3.5", "-1e5", "-.5", "L0001", "", "a=b", 7, -2.5, None]:
        assert spreadsheet_safe(plain) == plain
    frame = pd.DataFrame(
        {"lead_id": ["=cmd", "L2", None], "delta": [-1.5, 2.0, np.nan], "n": [-3, 4, 5]}
    )
    safe = spreadsheet_safe_frame(frame)
    assert safe["lead_id"].tolist()[:2] == ["'=cmd", "L2"] and pd.isna(safe["lead_id"][2])
    pd.testing.assert_frame_equal(safe[["delta", "n"]], frame[["delta", "n"]])
    assert frame["lead_id"][0] == "=cmd"  # the caller's frame is not changed


def strict_text_frame(path: Path) -> pd.DataFrame:
    """The file read record by record (the strict reader), as `text_frame` makes it."""
    with CsvRecords(path, detect_csv_format(path)) as reader:
        rows = [item[1] for item in reader]
    return text_frame(rows, reader.header)


PLAIN_FILES = {
    "comma": ("id,name,visits\n1,Ann,3\n2,,NA\n3,Bo,null\n", "utf-8"),
    "BOM, ';', CRLF, blank lines": (
        "\r\nid;name;visits\r\n1;Müller;3\r\n\r\n2;Café;\r\n",
        "utf-8-sig",
    ),
    "Latin-1": ("id;name;city\n1;Müller;Köln\n2;Crème;Zürich\n", "latin-1"),
    "repeated header, tab": ("Quota\tOwner\tQuota\n1\ta\t2\n3\tb\t4\n", "utf-8"),
    "one column": ("name\nAnn\n\nBo\n", "utf-8"),
}


@pytest.mark.parametrize("name", PLAIN_FILES)
def test_a_plain_file_is_read_by_arrow_as_the_strict_reader_reads_it(tmp_path, name):
    text, encoding = PLAIN_FILES[name]
    path = write(tmp_path, text, encoding)
    plain = plain_text_frame(path, detect_csv_format(path))
    assert plain is not None
    pd.testing.assert_frame_equal(plain[0], strict_text_frame(path))
    typed, _ = read_table_with_format(path)
    pd.testing.assert_frame_equal(typed, parsed_values(strict_text_frame(path)))


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('id,name\n1,"Ann, Jr"\n2,Bo\n', None),  # a quote: the strict reader's work
        ("id,name\n1,Ann\n2,Bo,extra\n", 3),  # a ragged line
        ("id,name\n1,Ann\n2\n", 3),  # a short one
        ("id,name\n1,Ann\n   \n", 3),  # whitespace only is not blank
    ],
)
def test_anything_but_a_plain_file_goes_to_the_strict_reader(tmp_path, text, line):
    path = write(tmp_path, text)
    assert plain_text_frame(path, detect_csv_format(path)) is None
    if line is None:
        assert read_table_with_format(path, dtype=str)[0]["name"].tolist() == ["Ann, Jr", "Bo"]
    else:
        with pytest.raises(TableReadError, match=f"line {line}"):
            read_table_with_format(path)


def test_undecodable_bytes_go_to_the_strict_reader(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(b"id,name\n1,Ann\n" + b"2,B\xff\xfe\n" + "3,Cé\n".encode())
    fmt = detect_csv_format(path, encoding="utf-8")
    assert plain_text_frame(path, fmt) is None
