"""The owners' page app in-process (FastAPI's TestClient), with approvals signed in Python the
way the page signs them: a forged approval is refused with the reason and changes nothing; one
owner alone never makes a proposal agreed; the page says when a report is missing or stale.
The browser itself is tested in tests/e2e/test_owners_page.py."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from owners_project import CHANGED_KEY, make_owners_project, write_reports

from leadscore.core import keys
from leadscore.core.agreement import approval_message, meaning_hash, sign_approval
from leadscore_serve.owners import create_owners_app

STAMP = "2026-12-01T10:00:00Z"


@pytest.fixture
def project(tmp_path):
    return make_owners_project(tmp_path / "project")


@pytest.fixture
def client(project):
    return TestClient(create_owners_app(project.root))


def raw_public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def signed(project, role, key=None, contract_hash=None, with_public_key=True) -> dict:
    """An approval request as the page sends it: the signature of the approval message."""
    key = key or project.private_keys[role]
    contract_hash = contract_hash or meaning_hash(project.proposed())
    owner = getattr(project.proposed().owners, role)
    message = approval_message(role, owner, contract_hash, STAMP)
    body = {
        "role": role,
        "approved_at": STAMP,
        "contract_hash": contract_hash,
        "signature": keys.sign(key, message),
    }
    if with_public_key:
        body["public_key"] = raw_public(key)
    return body


def refused(client, project, body: dict) -> str:
    """The 403's reason; the approvals and the contract are as they were."""
    contract = (project.root / "contract.yaml").read_bytes()
    approvals = project.files.approvals_path.read_bytes()
    answer = client.post("/api/approve", json=body)
    assert answer.status_code == 403, answer.text
    assert answer.json()["type"] == "urn:leadscore:problem:approval-refused"
    assert project.files.approvals_path.read_bytes() == approvals
    assert (project.root / "contract.yaml").read_bytes() == contract
    return answer.json()["detail"]


def test_status_names_the_open_proposal_its_change_and_the_agreed_version(client, project):
    status = client.get("/api/status").json()
    assert status["agreed"]["agreed"] and status["agreed"]["version"] == "2026.11-1"
    assert status["agreed"]["agreed_on"] == "2026-11-02"
    assert status["open"] and status["proposal"]["approved_by"] == []
    assert status["proposal"]["contract_hash"] == meaning_hash(project.proposed())
    assert status["changes"] == [{"key": CHANGED_KEY, "from": 700, "to": 900}]
    assert status["note"] == "sales hired two reps: raise A capacity"


