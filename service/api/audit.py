"""The append-only, hash-chained audit log of every matches and shortlist response.

Each entry's hash is sha256 over the previous entry's hash and the entry's canonical JSON
(sorted keys, no whitespace), so changing, removing or reordering any entry breaks every hash
after it: :func:`verify_chain` finds the first broken link. Writers serialise on the chain's
head (PostgreSQL: a transaction-scoped advisory lock; SQLite: its single writer), so two
workers never append two entries with the same predecessor.

The entries are also the exposure log: what was shown, to whom, by which model and at which
rank, which the training set's propensity weights need.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session

from service.storage.tables import AuditLogEntry

GENESIS = "0" * 64
#: Any fixed 64-bit key; serialises appends across processes on PostgreSQL.
_ADVISORY_LOCK_KEY = 0x6B6F6875  # not the change feed's key: the two never wait on each other


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _stored_float(text: str) -> float:
    """A JSON number as the database gives it back: PostgreSQL's ``jsonb`` has no negative
    zero, so a score rounded to ``-0.0`` is read back as ``0.0``; hashed as ``-0.0`` the
    entry would never verify again."""
    return float(text) + 0.0  # -0.0 + 0.0 is 0.0; every other number is unchanged


def _as_stored(value: Any) -> Any:
    """``value`` as plain JSON values exactly as they survive a round trip through the log."""
    return json.loads(canonical(value), parse_float=_stored_float)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def _fields(entry: AuditLogEntry) -> dict[str, Any]:
    recorded = entry.recorded_at
    if recorded.tzinfo is None:
        recorded = recorded.replace(tzinfo=UTC)
    return {
        "recorded_at": recorded.astimezone(UTC).isoformat(timespec="microseconds"),
        "user_id": entry.user_id,
        "role": entry.role,
        "organisation_id": entry.organisation_id,
        "route": entry.route,
        "query": entry.query,
        "model_version": entry.model_version,
        "results": entry.results,
        "explanation_digest": entry.explanation_digest,
    }


def explanation_digest(explanations: Iterable[Any]) -> str:
    """sha256 of the canonical JSON (sorted keys) of plain explanation values."""
    return hashlib.sha256(canonical(list(explanations)).encode("utf-8")).hexdigest()


def response_digest(items: Sequence[BaseModel]) -> str:
    """sha256 of response models as the API serialises them: a JSON array of their bodies.

    pydantic writes each model's JSON (fields in schema order) in Rust; with the canonical
    ``json.dumps`` of :func:`explanation_digest` the digest of 20 explanations took a tenth of
    a matches request.
    """
    body = b"[" + b",".join(item.__pydantic_serializer__.to_json(item) for item in items) + b"]"
    return hashlib.sha256(body).hexdigest()


def append(
    session: Session,
    *,
    user_id: int | None,
    role: str | None,
    organisation_id: str | None,
    route: str,
    query: dict[str, Any],
    model_version: str | None,
    results: Sequence[Any],
    explanation_digest: str | None,
) -> AuditLogEntry:
    """Add one entry to the chain inside ``session``'s transaction (the caller commits)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    # Core statements on the session's connection: the ORM's per-statement machinery (bulk
    # insert planning, identity map) cost more than the statements on every matches and
    # shortlist request.
    connection = session.connection()
    head = connection.execute(
        select(_TABLE.c.entry_hash).order_by(_TABLE.c.seq.desc()).limit(1)
    ).scalar()
    entry = AuditLogEntry(
        recorded_at=datetime.now(UTC),
        user_id=user_id,
        role=role,
        organisation_id=organisation_id,
        route=route,
        query=_as_stored(query),
        model_version=model_version,
        results=_as_stored(list(results)),
        explanation_digest=explanation_digest,
        prev_hash=head or GENESIS,
        entry_hash="",
    )
    entry.entry_hash = entry_hash(entry.prev_hash, _fields(entry))
    connection.execute(
        insert(_TABLE), [{column: getattr(entry, column) for column in _INSERTED_COLUMNS}]
    )
    return entry


_TABLE: Table = AuditLogEntry.__table__  # type: ignore[assignment]
#: Every column but the sequence number, which the database assigns.
_INSERTED_COLUMNS = tuple(column.name for column in _TABLE.columns if column.name != "seq")


@dataclass(frozen=True)
class ChainReport:
    entries: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Recompute every hash in order; report the first entry that does not fit."""
    previous = GENESIS
    count = 0
    last_seq = 0
    while True:
        rows = session.scalars(
            select(AuditLogEntry)
            .where(AuditLogEntry.seq > last_seq)
            .order_by(AuditLogEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return ChainReport(count, True)
        for entry in rows:
            if entry.prev_hash != previous:
                return ChainReport(
                    count, False, entry.seq, "its previous hash is not the entry before it"
                )
            if entry_hash(entry.prev_hash, _fields(entry)) != entry.entry_hash:
                return ChainReport(count, False, entry.seq, "its contents do not match its hash")
            previous = entry.entry_hash
            count += 1
            last_seq = entry.seq
