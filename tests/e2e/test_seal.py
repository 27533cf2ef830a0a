"""The seal is per machine (issue 27): `manifest.json` and `manifest.sig` are no DVC outputs, so
a host that got the bundle's files from `dvc checkout` (or `dvc pull`) has none. The service
refuses such a bundle, saying how to seal it; once the key holder runs `leadscore seal` it
serves, with the training run's facts when the run record is of this model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import API_KEY

from leadscore.model.bundle import MANIFEST_FILE, MODEL_FILE, RUN_FILE, SIGNATURE_FILE

pytestmark = pytest.mark.server
AUTH = {"X-API-Key": API_KEY}
ONE_LEAD = {"leads": [{"lead_id": "seal-1", "channel": "webinar"}]}
LEADSCORE = str(Path(sys.executable).parent / "leadscore")


def seal(bundle: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LEADSCORE, "seal", "--models", str(bundle)], capture_output=True, text=True
    )


def test_an_unsealed_bundle_is_refused_with_how_to_seal_it_and_serves_once_sealed(
    tiny_bundle_dir, start_server, tmp_path
):
    bundle = shutil.copytree(tiny_bundle_dir, tmp_path / "models")
    (bundle / MANIFEST_FILE).unlink()  # what `dvc checkout` gives a machine that sealed nothing
    (bundle / SIGNATURE_FILE).unlink()
    refused = start_server(bundle, wait=False)
    assert refused.process.wait(60) != 0
    assert "not sealed" in refused.output() and "`leadscore seal`" in refused.output()

    sealed = seal(bundle)
    assert sealed.returncode == 0, sealed.stderr
    assert RUN_FILE in json.loads((bundle / MANIFEST_FILE).read_text())  # of this model
    server = start_server(bundle)
    assert server.client.post("/v1/score", json=ONE_LEAD, headers=AUTH).status_code == 200
    card = server.client.get("/v1/model", headers=AUTH).json()
    run = json.loads((bundle / RUN_FILE).read_text())
    assert (
        card["trained_at"] is not None and card["trained_at"][:19] == run["card"]["trained_at"][:19]
    )
    assert card["metrics"]["fit_seconds"] == run["card"]["metrics"]["fit_seconds"]


def test_files_changed_since_the_seal_are_refused_until_sealed_again(tiny_bundle_dir, tmp_path):
    """A run record of another model is left out of the seal: the card is served without the
    run's facts rather than with another run's."""
    from leadscore.model.bundle import BundleError, load_bundle

    bundle = shutil.copytree(tiny_bundle_dir, tmp_path / "models")
    model = bundle / MODEL_FILE
    model.write_bytes(model.read_bytes() + b"\0")  # another version's file (dvc checkout)
    with pytest.raises(BundleError, match="does not match its manifest") as refused:
        load_bundle(bundle)
    assert "`leadscore seal`" in str(refused.value)
    assert seal(bundle).returncode == 0
    assert RUN_FILE not in json.loads((bundle / MANIFEST_FILE).read_text())
    card = load_bundle(bundle).card
    assert card.trained_at is None and card.metrics.fit_seconds is None and card.mlflow is None


def test_seal_names_what_is_missing(tmp_path):
    result = seal(tmp_path)
    assert result.returncode == 1 and "nothing to seal" in result.stderr
