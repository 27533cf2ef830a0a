"""Batch scoring of a CSV or Parquet file, streamed in chunks, with the service's scorer.

Each chunk goes through `Scorer.encode_frame` and `Scorer.score`, the same compiled scorer the
API uses, so a lead gets the same probability, score, grade and reasons either way. Rows that
cannot be read (a malformed CSV line, bytes that are not UTF-8, a number that is not a number,
a negative count, no lead id) are written to a `.rejected.csv` file beside the output with
their line number and the reason, never dropped, and never abort the run.

A run never half-finishes: the output and the rejected file are written to temporary files and
renamed when the whole input is scored, so an interrupted run leaves nothing that looks
complete. Logged rows carry an entry id made of the run's key (input file, model, contract)
and the line, so a re-run of the same file does not log the same leads twice.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadscore.core import fields
from leadscore.scoring.scorer import Scorer

if TYPE_CHECKING:  # the log is imported by the caller that records to it
    from leadscore.scoring.log import ScoringLog

REJECT_REASON = "rejected_reason"
LINE = "line"
RAW_LINE = "raw_line"
DUPLICATES = ("warn", "reject")

try:  # the words pandas reads as missing, so CSV text means what `read_csv` made of it
    from pandas._libs.parsers import STR_NA_VALUES as NA_TEXT
except ImportError:  # a pandas that moved it: the same list
    NA_TEXT = {"", "#N/A", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "<NA>"}


class BatchInputError(ValueError):
    """The input file as a whole cannot be scored."""


@dataclass
class RawChunk:
    """Raw leads of one chunk, the input line (CSV) or row (Parquet) of each, 1-based, and the
    lines that could not be read at all (line, reason, raw text)."""

    frame: pd.DataFrame
    lines: np.ndarray
    malformed: list[tuple[int, str, str]] = field(default_factory=list)


def read_chunks(path: Path, chunk_size: int) -> tuple[Iterator[RawChunk], int | None]:
    """Chunks of a CSV (all columns as text, parsed later) or Parquet file; and the row count."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as error:
            raise BatchInputError(f"{path}: not a readable Parquet file ({error})") from None
        if parquet.metadata.num_rows == 0:
            raise BatchInputError(f"{path} holds no leads (0 rows)")
        return parquet_chunks(parquet, chunk_size), parquet.metadata.num_rows
    if suffix in (".csv", ".txt") or path.name.endswith(".csv.gz"):
        return csv_chunks(path, chunk_size), None
    raise BatchInputError(f"{path}: expected a .csv or .parquet file")


def parquet_chunks(parquet: pq.ParquetFile, chunk_size: int) -> Iterator[RawChunk]:
    start = 1
    for batch in parquet.iter_batches(batch_size=chunk_size):
        frame = batch.to_pandas()
        yield RawChunk(frame, np.arange(start, start + len(frame)))
        start += len(frame)


def open_text(path: Path) -> TextIO:
    """The file as text; bytes that are not UTF-8 are kept (as surrogates) to be reported."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape", newline="")
    return path.open(encoding="utf-8", errors="surrogateescape", newline="")


def line_problem(row: list[str], width: int) -> str | None:
    if len(row) != width:
        return f"malformed line: {len(row)} fields where the header has {width}"
    try:
        "".join(row).encode("utf-8")
    except UnicodeEncodeError:
        return "malformed line: bytes that are not UTF-8"
    return None


def csv_chunks(path: Path, chunk_size: int) -> Iterator[RawChunk]:
    """CSV rows in chunks, read with the csv module so a bad line is reported, not fatal."""
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or header == [""]:
            raise BatchInputError(f"{path} is empty: no header line and no leads")
        if line_problem(header, len(header)):
            raise BatchInputError(f"{path}: the header line is not valid UTF-8")
        rows, lines, malformed, seen = [], [], [], 0
        previous = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                malformed.append((previous + 1, f"malformed line: {error}", ""))
                previous = reader.line_num
                continue
            line, previous = previous + 1, reader.line_num
            if not row:
                continue  # a blank line
            problem = line_problem(row, len(header))
            if problem:
                raw = ",".join(row).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                malformed.append((line, problem, raw))
            else:
                rows.append(row)
                lines.append(line)
            seen += 1
            if len(rows) + len(malformed) >= chunk_size:
                yield text_chunk(rows, header, lines, malformed)
                rows, lines, malformed = [], [], []
        if rows or malformed:
            yield text_chunk(rows, header, lines, malformed)
        elif not seen:
            raise BatchInputError(f"{path} holds a header but no leads")


def text_chunk(
    rows: list[list[str]],
    header: list[str],
    lines: list[int],
    malformed: list[tuple[int, str, str]],
) -> RawChunk:
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    frame = frame.where(~frame.isin(NA_TEXT))
    return RawChunk(frame, np.asarray(lines, dtype=np.int64), list(malformed))


def check_types(scorer: Scorer, frame: pd.DataFrame) -> None:
    """A column the model reads as a number or yes/no must not hold timestamps."""
    for name in (*scorer.spec.numeric, *scorer.spec.boolean):
        if name in frame:
            dtype = frame[name].dtype
            if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(
                dtype
            ):
                raise BatchInputError(
                    f"column {name!r} holds {dtype} values; the model reads "
                    f"{'a number' if name in scorer.spec.numeric else 'yes/no'} there"
                )


def run_key(path: Path, model_version: str, contract_version: str) -> str:
    """The identity of a batch run: the input's bytes, the model and the contract."""
    digest = hashlib.sha256(f"{model_version}\0{contract_version}\0".encode())
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:20]


