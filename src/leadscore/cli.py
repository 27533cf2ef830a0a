"""The `leadscore` command line: one command per pipeline stage, plus the scorecard.

DVC calls the stage commands (see `dvc.yaml`); people mostly run `dvc repro` and
`leadscore scorecard`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

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


def _run(stage_main, **kwargs) -> None:
    """Run a stage; turn expected failures into a one-line error and exit code 1."""
    from leadscore.bundle import BundleError
    from leadscore.config import ParamsError
    from leadscore.ingest import LeadTableError

    try:
        stage_main(**kwargs)
    except (ParamsError, LeadTableError, BundleError, FileNotFoundError, ValueError) as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


@app.command()
def generate(
    params: ParamsOption = DEFAULT_PARAMS,
    out_dir: Annotated[Path, typer.Option(help="Where the raw CRM tables go.")] = Path("data/raw"),
) -> None:
    """Generate the built-in B2B CRM data (leads, truth, channel costs)."""
    from leadscore.generate import main

    _run(main, params_path=params, out_dir=out_dir)


@app.command()
def ingest(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Type and validate the raw leads; quarantine bad rows with their reason."""
    from leadscore.ingest import main

    _run(main, params_path=params)


@app.command()
def split(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Time-based train/valid/test split; censor leads whose outcome window is still open."""
    from leadscore.split import main

    _run(main, params_path=params)


@app.command()
def train(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Fit the calibrated scoring pipeline and the baseline; log and register in MLflow."""
    from leadscore.train import main

    _run(main, params_path=params)


@app.command()
def grade(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Derive grade thresholds from the contract's promises; seal the model bundle."""
    from leadscore.grade import main

    _run(main, params_path=params)


@app.command()
def evaluate(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Measure the model on the test period; write DVC metrics and plots."""
    from leadscore.evaluate import main

    _run(main, params_path=params)


@app.command()
def contract(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Each grade's promise beside what the test period achieved; the publish gate."""
    from leadscore.contract import main

    _run(main, params_path=params)


@app.command()
def scorecard(
    reports: Annotated[Path, typer.Option(help="Reports folder.")] = Path("reports"),
) -> None:
    """Print the one-screen scorecard of the last pipeline run."""
    from rich.console import Console

    from leadscore.scorecard import render_scorecard

    try:
        Console(width=110).print(render_scorecard(reports))
    except FileNotFoundError as error:
        typer.secho(f"error: {error} (run `dvc repro` first)", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
