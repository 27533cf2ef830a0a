"""Supply chain (issue 26): bundles are signed with an Ed25519 private key that stays on the
sealing host; the service holds only the public key, and refuses a tampered bundle, one signed
with another key, an old HMAC-signed one, and a rollback below the minimum model version."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil

import pytest
from conftest import ADMIN_KEY, API_KEY

from leadscore.core.keys import key_id, read_public_key, write_key_pair
from leadscore.model.bundle import (
    BUNDLE_FILES,
    CARD_FILE,
    GRADING_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    SIGNATURE_FILE,
    seal_bundle,
    write_manifest,
)

pytestmark = pytest.mark.server
AUTH = {"X-API-Key": API_KEY}
ADMIN = {"X-Admin-Key": ADMIN_KEY}
ONE_LEAD = {"leads": [{"lead_id": "sc-1", "channel": "webinar"}]}


@pytest.fixture()
def serving_host(tmp_path, tiny_bundle_dir, bundle_key_for_tests):
    """A bundle and the settings of a host that holds the public key only: no private key
    at the configured path, an empty config directory."""
    bundle = shutil.copytree(tiny_bundle_dir, tmp_path / "models")
    public = tmp_path / "serving" / "bundle.pub"
    public.parent.mkdir()
    shutil.copy(bundle_key_for_tests.with_suffix(".pub"), public)
    settings = {
        "bundle_signing_key_file": tmp_path / "serving" / "no-private.key",
        "bundle_public_key_file": public,
    }
    return bundle, settings


def reload(client) -> tuple[int, str]:
    answer = client.post("/admin/reload", headers=ADMIN)
    return answer.status_code, answer.text


def resealed_as(bundle, version: str) -> None:
    """The bundle as another model version, sealed with the session's (the true) key."""
    card = json.loads((bundle / CARD_FILE).read_text())
    grading = json.loads((bundle / GRADING_FILE).read_text())
    card["model_version"] = grading["model_version"] = version
    (bundle / CARD_FILE).write_text(json.dumps(card))
    seal_bundle(bundle, grading)


def test_the_service_needs_no_private_key(serving_host, start_server, tmp_path):
    bundle, settings = serving_host
    server = start_server(bundle, **settings)
    assert server.client.post("/v1/score", json=ONE_LEAD, headers=AUTH).status_code == 200
    assert reload(server.client)[0] == 200
    assert not (tmp_path / "serving" / "no-private.key").exists()  # none read, none created
    assert sorted(p.name for p in (tmp_path / "serving").iterdir()) == ["bundle.pub"]
    signed = json.loads((bundle / SIGNATURE_FILE).read_text())
    public = read_public_key(settings["bundle_public_key_file"])
    assert signed["algorithm"] == "Ed25519" and signed["key_id"] == key_id(public)


def test_tampered_foreign_and_hmac_bundles_are_refused(serving_host, start_server, tmp_path):
    bundle, settings = serving_host
    server = start_server(bundle, **settings)
    client = server.client
    original = {name: (bundle / name).read_bytes() for name in (*BUNDLE_FILES, MANIFEST_FILE)}
    signature = (bundle / SIGNATURE_FILE).read_bytes()

    with (bundle / MODEL_FILE).open("ab") as handle:  # tampered: a file changed
        handle.write(b"\0")
    status, text = reload(client)
    assert status == 409 and "does not match its manifest" in text

    (bundle / MODEL_FILE).write_bytes(original[MODEL_FILE])  # another key: the attacker's own
    attacker = write_key_pair(tmp_path / "attacker.key", tmp_path / "attacker.pub")
    write_manifest(bundle, list(BUNDLE_FILES), key=attacker)
    status, text = reload(client)
    assert status == 409 and "signed with another key" in text
    assert key_id(attacker.public_key()) in text

    secret = b"the old shared bundle key"  # an old bundle: HMAC-SHA256 with a shared key
    data = original[MANIFEST_FILE]
    (bundle / MANIFEST_FILE).write_bytes(data)
    hmac_record = {
        "algorithm": "HMAC-SHA256",
        "key_id": "0123456789ab",
        "signature": hmac.new(secret, data, hashlib.sha256).hexdigest(),
    }
    (bundle / SIGNATURE_FILE).write_text(json.dumps(hmac_record))
    status, text = reload(client)
    assert status == 409 and "HMAC" in text and "leadscore seal" in text

    (bundle / SIGNATURE_FILE).write_bytes(signature)  # the authentic bundle again
    assert reload(client)[0] == 200
    assert client.post("/v1/score", json=ONE_LEAD, headers=AUTH).status_code == 200


def test_a_rollback_below_the_minimum_model_version_is_refused(serving_host, start_server):
    bundle, settings = serving_host
    current = json.loads((bundle / CARD_FILE).read_text())["model_version"]
    month = current.split("+")[0]
    server = start_server(bundle, minimum_model_version=month, **settings)
    client = server.client

    resealed_as(bundle, "2001.01+0ld0ld0ld0")  # authentic (the same key), but older
    status, text = reload(client)
    assert status == 409
    assert "2001.01+0ld0ld0ld0 is older than the minimum model version" in text and month in text
    assert client.get("/v1/model", headers=AUTH).json()["model_version"] == current

    resealed_as(bundle, "2999.12+0ew0ew0ew0")  # newer: served
    status, text = reload(client)
    assert status == 200 and json.loads(text)["serving"] == "2999.12+0ew0ew0ew0"
    server.stop()

    resealed_as(bundle, "2001.01+0ld0ld0ld0")  # and a start on the old bundle fails, saying why
    refused = start_server(bundle, wait=False, minimum_model_version=month, **settings)
    assert refused.process.wait(60) != 0
    assert "older than the minimum model version" in refused.output()
