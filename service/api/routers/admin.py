"""Operators: model status, reload and rollback, the model registry, the audit log; health,
readiness, metrics. The operations live in :mod:`service.operations.platform`."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from service.api.deps import AdminDep, SessionDep, StateDep, require
from service.api.metrics import render_metrics
from service.api.routing import ReadRetryRoute
from service.api.schemas import ERROR_RESPONSES, AuditEntryOut, AuditVerifyOut, ModelStatusOut
from service.api.security import Caller
from service.operations import platform as operations
from service.operations.platform import ModelCardOut, ModelRegistryOut
from service.storage.tables import Role

router = APIRouter(
    route_class=ReadRetryRoute, prefix="/api/v1/admin", tags=["admin"], responses=ERROR_RESPONSES
)
probes = APIRouter(
    route_class=ReadRetryRoute, tags=["operations"], responses={503: ERROR_RESPONSES[503]}
)


@router.get("/model")
def model_status(caller: AdminDep, state: StateDep) -> ModelStatusOut:
    return operations.model_status(state)


@router.post("/model/reload")
def reload_model(caller: AdminDep, state: StateDep) -> ModelStatusOut:
    """Load the registry's champion now (`kohtaanto retrain` calls this after a promotion).

    Other workers pick the new pointer up within ``model_check_seconds``.
    """
    return operations.reload_model(state)


@router.post("/model/rollback")
def rollback_model(caller: AdminDep, state: StateDep) -> ModelStatusOut:
    """Make the previous champion serve again, in the registry and in this worker."""
    return operations.rollback_model(state)


#: Who reads the audit log and the model registry: an organisation's admin (its own audit
#: entries) and the operator (all).
AuditReaderDep = Annotated[Caller, Depends(require(Role.ADMIN, Role.OPERATOR))]


@router.get("/models")
def model_registry(caller: AuditReaderDep, state: StateDep) -> ModelRegistryOut:
    """The served model, the champion and every challenger (every registered version), newest
    first: each one's gate verdict and reasons, figures, and when it became the champion or
    was replaced."""
    return operations.model_registry(state)


@router.get("/models/{version}")
def model_card(
    version: Annotated[str, Path(max_length=64)], caller: AuditReaderDep, state: StateDep
) -> ModelCardOut:
    """One registered version with its model card (Markdown) as the registry stored it."""
    return operations.model_card(state, version)


@router.get("/audit")
def audit_entries(
    caller: AuditReaderDep,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    user_id: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    route: Annotated[str | None, Query(max_length=64)] = None,
) -> list[AuditEntryOut]:
    """Audit entries in order; an admin gets only its organisation's, the operator all."""
    return operations.audit_entries(session, caller, after, limit, user_id, route)


@router.get("/audit/verify")
def verify_audit(
    caller: AuditReaderDep, session: SessionDep, state: StateDep, request: Request
) -> AuditVerifyOut:
    """The whole chain's state (what ``kohtaanto audit verify`` says); an admin learns that
    it is broken and where, but reads no other organisation's entry through this."""
    workers = request.app.state.settings.service.workers
    return operations.verify_audit(session, state, workers, caller.user_id)


@probes.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "alive"}


@probes.get("/readyz")
def readyz(session: SessionDep, state: StateDep) -> dict[str, str | int]:
    """Ready when the database answers and a model (or the documented rules) is loaded.

    Also names the worker process that answered and the process that built the engine it
    serves: the supervisor's, in every worker of a pre-fork server (``service.server``).
    """
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:  # any database failure means "not ready", never a 500
        # A problem document like every other error answer.
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"the database is unavailable ({type(error).__name__})",
        ) from error
    return {
        "status": "ready",
        "model": state.model_version,
        "worker_pid": os.getpid(),
        "engine_built_by_pid": state.built_by_pid,
    }


#: Included only with ``metrics_on_api_port`` (see ``create_app``): by default the metrics are
#: served on their own loopback port, and the public port neither answers nor documents them.
metrics_probe = APIRouter(route_class=ReadRetryRoute, tags=["operations"])


@metrics_probe.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
def metrics() -> Response:
    """Prometheus metrics of this worker."""
    body, content_type = render_metrics()
    return Response(content=body, media_type=content_type)
