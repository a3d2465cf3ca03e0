"""Admins manage the tokens of their own organisation's users: list, disable, enable, rotate.

The same operations as ``kohtaanto users disable | enable | rotate``. A user of another
organisation answers 404, as a missing one. The worker that handles a request forgets the
user's cached token at once; every other worker refuses it within ``token_cache_seconds``
(its caller cache's lifetime), the documented window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel, ConfigDict

from service.api.deps import AdminDep, SessionDep, StateDep
from service.api.routing import ReadRetryRoute
from service.api.schemas import ERROR_RESPONSES
from service.api.security import not_found
from service.settings import Settings
from service.storage.tables import User
from service.storage.users import (
    UnknownUserError,
    hash_token,
    list_users,
    rotate_token,
    set_active,
)

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1/admin/users",
    tags=["admin"],
    responses=ERROR_RESPONSES,
)

UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class UserOut(BaseModel):
    """A user as an admin sees it: never the token, only whether and until when it works."""

    model_config = ConfigDict(extra="forbid")

    user_id: int
    name: str
    role: str
    organisation_id: str
    active: bool
    created_at: datetime
    token_expires_at: datetime | None


class RotatedUserOut(UserOut):
    """The user with their new bearer token, shown only in this answer."""

    token: str


def _out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.get("")
def users_of_organisation(caller: AdminDep, session: SessionDep) -> list[UserOut]:
    """The users of the admin's organisation, in the order they were created."""
    return [
        _out(user) for user in list_users(session) if user.organisation_id == caller.organisation_id
    ]


@router.post("/{user_id}/disable")
def disable_user(
    user_id: UserId, caller: AdminDep, session: SessionDep, state: StateDep
) -> UserOut:
    """Refuse the user's token from now on (this worker at once, others within the window)."""
    if user_id == caller.user_id:
        # An admin locking themselves out needs another admin, or the CLI, to undo it.
        raise HTTPException(status.HTTP_409_CONFLICT, detail="you cannot disable yourself")
    try:
        user = set_active(session, user_id, False, organisation_id=caller.organisation_id)
    except UnknownUserError:
        raise not_found("user", str(user_id)) from None
    answer = _out(user)
    session.commit()
    state.callers.drop_user(user_id)
    return answer


@router.post("/{user_id}/enable")
def enable_user(user_id: UserId, caller: AdminDep, session: SessionDep, state: StateDep) -> UserOut:
    """Accept the user's token again (an expired token stays expired: rotate it)."""
    try:
        user = set_active(session, user_id, True, organisation_id=caller.organisation_id)
    except UnknownUserError:
        raise not_found("user", str(user_id)) from None
    answer = _out(user)
    token_hash = user.token_hash
    session.commit()
    # This worker may remember the token as unknown (a refused attempt while disabled).
    state.callers.drop(token_hash)
    return answer


@router.post("/{user_id}/rotate")
def rotate_user_token(
    user_id: UserId, caller: AdminDep, session: SessionDep, state: StateDep, request: Request
) -> RotatedUserOut:
    """Give the user a new token, valid for ``token_lifetime_days``; the old one stops working."""
    settings: Settings = request.app.state.settings
    lifetime = settings.service.token_lifetime_days
    try:
        rotated = rotate_token(
            session, user_id, lifetime_days=lifetime, organisation_id=caller.organisation_id
        )
    except UnknownUserError:
        raise not_found("user", str(user_id)) from None
    answer = RotatedUserOut(**_out(rotated.user).model_dump(), token=rotated.token)
    session.commit()
    state.callers.drop_user(user_id)
    state.callers.drop(hash_token(rotated.token))
    return answer
