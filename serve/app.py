"""The app factory. `create_app()` builds the service for the configured model; `lifespan`
loads it (verified, compiled, warmed up), opens the scoring log and listens for SIGHUP."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from leadscore.core.redact import install_log_redaction, register_secrets, url_secrets
from leadscore.core.schema import FeatureSpec
from leadscore.scoring.events_store import EventStore
from leadscore.scoring.loading import read_card
from leadscore.scoring.log import ScoringLog
from leadscore.scoring.outcome_store import OutcomeStore
from leadscore.scoring.outcomes import OutcomeBatch
from leadscore_serve.deps import Clock
from leadscore_serve.docs import add_offline_docs
from leadscore_serve.limits import BodyDeadline, BodySizeLimit, RateLimit
from leadscore_serve.metrics import MetricsMiddleware, ServiceMetrics
from leadscore_serve.problems import Problem, install_problem_handlers
from leadscore_serve.routers import admin, events, nurture, ops, outcomes
from leadscore_serve.routers.scoring import scoring_router
from leadscore_serve.schemas import (
    NotReady,
    ReloadFailed,
    lead_model,
    request_example,
    score_request_model,
)
from leadscore_serve.settings import Settings, get_settings, open_access_problem
from leadscore_serve.state import ModelHolder, refreeze

log = logging.getLogger("serve")


def _on_sighup(app: FastAPI) -> None:
    log.info("SIGHUP: reloading the model")
    task = asyncio.get_running_loop().create_task(
        admin.reload_model(app.state.holder, app.state.metrics)
    )
    task.add_done_callback(_report_task_error)


def _report_task_error(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("SIGHUP reload failed: %s", task.exception())


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    state = app.state
    install_log_redaction()  # uvicorn has configured its log handlers by now
    settings: Settings = state.settings
    # The scoring log first: it makes no database call here, and its writer contacts the
    # database (and warms the trend index) while the model loads.
    state.scoring_log = (
        ScoringLog(
            settings.database_url,
            settings.journal_dir,
            sync=settings.journal_sync,
            timeout_seconds=settings.database_timeout_seconds,
        )
        if settings.log_scores
        else None
    )
    try:
        model = state.holder.load()
    except BaseException:
        if state.scoring_log is not None:
            state.scoring_log.close(timeout=1.0)
        raise
    # Everything loaded so far lives as long as the process: freeze it out of the cyclic
    # garbage collector, so full collections during requests stay short; and collect the
    # young generation less often (requests allocate many short-lived objects).
    refreeze()
    gc.set_threshold(50_000, 20, 20)  # a 1,000-lead request allocates ~100k objects
    state.metrics.serving(model.version, model.contract_version)
    log.info(
        "serving %s (contract %s) from %s", model.version, model.contract_version, model.source
    )
    state.metrics.watch_scoring_log(lambda: state.scoring_log)
    # CRM events, beside the scores (no connection yet: a database down does not stop the start)
    state.outcomes = OutcomeStore(settings.database_url, settings.outcome_timeout_seconds)
    state.events = EventStore(settings.database_url, settings.outcome_timeout_seconds)
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, _on_sighup, app)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
        log.info("SIGHUP reload unavailable here; use POST /admin/reload")
    try:
        yield
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)
        if state.scoring_log is not None:
            state.scoring_log.close()
        state.outcomes.close()
        state.events.close()


def with_component_schemas(
    app: FastAPI, inputs: tuple[type[BaseModel], ...], outputs: tuple[type[BaseModel], ...]
) -> None:
    """Add models the routes reference by name to the OpenAPI components: `inputs` (the
    request model, which the route parses itself) as validated, `outputs` (the problem
    documents, which handlers send) as serialized."""
    default_openapi = app.openapi

    modes: tuple[tuple[tuple[type[BaseModel], ...], JsonSchemaMode], ...] = (
        (inputs, "validation"),
        (outputs, "serialization"),
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = default_openapi()  # also kept as app.openapi_schema: extended in place
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for models, mode in modes:
            for model in models:
                body = model.model_json_schema(
                    ref_template="#/components/schemas/{model}", mode=mode
                )
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


DESCRIPTION = (
    "Send leads to `POST /v1/score`; each answer carries the calibrated probability of "
    "converting within the contract's outcome window, a 1-100 score, the grade, the top "
    "reasons, warnings, and the model and contract versions. Authenticate with "
    "`X-API-Key` (`/v1/*`) or `X-Admin-Key` (`/admin/*`) when keys are configured. "
    "Every error is an RFC 9457 problem document (`application/problem+json`): `type`, "
    "`title`, `status`, `detail`, `instance`, and `errors` naming each field at fault."
)


def check_access(settings: Settings) -> None:
    """Refuse open access where the settings forbid it; warn when no API key is set."""
    problem = open_access_problem(settings)
    if problem:
        raise RuntimeError(problem)
    if not settings.api_key_list():
        log.warning(
            "no API keys (LEADSCORE_API_KEYS): anyone who can reach %s:%s can score leads",
            settings.host,
            settings.port,
        )


def clock_of(settings: Settings) -> Clock:
    """The service's clock: the real one, or one standing still at `LEADSCORE_FIXED_NOW`."""
    if settings.fixed_now is None:
        return lambda: datetime.now(UTC)
    fixed = settings.fixed_now
    fixed = fixed.replace(tzinfo=UTC) if fixed.tzinfo is None else fixed.astimezone(UTC)
    log.warning("the clock stands still at %s (LEADSCORE_FIXED_NOW)", fixed.isoformat())
    return lambda: fixed


