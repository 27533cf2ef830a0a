"""Where a served bundle comes from: a local directory or an MLflow registry version."""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadscore.core.agreement import sealed_agreement
from leadscore.core.card import ModelCard
from leadscore.core.redact import redact
from leadscore.model.bundle import CARD_FILE, BundleError, load_bundle
from leadscore.scoring.compiling import CompileError
from leadscore.scoring.scorer import Scorer

MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")
# a model version is `YYYY.MM+<hash>`: the month of its newest training data, then a hash
VERSION_MONTH = re.compile(r"^(?P<year>\d{4})\.(?P<month>\d{2})(?:\+|$)")


def is_registry_uri(uri: str) -> bool:
    return uri.startswith("models:/")


@contextlib.contextmanager
def fetched_bundle(
    uri: str, only: str | None = None
) -> Iterator[tuple[Path, dict[str, str | None]]]:
    """Download a registered version's bundle (or just its file `only`) into a temporary
    directory; yields that directory and the version's facts, and removes it afterwards."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from leadscore.core.config import tracking_uri
    from leadscore.model.bundle import BUNDLE_ARTIFACT_PATH

    match = MODELS_URI.match(uri)
    if not match:
        raise BundleError(f"{uri!r} is not models:/<name>@<alias> or models:/<name>/<version>")
    mlflow.set_tracking_uri(tracking_uri())
    client = MlflowClient()
    name = match["name"]
    artifact = BUNDLE_ARTIFACT_PATH if only is None else f"{BUNDLE_ARTIFACT_PATH}/{only}"
    with tempfile.TemporaryDirectory(prefix="leadscore-bundle-") as target:
        try:
            if match["alias"]:
                version = client.get_model_version_by_alias(name, match["alias"])
            else:
                version = client.get_model_version(name, match["version"])
            local = mlflow.artifacts.download_artifacts(
                run_id=version.run_id, artifact_path=artifact, dst_path=target
            )
        except MlflowException as error:
            message = redact(f"cannot fetch {uri} from {tracking_uri()}: {error.message}")
            raise BundleError(message) from None
        facts = {
            "name": name,
            "version": str(version.version),
            "run_id": version.run_id,
            "uri": uri,
        }
        yield Path(local) if only is None else Path(local).parent, facts


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message says which step failed and why."""


@dataclass(frozen=True)
class ServedModel:
    scorer: Scorer
    card: ModelCard
    grading: dict[str, Any]
    source: str
    registry: dict[str, str | None] | None
    loaded_at: str
    agreement: dict[str, Any]  # re-checked from the bundle's approvals (`override`: served anyway)

    @property
    def version(self) -> str:
        return self.scorer.model_version

    @property
    def contract_version(self) -> str:
        return self.scorer.contract_version


@contextlib.contextmanager
def local_bundle(
    uri: str, only: str | None = None
) -> Iterator[tuple[Path, dict[str, str | None] | None]]:
    """A local bundle directory for a model URI; registry versions are downloaded (all files,
    or just `only`) into a temporary directory that is removed afterwards."""
    if is_registry_uri(uri):
        with fetched_bundle(uri, only) as (path, facts):
            yield path, facts
    else:
        yield Path(uri), None


def read_card(uri: str) -> ModelCard:
    """The model card alone (for the request schema), without loading the model."""
    with local_bundle(uri, only=CARD_FILE) as (path, _):
        card_path = path / CARD_FILE
        if not card_path.is_file():
            raise ModelLoadError(
                f"no model card at {card_path}: run `make run` (or `dvc repro`) first"
            )
        return ModelCard.read(card_path)


def checked_agreement(grading_record: dict[str, Any], allow_unagreed: bool) -> dict[str, Any]:
    """The agreement of the contract a bundle was graded under, re-checked from the approvals
    it carries. A model graded under a contract both owners have not approved is refused unless
    `allow_unagreed` (an explicit override, then shown in /v1/model and /readyz)."""
    agreement = sealed_agreement(grading_record)
    if not agreement.agreed and not allow_unagreed:
        refused = (
            f" Refused approvals: {'; '.join(agreement.problems)}." if agreement.problems else ""
        )
        raise ModelLoadError(
            f"the model was graded under a contract that is not agreed. {agreement.headline()}"
            f"{refused} Approve it (`leadscore contract approve`) and re-grade, or set "
            "LEADSCORE_ALLOW_UNAGREED_CONTRACT=true to serve it anyway"
        )
    return replace(agreement, override=not agreement.agreed).to_dict()


def version_month(version: str) -> tuple[int, int] | None:
    """(year, month) of a model version's training data; None for an undated model."""
    match = VERSION_MONTH.match(version)
    return (int(match["year"]), int(match["month"])) if match else None


def rollback_problem(version: str, minimum: str | None) -> str | None:
    """Why model `version` is below the `minimum` model version (LEADSCORE_MINIMUM_MODEL_VERSION,
    compared by training month), or None when it may be served."""
    if not minimum:
        return None
    floor, month = version_month(minimum), version_month(version)
    if floor is None:
        return f"the minimum model version {minimum!r} is not YYYY.MM or YYYY.MM+<hash>"
    if month is None:
        return (
            f"model {version} has no training month, so it cannot be checked against the "
            f"minimum model version {minimum} (LEADSCORE_MINIMUM_MODEL_VERSION)"
        )
    if month < floor:
        return (
            f"model {version} is older than the minimum model version {minimum} "
            "(LEADSCORE_MINIMUM_MODEL_VERSION): refusing a rollback to an older bundle"
        )
    return None


def load_served_model(
    uri: str, minimum_version: str | None = None, allow_unagreed: bool = False
) -> ServedModel:
    """Verify, load, compile and warm up the bundle at `uri`; one below `minimum_version`
    (a rollback, see `rollback_problem`) is refused, and so is one graded under a contract both
    owners have not approved, unless `allow_unagreed` (see `checked_agreement`)."""
    try:
        with local_bundle(uri) as (path, registry):
            bundle = load_bundle(path)
        problem = rollback_problem(bundle.version, minimum_version)
        if problem:
            raise BundleError(problem)
        agreement = checked_agreement(bundle.grading_record, allow_unagreed)
        scorer = Scorer.from_bundle(bundle)
        scorer.warm_up()
    except (BundleError, CompileError, OSError, ValueError, KeyError) as error:
        raise ModelLoadError(redact(f"cannot load model from {uri}: {error}")) from error
    except Exception as error:  # authentic, but not a pipeline the scorer can compile
        raise ModelLoadError(
            redact(
                f"cannot load model from {uri}: the bundle does not hold a fitted leadscore "
                f"pipeline ({type(error).__name__}: {error})"
            )
        ) from error
    return ServedModel(
        scorer=scorer,
        card=bundle.card,
        grading=bundle.grading_record,
        source=uri,
        registry=registry,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        agreement=agreement,
    )
