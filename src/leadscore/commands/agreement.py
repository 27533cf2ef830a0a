"""The owners' commands of `leadscore contract`: status, propose, withdraw, approve, history,
diff, keygen and the owners' page (the contract's stages stay in `leadscore.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore.commands.support import DEFAULT_PARAMS, ParamsOption, run

Role = Annotated[str, typer.Option("--as", help="The owner: sales or marketing.")]


def _agreement_files(params: Path):
    from leadscore.core.agreement_files import AgreementFiles

    return AgreementFiles.beside(params)


def contract_status(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Whether the contract in force (with the open proposal) is agreed; exit 1 if not."""
    files = _agreement_files(params)
    agreement = run(lambda: files.check(files.proposed_contract()))
    typer.secho(agreement.headline(), fg=typer.colors.GREEN if agreement.agreed else None)
    for problem in agreement.problems:
        typer.secho(f"refused: {problem}", fg=typer.colors.RED, err=True)
    if not agreement.agreed:
        raise typer.Exit(1)


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
    changed = run(lambda: propose(files, changes, note))
    for line in changed:
        typer.echo(f"proposed: {line}")
    typer.echo(
        "Preview its impact with `leadscore contract preview` (or `dvc repro`); both owners "
        "then approve it with `leadscore contract approve --as sales|marketing --key ...`."
    )


def contract_withdraw(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Drop the open proposal (contract.proposal.yaml is emptied)."""
    _agreement_files(params).close_proposal()
    typer.echo("no open proposal")


def contract_approve(
    role: Role,
    key: Annotated[Path, typer.Option(help="Your Ed25519 private key (PEM), never shared.")],
    params: ParamsOption = DEFAULT_PARAMS,
) -> None:
    """Sign the open proposal (or the edited contract) as one owner; when both have, it becomes
    the agreed version."""
    from leadscore.core.agreement_files import approve

    outcome = run(lambda: approve(_agreement_files(params), role, key))
    for warning in outcome["warnings"]:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    typer.secho(outcome["message"], fg=typer.colors.GREEN if outcome["agreed"] else None)


def contract_history(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Every agreed version: date, approvers and changes."""
    from leadscore.core.agreement import describe_change

    versions = run(lambda: _agreement_files(params).history())
    if not versions:
        typer.echo("no agreed version yet")
    for entry in versions:
        approvers = " and ".join(entry["approved_by"].values())
        typer.secho(f"{entry['version']}  agreed {entry['agreed_on']} by {approvers}", bold=True)
        for change in entry["changes"] or [{"key": "(first version)"}]:
            typer.echo(f"  {describe_change(change)}" if "to" in change else f"  {change['key']}")


def contract_diff(
    old: Annotated[str, typer.Argument(help="A version label, `agreed` or `proposal`.")],
    new: Annotated[str, typer.Argument(help="A version label, `agreed` or `proposal`.")],
    params: ParamsOption = DEFAULT_PARAMS,
) -> None:
    """The meaning-level difference between two contracts (comments and layout ignored)."""
    from leadscore.core.agreement import describe_change, diff

    files = _agreement_files(params)
    changes = run(lambda: diff(files.meaning_of(old), files.meaning_of(new)))
    for change in changes:
        typer.echo(describe_change(change))
    if not changes:
        typer.echo(f"{old} and {new} mean the same")


def contract_keygen(
    role: Role,
    out: Annotated[Path, typer.Option(help="Where your private key goes (kept private).")],
    params: ParamsOption = DEFAULT_PARAMS,
) -> None:
    """Make an owner's key pair: the private key at --out, the public key in agreement/keys/."""
    from leadscore.core.agreement_files import make_owner_key

    public = run(lambda: make_owner_key(_agreement_files(params), role, out))
    typer.echo(f"private key: {out} (mode 0600; never commit or share it)")
    typer.echo(f"public key:  {public} (commit it; approvals with an older key no longer count)")


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