def set_up_state(app: FastAPI, settings: Settings, spec: FeatureSpec) -> None:
    """The app's settings, model holder, metrics and keys; every secret registered for
    redaction (the keys, and the passwords of the databases: masked even where a message
    shows one alone)."""
    app.state.settings = settings
    app.state.clock = clock_of(settings)
    app.state.holder = ModelHolder(
        uri=settings.model_uri,
        spec=spec,
        minimum_version=settings.minimum_model_version,
        allow_unagreed=settings.allow_unagreed_contract,
    )
    app.state.metrics = ServiceMetrics()
    app.state.scoring_log = None
    app.state.api_keys = settings.api_key_list()
    app.state.admin_key = settings.admin_key_bytes()
    app.state.outcome_keys = settings.outcome_key_list()
    secrets = (*app.state.api_keys, *app.state.outcome_keys, app.state.admin_key)
    register_secrets([key.decode() for key in secrets])
    register_secrets(url_secrets(settings.database_url))
    register_secrets(url_secrets(os.environ.get("MLFLOW_TRACKING_URI", "")))


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """Body deadline and size limit, the rate limit when set, and the metrics outermost."""
    app.add_middleware(BodyDeadline, seconds=settings.body_timeout_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.rate_limit_per_second > 0:
        keys = (*app.state.api_keys, *app.state.outcome_keys)
        app.add_middleware(
            RateLimit,
            rate=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
            keys=keys,
        )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outermost: sees 413s


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    check_access(settings)
    card = read_card(settings.model_uri)  # the request schema follows the model's field roles
    spec, inputs = card.spec, card.input_normalisation
    example = request_example(spec, inputs)  # made up: /openapi.json is public
    lead = lead_model(spec, example, inputs)
    request_model = score_request_model(
        lead, settings.max_batch, example, events=bool(inputs.behaviour)
    )

    app = FastAPI(
        title="leadscore",
        version=card.model_version,
        summary="Scores leads against the A-lead contract agreed by sales and marketing.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local assets by add_offline_docs
        redoc_url=None,
        swagger_ui_parameters={"validatorUrl": None},  # no call to an online validator
    )
    set_up_state(app, settings, spec)
    install_problem_handlers(app)
    app.include_router(scoring_router(request_model))
    app.include_router(outcomes.router)
    app.include_router(events.router)
    app.include_router(nurture.router)
    app.include_router(ops.router)
    app.include_router(admin.router)
    with_component_schemas(app, (request_model, OutcomeBatch), (Problem, NotReady, ReloadFailed))
    add_offline_docs(app)
    add_middleware(app, settings)
    return app
