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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, text

from service.storage.tables import Change, ChangeEntity, ChangeOp, utc_now

__all__ = ["ChangeRow", "changes_since", "record_changes"]

#: Key of the PostgreSQL advisory lock that serialises appends to the feed ("koht").
CHANGE_FEED_LOCK = 0x6B6F6874


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
