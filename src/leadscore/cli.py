"""The `leadscore` command line: one command per pipeline stage, plus the scorecard.

DVC calls the stage commands (see `dvc.yaml`); people mostly run `dvc repro` and
`leadscore scorecard`.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from leadscore.commands import agreement, models, records, scoring
from leadscore.commands.support import DEFAULT_PARAMS, ParamsOption, run

app = typer.Typer(
    help="Lead scoring that encodes the A-lead contract agreed by sales and marketing.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Configure logging once, for the command line only."""
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="%H:%M:%S",
        handlers=[RichHandler(show_path=False, rich_tracebacks=True)],
    )
    for noisy in ("mlflow", "alembic", "urllib3", "git", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # MLflow sets its own INFO handler when first imported ("2026/12/04 ... INFO mlflow.store
    # .db.utils: Creating initial MLflow database tables..."): our log lines say what matters
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # with the spark extra, pandera imports pyspark.pandas, which warns about pandas 3 each time
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    from leadscore.core.redact import install_log_redaction, register_secrets, url_secrets

    install_log_redaction()  # no password of a URI, no key, in any log line
    for name in SECRET_URL_VARIABLES:  # their passwords masked wherever they turn up alone
        register_secrets(url_secrets(os.environ.get(name, "")))
    sys.excepthook = _redacted_excepthook  # an unexpected traceback names no password either


SECRET_URL_VARIABLES = ("LEADSCORE_DATABASE_URL", "MLFLOW_TRACKING_URI")


def _redacted_excepthook(kind, error, trace) -> None:
    """Print an unexpected error's traceback with every secret masked."""
    import traceback

    from leadscore.core.redact import redact

    print(redact("".join(traceback.format_exception(kind, error, trace))), file=sys.stderr)


@app.command()
def prepare(
    params: ParamsOption = DEFAULT_PARAMS,
    out_dir: Annotated[Path, typer.Option(help="Where the raw CRM tables go.")] = Path("data/raw"),
) -> None:
    """The raw leads: generate the built-in CRM, or read the export (`data.source`)."""
    from leadscore.stages.prepare import main

    run(main, params_path=params, out_dir=out_dir)


app.command("generate", hidden=True, help="Old name of `prepare`.")(prepare)


@app.command()
def ingest(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Type and validate the raw leads; quarantine bad rows with their reason."""
    from leadscore.stages.ingest import main

    run(main, params_path=params)


@app.command()
def split(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Time-based train/valid/test split; censor leads whose outcome window is still open."""
    from leadscore.stages.split import main

    run(main, params_path=params)


@app.command()
def train(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Fit the calibrated scoring pipeline and the baseline; log and register in MLflow."""
    from leadscore.stages.train import main

    run(main, params_path=params)


@app.command()
def grade(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Derive grade thresholds from the contract's promises; seal the model bundle."""
    from leadscore.stages.grade import main

    run(main, params_path=params)


@app.command()
def evaluate(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Measure the model on the test period; write DVC metrics and plots."""
    from leadscore.stages.evaluate import main

    run(main, params_path=params)


@app.command()
def importance(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """What drives the score, by input field (permutation + SHAP); quality per segment."""
    from leadscore.stages.importance import main

    run(main, params_path=params)


contract_app = typer.Typer(
    help="The A-lead contract: its report (no subcommand), and proposals, their impact, and "
    "both owners' approval (docs/contract.md).",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(contract_app, name="contract")


@contract_app.callback()
def contract(ctx: typer.Context, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Each grade's promise beside what the test period achieved; the publish gate."""
    if ctx.invoked_subcommand is not None:
        return
    from leadscore.stages.contract import main

    run(main, params_path=params)


@contract_app.command("model-terms")
def model_terms(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """The terms in force that shape the data and model (DVC stage `model_terms`)."""
    from leadscore.stages.model_terms import main

    run(main, params_path=params)


@contract_app.command("preview")
def proposal(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """The open proposal's impact beside the agreed contract: reports/proposal.{json,md}."""
    from rich.console import Console
    from rich.markdown import Markdown

    from leadscore.stages.proposal import main
    from leadscore.views.proposal import render_markdown

    preview = run(main, params_path=params)
    Console(width=120).print(Markdown(render_markdown(preview)))


@app.command()
def align(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Marketing's profile, sales' profile and the A grade side by side on the test period."""
    from leadscore.stages.align import main

    run(main, params_path=params)


@app.command()
def funnel(
    params: ParamsOption = DEFAULT_PARAMS,
    revenue_target: Annotated[
        float | None, typer.Option(help="Revenue to win; default: funnel.revenue_target.")
    ] = None,
    response_rate: Annotated[
        float | None, typer.Option(help="Leads per person reached, for the reach needed.")
    ] = None,
    write: Annotated[bool, typer.Option(help="Write reports/funnel.{json,md}.")] = True,
) -> None:
    """Channel economics, and leads/reach per channel needed for a revenue target."""
    from rich.console import Console
    from rich.markdown import Markdown

    from leadscore.stages.funnel import main
    from leadscore.views.funnel import render_markdown

    report = run(
        main,
        params_path=params,
        revenue_target=revenue_target,
        response_rate=response_rate,
        reports_dir=Path("reports") if write else None,
    )
    Console(width=120).print(Markdown(render_markdown(report)))


@app.command()
def feedback(
    params: ParamsOption = DEFAULT_PARAMS,
    scoring_log: Annotated[
        str | None,
        typer.Option(
            help="Scoring log: SQLAlchemy URL, SQLite file or Parquet log (default: test period)."
        ),
    ] = None,
    outcomes: Annotated[
        Path | None,  # without it, the CRM events stored beside the scores
        typer.Option(
            help="CSV/Parquet: lead_id, created_at, converted or won_at; first_contact_at optional."
        ),
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Date outcomes are known up to.")] = None,
    nurture_days: Annotated[
        int,
        typer.Option(min=1, help="With --scoring-log: the nurture view's last N days."),
    ] = 7,
) -> None:
    """Monthly conversion by grade vs the contract's promises; flags and likely causes.

    With `--scoring-log`, also the nurture view (reports/nurture.{json,md}, on the report):
    the leads that crossed into or out of A in the last N days, and the events that moved them.
    """
    from leadscore.stages.feedback import main

    run(
        main,
        params_path=params,
        scoring_log=scoring_log,
        outcomes_path=outcomes,
        as_of=as_of,
        nurture_days=nurture_days,
    )


@app.command("follow-up")
def follow_up(
    params: ParamsOption = DEFAULT_PARAMS,
    scoring_log: Annotated[
        str | None,
        typer.Option(
            help="Scoring-log database (SQLAlchemy URL or SQLite file): its scores and the CRM "
            "events beside them (default: the test period)."
        ),
    ] = None,
) -> None:
    """Sales' side of the contract: follow-up per month and grade, and what slow follow-up cost."""
    from leadscore.stages.follow_up import main

    run(main, params_path=params, scoring_log=scoring_log)


@app.command()
def credit(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Marketing's credit per month, channel and campaign (reports/credit.csv), reconciled."""
    from leadscore.stages.credit import main

    run(main, params_path=params)


outcomes_app = typer.Typer(help="CRM outcome events beside the scores (lead_events).")
app.add_typer(outcomes_app, name="outcomes")


scoring_log_app = typer.Typer(help="The scoring log: replay journaled rows into the table.")
app.add_typer(scoring_log_app, name="scoring-log")


@app.command()
def report() -> None:
    """Write reports/report.html: the one-page report for the heads of sales and marketing."""
    from leadscore.stages.report import main

    run(main)


@app.command()
def headline() -> None:
    """Write reports/headline.json: the run's few headline numbers (the DVC metric)."""
    from leadscore.stages.headline import main

    run(main)


# --- the commands that are not stages (leadscore.commands) -----------------------------------

app.command()(models.repro)
app.command()(models.init)
app.command()(models.seal)
app.command()(models.promote)
app.command()(models.rollback)
app.command()(models.scorecard)
app.command()(scoring.score)
app.command("score-spark")(scoring.score_spark)
app.command()(scoring.serve)
outcomes_app.command("import")(records.outcomes_import)
scoring_log_app.command("replay")(records.scoring_log_replay)
contract_app.command("status")(agreement.contract_status)
contract_app.command("propose")(agreement.contract_propose)
contract_app.command("withdraw")(agreement.contract_withdraw)
contract_app.command("approve")(agreement.contract_approve)
contract_app.command("history")(agreement.contract_history)
contract_app.command("diff")(agreement.contract_diff)
contract_app.command("keygen")(agreement.contract_keygen)
contract_app.command("page")(agreement.contract_page)


if __name__ == "__main__":
    app()
