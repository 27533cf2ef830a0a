"""Admin: reload the model (also on SIGHUP). Needs X-Admin-Key; disabled without one."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from leadscore_serve.deps import HolderDep, MetricsDep
from leadscore_serve.metrics import ServiceMetrics
from leadscore_serve.problems import ProblemError, problem_responses
from leadscore_serve.schemas import ReloadOutcome
from leadscore_serve.security import require_admin_key
from leadscore_serve.state import ModelHolder

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin_key)])


async def reload_model(holder: ModelHolder, metrics: ServiceMetrics) -> dict:
    """Reload (in a worker thread); the outcome is counted, and `/readyz` shows it."""
    outcome = await run_in_threadpool(holder.reload)
    metrics.reloads.labels("ok" if outcome["reloaded"] else "failed").inc()
    model = holder.served
    metrics.serving(model.version, model.contract_version)
    return outcome


@router.post(
    "/reload",
    operation_id="reload_model",
    summary="Load the configured model again and swap it in; on failure keep serving the old one",
    response_model=ReloadOutcome,
    responses=problem_responses(401, 403, 409, schemas={409: "ReloadFailed"}),
)
async def reload(holder: HolderDep, metrics: MetricsDep) -> dict:
    outcome = await reload_model(holder, metrics)  # also called on SIGHUP, with no request
    if not outcome["reloaded"]:
        detail = f"reload failed, still serving {outcome['serving']}: {outcome['error']}"
        raise ProblemError(409, detail, kind="reload-failed", extra=outcome)
    return outcome
