"""The agreement's files, beside `contract.yaml` and in git with it.

    contract.yaml              the agreed contract (its comments and layout are the owners')
    contract.proposal.yaml     the open proposal: only the keys it changes (`contract: {}`: none)
    agreement/keys/<role>.pub  each owner's Ed25519 public key (sales, marketing)
    agreement/approvals.yaml   every approval ever signed, oldest first (append only)
    agreement/history.yaml     every agreed version: label, day, approvers, changes, content

Approving a proposal as the second owner makes it the agreed version: its changed keys are
written into `contract.yaml` (only those lines change; comments and layout stay), the version
label is bumped, the proposal file is emptied and the version is added to the history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from leadscore.core import keys
from leadscore.core.agreement import (
    ROLES,
    Agreement,
    Approval,
    approval_problem,
    check_agreement,
    describe_change,
    diff,
    meaning,
    meaning_hash,
    next_version,
    sign_approval,
)
from leadscore.core.contract import Contract
from leadscore.core.params_file import (
    CONTRACT_FILE,
    PROPOSAL_FILE,
    ParamsError,
    read_proposal,
    read_yaml,
    with_proposal,
)
from leadscore.core.yaml_edit import edit_contract_file, write_yaml

log = logging.getLogger(__name__)

AGREEMENT_DIR = "agreement"
EMPTY_PROPOSAL = (
    "# The open proposal to change the agreed contract (contract.yaml): only the keys it\n"
    "# changes, e.g. `grades: {A: {min_conversion: 0.45}}`. Empty: no proposal. Start one with\n"
    "# `leadscore contract propose`, or with an experiment:\n"
    "#   dvc exp run -S 'contract.proposal.yaml:+contract.grades.A.min_conversion=0.45'\n"
    "# See docs/contract.md: both owners approve it before it binds anyone.\n"
    "contract: {}\n"
)


class AgreementError(ParamsError):
    """An agreement file is missing, malformed, or an approval cannot be made."""


@dataclass(frozen=True)
class AgreementFiles:
    """The agreement files of the project whose `params.yaml` is in `root`."""

    root: Path

    @classmethod
    def beside(cls, params_path: Path | str) -> AgreementFiles:
        return cls(Path(params_path).resolve().parent)

    @property
    def contract_path(self) -> Path:
        return self.root / CONTRACT_FILE

    @property
    def proposal_path(self) -> Path:
        return self.root / PROPOSAL_FILE

    @property
    def keys_dir(self) -> Path:
        return self.root / AGREEMENT_DIR / "keys"

    @property
    def approvals_path(self) -> Path:
        return self.root / AGREEMENT_DIR / "approvals.yaml"

    @property
    def history_path(self) -> Path:
        return self.root / AGREEMENT_DIR / "history.yaml"

    # --- reading ---------------------------------------------------------------------------

    def public_key_pems(self) -> dict[str, str]:
        return {
            role: (self.keys_dir / f"{role}.pub").read_text()
            for role in ROLES
            if (self.keys_dir / f"{role}.pub").is_file()
        }

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {
            role: keys.parse_public_key(pem, str(self.keys_dir / f"{role}.pub"))
            for role, pem in self.public_key_pems().items()
        }

    def approvals(self) -> list[Approval]:
        entries = _list_in(self.approvals_path, "approvals")
        approvals = []
        for index, entry in enumerate(entries):
            try:
                approvals.append(Approval.model_validate(entry))
            except ValidationError as error:
                problem = "; ".join(
                    f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
                    for item in error.errors()
                )
                raise AgreementError(
                    f"{self.approvals_path}: approvals[{index}] is malformed ({problem})"
                ) from None
        return approvals

    def history(self) -> list[dict[str, Any]]:
        return _list_in(self.history_path, "versions")

    def agreed_contract(self) -> Contract:
        """`contract.yaml` alone: the agreed contract, without the open proposal."""
        raw = read_yaml(self.contract_path) or {}
        return _contract(raw.get("contract"), str(self.contract_path))

    def proposal_changes(self) -> dict[str, Any]:
        return read_proposal(self.root / "params.yaml")

    def proposal_note(self) -> str:
        """Why the proposal was made, as its author wrote it (`proposal: {note: ...}`)."""
        if not self.proposal_path.is_file():
            return ""
        raw = read_yaml(self.proposal_path) or {}
        meta = raw.get("proposal") if isinstance(raw, dict) else None
        return str(meta.get("note", "")) if isinstance(meta, dict) else ""

    def proposed_contract(self) -> Contract:
        """The agreed contract with the proposal's changed keys."""
        raw = read_yaml(self.contract_path) or {}
        merged = with_proposal(raw.get("contract") or {}, self.proposal_changes())
        return _contract(merged, f"{self.contract_path} + {self.proposal_path}")

    def meaning_of(self, label: str) -> dict[str, Any]:
        """The meaning of `agreed` (contract.yaml), `proposal` (with the open proposal) or an
        agreed version of the history, by its label."""
        if label == "agreed":
            return meaning(self.agreed_contract())
        if label == "proposal":
            return meaning(self.proposed_contract())
        versions: dict[str, dict[str, Any]] = {
            entry["version"]: entry["contract"] for entry in self.history()
        }
        if label not in versions:
            known = ", ".join(["agreed", "proposal", *versions])
            raise AgreementError(f"no contract {label!r} (known: {known})")
        return versions[label]

    def check(self, contract: Contract) -> Agreement:
        """Whether both owners approved exactly `contract`."""
        return check_agreement(contract, self.approvals(), self.public_keys())

    def sealed_record(self, contract: Contract) -> dict[str, Any]:
        """What the bundle carries: the agreement and the public keys to re-check it with."""
        agreement = self.check(contract).to_dict(signatures=True)
        return {**agreement, "public_keys": self.public_key_pems()}

    # --- writing ---------------------------------------------------------------------------

    def add_approval(self, approval: Approval) -> None:
        entries = _list_in(self.approvals_path, "approvals")
        entries.append(approval.model_dump())
        write_yaml(
            self.approvals_path,
            "# Owners' signed approvals of the contract's meaning, oldest first (append only).\n"
            "# Written by `leadscore contract approve`; an edited record no longer verifies.\n",
            {"approvals": entries},
        )

    def record_version(self, contract: Contract, agreement: Agreement) -> dict[str, Any]:
        """Add an agreed version to the history, with its changes from the one before."""
        versions = self.history()
        previous = versions[-1]["contract"] if versions else {}
        entry = {
            "version": contract.version,
            "agreed_on": agreement.agreed_on,
            "contract_hash": agreement.contract_hash,
            "approved_by": {role: agreement.approvals[role].owner for role in ROLES},
            "changes": diff(previous, meaning(contract)) if versions else [],
            "contract": meaning(contract),
        }
        versions.append(entry)
        write_yaml(
            self.history_path,
            "# Every agreed version of the contract, oldest first, with the changes from the\n"
            "# one before. Written by `leadscore contract approve`; read: `leadscore contract\n"
            "# history`.\n",
            {"versions": versions},
        )
        return entry

    def start_proposal(self, changes: dict[str, Any], note: str = "") -> None:
        """Write the proposal file: the changed keys only."""
        header = EMPTY_PROPOSAL.rsplit("contract: {}\n", 1)[0]
        body: dict[str, Any] = {"contract": changes}
        if note:
            body = {"proposal": {"note": note}, **body}
        write_yaml(self.proposal_path, header, body)

    def close_proposal(self) -> None:
        self.proposal_path.write_text(EMPTY_PROPOSAL)

    def adopt(self, proposed: Contract, agreement: Agreement) -> str:
        """Make an approved proposal the agreed contract: its changed keys and a new version
        label in `contract.yaml` (comments and layout kept), the history, an empty proposal."""
        if not agreement.agreed:
            raise AgreementError("only a proposal both owners approved can become the agreement")
        version = next_version(proposed.version, [v["version"] for v in self.history()])
        changes = {**self.proposal_changes(), "version": version}
        edit_contract_file(self.contract_path, changes)
        adopted = self.agreed_contract()
        if meaning_hash(adopted) != agreement.contract_hash:
            raise AgreementError(
                f"{self.contract_path} after the edit is not the approved content: check it "
                "by hand (git diff) before committing"
            )
        self.record_version(adopted, agreement)
        self.close_proposal()
        return version


