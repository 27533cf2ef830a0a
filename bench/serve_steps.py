"""Where a scoring request's time goes: each step of `POST /v1/score`, per lead, in process.

The steps are the functions the route calls, in its order, on the same request bodies as the
HTTP benchmark (bench/serve.py): reading the body (Starlette's `Request.body()` fed in 64 KiB
chunks as uvicorn feeds it), the key/lead count check (which parses the JSON), validation
(pydantic's JSON parser, parse included), input normalisation, encoding, the tree kernel,
the reasons (TreeSHAP), building the answer, serialising it, and the journal (the scoring log's
synced append, as the server runs it). Figures are the median of repeated runs, in µs per lead.

Usage: `python bench/serve_steps.py` (also printed by `make bench-serve`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
STEPS = (
    "body read",
    "JSON parse (count check)",
    "validation (parse included)",
    "normalisation",
    "encoding",
    "kernel",
    "reasons",
    "answer building",
    "serialisation",
    "journal",
)
CHUNK = 65_536


def _timed(work: Callable[[], Any], budget: float) -> tuple[float, Any]:
    """Median seconds of `work` over repeats filling `budget` seconds (at least 5), and its
    last result."""
    times, result = [], None
    deadline = time.perf_counter() + budget
    while len(times) < 5 or time.perf_counter() < deadline:
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def _read_body(body: bytes) -> bytes:
    from starlette.requests import Request

    async def read() -> bytes:
        chunks = [body[k : k + CHUNK] for k in range(0, len(body), CHUNK)] or [b""]
        messages = iter(
            {"type": "http.request", "body": c, "more_body": k < len(chunks) - 1}
            for k, c in enumerate(chunks)
        )

        async def receive() -> dict:
            return next(messages)

        return await Request({"type": "http", "method": "POST", "headers": []}, receive).body()

    return _LOOP.run_until_complete(read())  # one loop, as the server has: not its start-up


_LOOP = asyncio.new_event_loop()


def breakdown(leads: list[dict], budget: float = 1.0) -> dict[str, dict[str, float]]:
    """µs per lead of each step, for one lead (reasons on) and 1,000-lead batches (reasons off
    and on)."""
    from leadscore.scoring.loading import load_served_model
    from leadscore.scoring.log import ScoringLog
    from leadscore_serve.schemas import lead_model, request_example, score_request_model

    model = load_served_model(str(ROOT / "models"), allow_unagreed=True)
    spec, inputs = model.card.spec, model.card.input_normalisation
    example = request_example(spec, inputs)
    request_model = score_request_model(lead_model(spec, example, inputs), 1000, example)
    scratch = Path(tempfile.mkdtemp(prefix="leadscore-steps-"))
    scoring_log = ScoringLog(f"sqlite:///{scratch / 'log.db'}", scratch / "journal", sync=True)
    cases = {
        "one lead, reasons on": (leads[:1], True),
        "1,000 leads, reasons off": (leads[:1000], False),
        "1,000 leads, reasons on": (leads[:1000], True),
    }
    steps = Steps(model, request_model, scoring_log, budget)
    try:
        return {name: steps.run(batch, reasons) for name, (batch, reasons) in cases.items()}
    finally:
        scoring_log.close(timeout=5)


class Steps:
    """The route's steps, timed one after the other on one request body."""

    def __init__(self, model: Any, request_model: Any, scoring_log: Any, budget: float) -> None:
        self.model, self.request_model = model, request_model
        self.scoring_log, self.budget = scoring_log, budget

    def run(self, batch: list[dict], reasons: bool) -> dict[str, float]:
        from leadscore.scoring import output
        from leadscore.scoring.log_table import rows_for
        from leadscore_serve.limits import check_counts

        model, scorer, budget = self.model, self.model.scorer, self.budget
        body = orjson.dumps({"leads": batch, "reasons": reasons})
        t: dict[str, float] = {}
        t["body read"], _ = _timed(lambda: _read_body(body), budget)
        t["JSON parse (count check)"], _ = _timed(
            lambda: check_counts(body, self.request_model), budget
        )
        t["validation (parse included)"], parsed = _timed(
            lambda: self.request_model.model_validate_json(body), budget
        )
        t["normalisation"], records = _timed(lambda: scorer.normalise_records(parsed.leads), budget)
        t["encoding"], (matrix, warnings) = _timed(lambda: scorer.encode_records(records), budget)
        t["kernel"], scored = _timed(lambda: scorer.score(matrix), budget)
        t["reasons"], contributions = (
            _timed(lambda: scorer.contributions(matrix), budget) if reasons else (0.0, None)
        )
        scored = dataclasses.replace(scored, contributions=contributions)
        lead_ids = [record["lead_id"] for record in records]

        def answer() -> dict:
            values = output.record_values(scorer, records) if reasons else None
            previous = self.scoring_log.previous(lead_ids)
            results = output.answer_records(scorer, lead_ids, scored, warnings, previous, values)
            return {"model_version": model.version, "results": results}

        t["answer building"], answered = _timed(answer, budget)
        t["serialisation"], _ = _timed(lambda: orjson.dumps(answered), budget)

        def journal() -> None:
            rows = rows_for(
                lead_ids, scored.probability.tolist(), scored.score.tolist(),
                scored.grade.tolist(), model.version, model.contract_version, source="api",
            )  # fmt: skip
            self.scoring_log.record(rows)

        t["journal"], _ = _timed(journal, budget)
        per_lead = {step: round(seconds / len(batch) * 1e6, 2) for step, seconds in t.items()}
        per_lead["total"] = round(sum(per_lead.values()), 2)
        return per_lead


def print_breakdown(table: dict[str, dict[str, float]]) -> None:
    cases = list(table)
    print("\nwhere the time goes, µs per lead (in process, median):")
    print(f"  {'step':30s}" + "".join(f"{c:>26s}" for c in cases))
    for step in (*STEPS, "total"):
        print(f"  {step:30s}" + "".join(f"{table[c][step]:>26.2f}" for c in cases))


def main() -> None:
    import json

    import pandas as pd

    sys.path.insert(0, str(Path(__file__).parent))
    from serve import lead_values  # the HTTP benchmark's request leads

    card = json.loads((ROOT / "models" / "model_card.json").read_text())
    test = pd.read_parquet(ROOT / "data/processed/test.parquet").head(1000)
    os.environ.setdefault("LEADSCORE_API_KEYS", "")
    print_breakdown(breakdown(lead_values(test, card["features"])))


if __name__ == "__main__":
    main()
