"""A scored lead as every front door gives it: the one list of output columns and the one place
that builds a lead's explanation (reasons, rest, base value, raw output) and trend.

The batch CLI (`scoring.batch`), Spark (`scoring.spark`, through the batch chunk scorer) and the
API (`serve/routers/scoring.py`) all build their records here, so the same lead gets the same
probability, score, grade, reasons and trend wherever it is scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from leadscore.core import fields

if TYPE_CHECKING:
    from leadscore.scoring.scorer import Scored, Scorer
    from leadscore.scoring.trend import PreviousScores

MAX_REASONS = 5  # per direction
EXPLANATION = "explanation"
TREND, PREVIOUS_SCORE, PREVIOUS_GRADE = "trend", "previous_score", "previous_grade"
# the scored output's columns (batch file, Spark table) and their Spark types; the API answer
# holds the same fields, with the warnings as a list and the previous score beside the grade
COLUMNS: dict[str, str] = {
    fields.LEAD_ID: "string",
    "probability": "double",
    "score": "long",
    "grade": "string",
    "warnings": "string",
    "model_version": "string",
    "contract_version": "string",
}
PHRASES_KEPT = 100_000  # distinct (field, value, direction) phrases remembered


def columns(reasons: bool) -> dict[str, str]:
    """The output's columns (and Spark types), with the explanation when reasons are asked."""
    return {**COLUMNS, **({EXPLANATION: "string"} if reasons else {})}


def phrase(name: str, value: object, contribution: float) -> str:
    """The plain sentence of one reason."""
    label = name.replace("_", " ")
    if value is None:
        shown = "unknown"
    elif isinstance(value, bool):
        shown = "yes" if value else "no"
    elif isinstance(value, float):
        shown = f"{value:,.4g}"
    else:
        shown = str(value)
    effect = "raises" if contribution > 0 else "lowers"
    return f"{label} {shown} {effect} the chance of converting"


_phrases: dict[tuple[str, type, object, bool], str] = {}


def _phrase(name: str, value: object, contribution: float) -> str:
    """`phrase`, remembered: a batch repeats the same few field values many times."""
    key = (name, type(value), value, contribution > 0)
    found = _phrases.get(key)
    if found is None:
        found = phrase(name, value, contribution)
        if len(_phrases) >= PHRASES_KEPT:
            _phrases.clear()
        _phrases[key] = found
    return found


def chosen_reasons(contributions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per lead, the fields of its explanation (the strongest up to 5 raising, then up to 5
    lowering; -1 pads) and the rest (the other fields' sum), for all leads at once."""
    n, width = contributions.shape
    k = min(MAX_REASONS, width)
    order = np.argsort(-contributions, axis=1, kind="stable")
    up = order[:, :k]
    down = order[:, ::-1][:, :k]
    rows = np.arange(n)[:, None]
    up = np.where(contributions[rows, up] > 0, up, -1)
    down = np.where(contributions[rows, down] < 0, down, -1)
    chosen = np.concatenate([up, down], axis=1)
    picked = np.where(chosen >= 0, contributions[rows, np.maximum(chosen, 0)], 0.0)
    rest = contributions.sum(axis=1) - picked.sum(axis=1)
    return chosen, rest


def explanations(
    scorer: Scorer,
    contributions: np.ndarray,
    raw: np.ndarray,
    values: Sequence[Sequence[Any]],
) -> list[dict[str, Any]]:
    """Each lead's explanation: `base_value + sum(reasons) + rest == raw_output` (log-odds).

    `values[j][i]`: lead i's value of field j as the answer shows it (None when missing)."""
    chosen, rest = chosen_reasons(contributions)
    names, base_value = scorer.fields, scorer.base_value
    contribution_rows, rest_list, raw_list = contributions.tolist(), rest.tolist(), raw.tolist()
    out = []
    for i, picks in enumerate(chosen.tolist()):
        row = contribution_rows[i]
        reasons = []
        for j in picks:
            if j < 0:
                continue
            value = values[j][i]
            if isinstance(value, float) and math.isnan(value):
                value = None
            reasons.append(
                {
                    "field": names[j],
                    "value": value,
                    "contribution": row[j],
                    "phrase": _phrase(names[j], value, row[j]),
                }
            )
        out.append(
            {
                "base_value": base_value,
                "reasons": reasons,
                "rest": rest_list[i],
                "raw_output": raw_list[i],
            }
        )
    return out


def explanation_texts(explained: list[dict[str, Any]]) -> list[str]:
    """Explanations as JSON text (the batch and Spark `explanation` column)."""
    return [orjson.dumps(e, default=str).decode() for e in explained]


def scored_table(
    scorer: Scorer, lead_ids: np.ndarray, scored: Scored, warnings: Sequence[str]
) -> pd.DataFrame:
    """The batch and Spark output of scored leads, in `COLUMNS` order (warnings joined)."""
    values = (
        lead_ids,
        scored.probability,
        scored.score,
        scored.grade.astype(str),
        list(warnings),
        scorer.model_version,
        scorer.contract_version,
    )
    return pd.DataFrame(dict(zip(COLUMNS, values, strict=True)))


def with_trend(table: pd.DataFrame, previous: PreviousScores) -> pd.DataFrame:
    """Batch output with each lead's `trend` and `previous_grade` (`trend_fields`)."""
    trends = [
        trend_fields(previous, lead, score)
        for lead, score in zip(table[fields.LEAD_ID], table["score"].tolist(), strict=True)
    ]
    return table.assign(
        **{
            TREND: [t[TREND] for t in trends],
            PREVIOUS_GRADE: [t[PREVIOUS_GRADE] for t in trends],
        }
    )


def record_values(scorer: Scorer, records: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Per field, the value of each lead (validated API leads)."""
    return [[record.get(name) for record in records] for name in scorer.fields]


def trend_fields(previous: PreviousScores, lead_id: str, score: int) -> dict[str, Any]:
    """trend, previous score and previous grade of a lead (new: never in the scoring log)."""
    before = previous.of(lead_id)
    return {
        TREND: previous.trend(lead_id, score),
        PREVIOUS_SCORE: None if before is None else before[0],
        PREVIOUS_GRADE: None if before is None else before[1],
    }


def answer_records(
    scorer: Scorer,
    lead_ids: Sequence[str],
    scored: Scored,
    warnings: Sequence[list[str]],
    previous: PreviousScores,
    values: Sequence[Sequence[Any]] | None = None,
) -> list[dict[str, Any]]:
    """The API's results: one record per lead, in the order of the request."""
    explained: list[dict[str, Any] | None] = [None] * len(lead_ids)
    if scored.contributions is not None and values is not None:
        explained = list(explanations(scorer, scored.contributions, scored.raw, values))
    probability, score, grade = (
        scored.probability.tolist(),
        scored.score.tolist(),
        scored.grade.tolist(),
    )
    version, contract_version = scorer.model_version, scorer.contract_version
    return [
        {
            fields.LEAD_ID: lead_id,
            "probability": probability[i],
            "score": score[i],
            "grade": grade[i],
            **trend_fields(previous, lead_id, score[i]),
            EXPLANATION: explained[i],
            "warnings": warnings[i],
            "model_version": version,
            "contract_version": contract_version,
        }
        for i, lead_id in enumerate(lead_ids)
    ]