def entry_ids(key: str, lines: np.ndarray) -> list[str]:
    """Scoring-log entry ids of a run's rows: a re-run of the same file logs nothing twice."""
    return [f"batch:{key}:{line}" for line in lines.tolist()]


def score_chunk(
    scorer: Scorer,
    chunk: pd.DataFrame,
    reasons: bool = False,
    lines: np.ndarray | None = None,
    duplicates: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scored rows and rejected rows (with the reason and the row as it came) of one chunk of
    raw leads, after the model's input normalisation (lead id, joined fields, missing-value
    tokens: `Scorer.normalise_frame`, the same as at training).

    `duplicates` (optional) holds, per row, the line of an earlier row with the same lead id
    ("" when none): a warning on the scored row.
    """
    problem = scorer.id_problem(chunk.columns)
    if problem:
        raise BatchInputError(problem)
    leads = scorer.normalise_frame(chunk)
    check_types(scorer, leads)
    matrix, warnings, problems = scorer.encode_frame(leads)
    ids = leads[fields.LEAD_ID]
    nul = ids.astype("string").str.contains("\x00", regex=False).fillna(False).to_numpy(bool)
    id_problems = {"lead_id: missing": ids.isna().to_numpy(), "lead_id: contains a NUL byte": nul}
    for problem, bad_id in id_problems.items():
        if bad_id.any():  # most chunks have none: no string work on every row
            problems = problems.where(~bad_id, (f"{problem}; " + problems).str.rstrip("; "))
    bad = (problems != "").to_numpy()
    good = ~bad
    scored = scorer.score(matrix[good], reasons=reasons)
    notes = warnings.to_numpy()[good].tolist()
    if duplicates is not None:
        earlier = duplicates.to_numpy()[good]
        notes = [
            "; ".join(filter(None, (note, f"lead_id: also on line {line}" if line else "")))
            for note, line in zip(notes, earlier, strict=True)
        ]
    out = pd.DataFrame(
        {
            fields.LEAD_ID: ids[good].astype(str).to_numpy(),
            "probability": scored.probability,
            "score": scored.score,
            "grade": scored.grade.astype(str),
            "warnings": notes,
            "model_version": scorer.model_version,
            "contract_version": scorer.contract_version,
        }
    )
    if reasons and scored.contributions is not None:
        records = leads[good].reindex(columns=list(scorer.fields)).astype(object)
        records = records.where(records.notna(), None).to_dict("records")
        out["explanation"] = [
            json.dumps({**scorer.reasons(c, rec), "raw_output": float(r)}, default=str)
            for c, rec, r in zip(
                scored.contributions, typed_values(scorer, records), scored.raw, strict=True
            )
        ]
    rejected = chunk[bad].assign(**{REJECT_REASON: problems[bad].to_numpy()})
    if lines is not None:  # the batch CLI's line numbers (Spark keeps the input's columns)
        rejected.insert(0, LINE, lines[bad])
    return out, rejected


def typed_values(scorer: Scorer, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
    """Appends chunks to a temporary CSV or Parquet file (format from the suffix); `commit`
    renames it to `path`, `discard` removes it. Until `commit` nothing is at `path`."""

    path: Path
    columns: list[str] | None = None  # CSV: a fixed header, whatever columns a chunk has
    _parquet: pq.ParquetWriter | None = None
    _started: bool = False
    rows: int = field(default=0)

    @property
    def partial(self) -> Path:
        return self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty and self._started:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.suffix.lower() == ".parquet":
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.partial, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        else:
            if self.columns is not None:
                frame = frame.reindex(columns=self.columns)
            frame.to_csv(
                self.partial,
                mode="a" if self._started else "w",
                header=not self._started,
                index=False,
            )
        self._started = True
        self.rows += len(frame)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None

    def commit(self) -> None:
        """The run finished: the file appears at `path` in one step."""
        self.close()
        if self._started:
            os.replace(self.partial, self.path)

    def discard(self) -> None:
        self.close()
        self.partial.unlink(missing_ok=True)


def rejected_path_for(output: Path) -> Path:
    return output.with_name(output.name.split(".")[0] + ".rejected.csv")


def malformed_frame(malformed: list[tuple[int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(malformed, columns=[LINE, REJECT_REASON, RAW_LINE])


@dataclass
class DuplicateIds:
    """Lead ids seen so far in a run, with their first line; reports repeats."""

    first_line: dict[str, int] = field(default_factory=dict)
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def check(self, ids: pd.Series, lines: np.ndarray) -> pd.Series:
        """Per row, the line where its lead id first appeared ("" for a first appearance)."""
        earlier = []
        for lead_id, line in zip(ids.tolist(), lines.tolist(), strict=True):
            if lead_id is None or (isinstance(lead_id, float) and np.isnan(lead_id)):
                earlier.append("")
                continue
            key = str(lead_id)
            first = self.first_line.setdefault(key, line)
            if first != line:
                self.count += 1
                if len(self.examples) < 5:
                    self.examples.append(f"{key} (lines {first} and {line})")
                earlier.append(str(first))
            else:
                earlier.append("")
        return pd.Series(earlier, index=ids.index, dtype=object)


def score_file(
    scorer: Scorer,
    input_path: Path,
    output: Path,
    *,
    reasons: bool = False,
    chunk_size: int = 50_000,
    scoring_log: ScoringLog | None = None,
    duplicates: str = "warn",
    progress: Callable[[int], object] | None = None,
) -> dict[str, Any]:
    """Score `input_path` into `output` (and its `.rejected.csv`), all or nothing.

    `scoring_log` (a `ScoringLog`) records each chunk before the next is read, with entry ids
    that make a re-run of the same file log nothing twice. `duplicates`: "warn" scores a
    repeated lead id with a warning; "reject" sets every repeat aside.
    """
    if duplicates not in DUPLICATES:
        raise BatchInputError(f"duplicates must be one of {DUPLICATES}, not {duplicates!r}")
    from leadscore.scoring.log import rows_for
    from leadscore.scoring.trend import with_trend

    chunks, total = read_chunks(input_path, chunk_size)
    key = run_key(input_path, scorer.model_version, scorer.contract_version)
    writer, rejects = TableWriter(output), TableWriter(rejected_path_for(output))
    grades: dict[str, int] = {}
    seen = DuplicateIds()
    malformed = 0
    try:
        for chunk in chunks:
            frame, lines = chunk.frame, chunk.lines
            if rejects.columns is None:
                rejects.columns = [LINE, REJECT_REASON, RAW_LINE, *map(str, frame.columns)]
            if chunk.malformed:
                rejects.write(malformed_frame(chunk.malformed))
                malformed += len(chunk.malformed)
            problem = scorer.id_problem(frame.columns)
            if problem:
                raise BatchInputError(problem)
            earlier = seen.check(scorer.lead_ids(frame), lines)
            if duplicates == "reject":
                repeat = (earlier != "").to_numpy()
                rejects.write(
                    frame[repeat]
                    .assign(**{REJECT_REASON: "lead_id: duplicate of line " + earlier[repeat]})
                    .assign(**{LINE: lines[repeat]})
                )
                frame, lines, earlier = frame[~repeat], lines[~repeat], None
            scored, rejected = score_chunk(scorer, frame, reasons, lines, earlier)
            if scoring_log is not None:  # the previous scores are in the log it records to
                scored = with_trend(scored, scoring_log.previous_logged(scored[fields.LEAD_ID]))
            writer.write(scored)
            if len(rejected):
                rejects.write(rejected)
            count_grades(grades, scored["grade"].to_numpy())
            if scoring_log is not None and len(scored):
                good = lines[~np.isin(lines, rejected[LINE].to_numpy())]
                scoring_log.record(
                    rows_for(
                        scored[fields.LEAD_ID].tolist(),
                        scored["probability"].tolist(),
                        scored["score"].tolist(),
                        scored["grade"].tolist(),
                        scorer.model_version,
                        scorer.contract_version,
                        source="batch",
                    ),
                    entry_ids(key, good),
                )
            if progress is not None:
                progress(len(chunk.frame) + len(chunk.malformed))
    except BaseException:
        writer.discard()
        rejects.discard()
        raise
    writer.commit()
    rejects.commit()
    return {
        **scored_summary(grades, writer.rows, rejects.rows),
        "malformed_lines": malformed,
        "duplicate_ids": seen.count,
        "duplicate_examples": seen.examples,
        "output": str(output),
        "rejected_file": str(rejects.path) if rejects.rows else None,
        "total": total,
    }


def scored_summary(grades: dict[str, int], rows: int, rejected: int) -> dict[str, Any]:
    return {"scored": rows, "rejected": rejected, "grades": dict(sorted(grades.items()))}


def count_grades(counts: dict[str, int], grades: np.ndarray) -> None:
    values, n = np.unique(grades, return_counts=True)
    for value, k in zip(values, n, strict=True):
        counts[str(value)] = counts.get(str(value), 0) + int(k)
