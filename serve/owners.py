"""The owners' page: the heads of sales and marketing review the contract and approve proposals.

`create_owners_app(root)` serves one project checkout (`contract.yaml`, `agreement/`,
`contract.proposal.yaml`, `reports/`):

    GET  /                      the page: the agreed contract and how each promise held, the
                                open proposal with its impact preview, an approve box per owner
    GET  /api/status            the agreement of the agreed and of the proposed contract
    GET  /api/approval-message  ?role=sales|marketing: the exact text that owner signs
    POST /api/approve           {role, approved_at, contract_hash, signature[, public_key]}

An owner approves with their own Ed25519 private key, which never leaves the browser: the page
signs the approval message with WebCrypto and sends only the signature (and the public key, so
that a wrong key is named as such). The server checks it against the owner's public key in
`agreement/keys/` (leadscore.core.agreement.approval_problem), refuses a bad one with 403 and the
reason, and stores a good one; the second owner's approval makes the proposal the agreed
version (AgreementFiles.adopt). The page loads nothing from the network: its style and script
are inline, and its Content-Security-Policy forbids any other source.

    python -m leadscore_serve.owners --root . --host 127.0.0.1 --port 8100
"""

from __future__ import annotations

import argparse
import base64
import binascii
import logging
import secrets
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader
from pydantic import BaseModel, ConfigDict, Field

from leadscore.core import keys
from leadscore.core.agreement import (
    ROLES,
    Agreement,
    Approval,
    approval_message,
    approval_problem,
    diff,
    meaning,
    meaning_hash,
    now_utc,
    short,
)
from leadscore.core.agreement_files import AgreementFiles
from leadscore.core.contract import Contract
from leadscore.core.errors import LeadscoreError
from leadscore_serve import owners_view
from leadscore_serve.problems import ProblemError, install_problem_handlers

log = logging.getLogger(__name__)

Role = Literal["sales", "marketing"]
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8100


class ApprovalRequest(BaseModel):
    """A signed approval from the page: the signature of the approval message, never a key."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    approved_at: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    contract_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    signature: str = Field(min_length=1, max_length=200, description="base64 Ed25519 signature")
    public_key: str | None = Field(
        None, max_length=100, description="base64 raw public key of the signer (names a wrong key)"
    )


class Project:
    """The agreement files of one checkout, the lock that orders approvals, the page template."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = AgreementFiles(root)
        self.lock = threading.Lock()
        self.templates = Environment(
            loader=PackageLoader("leadscore_serve", "templates"), autoescape=True
        )

    def state(self) -> dict[str, Any]:
        """Both contracts and their agreement; `open`: the proposed contract is not agreed."""
        files = self.files
        agreed_contract, proposed = files.agreed_contract(), files.proposed_contract()
        agreed, proposal = files.check(agreed_contract), files.check(proposed)
        history = files.history()
        base = history[-1]["contract"] if history else meaning(agreed_contract)
        is_open = not proposal.agreed or proposal.contract_hash != agreed.contract_hash
        return {
            "agreed_contract": agreed_contract,
            "proposed_contract": proposed,
            "agreed": agreed,
            "proposal": proposal,
            "open": is_open,
            "changes": diff(base, meaning(proposed)) if is_open else [],
            "note": files.proposal_note(),
            "history": history,
        }


def status_of(state: dict[str, Any]) -> dict[str, Any]:
    """`GET /api/status`: the agreed contract's agreement and the open proposal's, if any."""
    return {
        "agreed": state["agreed"].to_dict(),
        "open": state["open"],
        "proposal": state["proposal"].to_dict() if state["open"] else None,
        "note": state["note"] if state["open"] else "",
        "changes": state["changes"],
    }


async def get_project(request: Request) -> Project:
    return request.app.state.project


ProjectDep = Annotated[Project, Depends(get_project)]


def current_state(project: Project) -> dict[str, Any]:
    try:
        return project.state()
    except LeadscoreError as error:  # a malformed contract, proposal or approvals file
        raise ProblemError(409, str(error), kind="agreement-files") from None


def open_proposal(state: dict[str, Any]) -> Contract:
    if not state["open"]:
        raise ProblemError(
            409,
            f"there is no open proposal: contract {state['agreed_contract'].version} is agreed "
            "(start one with `leadscore contract propose`)",
            kind="no-proposal",
        )
    proposed: Contract = state["proposed_contract"]
    return proposed


def signer_key_id(public_key: str | None) -> str | None:
    """The key id of the raw Ed25519 public key the page says it signed with, if it sent one."""
    if not public_key:
        return None
    try:
        raw = base64.b64decode(public_key, validate=True)
        return keys.key_id(Ed25519PublicKey.from_public_bytes(raw))
    except (binascii.Error, ValueError):
        return None


def refusal(problem: str, claimed: str | None, public_keys: dict[str, Ed25519PublicKey]) -> str:
    """The reason a signature was refused, naming whose key signed it when it is an owner's."""
    owner_of = {keys.key_id(key): role for role, key in public_keys.items()}
    if claimed in owner_of:
        return f"{problem}: that is the {owner_of[claimed]} owner's key"
    return problem


