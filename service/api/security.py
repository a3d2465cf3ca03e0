"""Who is calling: bearer tokens, users, roles and the ownership rules every route applies.

Tokens are random (``secrets.token_urlsafe``) and stored only as their sha256; a lookup hashes
the presented token. Every object belongs to an organisation and each role reaches objects
through its own organisation only:

- coach: jobseekers whose ``organisation_id`` is the coach's employment service;
- employer: vacancies of the suppliers whose ``organisation_id`` is the employer's;
- procurement: contracts whose ``buyer_id`` is the officer's organisation;
- admin: operations (models, audit), not personal data.

A foreign object answers 404, exactly as a missing one, so ids of other organisations cannot
be probed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from fastapi import HTTPException, status

from service.operations.errors import NotFoundError
from service.storage.tables import Role
from service.storage.users import hash_token, new_token

__all__ = [
    "UNKNOWN_TOKEN",
    "Caller",
    "CallerCache",
    "hash_token",
    "new_token",
    "not_found",
    "pseudonym",
    "unauthorised",
]


@dataclass(frozen=True)
class Caller:
    """The authenticated user of one request."""

    user_id: int
    name: str
    role: Role
    organisation_id: str
    #: When the token stops working (POSIX seconds); None: it does not expire. Checked on
    #: every request, so a cached caller never outlives its token.
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


#: What the caller cache remembers for a token that names no active user.
UNKNOWN_TOKEN = Caller(0, "", Role.ADMIN, "")


class CallerCache:
    """Token hash -> caller, each entry kept for ``ttl_seconds`` (per worker).

    Every request authenticates; remembering the answer for a few seconds spares a database
    round trip per request. A user disabled in the database is refused by every worker within
    ``ttl_seconds`` (the worker that disabled it drops the entry at once, ``drop_user``).
    Unknown tokens are remembered too (a client retrying a bad token does
    not reach the database each time); the cache holds at most ``max_entries``, and is
    cleared when full.
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Caller, float]] = {}

    def get(self, token_hash: str) -> Caller | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        caller, expires = entry
        if time.monotonic() >= expires:
            self._entries.pop(token_hash, None)
            return None
        return caller

    def put(self, token_hash: str, caller: Caller) -> None:
        if self.ttl_seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[token_hash] = (caller, time.monotonic() + self.ttl_seconds)

    def drop(self, token_hash: str) -> None:
        """Forget one token (its user was enabled, or the token rotated, here)."""
        self._entries.pop(token_hash, None)

    def drop_user(self, user_id: int) -> None:
        """Forget every token of a user disabled or rotated by a request of this worker.

        Other workers still trust their entry until it ages out: ``ttl_seconds`` is the
        documented window in which a disabled or rotated token may still be accepted there.
        """
        # A snapshot first (one C-level copy under the GIL): routes run on threads, and the
        # event loop may add entries meanwhile.
        entries = tuple(self._entries.items())
        stale = [key for key, (caller, _) in entries if caller.user_id == user_id]
        for key in stale:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


def unauthorised(detail: str = "a valid bearer token is required") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def not_found(kind: str, identifier: str) -> NotFoundError:
    return NotFoundError(kind, identifier)


def pseudonym(secret: bytes, vacancy_id: str, jobseeker_id: str) -> str:
    """A stable per-vacancy pseudonym: the same person, another vacancy, another name."""
    digest = hmac.new(secret, f"{vacancy_id}\x1f{jobseeker_id}".encode(), hashlib.sha256)
    return "C-" + digest.hexdigest()[:12].upper()
