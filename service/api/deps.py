"""FastAPI dependencies: the worker's state, a database session per request, the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.runtime import ServingState
from service.api.security import Caller, hash_token, unauthorised
from service.storage.tables import Role, User

_bearer = HTTPBearer(auto_error=False, description="A token from `kohtaanto users create`.")


def get_state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


def get_session(
    request: Request, state: Annotated[ServingState, Depends(get_state)]
) -> Iterator[Session]:
    """One session per request; routes commit their one transaction, anything else rolls back.

    Requests that change data take a writer session; reads (GET) do not queue behind writes.
    """
    factory = state.sessions if request.method in ("GET", "HEAD") else state.write_sessions
    with factory() as session:
        try:
            yield session
        finally:
            session.rollback()


def release(session: Session) -> None:
    """End the request's read transaction, handing its connection back to the pool.

    Routes call it before they take another connection (the change feed, the audit writer):
    a request holding one pooled connection while it waits for a second can, with as many
    requests in flight as the pool has connections, wait until the pool times out (30 s),
    each holding a connection another needs. Loaded objects stay usable (no expiry on commit).
    """
    session.commit()


def get_caller(
    session: Annotated[Session, Depends(get_session)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise unauthorised()
    token = credentials.credentials
    if len(token) > 256 or "\x00" in token:
        raise unauthorised("the bearer token is malformed")
    user = session.scalars(select(User).where(User.token_hash == hash_token(token))).first()
    if user is None or not user.active:
        raise unauthorised("unknown or disabled token")
    return Caller(user.user_id, user.name, Role(user.role), user.organisation_id)


def require(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency that admits only the given roles (403 for the others)."""

    def check(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
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
