"""The one input normalisation, checked end to end: an export's raw test rows, scored through the
batch CLI and through a real API server, get exactly the probability evaluation gave them.

Used by the example and fixture tests (issue 13 point 4); not a test module itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.io import FLOAT_DECIMALS
from leadscore.core.schema import FeatureSpec, InputNormalisation
from leadscore.core.values import parse_bool
from leadscore.data.ids import made_ids
from leadscore.model.bundle import load_bundle
from leadscore.scoring.batch import score_file
from leadscore.scoring.scorer import Scorer

# The scored file holds evaluation's probabilities to FLOAT_DECIMALS decimals (the same bytes
# on any CPU); a live score is exact, so the two agree to half a unit of that rounding.
TOLERANCE = 0.5 * 10.0**-FLOAT_DECIMALS


@dataclass(frozen=True)
class Parity:
    """How scoring the raw test rows compares with evaluation."""

    rows: int  # raw test rows scored
    compared: int  # of them, leads evaluation scored (decided outcomes)
    rejected: int
    max_abs_difference: float


def evaluated(root: Path) -> pd.Series:
    """Evaluation's probability per test lead (lead id -> probability)."""
    scored = pd.read_parquet(root / "data" / "processed" / "test_scored.parquet")
    return scored.set_index(scored[fields.LEAD_ID].astype(str))["probability"]


def card_inputs(root: Path) -> tuple[dict, InputNormalisation]:
    card = json.loads((root / "models" / "model_card.json").read_text())
    return card, InputNormalisation.from_dict(card.get("inputs"))


def raw_test_rows(raw: pd.DataFrame, id_column: str, root: Path) -> pd.DataFrame:
    """The rows of the raw export (as written) whose lead is in the test period."""
    test = pd.read_parquet(root / "data" / "processed" / "test.parquet", columns=[fields.LEAD_ID])
    ids = set(test[fields.LEAD_ID].astype(str))
    return raw[raw[id_column].astype(str).isin(ids)].reset_index(drop=True)


def compare(scores: pd.DataFrame, expected: pd.Series, rows: int, rejected: int) -> Parity:
    got = scores.set_index(scores[fields.LEAD_ID].astype(str))["probability"]
    common = expected.index.intersection(got.index)
    gap = np.abs(got.loc[common].to_numpy() - expected.loc[common].to_numpy())
    return Parity(rows, len(common), rejected, float(gap.max()) if len(gap) else 0.0)


def batch_parity(root: Path, rows_file: Path, rows: int) -> Parity:
    """Score the raw rows file with the batch CLI's own function and the sealed bundle."""
    scorer = Scorer.from_bundle(load_bundle(root / "models"))
    output = rows_file.with_name("scores.parquet")
    summary = score_file(scorer, rows_file, output)
    return compare(pd.read_parquet(output), evaluated(root), rows, summary["rejected"])


def request_leads(raw: pd.DataFrame, card: dict) -> list[dict]:
    """Raw rows as the marketing system sends them: JSON values of the lead schema (numbers,
    booleans, text as written), the id under the export's id column, join keys as text."""
    spec = FeatureSpec.from_dict(card["features"])
    inputs = InputNormalisation.from_dict(card.get("inputs"))
    id_field = fields.LEAD_ID if inputs.made_id else inputs.id_column
    if inputs.made_id:
        id_values = made_ids(raw[list(inputs.made_id_columns)])
    else:
        id_values = raw[inputs.id_column]
    columns: dict[str, list] = {id_field: id_values.astype(str).tolist()}
    for name in (*inputs.keys, *spec.categorical):
        if name in raw and name not in columns:
            columns[name] = [None if pd.isna(v) else str(v) for v in raw[name]]
    for name in spec.numeric:
        if name in raw and name in inputs.units:  # money / percent text, sent as written
            columns[name] = [None if pd.isna(v) else str(v) for v in raw[name]]
        elif name in raw:
            values = pd.to_numeric(raw[name], errors="coerce")
            columns[name] = [None if pd.isna(v) else float(v) for v in values]
    for name in spec.boolean:
        if name in raw:
            columns[name] = [None if pd.isna(v) else bool(v) for v in parse_bool(raw[name])]
    names = list(columns)
    return [
        {name: value for name, value in zip(names, row, strict=True) if value is not None}
        for row in zip(*columns.values(), strict=True)
    ]


def api_parity(
    server, root: Path, raw: pd.DataFrame, card: dict, api_key: str, batch: int = 50
) -> Parity:
    """Send the raw rows to a running server in batches; compare with evaluation."""
    leads = request_leads(raw, card)
    results, refused = [], 0
    for start in range(0, len(leads), batch):
        answer = server.client.post(
            "/v1/score",
            json={"leads": leads[start : start + batch], "reasons": False},
            headers={"X-API-Key": api_key},
        )
        if answer.status_code != 200:
            refused += len(leads[start : start + batch])
            continue
        results += answer.json()["results"]
    scores = pd.DataFrame(results, columns=[fields.LEAD_ID, "probability"])
    return compare(scores, evaluated(root), len(leads), refused)


def assert_scored_as_evaluated(root: Path, rows: pd.DataFrame, rows_file: Path, start_server):
    """The acceptance of the one input normalisation on an example: its raw test rows (written
    to `rows_file`, CSV or Parquet), through the batch CLI and a real server, are all scored,
    none rejected, each with evaluation's probability (within the files' rounding). Returns both
    Parities."""
    from conftest import API_KEY

    if rows_file.suffix == ".parquet":
        rows.to_parquet(rows_file, index=False)
    else:
        rows.to_csv(rows_file, index=False)  # the export's own columns and text
    expected = len(evaluated(root))
    card, _ = card_inputs(root)
    batch = batch_parity(root, rows_file, len(rows))
    api = api_parity(start_server(root / "models"), root, rows, card, API_KEY)
    for parity in (batch, api):
        assert parity.rejected == 0 and parity.compared == expected, parity
        assert parity.max_abs_difference <= TOLERANCE, parity
    return batch, api
