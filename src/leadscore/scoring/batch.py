"""Batch scoring of a CSV or Parquet file, streamed in chunks, with the service's scorer.

A CSV file is read by the same rule training reads CRM exports with (`leadscore.core.csvfile`):
delimiter and encoding detected (a UTF-8 byte-order mark, `;` exports and Windows-1252 / Latin-1
text included), standard quoting, each row with the line it starts on.

Each chunk goes through `Scorer.encode_frame` and `Scorer.score`, the same compiled scorer the
API uses, so a lead gets the same probability, score, grade and reasons either way. Rows that
cannot be read (a malformed CSV line, a quote that never closes, a number that is not a number,
a negative count, no lead id) are written to a `.rejected.csv` file beside the output with
their line number and the reason, never dropped, and never abort the run. At the end, the rows
read must equal the rows scored plus the rows rejected, or the run fails.

A run never half-finishes: the output and the rejected file are written in a private
`.partial` directory, fsynced, and committed together when the whole input is scored (the
output last); a stale rejected file of an earlier run is removed, and `.partial` leftovers of a
killed run are removed by the next run. CSV cells a spreadsheet would run as formulas are
escaped with a leading `'`. Logged rows carry an entry id made of the run's key (input file,
model, contract) and the line, so a re-run of the same file does not log the same leads twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.values import parse_bool
from leadscore.scoring import output
from leadscore.scoring.batch_files import RunFiles, TableWriter
from leadscore.scoring.batch_input import (
    BatchAccountingError,
    BatchInputError,
    InputRead,
    RawChunk,
    read_chunks,
)
from leadscore.scoring.scorer import Scorer

if TYPE_CHECKING:  # the log is imported by the caller that records to it
    from leadscore.scoring.log import ScoringLog


REJECT_REASON = "rejected_reason"
LINE = "line"
RAW_LINE = "raw_line"
DUPLICATES = ("warn", "reject")


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
    scored = scorer.score(matrix[good], reasons=reasons, parallel=True)  # one chunk at a time
    notes = warnings.to_numpy()[good].tolist()
    if duplicates is not None:
        earlier = duplicates.to_numpy()[good]
        notes = [
            "; ".join(filter(None, (note, f"lead_id: also on line {line}" if line else "")))
            for note, line in zip(notes, earlier, strict=True)
        ]
    out = output.scored_table(scorer, ids[good].astype(str).to_numpy(), scored, notes)
    if reasons and scored.contributions is not None:
        values = typed_values(scorer, leads[good])
        explained = output.explanations(scorer, scored.contributions, scored.raw, values)
        out[output.EXPLANATION] = output.explanation_texts(explained)
    rejected = chunk[bad].assign(**{REJECT_REASON: problems[bad].to_numpy()})
    if lines is not None:  # the batch CLI's line numbers (Spark keeps the input's columns)
        rejected.insert(0, LINE, lines[bad])
    return out, rejected


def typed_values(scorer: Scorer, leads: pd.DataFrame) -> list[list[Any]]:
    """Per field, each lead's value as the API shows it in reasons (numbers as floats, yes/no
    as booleans, None when missing)."""
    values = []
    for name in scorer.fields:
        if name not in leads:
            values.append([None] * len(leads))
            continue
        column = leads[name]
        if name in scorer.spec.numeric:
            typed = pd.to_numeric(column, errors="coerce").astype("float64")
        elif name in scorer.spec.boolean:
            typed = parse_bool(column).astype("boolean")
        else:
            typed = column
        values.append(typed.astype(object).where(typed.notna(), None).tolist())
    return values


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
    sep: str | None = None,
    encoding: str | None = None,
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Score `input_path` into `output` (and its `.rejected.csv`), all or nothing.

    `prepare` (optional) completes each chunk of raw leads before scoring, e.g. with their
    behaviour features as of now (leadscore.scoring.behaviour.chunk_preparer).

    A CSV file is read by the CSV rule training reads exports with (delimiter and encoding
    detected unless `sep` / `encoding` are given). Every row read ends up scored or rejected,
    checked at the end (`check_accounting`): a mismatch fails the run and writes nothing.
    `scoring_log` (a `ScoringLog`) records each chunk before the next is read, with entry ids
    that make a re-run of the same file log nothing twice. `duplicates`: "warn" scores a
    repeated lead id with a warning; "reject" sets every repeat aside.
    """
    if duplicates not in DUPLICATES:
        raise BatchInputError(f"duplicates must be one of {DUPLICATES}, not {duplicates!r}")
    files = RunFiles(output)
    files.remove_leftovers()
    chunks, read = read_chunks(input_path, chunk_size, sep, encoding)
    run = ChunkScorer(
        scorer,
        run_key(input_path, scorer.model_version, scorer.contract_version),
        reasons,
        scoring_log,
        duplicates,
        prepare=prepare,
    )
    writer, rejects = files.writers()
    try:
        for chunk in chunks:
            run.score(chunk, writer, rejects)
            if progress is not None:
                progress(len(chunk.frame) + len(chunk.malformed))
        check_accounting(read, writer.rows, rejects.rows)
    except BaseException:
        files.discard(writer, rejects)
        raise
    files.commit(writer, rejects)
    return {
        **scored_summary(run.grades, writer.rows, rejects.rows),
        "malformed_lines": run.malformed,
        "duplicate_ids": run.seen.count,
        "duplicate_examples": run.seen.examples,
        "output": str(output),
        "rejected_file": str(files.rejected) if rejects.rows else None,
        "total": read.rows,
        "read": read.describe(),
    }


