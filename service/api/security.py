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
from dataclasses import dataclass

from fastapi import HTTPException, status

from service.storage.tables import Role
from service.storage.users import hash_token, new_token

__all__ = ["Caller", "hash_token", "new_token", "not_found", "pseudonym", "unauthorised"]


@dataclass(frozen=True)
class Caller:
    """The authenticated user of one request."""

    user_id: int
    name: str
    role: Role
    organisation_id: str


def unauthorised(detail: str = "a valid bearer token is required") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def not_found(kind: str, identifier: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {kind} {identifier!r}")


def pseudonym(secret: bytes, vacancy_id: str, jobseeker_id: str) -> str:
    """A stable per-vacancy pseudonym: the same person, another vacancy, another name."""
    digest = hmac.new(secret, f"{vacancy_id}\x1f{jobseeker_id}".encode(), hashlib.sha256)
    return "C-" + digest.hexdigest()[:12].upper()