def _contract(raw: Any, source: str) -> Contract:
    try:
        return Contract.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"contract.{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise AgreementError(f"{source} is not a valid contract: {problems}") from None


def _list_in(path: Path, key: str) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    raw = read_yaml(path) or {}
    entries = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise AgreementError(f"{path} must hold a list under `{key}:`")
    return [dict(entry) for entry in entries]


# --- the owners' commands (leadscore contract ...) ----------------------------------------


def _set_path(target: Any, path: list[str], value: Any) -> None:
    """Set `value` at a dotted path; a number indexes a list (`promises.A.0.min_share`)."""
    head, rest = path[0], path[1:]
    if isinstance(target, list):
        if not head.isdigit() or int(head) >= len(target):
            raise AgreementError(f"no item {head} in the list at this key")
        index = int(head)
        if rest:
            _set_path(target[index], rest, value)
        else:
            target[index] = value
        return
    if not isinstance(target, dict):
        raise AgreementError(f"{head}: the key above it is not a mapping")
    if rest:
        target.setdefault(head, {})
        _set_path(target[head], rest, value)
    else:
        target[head] = value


def overlay_of(agreed: dict[str, Any], proposed: dict[str, Any]) -> dict[str, Any]:
    """The smallest overlay that turns `agreed` into `proposed`: only the changed keys (a
    changed list is given whole)."""
    changes: dict[str, Any] = {}
    for key, value in proposed.items():
        before = agreed.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            inner = overlay_of(before, value)
            if inner:
                changes[key] = inner
        elif value != before:
            changes[key] = value
    return changes


