"""The change feed: every write that changes what the engine holds about a jobseeker or a
vacancy appends a row to ``changes``: the record itself, a person's assessments, and the
outcome events live state derives from (a hire or an ended employment, for the person and
the vacancy; see ``service.api.outcomes``).

Each service worker keeps its own in-memory matching engine and reads the rows after the
last sequence number it applied (:func:`changes_since`). A reader must never skip a row, so
on PostgreSQL writers take a transaction-scoped advisory lock before appending: a sequence
number handed out by a transaction that commits later than a higher one would otherwise be
invisible to a read that has already moved past it. (SQLite has one writer at a time, which
gives the same guarantee.) The lock also means that once a transaction that appended up to
``seq`` has ended, every lower number is settled: committed or never to appear.

How a worker learns that there is something to read, without asking the database on every
request:

* on PostgreSQL the appending transaction also sends ``NOTIFY kohtaanto_changes`` with the
  new highest ``seq`` as payload; PostgreSQL delivers it at commit, in commit order, to every
  connection listening (each worker's :class:`~service.api.change_listener.ChangeListener`,
  on every host);
* a host's own writes are known at once: the highest ``seq`` a transaction appended is
  kept on its database connection and published to :data:`COMMITTED_HERE` (shared by the
  workers of a host) as it commits, so the host's next request, on any of its workers, reads
  the write even before the notification arrives (read-your-writes). It is kept on the
  connection, not the thread: a route's session may be committed by another thread of the
  pool than the one that wrote (FastAPI runs a sync dependency's teardown on a thread of its
  own). It is a hint, not a promise: it is published just before the database confirms the
  commit. Readers therefore never move
  their position to it, only to rows they read and to notified numbers, which PostgreSQL
  sends after the commit, and look for it again when the rows were not there yet.

An erased person must not stay in the feed: :func:`forget_jobseeker` deletes their rows and
appends the one ``delete`` every worker still needs, naming them by a token (an HMAC of the
id with the service's pseudonym key, which every worker holds) instead of the id. A worker
that reads such a row finds the person in its engine by hashing the ids it holds; the
database alone cannot link the token to anyone.
"""

from __future__ import annotations

import hashlib
import hmac
import multiprocessing
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, event, insert, select, text

from service.storage.tables import Change, ChangeEntity, ChangeOp, utc_now

__all__ = [
    "CHANGES_CHANNEL",
    "COMMITTED_HERE",
    "ERASED_PREFIX",
    "ChangeRow",
    "FeedMark",
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
#: The PostgreSQL notification channel of the feed; the payload is the newest ``seq``.
CHANGES_CHANNEL = "kohtaanto_changes"


@dataclass
class FeedMark:
    """The highest feed ``seq`` known to be committed, raised by one thread, read by others.

    Only ever raised (a late, lower value changes nothing), so notifications and commits
    may report in any order.
    """

    seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def raise_to(self, seq: int) -> None:
        if seq > self.seq:
            with self._lock:
                self.seq = max(self.seq, seq)


class SharedFeedMark:
    """A :class:`FeedMark` in memory shared with the processes forked after it was made.

    The pre-fork server's workers are forks of one supervisor, which imports this module
    while it builds the engine: every worker of a host then raises and reads the same
    number. A coach's write through one worker is known to the other workers of the host at
    once, as it is to the writing worker, before the notification arrives: the next request,
    whichever worker takes it, reads the write (as when every request asked the database).
    Raised under a lock shared by the processes (so no raise is lost to another's); read
    without one (an aligned 64-bit read is never torn).
    """

    def __init__(self) -> None:
        self._value = multiprocessing.Value("q", 0, lock=True)

    @property
    def seq(self) -> int:
        return int(self._value.get_obj().value)

    def raise_to(self, seq: int) -> None:
        if seq > self.seq:
            with self._value.get_lock():
                self._value.value = max(self._value.value, seq)


#: The highest ``seq`` committed by this process or by another worker forked from the same
#: supervisor (one host; see the module's docstring).
COMMITTED_HERE = SharedFeedMark()
#: Where a connection keeps the highest ``seq`` its open transaction appended.
_APPENDED = "kohtaanto.changes.appended"


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
    if connection.dialect.name != "postgresql":
        # One host, one writer at a time: readers check the feed on every request.
        connection.execute(insert(Change), rows)
        return len(rows)
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_FEED_LOCK})
    connection.execute(insert(Change), rows)
    # Under the lock no other transaction appends, so the highest seq is this one's; the
    # notification leaves only if the transaction commits.
    newest = int(connection.execute(_NOTIFY_NEWEST, {"channel": CHANGES_CHANNEL}).scalar_one())
    connection.info[_APPENDED] = max(connection.info.get(_APPENDED, 0), newest)
    return len(rows)


_NOTIFY_NEWEST = text(
    "SELECT newest, pg_notify(:channel, CAST(newest AS text)) "
    "FROM (SELECT max(seq) AS newest FROM changes) AS feed"
)


@event.listens_for(Engine, "commit")
def _publish_appended(connection: Connection) -> None:
    """The transaction that appended is committing: its worker may look for the rows."""
    seq = connection.info.pop(_APPENDED, 0)
    if seq:
        COMMITTED_HERE.raise_to(seq)


@event.listens_for(Engine, "rollback")
def _forget_appended(connection: Connection) -> None:
    connection.info.pop(_APPENDED, None)


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
