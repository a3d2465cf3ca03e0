"""People signing in to the web application: passwords, sessions, lock-out and language.

Passwords are hashed with argon2id (``argon2-cffi``'s :class:`~argon2.PasswordHasher`, its
RFC 9106 parameters); a hash made with older parameters is replaced at the next successful
sign-in. A sign-in refused for any reason — unknown username, wrong password, a disabled or
locked account — answers the same :class:`SignInRefusedError` message, and costs the same
time: an unknown username is verified against a dummy hash.

``lockout_failures`` failed sign-ins in a row lock the account for ``lockout_minutes``
(``service.settings.WebSettings``); the first attempt after that period starts a new count.

A session is a random value in the browser's cookie; the database keeps only its sha256
(``web_sessions``), with the session's CSRF token. It ends when it has not been used for
``session_idle_minutes``, ``session_absolute_hours`` after sign-in, at sign-out, when the
user's password changes and as soon as the user is disabled.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service.api.security import Caller
from service.operations.errors import InvalidError, NotFoundError, OperationError
from service.settings import WebSettings
from service.storage.tables import Role, User, WebSession, utc_now

__all__ = [
    "LOCALES",
    "SESSION_TOUCH_SECONDS",
    "SignInRefusedError",
    "SignedIn",
    "WebIdentity",
    "change_password",
    "check_password",
    "find_username",
    "look_up",
    "new_password",
    "set_locale",
    "set_password",
    "sign_in",
    "sign_out",
    "touch",
]

#: The languages of the pages.
LOCALES = ("fi", "sv", "en")
#: ``last_seen_at`` is written at most this often per session (a write per page view would
#: queue every page behind the database's writers).
SESSION_TOUCH_SECONDS = 60
#: The longest password hashed (argon2 takes any length; this bounds the work per request).
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()

#: Sign-ins, refusals and lock-outs for the operators' logs (user ids only: a username typed
#: by someone unknown may be a password typed in the wrong field).
log = logging.getLogger("kohtaanto.accounts")


class SignInRefusedError(OperationError):
    """The username or password is wrong, or the account may not sign in now.

    One message for every reason, so that the answer does not tell which usernames exist or
    which accounts are locked.
    """

    status_code = 401

    def __init__(self) -> None:
        super().__init__("the username or password is wrong, or the account cannot sign in now")


@dataclass(frozen=True)
class SignedIn:
    """A new session: ``token`` goes into the cookie (shown once, stored only hashed)."""

    token: str
    csrf_token: str
    user_id: int
    locale: str | None
    expires_at: datetime


@dataclass(frozen=True)
class WebIdentity:
    """The signed-in person of one page request."""

    caller: Caller
    username: str
    csrf_token: str
    #: The user's chosen language; None: not chosen (the browser's is used).
    locale: str | None
    session_hash: str
    last_seen_at: datetime


def hash_session(token: str) -> str:
    """The sha256 hex digest under which a session token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@cache