def check_accounting(read: InputRead, scored: int, rejected: int) -> None:
    """Rows read = scored + rejected, or the run fails (nothing is written)."""
    if read.rows != scored + rejected:
        raise BatchAccountingError(
            f"{read.path}: read {read.rows:,} rows but wrote {scored:,} scored + {rejected:,} "
            f"rejected = {scored + rejected:,}; {abs(read.rows - scored - rejected):,} rows "
            "would be lost, so nothing was written (please report this as a bug)"
        )


@dataclass
class ChunkScorer:
    """Scores a run's chunks one after the other: rejects with their line and reason,
    repeated ids, the grade counts, and the scoring log."""

    scorer: Scorer
    key: str
    reasons: bool
    scoring_log: ScoringLog | None
    duplicates: str
    grades: dict[str, int] = field(default_factory=dict)
    seen: DuplicateIds = field(default_factory=DuplicateIds)
    malformed: int = 0
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = None

    def score(self, chunk: RawChunk, writer: TableWriter, rejects: TableWriter) -> None:
        frame, lines = chunk.frame, chunk.lines
        if rejects.columns is None:
            rejects.columns = [LINE, REJECT_REASON, RAW_LINE, *map(str, frame.columns)]
        if chunk.malformed:
            rejects.write(malformed_frame(chunk.malformed))
            self.malformed += len(chunk.malformed)
        problem = self.scorer.id_problem(frame.columns)
        if problem:
            raise BatchInputError(problem)
        earlier: pd.Series | None = self.seen.check(self.scorer.lead_ids(frame), lines)
        if self.duplicates == "reject" and earlier is not None:
            repeat = (earlier != "").to_numpy()
            rejects.write(
                frame[repeat]
                .assign(**{REJECT_REASON: "lead_id: duplicate of line " + earlier[repeat]})
                .assign(**{LINE: lines[repeat]})
            )
            frame, lines, earlier = frame[~repeat], lines[~repeat], None
        if self.prepare is not None:
            frame = self.prepare(frame)
        scored, rejected = score_chunk(self.scorer, frame, self.reasons, lines, earlier)
        if self.scoring_log is not None:  # the previous scores are in the log it records to
            scored = output.with_trend(
                scored, self.scoring_log.previous_logged(scored[fields.LEAD_ID])
            )
        writer.write(scored)
        if len(rejected):
            rejects.write(rejected)
        count_grades(self.grades, scored["grade"].to_numpy())
        if self.scoring_log is not None and len(scored):
            self.log(scored, lines[~np.isin(lines, rejected[LINE].to_numpy())])

    def log(self, scored: pd.DataFrame, lines: np.ndarray) -> None:
        from leadscore.scoring.log_table import rows_for

        assert self.scoring_log is not None
        self.scoring_log.record(
            rows_for(
                scored[fields.LEAD_ID].tolist(),
                scored["probability"].tolist(),
                scored["score"].tolist(),
                scored["grade"].tolist(),
                self.scorer.model_version,
                self.scorer.contract_version,
                source="batch",
            ),
            entry_ids(self.key, lines),
        )


def scored_summary(grades: dict[str, int], rows: int, rejected: int) -> dict[str, Any]:
    return {"scored": rows, "rejected": rejected, "grades": dict(sorted(grades.items()))}


def count_grades(counts: dict[str, int], grades: np.ndarray) -> None:
    values, n = np.unique(grades, return_counts=True)
    for value, k in zip(values, n, strict=True):
        counts[str(value)] = counts.get(str(value), 0) + int(k)
