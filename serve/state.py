"""The served model: loaded, verified and compiled off the request path, swapped atomically.

A reload builds the new model completely (fetch, SHA-256 check, load, compile, parity check,
warm-up) while the old one keeps serving; only then is one reference replaced. A reload that
fails at any step leaves the old model in place and is reported (response, log, /readyz,
metrics).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from leadscore.bundle import CARD_FILE, BundleError, load_bundle
from leadscore.features import FeatureSpec
from leadscore.registry import fetched_bundle, is_registry_uri
from leadscore.scoring import CompileError, Scorer

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message says which step failed and why."""


@dataclass(frozen=True)
class ServedModel:
    scorer: Scorer
    card: dict
    grading: dict
    source: str
    registry: dict | None
    loaded_at: str

    @property
    def version(self) -> str:
        return self.scorer.model_version

    @property
    def contract_version(self) -> str:
        return self.scorer.contract_version


def refreeze() -> None:
    """Collect what is garbage now and move the long-lived rest out of the cyclic collector."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def local_bundle(uri: str, only: str | None = None) -> Iterator[tuple[Path, dict | None]]:
    """A local bundle directory for a model URI; registry versions are downloaded (all files,
    or just `only`) into a temporary directory that is removed afterwards."""
    if is_registry_uri(uri):
        with fetched_bundle(uri, only) as (path, facts):
            yield path, facts
    else:
        yield Path(uri), None


def read_card(uri: str) -> dict:
    """The model card alone (for the request schema), without loading the model."""
    with local_bundle(uri, only=CARD_FILE) as (path, _):
        card_path = path / CARD_FILE
        if not card_path.is_file():
            raise ModelLoadError(
                f"no model card at {card_path}: run `make run` (or `dvc repro`) first"
            )
        return json.loads(card_path.read_text())


def load_served_model(uri: str) -> ServedModel:
    try:
        with local_bundle(uri) as (path, registry):
            bundle = load_bundle(path)
        scorer = Scorer.from_bundle(bundle)
        scorer.warm_up()
    except (BundleError, CompileError, OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"cannot load model from {uri}: {error}") from error
    return ServedModel(
        scorer=scorer,
        card=bundle.card,
        grading=bundle.grading_record,
        source=uri,
        registry=registry,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


@dataclass
class ModelHolder:
    """Holds the one served model; `current` is read without a lock (a single reference)."""

    uri: str
    spec: FeatureSpec
    current: ServedModel | None = None
    last_reload: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self) -> ServedModel:
        self.current = self._checked(load_served_model(self.uri))
        return self.current

    def reload(self, uri: str | None = None) -> dict:
        """Load `uri` (default: the configured one) and swap; on failure keep the old model."""
        with self._lock:  # one reload at a time; scoring goes on meanwhile
            started = time.perf_counter()
            previous = self.current.version if self.current else None
            try:
                model = self._checked(load_served_model(uri or self.uri))
            except ModelLoadError as error:
                outcome = {"reloaded": False, "error": str(error), "serving": previous}
                log.error("reload failed, still serving %s: %s", previous, error)
            else:
                self.current = model
                refreeze()  # the old model's objects can now be collected; the new one frozen
                outcome = {"reloaded": True, "serving": model.version, "previous": previous}
                log.info("reloaded: now serving %s (was %s)", model.version, previous)
            outcome["seconds"] = round(time.perf_counter() - started, 3)
            outcome["at"] = datetime.now(UTC).isoformat(timespec="seconds")
            self.last_reload = outcome
            return outcome

    def _checked(self, model: ServedModel) -> ServedModel:
        if model.scorer.spec.fields != self.spec.fields:
            raise ModelLoadError(
                f"model {model.version} reads different fields than the running API accepts "
                f"({', '.join(model.scorer.spec.fields)}); restart the service to serve it"
            )
        return model