def _dummy_hash() -> str:
    """A hash to verify unknown usernames against, so they cost what a wrong password does."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def sign_in(
    session: Session,
    settings: WebSettings,
    username: str,
    password: str,
    now: datetime | None = None,
) -> SignedIn:
    """Check the password and open a session; commits (the failure count too, when refused).

    Raises :class:`SignInRefusedError` for an unknown username, a wrong password and a
    disabled or locked account alike.
    """
    now = now or utc_now()
    username = username.strip()
    user = None
    if 0 < len(username) <= 200 and len(password) <= MAX_PASSWORD_LENGTH:
        user = session.scalars(
            select(User).where(User.username == username).with_for_update()
        ).one_or_none()
    if user is None:
        _verify(None, password[:MAX_PASSWORD_LENGTH])
        session.rollback()
        log.info("sign-in refused: unknown username")
        raise SignInRefusedError()
    if user.locked_until is not None and user.locked_until <= now:
        user.locked_until = None  # the lock-out is over: a new count starts
        user.failed_sign_ins = 0
    locked = user.locked_until is not None
    correct = _verify(user.password_hash, password)
    if not correct:
        if not locked:
            _fail(settings, user, now)
        session.commit()
        log.info("sign-in refused: wrong password for user %s", user.user_id)
        raise SignInRefusedError()
    if locked or not user.active:
        session.commit()
        why = "locked" if locked else "disabled"
        log.info("sign-in refused: user %s is %s", user.user_id, why)
        raise SignInRefusedError()
    user.failed_sign_ins = 0
    if user.password_hash is not None and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    signed_in = _open_session(session, settings, user, now)
    session.commit()
    log.info("signed in: user %s", user.user_id)
    return signed_in


def _fail(settings: WebSettings, user: User, now: datetime) -> None:
    """Count one failed attempt; the last one allowed locks the account."""
    user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
    if user.failed_sign_ins >= settings.lockout_failures:
        user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
        log.warning(
            "user %s locked until %s after %s failed sign-ins in a row",
            user.user_id,
            user.locked_until.isoformat(timespec="seconds"),
            user.failed_sign_ins,
        )


def _open_session(session: Session, settings: WebSettings, user: User, now: datetime) -> SignedIn:
    token = secrets.token_urlsafe(32)
    record = WebSession(
        session_hash=hash_session(token),
        user_id=user.user_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
    )
    session.add(record)
    # Sessions that ended on their own are removed here rather than by a separate job.
    session.execute(
        delete(WebSession).where(WebSession.user_id == user.user_id, WebSession.expires_at <= now)
    )
    return SignedIn(token, record.csrf_token, user.user_id, user.locale, record.expires_at)


def sign_out(session: Session, token: str) -> None:
    """End the session behind ``token`` (nothing happens for an unknown one); commits."""
    session.execute(delete(WebSession).where(WebSession.session_hash == hash_session(token)))
    session.commit()


def look_up(
    session: Session, settings: WebSettings, token: str, now: datetime | None = None
) -> WebIdentity | None:
    """The signed-in person behind a session token, or None (unknown, expired, disabled).

    Only reads; the caller refreshes ``last_seen_at`` with :func:`touch` when it is older
    than :data:`SESSION_TOUCH_SECONDS`.
    """
    if not token or len(token) > 256:
        return None
    now = now or utc_now()
    session_hash = hash_session(token)
    row = session.execute(
        select(
            WebSession.csrf_token,
            WebSession.last_seen_at,
            WebSession.expires_at,
            User.user_id,
            User.name,
            User.username,
            User.role,
            User.organisation_id,
            User.active,
            User.locale,
        )
        .join(User, User.user_id == WebSession.user_id)
        .where(WebSession.session_hash == session_hash)
    ).first()
    if row is None or not row.active:
        return None
    idle_end = row.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if now >= row.expires_at or now >= idle_end:
        return None
    caller = Caller(row.user_id, row.name, Role(row.role), row.organisation_id)
    return WebIdentity(
        caller, row.username or "", row.csrf_token, row.locale, session_hash, row.last_seen_at
    )


def touch(session: Session, session_hash: str, now: datetime | None = None) -> None:
    """Note that the session was used now (it stays alive for another idle period); commits."""
    session.execute(
        update(WebSession)
        .where(WebSession.session_hash == session_hash)
        .values(last_seen_at=now or utc_now())
    )
    session.commit()


def find_username(session: Session, username: str) -> User:
    """The user who signs in as ``username``, locked for update; NotFoundError otherwise."""
    user = session.scalars(
        select(User).where(User.username == username).with_for_update()
    ).one_or_none()
    if user is None:
        raise NotFoundError("user", username)
    return user


def check_password(settings: WebSettings, username: str, password: str) -> None:
    """Refuse a password that is the username itself, too short or too long."""
    if password.strip().casefold() == username.strip().casefold():
        raise InvalidError(["body", "password"], "the password may not be the username")
    if len(password) < settings.password_min_length:
        raise InvalidError(
            ["body", "password"],
            f"a password must have at least {settings.password_min_length} characters",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidError(
            ["body", "password"], f"a password may have at most {MAX_PASSWORD_LENGTH} characters"
        )


def set_password(session: Session, settings: WebSettings, username: str, password: str) -> User:
    """Give ``username`` a new password; ends their sessions and any lock-out; commits.

    Raises :class:`NotFoundError` for an unknown username and :class:`InvalidError` for a
    password that breaks the rules (:func:`check_password`).
    """
    check_password(settings, username, password)
    user = find_username(session, username)
    user.password_hash = _hasher.hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    session.execute(delete(WebSession).where(WebSession.user_id == user.user_id))
    session.commit()
    return user


def change_password(
    session: Session,
    settings: WebSettings,
    username: str,
    current: str,
    new: str,
    now: datetime | None = None,
) -> SignedIn:
    """The user changes their own password, proving the current one; commits.

    Every session of the user ends (a stolen session does not survive the change) and a new
    one is returned for the browser that made the change. A wrong current password counts
    as a failed sign-in (:class:`SignInRefusedError`); a new one breaking the rules is
    :class:`InvalidError`.
    """
    now = now or utc_now()
    user = find_username(session, username)
    if user.locked_until is not None and user.locked_until > now:
        _verify(None, current[:MAX_PASSWORD_LENGTH])
        session.rollback()
        raise SignInRefusedError()
    if len(current) > MAX_PASSWORD_LENGTH or not _verify(user.password_hash, current):
        _fail(settings, user, now)
        session.commit()
        raise SignInRefusedError()
    check_password(settings, username, new)
    user.password_hash = _hasher.hash(new)
    user.failed_sign_ins = 0
    session.execute(delete(WebSession).where(WebSession.user_id == user.user_id))
    signed_in = _open_session(session, settings, user, now)
    session.commit()
    return signed_in


def set_locale(session: Session, user_id: int, locale: str) -> None:
    """Store the user's language (one of :data:`LOCALES`); commits."""
    if locale not in LOCALES:
        raise InvalidError(["body", "locale"], f"the language must be one of {LOCALES}", locale)
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFoundError("user", str(user_id))
    user.locale = locale
    session.commit()


def new_password() -> str:
    """A random password (for demo users): 20 URL-safe characters, about 120 bits."""
    return secrets.token_urlsafe(15)
