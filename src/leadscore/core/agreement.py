"""The agreement: each owner's signed approval of the contract's meaning, and what it proves.

An approval names the owner's role (sales or marketing), the owner, the time, and the SHA-256
of the contract's *meaning*: its validated content as canonical JSON (keys sorted, defaults
filled in), without `version`, the label a version gets once it is agreed. Comments, quotes and
layout do not count; any change to a promise, a field list, the gate, a profile or an owner's
name does, and voids every approval of the old content.

Each owner signs with their own Ed25519 private key (leadscore.core.keys); the public keys sit in
the repository (`agreement/keys/<role>.pub`). A training or serving host can check an approval
but cannot make one. The contract is *agreed* only when both owners' approvals of exactly this
meaning verify; anything else is a proposal, and says who has approved so far.

Pure functions here; the files (keys, approvals, history): leadscore.core.agreement_files.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import BaseModel, ConfigDict, Field

from leadscore.core import keys
from leadscore.core.contract import Contract

ROLES = ("sales", "marketing")
HASH_PREFIX = "sha256:"


def meaning(contract: Contract) -> dict[str, Any]:
    """What the owners agree to: the validated contract without its version label."""
    return contract.model_dump(mode="json", exclude={"version"})


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def meaning_hash(contract: Contract) -> str:
    """`sha256:<hex>` of the canonical JSON of the contract's meaning."""
    digest = hashlib.sha256(canonical_json(meaning(contract)).encode("utf-8")).hexdigest()
    return HASH_PREFIX + digest


def short(contract_hash: str) -> str:
    """The first 12 hex digits, for people."""
    return contract_hash.removeprefix(HASH_PREFIX)[:12]


class Approval(BaseModel):
    """One owner's signed approval of one contract meaning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    owner: str = Field(min_length=1)
    contract: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    approved_at: str  # ISO 8601, UTC
    key_id: str
    signature: str

    def message(self) -> bytes:
        return approval_message(self.role, self.owner, self.contract, self.approved_at)

    @property
    def date(self) -> str:
        return self.approved_at[:10]


def approval_message(role: str, owner: str, contract_hash: str, approved_at: str) -> bytes:
    """The exact bytes an owner signs: every field of the approval but the signature."""
    return (
        "leadscore contract approval v1\n"
        f"role: {role}\nowner: {owner}\ncontract: {contract_hash}\napproved_at: {approved_at}\n"
    ).encode()


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_approval(
    contract: Contract,
    role: str,
    private_key: Ed25519PrivateKey,
    approved_at: str | None = None,
) -> Approval:
    """The approval of `contract` by the owner in `role`, signed with their private key."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
    owner = getattr(contract.owners, role)
    stamp = approved_at or now_utc()
    contract_hash = meaning_hash(contract)
    signature = keys.sign(private_key, approval_message(role, owner, contract_hash, stamp))
    return Approval(
        role=role,
        owner=owner,
        contract=contract_hash,
        approved_at=stamp,
        key_id=keys.key_id(private_key.public_key()),
        signature=signature,
    )


def approval_problem(
    approval: Approval, contract: Contract, public_keys: dict[str, Ed25519PublicKey]
) -> str | None:
    """Why `approval` does not approve `contract`, or None when it does."""
    if approval.role not in ROLES:
        return f"an approval names the role {approval.role!r} (roles: {', '.join(ROLES)})"
    contract_hash = meaning_hash(contract)
    if approval.contract != contract_hash:
        return (
            f"{approval.role}'s approval of {approval.approved_at} is for another contract "
            f"({short(approval.contract)}), not this one ({short(contract_hash)})"
        )
    public_key = public_keys.get(approval.role)
    if public_key is None:
        return f"no public key for {approval.role} (agreement/keys/{approval.role}.pub)"
    if not keys.verifies(public_key, approval.message(), approval.signature):
        if approval.key_id != keys.key_id(public_key):
            return (
                f"{approval.role}'s approval of {approval.approved_at} is signed with another key "
                f"(key id {approval.key_id}), not the {approval.role} owner's "
                f"({keys.key_id(public_key)})"
            )
        return (
            f"{approval.role}'s approval of {approval.approved_at} does not verify with the "
            f"{approval.role} owner's key: the record was edited or forged"
        )
    owner = getattr(contract.owners, approval.role)
    if approval.owner != owner:
        return (
            f"{approval.role}'s approval names {approval.owner!r}, but the contract's "
            f"{approval.role} owner is {owner!r}"
        )
    return None


