"""What every `leadscore` command shares: the params option, one-line errors and output with
secrets masked, and running a stage's `main` with expected failures as errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

ParamsOption = Annotated[Path, typer.Option("--params", help="Parameter file.")]
DEFAULT_PARAMS = Path("params.yaml")


def echo(text: str) -> None:
    """A line of output, with any URL password or key masked."""
    from leadscore.core.redact import redact

    typer.echo(redact(text))


def fail(message: object, code: int = 1) -> NoReturn:
    """A one-line error on stderr (secrets masked) and the exit code; no traceback for
    expected failures."""
    from leadscore.core.redact import redact

    typer.secho(f"error: {redact(str(message))}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def run(stage_main, **kwargs):
    """Run a stage and return its result; expected failures become `_fail`."""
    from leadscore.core.errors import LeadscoreError

    try:
        return stage_main(**kwargs)
    except (LeadscoreError, FileNotFoundError, ValueError) as error:
        fail(error)
