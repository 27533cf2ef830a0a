"""Messy export values (issue 33): money and percent written as text, repeated header names.

An export in each decimal convention writes a deal size as money (`"$1,932.00 "` with its
trailing space, `$33K`, `$0.0M`, `USD 2,400`, `1.200,50 €`, ...), a discount as a percentage
(`18.00%`, `18,25 %`) and two columns both named `Quota`. It is trained by the stage mains with
`types: {Deal Size: money, Discount Granted: percent}`; each parsed value is exact, and its raw
test rows, exactly as written (the repeated header included), are scored by `leadscore score`,
a real API server and Spark with evaluation's probability (within 1e-12).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import API_KEY
from parity import TOLERANCE, api_parity, card_inputs, compare, evaluated, raw_test_rows
from stages import files_params, run_score, run_stages

from leadscore.core import fields

ID = "Opportunity ID"
HEADER = [ID, "Created", "Stage", "Deal Size", "Discount Granted", "Quota", "Source", "Quota"]
CONVENTIONS = {
    "us": {"decimal": ".", "thousands": ","},
    "eu": {"decimal": ",", "thousands": "."},
}


def money_texts(rng, n: int, convention: str) -> tuple[list[str], np.ndarray]:
    """Deal sizes written as a BI tool writes them, and the exact value each means."""
    variant = rng.integers(0, 5, n)
    units = rng.integers(1, 400, n)
    texts, values = [], np.zeros(n)
    for i, (v, k) in enumerate(zip(variant, units, strict=True)):
        if v == 0:  # cents, thousands separator, trailing space
            value = k * 1000 + 932.0
            text = f"${value:,.2f} " if convention == "us" else f"{value:,.2f} €"
        elif v == 1:
            value, text = k * 1000.0, f"${k}K"
        elif v == 2:  # in millions, one decimal: $0.0M for a small deal
            value, text = (k // 100) * 100_000.0, f"${k // 100 / 10:.1f}M"
        elif v == 3:  # a currency code before
            value, text = k * 100.0 + 0.5, f"USD {k * 100 + 0.5:,.2f}"
        else:  # a code after, no separator
            value, text = float(k * 10), f"{k * 10} EUR"
        if convention == "eu":  # swap the marks: 1,932.00 -> 1.932,00
            text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
        texts.append(text)
        values[i] = value
    return texts, values


def percent_texts(rng, n: int, convention: str) -> tuple[list[str], np.ndarray]:
    quarters = rng.integers(0, 100, n)
    values = quarters / 4
    mark = "." if convention == "us" else ","
    texts = [
        f"{v:.2f}%".replace(".", mark) if i % 2 else f"{v:.2f} %".replace(".", mark)
        for i, v in enumerate(values)
    ]
    return texts, values


def write_export(root, convention: str, n: int = 3000, seed: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 420, n), unit="D")
    money, deal = money_texts(rng, n, convention)
    percent, discount = percent_texts(rng, n, convention)
    quota, quota2 = rng.integers(1, 9, n), rng.integers(0, 3, n)
    source = rng.choice(["web", "event", "partner"], n)
    logit = -1.2 + 0.3 * np.log1p(deal / 1000) - 0.03 * discount + 0.2 * quota2
    logit += 0.4 * (source == "event")
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    is_open = created > pd.Timestamp("2026-02-10")
    stage = np.where(is_open, "Open", np.where(won, "Closed Won", "Closed Lost"))
    with (root / "opportunities.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)  # `Quota` twice: a second table glued on
        for i in range(n):
            writer.writerow(
                [f"OPP-{i:05d}", created[i].date().isoformat(), stage[i], money[i], percent[i]]
                + [quota[i], source[i], quota2[i]]
            )
    return {"Deal Size": deal, "Discount Granted": discount}


def project(tmp_path_factory, default_params_raw, convention: str):
    root = tmp_path_factory.mktemp(f"messy-values-{convention}")
    expected = write_export(root, convention)
    data = {
        "source": "files",
        "files": [{"path": "opportunities.csv"}],
        "id_column": ID,
        "created_column": "Created",
        "outcome": {
            "column": "Stage",
            "won_values": ["Closed Won"],
            "lost_values": ["Closed Lost"],
            "open_values": ["Open"],
        },
        "types": {"Deal Size": "money", "Discount Granted": "percent"},
        "number_format": CONVENTIONS[convention],
    }
    raw = files_params(default_params_raw, data)
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_stages(root, monkeypatch)
    return root, expected


@pytest.fixture(scope="module", params=sorted(CONVENTIONS))
def trained(request, tmp_path_factory, default_params_raw):
    root, expected = project(tmp_path_factory, default_params_raw, request.param)
    return request.param, root, expected


def raw_rows(root) -> tuple[pd.DataFrame, list[str]]:
    """The export's test rows as written (every value text), under the names reading gives
    them (`Quota`, `Quota (2)`), and the file's own header."""
    with (root / "opportunities.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    names = [*header[:-1], "Quota (2)"]
    frame = pd.DataFrame(rows[1:], columns=names, dtype=object)
    return raw_test_rows(frame, ID, root), header


def write_as_exported(rows: pd.DataFrame, header: list[str], path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows.itertuples(index=False))


def test_every_money_and_percent_value_is_read_exactly(trained):
    _, root, expected = trained
    leads = pd.read_parquet(root / "data" / "interim" / "leads.parquet")
    report = json.loads((root / "reports" / "validation.json").read_text())
    assert report["rows_quarantined"] == 0, report["reasons"]
    index = leads[fields.LEAD_ID].str.removeprefix("OPP-").astype(int).to_numpy()
    for name, values in expected.items():
        assert leads[name].dtype == "float64"
        assert (leads[name].to_numpy() == values[index]).all(), name
    card, inputs = card_inputs(root)
    assert inputs.units == {"Deal Size": "money", "Discount Granted": "percent"}
    assert {"Deal Size", "Discount Granted"} <= set(card["features"]["numeric"])


def test_the_repeated_header_is_renamed_and_recorded_in_the_card(trained):
    _, root, _ = trained
    card, inputs = card_inputs(root)
    assert inputs.headers["renamed"] == {"opportunities.csv": {"Quota": ["Quota", "Quota (2)"]}}
    assert "Quota (2)" in card["features"]["numeric"]
    export = json.loads((root / "reports" / "validation.json").read_text())["export"]
    assert export["files"][0]["renamed_headers"] == {"Quota": ["Quota", "Quota (2)"]}


def test_leadscore_score_reads_the_raw_file_as_training_did(trained, tmp_path):
    _, root, _ = trained
    rows, header = raw_rows(root)
    source, output = tmp_path / "as_exported.csv", tmp_path / "scores.parquet"
    write_as_exported(rows, header, source)  # `Quota` twice, money and percent as text
    done = run_score(str(source), "-o", str(output), "--model", str(root / "models"), "--no-log")
    assert done.exit_code == 0, done.output
    parity = compare(pd.read_parquet(output), evaluated(root), len(rows), 0)
    assert parity.compared == len(evaluated(root)) > 100, parity
    assert parity.max_abs_difference <= TOLERANCE, parity
    print(f"batch parity: {parity}")


def test_the_api_reads_money_and_percent_text_as_training_did(trained, start_server):
    _, root, _ = trained
    rows, _ = raw_rows(root)
    card, _ = card_inputs(root)
    parity = api_parity(start_server(root / "models"), root, rows, card, API_KEY)
    assert parity.rejected == 0 and parity.compared == len(evaluated(root)), parity
    assert parity.max_abs_difference <= TOLERANCE, parity
    print(f"API parity: {parity}")


def test_unreadable_money_is_refused_with_the_value_and_the_type(trained, tmp_path, start_server):
    convention, root, _ = trained
    rows, header = raw_rows(root)
    rows = rows.head(5).copy()
    rows.loc[rows.index[1], "Deal Size"] = "about 3 grand"
    source, output = tmp_path / "bad.csv", tmp_path / "scores.parquet"
    write_as_exported(rows, header, source)
    done = run_score(str(source), "-o", str(output), "--model", str(root / "models"), "--no-log")
    assert done.exit_code == 0, done.output
    rejected = pd.read_csv(tmp_path / "scores.rejected.csv")
    marks = CONVENTIONS[convention]
    marked = f"decimal {marks['decimal']!r}, thousands {marks['thousands']!r}"
    assert rejected["rejected_reason"].tolist() == [f"Deal Size: not money ({marked})"]
    server = start_server(root / "models")
    lead = {ID: "x", "Deal Size": "about 3 grand"}
    answer = server.client.post("/v1/score", json={"leads": [lead]}, headers={"X-API-Key": API_KEY})
    assert answer.status_code == 422, answer.text
    assert "not money" in answer.text and "about 3 grand" in answer.text


@pytest.mark.spark
def test_spark_reads_money_and_percent_text_as_training_did(trained, tmp_path):
    from typer.testing import CliRunner

    from leadscore.cli import app

    _, root, _ = trained
    rows, header = raw_rows(root)
    source, output = tmp_path / "as_exported.csv", tmp_path / "spark.parquet"
    write_as_exported(rows, header, source)  # `Quota` twice, money and percent as text
    done = CliRunner().invoke(
        app,
        ["score-spark", str(source), "-o", str(output), "--model", str(root / "models")]
        + ["--no-log"],
    )
    assert done.exit_code == 0, done.output
    parity = compare(pd.read_parquet(output), evaluated(root), len(rows), 0)
    assert parity.compared == len(evaluated(root)), parity
    assert parity.max_abs_difference <= TOLERANCE, parity
    print(f"Spark parity: {parity}")


def test_percent_text_typed_as_numeric_fails_with_the_reason_and_no_warning_burst(
    tmp_path, default_params_raw
):
    import warnings

    from leadscore.data.ingest import LeadTableError

    write_export(tmp_path, "us", n=600)
    data = {
        "source": "files",
        "files": [{"path": "opportunities.csv"}],
        "id_column": ID,
        "created_column": "Created",
        "outcome": {"column": "Stage", "won_values": ["Closed Won"],
                    "lost_values": ["Closed Lost"], "open_values": ["Open"]},
        "types": {"Deal Size": "money", "Discount Granted": "numeric"},
    }  # fmt: skip
    raw = files_params(default_params_raw, data)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.MonkeyPatch.context() as monkeypatch, warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "Mean of empty slice" burst
        with pytest.raises(LeadTableError, match=r"100.0% of rows \(600 of 600\) were quarant"):
            run_stages(tmp_path, monkeypatch, stages=("prepare", "ingest"))
    failed = pd.read_csv(tmp_path / "data" / "interim" / "quarantine.failed.csv")
    reasons = failed["quarantine_reason"].str.replace(r" \('.*'\)$", "", regex=True)
    assert set(reasons) == {"Discount Granted: not a number (data.types: percent reads it)"}
