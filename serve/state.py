"""The served model: loaded, verified and compiled off the request path, swapped atomically.

A reload builds the new model completely (fetch, SHA-256 check, load, compile, parity check,
warm-up) while the old one keeps serving; only then is one reference replaced. A reload that
fails at any step leaves the old model in place and is reported (response, log, /readyz,
metrics).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from leadscore.core.schema import FeatureSpec
from leadscore.scoring.loading import ModelLoadError, ServedModel, load_served_model

log = logging.getLogger(__name__)


def refreeze() -> None:
    """Collect what is garbage now and move the long-lived rest out of the cyclic collector."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@dataclass
class ModelHolder:
    """Holds the one served model; `current` is read without a lock (a single reference)."""

    uri: str
    spec: FeatureSpec
    allow_unagreed: bool = False  # serve a model graded under a contract not agreed (override)
    minimum_version: str | None = None  # LEADSCORE_MINIMUM_MODEL_VERSION: no rollback below
    current: ServedModel | None = None
    last_reload: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def served(self) -> ServedModel:
        """The model serving now. The service loads one before it accepts a request (a failed
        first load stops the start), so a route always finds one."""
        model = self.current
        if model is None:
            raise RuntimeError("no model is loaded: the service has not started")
        return model

    def load(self) -> ServedModel:
        self.current = self._checked(
            load_served_model(self.uri, self.minimum_version, self.allow_unagreed)
        )
        return self.current

    def reload(self, uri: str | None = None) -> dict:
        """Load `uri` (default: the configured one) and swap; on failure keep the old model."""
        with self._lock:  # one reload at a time; scoring goes on meanwhile
            started = time.perf_counter()
            previous = self.current.version if self.current else None
            try:
                model = self._checked(
                    load_served_model(uri or self.uri, self.minimum_version, self.allow_unagreed)
                )
            except ModelLoadError as error:  # any failure of any step is one of these
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