def propose(files: AgreementFiles, assignments: list[str], note: str = "") -> list[str]:
    """Add `KEY=VALUE` changes (values in YAML) to the open proposal; returns the proposal's
    changes from the agreed contract, in words. The proposed contract must be valid."""
    import copy

    from ruamel.yaml import YAML

    agreed_raw = (read_yaml(files.contract_path) or {}).get("contract") or {}
    proposed_raw = copy.deepcopy(with_proposal(agreed_raw, files.proposal_changes()))
    for item in assignments:
        key, sep, text = item.partition("=")
        path = [p for p in key.strip().removeprefix("contract.").split(".") if p]
        if not sep or not path:
            raise AgreementError(f"{item!r}: write KEY=VALUE, e.g. grades.A.min_conversion=0.45")
        if path == ["version"]:
            raise AgreementError("the version label is set when both owners approve")
        _set_path(proposed_raw, path, YAML(typ="safe", pure=True).load(text))
    proposed = _contract(proposed_raw, "the proposed contract")
    agreed = _contract(agreed_raw, str(files.contract_path))
    changes = diff(meaning(agreed), meaning(proposed))
    if not changes:
        raise AgreementError("the proposal changes nothing of the agreed contract's meaning")
    files.start_proposal(overlay_of(agreed_raw, proposed_raw), note or files.proposal_note())
    return [describe_change(change) for change in changes]


def _demo_key(files: AgreementFiles, role: str, key_id: str) -> bool:
    demo = files.root / AGREEMENT_DIR / "demo-keys" / f"{role}.key"
    return demo.is_file() and keys.key_id(keys.read_private_key(demo).public_key()) == key_id


def approve(files: AgreementFiles, role: str, key_path: Path) -> dict[str, Any]:
    """Sign the contract in force (the agreed one with the open proposal) as `role`; when both
    owners have, it becomes the agreed version. The key must be the role's own."""
    if role not in ROLES:
        raise AgreementError(f"--as must be one of {', '.join(ROLES)} (got {role!r})")
    private = keys.read_private_key(key_path)
    public = files.public_keys().get(role)
    if public is None:
        raise AgreementError(
            f"no public key for {role} in {files.keys_dir} (make one: `leadscore contract "
            f"keygen --as {role} --out <private key file>`)"
        )
    signing_id, owner_id = keys.key_id(private.public_key()), keys.key_id(public)
    if signing_id != owner_id:
        raise AgreementError(
            f"{key_path} (key id {signing_id}) is not the {role} owner's key "
            f"({files.keys_dir / (role + '.pub')}, key id {owner_id}): approval refused"
        )
    warnings = []
    if _demo_key(files, role, signing_id):
        warnings.append(
            f"{key_path} is a DEMO key published in the repository: an approval with it proves "
            "nothing. A real team makes its own keys (docs/contract.md)."
        )
    proposed = files.proposed_contract()
    before = files.check(proposed)
    if role in before.approvals:
        message = f"{role} approved this contract already on {before.approvals[role].date}"
        return {"agreed": before.agreed, "message": message, "warnings": warnings}
    approval = sign_approval(proposed, role, private)
    problem = approval_problem(approval, proposed, files.public_keys())
    if problem:
        raise AgreementError(f"approval refused: {problem}")
    files.add_approval(approval)
    after = files.check(proposed)
    if not after.agreed:
        waiting = next(r for r in ROLES if r not in after.approvals)
        message = (
            f"approved by {approval.owner}; not agreed until {after.owners[waiting]} "
            f"({waiting}) approves it too"
        )
        return {"agreed": False, "message": message, "warnings": warnings}
    version = files.adopt(proposed, after)
    message = (
        f"agreed: version {version}, approved by {after.owners['sales']} and "
        f"{after.owners['marketing']} on {after.agreed_on}. contract.yaml holds it now; commit "
        "contract.yaml, contract.proposal.yaml and agreement/, then re-grade (`dvc repro`)."
    )
    return {"agreed": True, "version": version, "message": message, "warnings": warnings}


def make_owner_key(files: AgreementFiles, role: str, out: Path) -> Path:
    """A new key pair for `role`: private key at `out`, public key in agreement/keys/."""
    if role not in ROLES:
        raise AgreementError(f"--as must be one of {', '.join(ROLES)} (got {role!r})")
    public_path = files.keys_dir / f"{role}.pub"
    keys.write_key_pair(out, public_path)
    return public_path
