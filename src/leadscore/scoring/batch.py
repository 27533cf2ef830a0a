"""Batch scoring of a CSV or Parquet file, streamed in chunks, with the service's scorer.

Each chunk goes through `Scorer.encode_frame` and `Scorer.score`, the same compiled scorer the
API uses, so a lead gets the same probability, score, grade and reasons either way. Rows that
cannot be read (a number that is not a number, a negative count, no lead id) are written to a
`.rejected.csv` file beside the output with the reason, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadscore.core import fields
from leadscore.scoring.scorer import Scorer

REJECT_REASON = "rejected_reason"


class BatchInputError(ValueError):
    """The input file as a whole cannot be scored."""


def read_chunks(path: Path, chunk_size: int) -> tuple[Iterator[pd.DataFrame], int | None]:
    """Chunks of a CSV (all columns as text, parsed later) or Parquet file; and the row count."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        parquet = pq.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=chunk_size)
        return (batch.to_pandas() for batch in batches), parquet.metadata.num_rows
    if suffix in (".csv", ".txt") or path.name.endswith(".csv.gz"):
        return iter(pd.read_csv(path, dtype=str, chunksize=chunk_size)), None
    raise BatchInputError(f"{path}: expected a .csv or .parquet file")


def score_chunk(
    scorer: Scorer, chunk: pd.DataFrame, reasons: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scored rows and rejected rows (with the reason) of one chunk of raw leads."""
    if fields.LEAD_ID not in chunk:
        raise BatchInputError(f"the input has no {fields.LEAD_ID!r} column")
    matrix, warnings, problems = scorer.encode_frame(chunk)
    ids = chunk[fields.LEAD_ID]
    problems = problems.where(ids.notna(), ("lead_id: missing; " + problems).str.rstrip("; "))
    bad = (problems != "").to_numpy()
    good = ~bad
    scored = scorer.score(matrix[good], reasons=reasons)
    out = pd.DataFrame(
        {
            fields.LEAD_ID: ids[good].astype(str).to_numpy(),
            "probability": scored.probability,
            "score": scored.score,
            "grade": scored.grade.astype(str),
            "warnings": ["; ".join(w) for w in warnings[good]],
            "model_version": scorer.model_version,
            "contract_version": scorer.contract_version,
        }
    )
    if reasons:
        records = chunk[good].reindex(columns=list(scorer.fields)).astype(object)
        records = records.where(records.notna(), None).to_dict("records")
        out["explanation"] = [
            json.dumps({**scorer.reasons(c, rec), "raw_output": float(r)}, default=str)
            for c, rec, r in zip(
                scored.contributions, typed_values(scorer, records), scored.raw, strict=True
            )
        ]
    rejected = chunk[bad].assign(**{REJECT_REASON: problems[bad].to_numpy()})
    return out, rejected


def typed_values(scorer: Scorer, records: list[dict]) -> list[dict]:
    """Field values as the API shows them in reasons (numbers as floats, yes/no as booleans)."""
    from leadscore.core.values import parse_bool

    typed = []
    for record in records:
        row = dict(record)
        for name in scorer.spec.numeric:
            if row.get(name) is not None:
                row[name] = float(row[name])
        for name in scorer.spec.boolean:
            if row.get(name) is not None:
                value = parse_bool(pd.Series([row[name]])).iloc[0]
                row[name] = None if pd.isna(value) else bool(value)
        typed.append(row)
    return typed


@dataclass
class TableWriter:
    """Appends chunks to a CSV or Parquet file (format from the suffix)."""

    path: Path
    _parquet: pq.ParquetWriter | None = None
    _started: bool = False
    rows: int = field(default=0)

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty and self._started:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.suffix.lower() == ".parquet":
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        else:
            frame.to_csv(
                self.path, mode="a" if self._started else "w", header=not self._started, index=False
            )
        self._started = True
        self.rows += len(frame)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()


def rejected_path_for(output: Path) -> Path:
    return output.with_name(output.name.split(".")[0] + ".rejected.csv")


def scored_summary(grades: dict[str, int], rows: int, rejected: int) -> dict:
    return {"scored": rows, "rejected": rejected, "grades": dict(sorted(grades.items()))}


def count_grades(counts: dict[str, int], grades: np.ndarray) -> None:
    values, n = np.unique(grades, return_counts=True)
    for value, k in zip(values, n, strict=True):
        counts[str(value)] = counts.get(str(value), 0) + int(k)
