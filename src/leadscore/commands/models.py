"""Commands around the pipeline's models: run it (`repro`, `init`), seal a bundle, promote or
roll back a registered version, print the scorecard."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from leadscore.commands.support import DEFAULT_PARAMS, ParamsOption, fail, run


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
        fail(error)
    if not stages:
        typer.echo("Data and pipelines are up to date.")
    elif remote:
        typer.echo(f"`dvc push` sends the new outputs to the DVC remote '{remote}'.")


def init(
    files: Annotated[list[Path], typer.Argument(help="The export's files, the leads table first.")],
    folder: Annotated[Path, typer.Option("--to", help="The project folder to write.")] = Path("."),
) -> None:
    """Profile a CRM export and write a project folder that `dvc repro` runs: a commented draft
    params.yaml and contract.yaml (TODO where a person must choose), dvc.yaml, DVC set up."""
    from leadscore.stages.init import main

    result = run(main, paths=files, folder=folder)
    typer.echo(f"wrote {folder}: params.yaml, contract.yaml, dvc.yaml ({result['dvc']})")
    typer.echo(f"{result['todos']} TODOs to answer in params.yaml and contract.yaml (grep TODO)")
    typer.echo(f"next: cd {folder} && dvc repro && leadscore scorecard")


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
        fail(error)
    typer.echo(f"sealed {models}: {', '.join(manifest)} (signed with this host's key)")


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

    decision = run(lambda: promote_version(load_params(params), read_table(test), version))
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


def rollback(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Move the champion alias back to the previous champion."""
    from leadscore.core.config import load_params
    from leadscore.mlops.registry import rollback as rollback_champion

    moved = run(lambda: rollback_champion(load_params(params)))
    typer.echo(f"champion is v{moved['champion']} again (was v{moved['was']})")


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
        fail(f"{error} (run `dvc repro` first)")
    Console(width=width).print(scorecard_table(rows))
