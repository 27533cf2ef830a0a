"""Admin: reload the model (also on SIGHUP). Needs X-Admin-Key; disabled without one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from leadscore_serve.security import require_admin_key

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin_key)])


async def reload_model(app) -> dict:
    outcome = await run_in_threadpool(app.state.holder.reload)
    app.state.metrics.reloads.labels("ok" if outcome["reloaded"] else "failed").inc()
    model = app.state.holder.current
    app.state.metrics.serving(model.version, model.contract_version)
    return outcome


@router.post(
    "/reload",
    summary="Load the configured model again and swap it in; on failure keep serving the old one",
    responses={
        401: {"description": "missing or invalid X-Admin-Key"},
        403: {"description": "admin endpoints are disabled"},
        409: {"description": "the new model failed to load; the old model is still serving"},
    },
)
async def reload(request: Request) -> JSONResponse:
    outcome = await reload_model(request.app)
    return JSONResponse(outcome, status_code=200 if outcome["reloaded"] else 409)