def test_the_approval_message_is_exactly_what_the_owner_signs(client, project):
    asked = client.get("/api/approval-message", params={"role": "marketing"}).json()
    proposed = project.proposed()
    assert asked["contract_hash"] == meaning_hash(proposed)
    assert asked["owner"] == "Sam Okafor, VP Marketing"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", asked["approved_at"])
    expected = approval_message(
        "marketing", asked["owner"], asked["contract_hash"], asked["approved_at"]
    )
    assert asked["message"].encode() == expected
    signature = keys.sign(project.private_keys["marketing"], asked["message"].encode())
    body = {"role": "marketing", "approved_at": asked["approved_at"],
            "contract_hash": asked["contract_hash"], "signature": signature}  # fmt: skip
    answer = client.post("/api/approve", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["proposal"]["approved_by"] == ["marketing"]


def test_an_edited_signature_is_refused(client, project):
    body = signed(project, "sales")
    raw = bytearray(base64.b64decode(body["signature"]))
    raw[10] ^= 0x01
    detail = refused(client, project, {**body, "signature": base64.b64encode(raw).decode()})
    assert "does not verify with the sales owner's key" in detail and "edited" in detail


def test_an_approval_edited_after_signing_is_refused(client, project):
    body = {**signed(project, "sales"), "approved_at": "2026-12-01T10:00:01Z"}
    assert "the record was edited or forged" in refused(client, project, body)


def test_the_other_owners_key_is_refused_and_named(client, project):
    body = signed(project, "sales", key=project.private_keys["marketing"])
    detail = refused(client, project, body)
    assert "sales's approval" in detail and "signed with another key" in detail
    assert detail.endswith("that is the marketing owner's key")


def test_a_key_of_no_owner_is_refused(client, project):
    stranger = keys.new_private_key()
    detail = refused(client, project, signed(project, "marketing", key=stranger))
    assert f"key id {keys.key_id(stranger.public_key())}" in detail
    assert "not the marketing owner's" in detail and "that is the" not in detail
    # without the public key the page sends, the signature simply does not verify
    bare = signed(project, "marketing", key=stranger, with_public_key=False)
    assert "does not verify with the marketing owner's key" in refused(client, project, bare)


def test_an_approval_of_another_contract_hash_is_refused(client, project):
    agreed_hash = meaning_hash(project.agreed())
    detail = refused(client, project, signed(project, "sales", contract_hash=agreed_hash))
    assert "is for another contract" in detail and agreed_hash[7:19] in detail


def test_a_private_key_is_never_accepted_in_a_request(client, project):
    body = {**signed(project, "sales"), "private_key": project.private_pem("sales")}
    answer = client.post("/api/approve", json=body)
    assert answer.status_code == 422
    assert len(project.files.approvals()) == 2  # the first version's two, nothing added
    assert "PRIVATE KEY" not in answer.text


def test_one_owner_alone_never_makes_it_agreed_both_do(client, project):
    contract_before = (project.root / "contract.yaml").read_bytes()
    first = client.post("/api/approve", json=signed(project, "sales"))
    assert first.status_code == 200, first.text
    assert first.json()["adopted_version"] is None
    assert "approved so far by Dana Reyes, VP Sales" in first.json()["proposal"]["headline"]
    assert (project.root / "contract.yaml").read_bytes() == contract_before
    again = client.post("/api/approve", json=signed(project, "sales"))
    assert again.status_code == 409 and "already" in again.json()["detail"]
    assert len(project.files.approvals()) == 3

    second = client.post("/api/approve", json=signed(project, "marketing")).json()
    version = second["adopted_version"]
    assert version and version != "2026.11-1" and not second["open"]
    assert second["agreed"]["agreed"] and second["agreed"]["version"] == version
    assert project.agreed().grades.A.max_leads_per_month == 900
    assert [v["version"] for v in project.files.history()] == ["2026.11-1", version]
    assert project.files.proposal_changes() == {}
    nothing = client.get("/api/approval-message", params={"role": "sales"})
    assert nothing.status_code == 409 and "no open proposal" in nothing.json()["detail"]


def test_a_message_for_a_proposal_changed_since_the_page_loaded_is_refused(client, project):
    shown = meaning_hash(project.proposed())
    project.files.start_proposal({"grades": {"A": {"max_leads_per_month": 950}}})
    answer = client.get("/api/approval-message", params={"role": "sales", "contract_hash": shown})
    assert answer.status_code == 409 and "reload the page" in answer.json()["detail"]


def test_the_page_shows_promises_proposal_preview_and_loads_nothing_from_elsewhere(client):
    answer = client.get("/")
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    html = answer.text
    assert html.count(f'nonce="{nonce}"') == 2  # the one style and the one script
    assert re.findall(r"""(?:src|href)\s*=\s*["'][a-z]+://""", html) == []
    assert "A leads convert at 40 % or more" in html and "68.6 % (95 % interval" in html
    assert "at least 80 % of B leads are worked within 5 days" in html
    assert CHANGED_KEY in html and "B then converts at 22.2 %" in html
    assert 'id="approve-button-sales"' in html and 'id="approve-button-marketing"' in html


def test_the_page_says_when_reports_are_missing_and_when_the_preview_is_stale(tmp_path):
    project = make_owners_project(tmp_path / "project", reports=False)
    client = TestClient(create_owners_app(project.root))
    html = client.get("/").text
    assert "reports/contract.json is missing: run `make run`" in html
    assert "reports/follow_up.json is missing" in html and "no contract report" in html
    assert "No impact preview yet (reports/proposal.json): run `leadscore contract preview`" in html

    write_reports(project)
    project.files.start_proposal({"grades": {"A": {"max_leads_per_month": 950}}})
    html = client.get("/").text
    assert "The impact preview is stale" in html and "`leadscore contract preview`" in html
    assert 'id="preview-grades"' not in html  # no figures of another proposal


def test_a_report_made_under_another_contract_is_said(client, project):
    path = project.root / "reports" / "contract.json"
    path.write_text(path.read_text().replace(meaning_hash(project.agreed()), "sha256:" + "0" * 64))
    assert "was made under contract 000000000000, not the agreed version" in client.get("/").text


def test_malformed_agreement_files_are_said_not_crashed_on(client, project):
    project.files.approvals_path.write_text("approvals:\n- role: sales\n")
    assert "The agreement files cannot be read" in client.get("/").text
    answer = client.get("/api/status")
    assert answer.status_code == 409 and "approvals[0] is malformed" in answer.json()["detail"]


def test_a_hand_edit_of_contract_yaml_is_a_proposal_both_owners_can_agree(client, project):
    path = project.root / "contract.yaml"
    project.files.close_proposal()
    path.write_text(
        path.read_text().replace("max_leads_per_month: 700", "max_leads_per_month: 1000")
    )
    status = client.get("/api/status").json()
    assert not status["agreed"]["agreed"] and status["open"]
    assert status["changes"] == [{"key": CHANGED_KEY, "from": 700, "to": 1000}]
    assert "contract.yaml: not agreed" in client.get("/").text

    for role in ("sales", "marketing"):
        answer = client.post("/api/approve", json=signed(project, role))
        assert answer.status_code == 200, answer.text
    version = answer.json()["adopted_version"]
    assert answer.json()["agreed"]["agreed"] and answer.json()["agreed"]["version"] == version
    assert f'version: "{version}"' in path.read_text()
    assert project.files.history()[-1]["changes"] == status["changes"]


def test_a_proposal_both_approved_but_not_yet_adopted_is_adopted_on_the_next_approval(
    client, project
):
    proposed = project.proposed()
    for role in ("sales", "marketing"):  # recorded, but adopting never ran (e.g. it failed)
        project.files.add_approval(sign_approval(proposed, role, project.private_keys[role]))
    assert client.get("/api/status").json()["open"]
    answer = client.post("/api/approve", json=signed(project, "sales"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["adopted_version"] and not answer.json()["open"]
    assert len(project.files.approvals()) == 4  # nothing added twice
