"""Typed dependencies: what a route needs from the running app, as `Annotated` types.

`create_app` puts the service's objects on `app.state` once; routes and security checks ask for
them by type (`holder: HolderDep`), as in the full-stack FastAPI template's `api/deps.py`, and
never read `request.app.state` themselves. The getters are `async` so FastAPI calls them on the
event loop instead of a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from leadscore.scoring.events_store import EventStore
from leadscore.scoring.log import ScoringLog
from leadscore.scoring.outcome_store import OutcomeStore
from leadscore_serve.metrics import ServiceMetrics
from leadscore_serve.settings import Settings
from leadscore_serve.state import ModelHolder


async def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


async def get_settings_of_app(request: Request) -> Settings:
    return request.app.state.settings


async def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


async def get_scoring_log(request: Request) -> ScoringLog | None:
    return request.app.state.scoring_log


async def get_api_keys(request: Request) -> tuple[bytes, ...]:
    return request.app.state.api_keys


async def get_admin_key(request: Request) -> bytes:
    return request.app.state.admin_key


async def get_outcomes(request: Request) -> OutcomeStore:
    return request.app.state.outcomes


async def get_events(request: Request) -> EventStore:
    return request.app.state.events


Clock = Callable[[], datetime]  # now, aware UTC


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock


async def get_outcome_keys(request: Request) -> tuple[bytes, ...]:
    return request.app.state.outcome_keys


@dataclass(frozen=True, slots=True)
class ScoringServices:
    """What POST /v1/score needs from the running app, as one dependency: FastAPI resolves
    each dependency on every request, and on the hottest route six of them cost more than
    scoring one lead's features."""

    holder: ModelHolder
    settings: Settings
    metrics: ServiceMetrics
    scoring_log: ScoringLog | None
    events: EventStore
    clock: Clock


async def get_scoring_services(request: Request) -> ScoringServices:
    state = request.app.state
    return ScoringServices(
        state.holder, state.settings, state.metrics, state.scoring_log, state.events, state.clock
    )


HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ScoringServicesDep = Annotated[ScoringServices, Depends(get_scoring_services)]
SettingsDep = Annotated[Settings, Depends(get_settings_of_app)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
ScoringLogDep = Annotated[ScoringLog | None, Depends(get_scoring_log)]
ApiKeysDep = Annotated[tuple[bytes, ...], Depends(get_api_keys)]
AdminKeyDep = Annotated[bytes, Depends(get_admin_key)]
OutcomesDep = Annotated[OutcomeStore, Depends(get_outcomes)]
EventsDep = Annotated[EventStore, Depends(get_events)]
ClockDep = Annotated[Clock, Depends(get_clock)]
OutcomeKeysDep = Annotated[tuple[bytes, ...], Depends(get_outcome_keys)]
