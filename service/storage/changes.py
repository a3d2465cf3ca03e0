"""The change feed: every write that changes what the engine holds about a jobseeker or a
vacancy appends a row to ``changes``: the record itself, a person's assessments, and the
outcome events live state derives from (a hire or an ended employment, for the person and
the vacancy; see ``service.api.outcomes``).

Each service worker keeps its own in-memory matching engine and polls
:func:`changes_since` with the last sequence number it applied. A poller must never skip a
row, so on PostgreSQL writers take a transaction-scoped advisory lock before appending: a
sequence number handed out by a transaction that commits later than a higher one would
otherwise be invisible to a poll that has already moved past it. (SQLite has one writer at a
time, which gives the same guarantee.)

An erased person must not stay in the feed: :func:`forget_jobseeker` deletes their rows and
appends the one ``delete`` every worker still needs, naming them by a token (an HMAC of the
id with the service's pseudonym key, which every worker holds) instead of the id. A worker
that reads such a row finds the person in its engine by hashing the ids it holds; the
database alone cannot link the token to anyone.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, text

from service.storage.tables import Change, ChangeEntity, ChangeOp, utc_now

__all__ = [
    "ERASED_PREFIX",
    "ChangeRow",
    "changes_since",
    "erased_entity_id",
    "erased_entity_ids",
    "forget_jobseeker",
    "record_changes",
]

#: Key of the PostgreSQL advisory lock that serialises appends to the feed ("koht").
CHANGE_FEED_LOCK = 0x6B6F6874
#: How the ``entity_id`` of an erased person's delete row begins (no world id does).
ERASED_PREFIX = "ERASED:"


@dataclass(frozen=True)
class ChangeRow:
    seq: int
    entity: ChangeEntity
    entity_id: str
    op: ChangeOp
    recorded_at: datetime


def record_changes(
    connection: Connection,
    entity: ChangeEntity,
    entity_ids: Iterable[str],
    op: ChangeOp = ChangeOp.UPSERT,
) -> int:
    """Append one change per id (in the caller's transaction); returns how many."""
    now = utc_now()
    rows = [
        {"entity": entity.value, "entity_id": entity_id, "op": op.value, "recorded_at": now}
        for entity_id in dict.fromkeys(entity_ids)
    ]
    if not rows:
        return 0
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_FEED_LOCK})
    connection.execute(insert(Change), rows)
    return len(rows)


def changes_since(connection: Connection, after_seq: int, limit: int = 10_000) -> list[ChangeRow]:
    """The changes with ``seq > after_seq``, oldest first, at most ``limit``."""
    table = Change.__table__
    statement = select(table).where(table.c.seq > after_seq).order_by(table.c.seq).limit(limit)
    return [
        ChangeRow(
            seq=row.seq,
            entity=ChangeEntity(row.entity),
            entity_id=row.entity_id,
            op=ChangeOp(row.op),
            recorded_at=row.recorded_at,
        )
        for row in connection.execute(statement)
    ]


def erased_entity_ids(key: bytes, jobseeker_ids: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(token, id) of each id: the ``entity_id`` its erasure's delete row carries."""
    base = hmac.new(key, b"erased-jobseeker:", hashlib.sha256)
    for jobseeker_id in jobseeker_ids:
        digest = base.copy()
        digest.update(jobseeker_id.encode("utf-8"))
        yield ERASED_PREFIX + digest.hexdigest()[:56], jobseeker_id


def erased_entity_id(key: bytes, jobseeker_id: str) -> str:
    return next(erased_entity_ids(key, [jobseeker_id]))[0]


def forget_jobseeker(connection: Connection, key: bytes, jobseeker_id: str) -> None:
    """Replace the person's rows of the feed by one delete row naming them by token."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_FEED_LOCK})
    connection.execute(
        delete(Change).where(
            Change.entity == ChangeEntity.JOBSEEKER.value, Change.entity_id == jobseeker_id
        )
    )
    record_changes(
        connection, ChangeEntity.JOBSEEKER, [erased_entity_id(key, jobseeker_id)], ChangeOp.DELETE
    )
