"""FastAPI dependencies: the worker's state, a database session per request, the caller."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from matching.stages import stage
from service.api.runtime import ServingState
from service.api.security import UNKNOWN_TOKEN, Caller, hash_token, unauthorised
from service.observability import note_user
from service.storage.tables import Role, User

_bearer = HTTPBearer(auto_error=False, description="A token from `kohtaanto users create`.")


# FastAPI runs every plain ``def`` dependency in the thread pool: one hand-off to a thread and
# back per dependency. Under load those hand-offs, five per request, were half of a worker's
# event-loop time, so the dependencies below that do no blocking I/O are ``async def``, and the
# caller's token is looked up in a short-lived per-worker cache (a miss goes to the database
# on a thread). Only the route itself runs on a thread.


def _state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


async def get_state(request: Request) -> ServingState:
    return _state(request)


# The session and the caller read the state from the request rather than depend on
# get_state: FastAPI solves every node of the graph on every request, cached or not, and the
# solving was the largest part of a matches request's event-loop time.


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; routes commit their one transaction, anything else rolls back.

    Requests that change data take a writer session; reads (GET) do not queue behind writes.
    Creating a session connects to nothing; ending one that still holds a transaction (a
    route that failed, or did not release its read) rolls back on a thread.
    """
    state = _state(request)
    factory = state.sessions if request.method in ("GET", "HEAD") else state.write_sessions
    session = factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)  # rolls back, returns the connection
        else:
            session.close()


def release(session: Session) -> None:
    """End the request's read transaction, handing its connection back to the pool.

    Routes call it before they take another connection (the change feed, the audit writer):
    a request holding one pooled connection while it waits for a second can, with as many
    requests in flight as the pool has connections, wait until the pool times out (30 s),
    each holding a connection another needs. Loaded objects stay usable (no expiry on commit).
    A session that read nothing (answers from the worker's memory) has nothing to end.
    """
    if session.in_transaction():
        session.commit()


async def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise unauthorised()
    token = credentials.credentials
    if len(token) > 256 or "\x00" in token:
        raise unauthorised("the bearer token is malformed")
    # Timed apart from the lookup's await: other requests run on the event loop meanwhile.
    state = _state(request)
    with stage("auth"):
        token_hash = hash_token(token)
        caller = state.callers.get(token_hash)
    if caller is None:
        caller = await run_in_threadpool(_lookup_caller, state, token_hash)
        state.callers.put(token_hash, caller)
    if caller is UNKNOWN_TOKEN:
        raise unauthorised("unknown or disabled token")
    if caller.expired(time.time()):
        raise unauthorised("token expired")
    note_user(caller.user_id)
    return caller


def _lookup_caller(state: ServingState, token_hash: str) -> Caller:
    """The active user behind a token hash, or :data:`UNKNOWN_TOKEN`."""
    with stage("auth"), state.sessions() as session:
        user = session.execute(
            select(
                User.user_id,
                User.name,
                User.role,
                User.organisation_id,
                User.active,
                User.token_expires_at,
            ).where(User.token_hash == token_hash)
        ).first()
    if user is None or not user.active:
        return UNKNOWN_TOKEN
    expires = user.token_expires_at
    return Caller(
        user.user_id,
        user.name,
        Role(user.role),
        user.organisation_id,
        expires.timestamp() if expires is not None else None,
    )


def require(*roles: Role) -> Callable[[Caller], Coroutine[Any, Any, Caller]]:
    """A dependency that admits only the given roles (403 for the others)."""

    async def check(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if caller.role not in roles:
            from fastapi import HTTPException, status

            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this route is for the {allowed} role; you are {caller.role.value}",
            )
        return caller

    return check


StateDep = Annotated[ServingState, Depends(get_state)]
SessionDep = Annotated[Session, Depends(get_session)]
CoachDep = Annotated[Caller, Depends(require(Role.COACH))]
EmployerDep = Annotated[Caller, Depends(require(Role.EMPLOYER))]
ProcurementDep = Annotated[Caller, Depends(require(Role.PROCUREMENT))]
AdminDep = Annotated[Caller, Depends(require(Role.ADMIN))]


def json_response(answer: BaseModel | bytes) -> Response:
    """``answer`` serialised on the route's own thread (bytes: already JSON).

    A route that returns a model has FastAPI validate it again and serialise it, on one more
    trip through the thread pool; the large matches and shortlist answers come back ready
    (as bytes from :mod:`service.api.encoding`). The route's ``response_model`` still
    documents the schema.
    """
    if isinstance(answer, bytes):
        return Response(answer, media_type="application/json")
    with stage("serialisation"):
        body = answer.__pydantic_serializer__.to_json(answer)
    return Response(body, media_type="application/json")