def record_approval(project: Project, request: ApprovalRequest) -> dict[str, Any]:
    """Check a signed approval of the open proposal, store it, and adopt the proposal once both
    owners approved it. Raises ProblemError (403 refused, 409 nothing to approve or done)."""
    files = project.files
    state = current_state(project)
    proposed = open_proposal(state)
    agreement: Agreement = state["proposal"]
    public_keys = files.public_keys()
    role_key = public_keys.get(request.role)
    approval = Approval(
        role=request.role,
        owner=getattr(proposed.owners, request.role),
        contract=request.contract_hash,
        approved_at=request.approved_at,
        key_id=keys.key_id(role_key) if role_key else "none",
        signature=request.signature,
    )
    claimed = signer_key_id(request.public_key)
    as_signed = approval.model_copy(update={"key_id": claimed}) if claimed else approval
    problem = approval_problem(as_signed, proposed, public_keys)
    if problem:
        log.warning("owners' page: approval refused: %s", problem)
        raise ProblemError(403, refusal(problem, claimed, public_keys), kind="approval-refused")
    if request.role in agreement.approvals and not agreement.agreed:
        earlier = agreement.approvals[request.role]
        raise ProblemError(
            409,
            f"{earlier.owner} approved this proposal already ({earlier.approved_at})",
            kind="already-approved",
        )
    if request.role not in agreement.approvals:  # (both approved already: adopting failed)
        files.add_approval(approval)
        log.info("owners' page: %s approved contract %s", request.role, short(approval.contract))
        agreement = files.check(proposed)
    adopted = files.adopt(proposed, agreement) if agreement.agreed else None
    status = status_of(current_state(project))
    message = (
        f"Agreed: contract {adopted} is now the agreed version. " + status["agreed"]["headline"]
        if adopted
        else f"Recorded {approval.owner}'s approval. {agreement.headline()}"
    )
    return {**status, "recorded": approval.model_dump(exclude={"signature"}),
            "adopted_version": adopted, "message": message}  # fmt: skip


# --- the page --------------------------------------------------------------------------------


def page_context(project: Project, state: dict[str, Any]) -> dict[str, Any]:
    reports = owners_view.read_reports(project.root)
    agreed_contract: Contract = state["agreed_contract"]
    agreed: Agreement = state["agreed"]
    proposal: Agreement = state["proposal"]
    preview_state, preview_message = owners_view.preview_state(
        reports.proposal, proposal.contract_hash
    )
    return {
        "agreed": agreed,
        "agreed_contract": agreed_contract,
        "promises": owners_view.grade_rows(agreed_contract, reports.contract)
        + owners_view.follow_up_rows(agreed_contract, reports.follow_up),
        "report_notes": owners_view.report_notes(
            agreed.contract_hash, agreed_contract.version, reports
        ),
        "test_period": owners_view.test_period(reports.contract),
        "open": state["open"],
        "proposal": proposal,
        "note": state["note"],
        "changes": state["changes"],
        "history": state["history"],
        "preview_state": preview_state,
        "preview_message": preview_message,
        "preview": owners_view.side_by_side(reports.proposal)
        if preview_state == "ready" and reports.proposal
        else None,
        "preview_period": (reports.proposal or {}).get("test_period"),
        "roles": ROLES,
        "short": short,
        "shown": owners_view.shown_value,
    }


def content_security_policy(nonce: str) -> str:
    """Only the page's own inline style and script, and calls back to this server."""
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page(project: ProjectDep) -> HTMLResponse:
    """The page, rendered on the server; a malformed agreement file is said, not crashed on."""
    nonce = secrets.token_urlsafe(16)
    headers = {
        "Content-Security-Policy": content_security_policy(nonce),
        "Cache-Control": "no-store",
    }
    try:
        context = page_context(project, project.state())
    except LeadscoreError as error:
        context = {"error": str(error)}
    html = project.templates.get_template("owners.html.j2").render(
        nonce=nonce, root=str(project.root), **context
    )
    return HTMLResponse(html, headers=headers)


@router.get("/api/status")
def status(project: ProjectDep) -> dict[str, Any]:
    """The agreement of the agreed contract and of the open proposal (null when none)."""
    return status_of(current_state(project))


@router.get("/api/approval-message")
def message(
    project: ProjectDep,
    role: Role,
    contract_hash: Annotated[str | None, Query(pattern=r"^sha256:[0-9a-f]{64}$")] = None,
) -> dict[str, Any]:
    """The exact text the owner in `role` signs to approve the open proposal now.
    `contract_hash`: the proposal the page showed; refused (409) when it has changed since."""
    proposed = open_proposal(current_state(project))
    current = meaning_hash(proposed)
    if contract_hash is not None and contract_hash != current:
        raise ProblemError(
            409,
            f"the proposal changed since the page was loaded ({short(contract_hash)} -> "
            f"{short(current)}): reload the page and review it again",
            kind="proposal-changed",
        )
    owner, approved_at = getattr(proposed.owners, role), now_utc()
    text = approval_message(role, owner, current, approved_at).decode("utf-8")
    return {"role": role, "owner": owner, "contract_hash": current,
            "approved_at": approved_at, "message": text}  # fmt: skip


@router.post("/api/approve")
def approve(project: ProjectDep, request: ApprovalRequest) -> dict[str, Any]:
    """Record a signed approval of the open proposal; the second owner's makes it agreed."""
    with project.lock:
        try:
            return record_approval(project, request)
        except LeadscoreError as error:  # adopting failed: the approval is kept
            raise ProblemError(409, str(error), kind="agreement-files") from None


def create_owners_app(root: Path) -> FastAPI:
    """The owners' page over the project checkout at `root`."""
    app = FastAPI(
        title="leadscore: the contract owners' page",
        summary="Review the A-lead contract and approve proposals with the owner's own key.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.project = Project(Path(root).resolve())
    install_problem_handlers(app)
    app.include_router(router)
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m leadscore_serve.owners", description="The contract owners' page."
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="the project checkout")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(
            "the owners' page listens on %s: anyone who can reach it can read the contract "
            "(approvals still need each owner's key; browsers sign only on https or loopback)",
            args.host,
        )
    uvicorn.run(create_owners_app(args.root), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
