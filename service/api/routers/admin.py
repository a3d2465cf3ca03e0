"""Operators: model status, reload and rollback, the audit log; health, readiness, metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import PlainTextResponse
from sqlalchemy import select, text

from service.api import audit
from service.api.deps import AdminDep, SessionDep, StateDep, require
from service.api.metrics import render_metrics
from service.api.routing import ReadRetryRoute
from service.api.schemas import ERROR_RESPONSES, AuditEntryOut, AuditVerifyOut, ModelStatusOut
from service.api.security import Caller
from service.storage.tables import AuditLogEntry, Role
from training.registry import RegistryError

router = APIRouter(
    route_class=ReadRetryRoute, prefix="/api/v1/admin", tags=["admin"], responses=ERROR_RESPONSES
)
probes = APIRouter(
    route_class=ReadRetryRoute, tags=["operations"], responses={503: ERROR_RESPONSES[503]}
)


def _status(state: StateDep) -> ModelStatusOut:
    return ModelStatusOut(
        serving=state.model_version,
        champion=state.registry.champion_version(),
        loaded_at=datetime.fromtimestamp(state.model.loaded_at, UTC),
        swaps=state.model.swaps,
        last_error=state.model.last_error,
    )


@router.get("/model")
def model_status(caller: AdminDep, state: StateDep) -> ModelStatusOut:
    return _status(state)


@router.post("/model/reload")
def reload_model(caller: AdminDep, state: StateDep) -> ModelStatusOut:
    """Load the registry's champion now (`kohtaanto retrain` calls this after a promotion).

    Other workers pick the new pointer up within ``model_check_seconds``.
    """
    state.check_model(force=True)
    return _status(state)


@router.post("/model/rollback")
def rollback_model(caller: AdminDep, state: StateDep) -> ModelStatusOut:
    """Make the previous champion serve again, in the registry and in this worker."""
    try:
        state.registry.rollback()
    except RegistryError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from error
    state.check_model(force=True)
    return _status(state)


#: Who reads the audit log: an organisation's admin (its own entries) and the operator (all).
AuditReaderDep = Annotated[Caller, Depends(require(Role.ADMIN, Role.OPERATOR))]


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
    query = select(AuditLogEntry).where(AuditLogEntry.seq > after)
    if caller.role is not Role.OPERATOR:
        query = query.where(AuditLogEntry.organisation_id == caller.organisation_id)
    if user_id is not None:
        query = query.where(AuditLogEntry.user_id == user_id)
    if route is not None:
        query = query.where(AuditLogEntry.route == route)
    rows = session.scalars(query.order_by(AuditLogEntry.seq).limit(limit)).all()
    return [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/audit/verify")
def verify_audit(
    caller: AuditReaderDep, session: SessionDep, state: StateDep, request: Request
) -> AuditVerifyOut:
    """The whole chain's state (what ``kohtaanto audit verify`` says); an admin learns that
    it is broken and where, but reads no other organisation's entry through this."""
    if state.sealer is None:
        return AuditVerifyOut(
            status="cannot_verify",
            entries=0,
            ok=False,
            first_bad_seq=None,
            problem="this worker has no audit sealer",
        )
    try:
        report = audit.verify_chain(
            session,
            state.sealer,
            unpublished_allowed=request.app.state.settings.service.workers,
        )
    except audit.SealUnavailableError as error:
        return AuditVerifyOut(
            status="cannot_verify", entries=0, ok=False, first_bad_seq=None, problem=str(error)
        )
    return AuditVerifyOut(
        status="intact" if report.ok else "tampered",
        entries=report.entries,
        ok=report.ok,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
        unpublished=report.unpublished,
    )


@probes.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "alive"}


@probes.get("/readyz")
def readyz(session: SessionDep, state: StateDep) -> dict[str, str]:
    """Ready when the database answers and a model (or the documented rules) is loaded."""
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:  # any database failure means "not ready", never a 500
        # A problem document like every other error answer.
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"the database is unavailable ({type(error).__name__})",
        ) from error
    return {"status": "ready", "model": state.model_version}


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
