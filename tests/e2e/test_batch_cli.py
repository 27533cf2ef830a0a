"""`leadscore score IN -o OUT`, run in-process: chunks, rejects with reasons, no half runs."""

from __future__ import annotations

import sqlite3

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