@dataclass(frozen=True)
class Agreement:
    """Whether both owners approved exactly this contract, and what to say about it."""

    contract_hash: str
    version: str
    owners: dict[str, str]
    approvals: dict[str, Approval] = field(default_factory=dict)  # valid, by role
    problems: tuple[str, ...] = ()  # approvals of this content that were refused, and why
    override: bool = False  # served although not agreed (an explicit setting)

    @property
    def agreed(self) -> bool:
        return all(role in self.approvals for role in ROLES)

    @property
    def agreed_on(self) -> str | None:
        """The day the second owner approved."""
        if not self.agreed:
            return None
        return max(approval.date for approval in self.approvals.values())

    @property
    def approved_by(self) -> list[str]:
        return [role for role in ROLES if role in self.approvals]

    @property
    def status(self) -> str:
        return "agreed" if self.agreed else "proposal"

    def headline(self) -> str:
        """One line for every report: agreed by both owners on a date, or a proposal."""
        if self.agreed:
            return (
                f"Contract {self.version}, agreed by {self.owners['sales']} and "
                f"{self.owners['marketing']} on {self.agreed_on}."
            )
        so_far = (
            "approved so far by " + " and ".join(self.approvals[r].owner for r in self.approved_by)
            if self.approvals
            else "approved by neither owner"
        )
        return (
            f"PROPOSAL: not agreed (contract {short(self.contract_hash)}, changed from "
            f"{self.version}; {so_far}). Its promises bind nobody until both "
            f"{self.owners['sales']} and {self.owners['marketing']} approve it."
        )

    def to_dict(self, signatures: bool = False) -> dict[str, Any]:
        """For reports; with `signatures`, the approvals whole, to be re-checked elsewhere."""
        exclude = None if signatures else {"signature"}
        return {
            "status": self.status,
            "agreed": self.agreed,
            "headline": self.headline(),
            "version": self.version,
            "contract_hash": self.contract_hash,
            "owners": dict(self.owners),
            "agreed_on": self.agreed_on,
            "approved_by": self.approved_by,
            "approvals": [self.approvals[r].model_dump(exclude=exclude) for r in self.approved_by],
            "problems": list(self.problems),
            "override": self.override,
        }


def check_agreement(
    contract: Contract,
    approvals: list[Approval],
    public_keys: dict[str, Ed25519PublicKey],
) -> Agreement:
    """Which owners approved exactly this contract; approvals of other contents do not count,
    approvals of this content that fail to verify are refused with the reason."""
    contract_hash = meaning_hash(contract)
    valid: dict[str, Approval] = {}
    problems: list[str] = []
    for approval in approvals:
        if approval.contract != contract_hash:
            continue  # another version's approval: history, not a problem
        problem = approval_problem(approval, contract, public_keys)
        if problem:
            problems.append(problem)
        elif approval.role not in valid or approval.approved_at < valid[approval.role].approved_at:
            valid[approval.role] = approval
    return Agreement(
        contract_hash=contract_hash,
        version=contract.version,
        owners=contract.owners.model_dump(),
        approvals=valid,
        problems=tuple(problems),
    )


def sealed_agreement(grading_record: dict[str, Any]) -> Agreement:
    """Re-check the agreement the grade stage sealed into a bundle (`grading.json`): the
    approvals it carries against the public keys it carries, for the contract it encodes. A
    bundle graded before approvals existed carries none, and is not agreed."""
    contract = Contract.model_validate(grading_record["contract"])
    record = grading_record.get("agreement") or {}
    public_keys = {
        role: keys.parse_public_key(pem, f"the bundle's {role} key")
        for role, pem in record.get("public_keys", {}).items()
    }
    approvals = [Approval.model_validate(item) for item in record.get("approvals", [])]
    agreement = check_agreement(contract, approvals, public_keys)
    if not record:
        problem = "the bundle records no approvals (graded before approvals were checked)"
        return replace(agreement, problems=(*agreement.problems, problem))
    return agreement


Change = dict[str, Any]  # {"key": "contract.grades.A.min_conversion", "from": 0.4, "to": 0.45}


def diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "contract") -> list[Change]:
    """The meaning-level changes from `old` to `new`: one row per changed key (lists whole)."""
    changes: list[Change] = []
    for key in sorted(set(old) | set(new), key=str):
        path = f"{prefix}.{key}"
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            changes += diff(before, after, path)
        elif before != after:
            changes.append({"key": path, "from": before, "to": after})
    return changes


def describe_change(change: Change) -> str:
    return f"{change['key']}: {_shown(change['from'])} -> {_shown(change['to'])}"


def _shown(value: Any) -> str:
    return "(none)" if value is None else canonical_json(value)


def next_version(current: str, taken: list[str], today: datetime | None = None) -> str:
    """`YYYY.MM-N`: the first free number of this month (after `current` and the history),
    with the prefix of `current` if it has one (`xed-2026.11-1` -> `xed-2026.12-1`)."""
    match = re.match(r"^(.*?)\d{4}\.\d{2}-\d+$", current)
    prefix = match.group(1) if match else ""
    month = prefix + (today or datetime.now(UTC)).strftime("%Y.%m")
    used = {current, *taken}
    number = 1
    while f"{month}-{number}" in used:
        number += 1
    return f"{month}-{number}"
