"""Users of the service and their bearer tokens.

A token is shown once, when the user is created; the database keeps only its sha256, so a
leaked database does not leak working credentials. The token has 256 bits of randomness, so
an unsalted fast hash is enough (there is nothing to brute-force, unlike a password).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.tables import OrganisationRecord, Role, User

__all__ = [
    "CreatedUser",
    "UnknownOrganisationError",
    "UnknownRoleError",
    "create_user",
    "hash_token",
    "list_users",
    "new_token",
    "user_for_token",
]

MAX_NAME_LENGTH = 200


class UnknownRoleError(ValueError):
    def __init__(self, role: str) -> None:
        self.role = role
        allowed = ", ".join(member.value for member in Role)
        super().__init__(f"role {role!r} is not one of: {allowed}")


class UnknownOrganisationError(ValueError):
    def __init__(self, organisation_id: str) -> None:
        self.organisation_id = organisation_id
        super().__init__(f"organisation {organisation_id!r} is not in the database")


@dataclass(frozen=True)
class CreatedUser:
    user: User
    token: str  # shown once; only its hash is stored


def new_token() -> str:
    """A fresh bearer token (32 random bytes, URL-safe base64)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The sha256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(session: Session, *, name: str, role: str, organisation_id: str) -> CreatedUser:
    """Add a user with a new token; the caller commits.

    Raises :class:`UnknownRoleError`, :class:`UnknownOrganisationError` or
    :class:`ValueError` (for an empty or overlong name) before writing anything.
    """
    try:
        checked_role = Role(role)
    except ValueError:
        raise UnknownRoleError(role) from None
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"a user's name must have 1 to {MAX_NAME_LENGTH} characters")
    if session.get(OrganisationRecord, organisation_id) is None:
        raise UnknownOrganisationError(organisation_id)
    token = new_token()
    user = User(
        name=name,
        role=checked_role.value,
        organisation_id=organisation_id,
        token_hash=hash_token(token),
        active=True,
    )
    session.add(user)
    session.flush()  # assigns user_id
    return CreatedUser(user, token)


def list_users(session: Session) -> Sequence[User]:
    """Every user, in the order they were created."""
    return session.scalars(select(User).order_by(User.user_id)).all()


def user_for_token(session: Session, token: str) -> User | None:
    """The active user holding ``token``, or None."""
    statement = select(User).where(User.token_hash == hash_token(token), User.active.is_(True))
    return session.scalars(statement).one_or_none()
