"""The agreement: approvals bound to the contract's meaning, signed by each owner's own key.

Each forgery (an edited record, another key, an approval of other content) is refused with a
message that says which; a proposal becomes the agreed version only with both approvals, and then
only the changed lines of contract.yaml change.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
import yaml

from leadscore.core import keys
from leadscore.core.agreement import (
    check_agreement,
    meaning_hash,
    sealed_agreement,
    sign_approval,
)
from leadscore.core.agreement_files import AgreementError, AgreementFiles, approve, propose
from leadscore.core.config import load_params
from leadscore.core.contract import Contract
from leadscore.core.params_file import ParamsError, read_yaml

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def owner_keys():
    return {role: keys.new_private_key() for role in ("sales", "marketing")}


@pytest.fixture()
def contract() -> Contract:
    return Contract.model_validate(read_yaml(ROOT / "contract.yaml")["contract"])


def public(owner_keys) -> dict:
    return {role: key.public_key() for role, key in owner_keys.items()}


def test_meaning_ignores_layout_comments_quotes_and_the_version_label(tmp_path, contract):
    text = (ROOT / "contract.yaml").read_text()
    reformatted = yaml.safe_dump(yaml.safe_load(text), default_flow_style=True, width=60)
    assert "#" not in reformatted
    same = Contract.model_validate(yaml.safe_load(reformatted)["contract"])
    assert meaning_hash(same) == meaning_hash(contract)
    relabelled = contract.model_copy(update={"version": "2099.01-7"})
    assert meaning_hash(relabelled) == meaning_hash(contract)


def test_any_change_of_content_changes_the_meaning(contract):
    raw = contract.model_dump(mode="json")
    raw["grades"]["A"]["max_leads_per_month"] = 1000
    assert meaning_hash(Contract.model_validate(raw)) != meaning_hash(contract)
    raw = contract.model_dump(mode="json")
    raw["owners"]["sales"] = "Someone Else"
    assert meaning_hash(Contract.model_validate(raw)) != meaning_hash(contract)


def test_both_owners_make_it_agreed_one_alone_does_not(contract, owner_keys):
    sales = sign_approval(contract, "sales", owner_keys["sales"], "2026-12-01T10:00:00Z")
    alone = check_agreement(contract, [sales], public(owner_keys))
    assert not alone.agreed
    assert alone.headline().startswith("PROPOSAL: not agreed")
    assert "approved so far by Dana Reyes, VP Sales" in alone.headline()
    marketing = sign_approval(
        contract, "marketing", owner_keys["marketing"], "2026-12-03T08:00:00Z"
    )
    both = check_agreement(contract, [sales, marketing], public(owner_keys))
    assert both.agreed and both.agreed_on == "2026-12-03"
    assert both.headline() == (
        f"Contract {contract.version}, agreed by Dana Reyes, VP Sales and Sam Okafor, "
        "VP Marketing on 2026-12-03."
    )


def test_a_change_voids_both_approvals(contract, owner_keys):
    approvals = [sign_approval(contract, role, key) for role, key in owner_keys.items()]
    raw = contract.model_dump(mode="json")
    raw["grades"]["A"]["min_conversion"] = 0.45
    changed = Contract.model_validate(raw)
    agreement = check_agreement(changed, approvals, public(owner_keys))
    assert not agreement.agreed and agreement.approvals == {}
    assert "approved by neither owner" in agreement.headline()


def test_an_edited_approval_is_refused(contract, owner_keys):
    good = sign_approval(contract, "sales", owner_keys["sales"], "2026-12-01T10:00:00Z")
    edited = good.model_copy(update={"approved_at": "2026-11-01T10:00:00Z"})
    agreement = check_agreement(contract, [edited], public(owner_keys))
    assert not agreement.approvals
    assert agreement.problems == (
        "sales's approval of 2026-11-01T10:00:00Z does not verify with the sales owner's key: "
        "the record was edited or forged",
    )


def test_an_approval_signed_with_another_key_is_refused(contract, owner_keys):
    intruder = keys.new_private_key()
    forged = sign_approval(contract, "sales", intruder, "2026-12-01T10:00:00Z")
    agreement = check_agreement(contract, [forged], public(owner_keys))
    assert not agreement.approvals
    (problem,) = agreement.problems
    assert "is signed with another key" in problem
    assert keys.key_id(intruder.public_key()) in problem
    # marketing's own key does not sign for sales either
    crossed = sign_approval(contract, "sales", owner_keys["marketing"])
    assert "another key" in check_agreement(contract, [crossed], public(owner_keys)).problems[0]


def test_an_approval_of_another_content_is_refused(contract, owner_keys):
    raw = contract.model_dump(mode="json")
    raw["grades"]["A"]["min_conversion"] = 0.45
    other = Contract.model_validate(raw)
    approval = sign_approval(other, "sales", owner_keys["sales"])
    # moved onto this contract by editing its hash: the signature no longer verifies
    moved = approval.model_copy(update={"contract": meaning_hash(contract)})
    agreement = check_agreement(contract, [approval, moved], public(owner_keys))
    assert not agreement.approvals
    assert agreement.problems[0].endswith("the record was edited or forged")
    # the untouched approval simply approves the other content
    assert check_agreement(other, [approval], public(owner_keys)).approvals


def test_an_approval_naming_another_owner_is_refused(contract, owner_keys):
    raw = contract.model_dump(mode="json")
    raw["owners"]["sales"] = "Someone Else"
    renamed = Contract.model_validate(raw)
    approval = sign_approval(renamed, "sales", owner_keys["sales"])
    forged = approval.model_copy(update={"owner": "Dana Reyes, VP Sales"})
    problems = check_agreement(renamed, [forged], public(owner_keys)).problems
    assert "edited or forged" in problems[0]


def test_a_sealed_agreement_is_rechecked_from_its_own_approvals(contract, owner_keys):
    from leadscore.core.keys import public_pem

    approvals = [sign_approval(contract, role, key) for role, key in owner_keys.items()]
    agreement = check_agreement(contract, approvals, public(owner_keys))
    record = {
        "contract": contract.model_dump(mode="json"),
        "agreement": {
            **agreement.to_dict(signatures=True),
            "public_keys": {r: public_pem(k.public_key()).decode() for r, k in owner_keys.items()},
        },
    }
    assert sealed_agreement(record).agreed
    # a grading record whose contract was edited after sealing is not agreed
    record["contract"]["grades"]["A"]["min_conversion"] = 0.45
    assert not sealed_agreement(record).agreed
    # a bundle from before approvals existed is not agreed, and says why
    old = sealed_agreement({"contract": contract.model_dump(mode="json")})
    assert not old.agreed and "records no approvals" in old.problems[0]


# --- the files: propose, approve, adopt -------------------------------------------------------


@pytest.fixture()
def project(tmp_path, owner_keys) -> Path:
    """A project with the built-in contract agreed by two fresh (non-demo) owner keys."""
    for name in ("params.yaml", "contract.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    files = AgreementFiles(tmp_path)
    for role, key in owner_keys.items():
        (tmp_path / f"{role}.key").write_bytes(keys.private_pem(key))
        files.keys_dir.mkdir(parents=True, exist_ok=True)
        (files.keys_dir / f"{role}.pub").write_bytes(keys.public_pem(key.public_key()))
    contract = files.agreed_contract()
    for role, key in owner_keys.items():
        files.add_approval(sign_approval(contract, role, key, "2026-11-02T09:00:00Z"))
    files.record_version(contract, files.check(contract))
    files.close_proposal()
    return tmp_path


def test_a_proposal_never_touches_the_agreed_file(project):
    before = (project / "contract.yaml").read_bytes()
    files = AgreementFiles(project)
    changed = propose(files, ["grades.A.min_conversion=0.45"], note="raise the A floor")
    assert changed == ["contract.grades.A.min_conversion: 0.4 -> 0.45"]
    assert (project / "contract.yaml").read_bytes() == before
    overlay = read_yaml(files.proposal_path)
    assert overlay == {
        "proposal": {"note": "raise the A floor"},
        "contract": {"grades": {"A": {"min_conversion": 0.45}}},
    }
    # the pipeline reads the contract in force: agreed file + proposal
    params = load_params(project / "params.yaml")
    assert params.contract.grades.A.min_conversion == 0.45
    assert not files.check(params.contract).agreed


def test_a_proposal_is_validated_and_names_the_key(project):
    files = AgreementFiles(project)
    with pytest.raises(AgreementError, match="contract.grades: .* decrease from A to B"):
        propose(files, ["grades.B.min_conversion=0.9"])  # above A's
    with pytest.raises(AgreementError, match="contract.grades.A.max_leads_per_month: Input"):
        propose(files, ["grades.A.max_leads_per_month=many"])
    with pytest.raises(AgreementError, match="changes nothing"):
        propose(files, ["grades.A.min_conversion=0.40"])
    with pytest.raises(AgreementError, match="KEY=VALUE"):
        propose(files, ["grades.A.min_conversion"])


def test_approval_as_both_owners_makes_it_the_agreed_version(project):
    files = AgreementFiles(project)
    before = (project / "contract.yaml").read_text()
    propose(files, ["grades.A.max_leads_per_month=1000"])
    with pytest.raises(AgreementError, match="is not the sales owner's key"):
        approve(files, "sales", project / "marketing.key")
    first = approve(files, "sales", project / "sales.key")
    assert not first["agreed"]
    assert "not agreed until Sam Okafor, VP Marketing (marketing) approves" in first["message"]
    assert (project / "contract.yaml").read_text() == before
    second = approve(files, "marketing", project / "marketing.key")
    assert second["agreed"], second
    after = (project / "contract.yaml").read_text()
    changed = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == [
        '-  version: "2026.11-1"',
        f'+  version: "{second["version"]}"',
        "-      max_leads_per_month: 700",
        "+      max_leads_per_month: 1000",
    ]
    agreed = files.agreed_contract()
    assert files.check(agreed).agreed
    assert files.proposal_changes() == {}
    history = files.history()
    assert [v["version"] for v in history] == ["2026.11-1", second["version"]]
    assert history[1]["changes"] == [
        {"key": "contract.grades.A.max_leads_per_month", "from": 700, "to": 1000}
    ]


def test_a_hand_edit_is_a_proposal(project):
    path = project / "contract.yaml"
    path.write_text(
        path.read_text().replace("max_leads_per_month: 700", "max_leads_per_month: 1000")
    )
    params = load_params(project / "params.yaml")
    agreement = AgreementFiles(project).check(params.contract)
    assert not agreement.agreed
    assert agreement.headline().startswith("PROPOSAL: not agreed")


def test_typed_agreement_is_refused_with_the_way_forward(tmp_path):
    raw = read_yaml(ROOT / "contract.yaml")["contract"]
    raw["agreed_by"] = {"sales_owner": "x", "marketing_owner": "y", "date": "2026-11-02"}
    with pytest.raises(ValueError, match="agreed_by is no longer typed in"):
        Contract.model_validate(raw)


def test_the_proposal_file_must_hold_only_changed_keys(project):
    (project / "contract.proposal.yaml").write_text("grades: {A: {min_conversion: 0.5}}\n")
    with pytest.raises(ParamsError, match="holds `contract:`"):
        load_params(project / "params.yaml")


def test_a_first_proposal_with_nothing_agreed_yet_is_reported(tmp_path):
    from leadscore.views.proposal import render_markdown

    preview = {
        "open": True,
        "agreed": None,
        "headline": "No agreed version yet: this is the first proposal.",
        "proposal": {"agreement": {"headline": "PROPOSAL: not agreed (...)"}},
    }
    text = render_markdown(preview)
    assert "No agreed version yet" in text and "PROPOSAL: not agreed" in text
