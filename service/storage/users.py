"""Users of the service and their bearer tokens.

A token is shown once, when the user is created or the token rotated; the database keeps
only its sha256, so a leaked database does not leak working credentials. The token has 256
bits of randomness, so an unsalted fast hash is enough (there is nothing to brute-force,
unlike a password).

Every token has an expiry (``token_expires_at``): a credential nobody rotates is the one that
leaks. ``rotate_token`` replaces the hash (the old token stops working) and starts a new
lifetime; ``set_active`` disables or re-enables a user without touching the token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.tables import OrganisationRecord, Role, User, utc_now

__all__ = [
    "DEFAULT_LIFETIME_DAYS",
    "CreatedUser",
    "UnknownOrganisationError",
    "UnknownRoleError",
    "UnknownUserError",
    "create_user",
    "find_user",
    "hash_token",
    "list_users",
    "new_token",
    "rotate_token",
    "set_active",
    "token_expiry",
    "user_for_token",
]

MAX_NAME_LENGTH = 200
#: A new or rotated token's lifetime unless the caller names one (settings:
#: ``service.token_lifetime_days``).
DEFAULT_LIFETIME_DAYS = 90
#: The longest lifetime a token may be given (ten years); also bounds the datetime arithmetic.
MAX_LIFETIME_DAYS = 3650


class UnknownRoleError(ValueError):
    def __init__(self, role: str) -> None:
        self.role = role
        allowed = ", ".join(member.value for member in Role)
        super().__init__(f"role {role!r} is not one of: {allowed}")


class UnknownOrganisationError(ValueError):
    def __init__(self, organisation_id: str) -> None:
        self.organisation_id = organisation_id
        super().__init__(f"organisation {organisation_id!r} is not in the database")


class UnknownUserError(LookupError):
    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        super().__init__(f"there is no user {user_id}")


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


def token_expiry(lifetime_days: int, now: datetime | None = None) -> datetime:
    """When a token issued ``now`` with ``lifetime_days`` days of life stops working."""
    if not 1 <= lifetime_days <= MAX_LIFETIME_DAYS:
        raise ValueError(f"a token's lifetime must be 1 to {MAX_LIFETIME_DAYS} days")
    return (now or utc_now()) + timedelta(days=lifetime_days)


def create_user(
    session: Session,
    *,
    name: str,
    role: str,
    organisation_id: str,
    lifetime_days: int = DEFAULT_LIFETIME_DAYS,
    username: str | None = None,
) -> CreatedUser:
    """Add a user with a new token valid for ``lifetime_days``; the caller commits.

    ``username`` is what the user types to sign in to the web pages (after
    ``users set-password``); by default the name, or ``<name>-<user id>`` when another user
    signs in with that name already.

    Raises :class:`UnknownRoleError`, :class:`UnknownOrganisationError` or
    :class:`ValueError` (for an empty or overlong name, a username taken, or a lifetime out
    of range) before writing anything.
    """
    expires_at = token_expiry(lifetime_days)
    try:
        checked_role = Role(role)
    except ValueError:
        raise UnknownRoleError(role) from None
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"a user's name must have 1 to {MAX_NAME_LENGTH} characters")
    if session.get(OrganisationRecord, organisation_id) is None:
        raise UnknownOrganisationError(organisation_id)
    if username is not None:
        username = username.strip()
        if not username or len(username) > MAX_NAME_LENGTH:
            raise ValueError(f"a username must have 1 to {MAX_NAME_LENGTH} characters")
        if _username_taken(session, username):
            raise ValueError(f"the username {username!r} is taken")
    elif not _username_taken(session, name):
        username = name
    token = new_token()
    user = User(
        name=name,
        role=checked_role.value,
        organisation_id=organisation_id,
        token_hash=hash_token(token),
        active=True,
        token_expires_at=expires_at,
        username=username,
    )
    session.add(user)
    session.flush()  # assigns user_id
    if user.username is None:
        user.username = f"{name}-{user.user_id}"
        session.flush()
    return CreatedUser(user, token)


def _username_taken(session: Session, username: str) -> bool:
    return session.scalar(select(User.user_id).where(User.username == username)) is not None


def list_users(session: Session) -> Sequence[User]:
    """Every user, in the order they were created."""
    return session.scalars(select(User).order_by(User.user_id)).all()


def find_user(session: Session, user_id: int, organisation_id: str | None = None) -> User:
    """The user ``user_id`` (of ``organisation_id`` when given), locked for update.

    Raises :class:`UnknownUserError` when there is none: a user of another organisation is
    reported exactly as a missing one.
    """
    statement = select(User).where(User.user_id == user_id).with_for_update()
    if organisation_id is not None:
        statement = statement.where(User.organisation_id == organisation_id)
    user = session.scalars(statement).one_or_none()
    if user is None:
        raise UnknownUserError(user_id)
    return user


def set_active(
    session: Session, user_id: int, active: bool, *, organisation_id: str | None = None
) -> User:
    """Disable (``active=False``) or re-enable a user; the caller commits.

    The token stays the same: enabling a user whose token has expired does not revive it
    (rotate it for a new one).
    """
    user = find_user(session, user_id, organisation_id)
    user.active = active
    session.flush()
    return user


def rotate_token(
    session: Session,
    user_id: int,
    *,
    lifetime_days: int = DEFAULT_LIFETIME_DAYS,
    organisation_id: str | None = None,
) -> CreatedUser:
    """Give a user a new token valid for ``lifetime_days``; the old one stops working.

    The caller commits and shows the new token once.
    """
    expires_at = token_expiry(lifetime_days)
    user = find_user(session, user_id, organisation_id)
    token = new_token()
    user.token_hash = hash_token(token)
    user.token_expires_at = expires_at
    session.flush()
    return CreatedUser(user, token)


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The active user holding ``token`` whose token has not expired, or None."""
    statement = select(User).where(User.token_hash == hash_token(token), User.active.is_(True))
    user = session.scalars(statement).one_or_none()
    if user is None or (
        user.token_expires_at is not None and user.token_expires_at <= (now or utc_now())
    ):
        return None
    return user
