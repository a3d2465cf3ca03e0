"""Group commit of audit entries: one writer transaction for every request waiting at once.

Every matches, shortlist and proposals answer is audited, and the answer may only leave
once its entry is durable. Appending each entry in a transaction of its own costs every
request a writer transaction: the chain's lock, the head's read, a seal row, a commit (an
fsync on both databases) and a seal-file line. A worker's requests instead hand their entry
to the worker's :class:`AuditCommitter` and wait. Its one thread takes everything queued
(at most ``max_group`` entries), opens one writer transaction, locks the chain, resolves
the pseudonyms of every person named, appends the entries in queue order (each chained to
the one before), seals only the group's last head (:func:`audit.append_group`), commits,
writes the group's one seal-file line, and only then wakes every request of the group.

A group that fails wakes every one of its requests with the error, as if each had failed on
its own: an unavailable database is a ``OperationalError`` (answered 503), and nothing of
the group is in the log (one transaction). An entry whose fields cannot be built fails its
own request only, before anything of it is written.

One committer thread per worker is also what bounds the seal file's lag: it writes a
group's line before it begins the next group, so at most one committed group per worker
is missing from the file at any moment (``audit.verify_chain``'s allowance). And only that
thread waits for the database's write lock: on SQLite, requests waiting in its busy handler
(which sleeps 1, 2, 5, 10... ms between tries instead of waking when the lock is free) took
a fifth of the request threads' time under 8 concurrent requests.

Work on a matching slot (``ServingState.in_matching_slot``) does not wait on the slot: it
leaves its ticket in :meth:`AuditCommitter.deferred`, and the request waits on the event
loop once the slot is free, so the next request computes while the entry commits.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from matching.stages import add, stage
from service.api import audit

log = logging.getLogger(__name__)

#: Builds an entry's fields once the pseudonyms of the people it names are known.
EntryBuilder = Callable[[Mapping[str, str]], audit.EntryFields]


class AuditUnavailableError(RuntimeError):
    """The worker cannot audit (built without a sealer, or its committer stopped)."""


#: Guards the tickets' done flags and callbacks (held for a few instructions at a time).
_TICKETS = threading.Lock()


def _new_ticket_lock() -> None:
    global _TICKETS  # noqa: PLW0603 - a forked child must not inherit it held
    _TICKETS = threading.Lock()


os.register_at_fork(after_in_child=_new_ticket_lock)


@dataclass(eq=False)
class Ticket:
    """One request's entry in the queue; :meth:`wait` returns once it is durable."""

    people: Collection[str]
    build: EntryBuilder
    _done: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None
    #: The ticket's share of its group's committer CPU (seconds), set before it is done.
    cpu: float = 0.0
    _callbacks: list[Callable[[], object]] = field(default_factory=list)

    def wait(self) -> None:
        """Block until the entry's group committed (or raise the group's error)."""
        self._done.wait()
        if self._error is not None:
            raise self._error

    def account(self) -> None:
        """Add the ticket's share of the committer's CPU to the current recording's
        ``audit`` stage, once (the committer's thread does not run in the request's
        context, so its CPU would otherwise be in no request's profile)."""
        add("audit", self.cpu)
        self.cpu = 0.0

    def done(self) -> bool:
        return self._done.is_set()

    def _when_done(self, callback: Callable[[], object]) -> None:
        with _TICKETS:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def _finish(self, error: BaseException | None = None) -> None:
        with _TICKETS:
            if self._done.is_set():
                return
            self._error = error
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception as failure:  # e.g. the waiting request's event loop has closed
                log.warning("an audit waiter could not be woken: %s", failure)


class Deferred:
    """Tickets of work run on a matching slot, waited for after the slot is free again."""

    def __init__(self) -> None:
        self.tickets: list[Ticket] = []

    def wait(self) -> None:
        for ticket in self.tickets:
            ticket.wait()
            ticket.account()

    async def wait_async(self) -> None:
        """Wait on the event loop (no thread): the committer wakes it when the group is in."""
        loop = asyncio.get_running_loop()
        for ticket in self.tickets:
            if not ticket.done():
                woken: asyncio.Future[None] = loop.create_future()
                ticket._when_done(functools.partial(loop.call_soon_threadsafe, _wake, woken))
                await woken
        self.wait()  # every ticket is done: raises a group's error, returns otherwise


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # a cancelled request's future stays cancelled
        future.set_result(None)


#: Set by :meth:`AuditCommitter.deferred`: where :meth:`AuditCommitter.record` leaves its
#: ticket instead of waiting (the context follows the work onto its thread).
_DEFERRED: ContextVar[Deferred | None] = ContextVar("kohtaanto_audit_deferred", default=None)


class SqliteWriterLock:
    """The workers' committers of one SQLite file take turns on a file lock of their own.

    Each worker's committer begins its group with SQLite's write lock (``BEGIN IMMEDIATE``).
    When another worker's committer holds it, SQLite's busy handler does not wake the waiter
    when the lock is free: it sleeps 1, 2, 5, 10 ... up to 100 ms between tries. With every
    matches and shortlist answer waiting for its group, two workers' committers colliding
    left half the cores idle (measured on the national world: matches without factors at 8
    in flight used 1.0 of 2 cores). An ``flock`` on a file beside the database is granted by
    the kernel the moment it is released, so the committers queue there instead, and reach
    SQLite's lock when it is (almost always) free. PostgreSQL queues lock waiters itself.

    Per process: a lock is held by an open file description, which a fork would share, so a
    forked worker opens the file again.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._descriptor: tuple[int, int] | None = None  # (pid, fd)

    @classmethod
    def for_engine(cls, engine: Engine | None) -> SqliteWriterLock:
        database = engine.url.database if engine is not None else None
        if engine is None or engine.dialect.name != "sqlite" or not database:
            return cls(None)
        if database == ":memory:" or database.startswith("file:"):
            return cls(None)
        return cls(Path(f"{database}-audit.lock"))

    @contextmanager
    def held(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        if self._descriptor is None or self._descriptor[0] != os.getpid():
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._descriptor = (os.getpid(), fd)
        fd = self._descriptor[1]
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


class AuditCommitter:
    """One worker's audit queue and the thread that commits it in groups."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        sealer: audit.Sealer | None,
        pseudonym_cache: dict[str, str],
        *,
        max_group: int = 256,
        linger_seconds: float = 0.0,
    ) -> None:
        """``sessions`` open writer transactions (SQLite: ``BEGIN IMMEDIATE``).

        ``linger_seconds``: how long the thread waits for more entries once one is queued.
        Zero by default: while a group commits, the next requests queue anyway, so groups
        grow with the load without making a lone request wait.
        """
        self._sessions = sessions
        # A sessionmaker's engine (with its options: SQLite's BEGIN IMMEDIATE): the groups
        # are written on a Core connection, not in a Session (see _commit).
        bind = getattr(sessions, "kw", {}).get("bind")
        self._engine: Engine | None = bind if isinstance(bind, Engine) else None
        self._file_lock = SqliteWriterLock.for_engine(self._engine)
        self._sealer = sealer
        self._cache = pseudonym_cache
        self._max_group = max_group
        self._linger = linger_seconds
        #: Groups and entries committed (for the benchmark and the tests).
        self.groups = 0
        self.entries = 0
        self._reset()
        # A forked worker inherits the object but not the thread (nor a lock's state): it
        # starts afresh, before any thread of its own can queue an entry.
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(this))

    def _reset(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._queue: list[Ticket] = []
        self._thread: threading.Thread | None = None
        self._closing = False

    # ---- the requests' side --------------------------------------------------------------

    def record(self, people: Collection[str], build: EntryBuilder) -> None:
        """Append an entry naming ``people`` (jobseeker ids); return once it is durable.

        ``build`` gets their pseudonyms and returns the entry's fields; it runs on the
        committer's thread inside the group's transaction. Within :meth:`deferred`, return
        at once and leave the waiting to whoever opened it.
        """
        with stage("audit"):
            ticket = self.submit(people, build)
            deferred = _DEFERRED.get()
            if deferred is not None:
                deferred.tickets.append(ticket)
                return
            ticket.wait()
            ticket.account()

    def submit(self, people: Collection[str], build: EntryBuilder) -> Ticket:
        """Queue an entry; the ticket's :meth:`Ticket.wait` returns once it is durable."""
        if self._sealer is None:
            raise AuditUnavailableError("this worker was built without an audit sealer")
        ticket = Ticket(people, build)
        with self._changed:
            self._queue.append(ticket)
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(
                    target=self._run, name="audit-committer", daemon=True
                )
                self._thread.start()
            self._changed.notify()
        return ticket

    @staticmethod
    @contextmanager
    def deferred() -> Iterator[Deferred]:
        """Collect the tickets :meth:`record` queues in this context instead of waiting.

        For work on a matching slot: the slot is free for the next request while the entry
        commits, and entries of several requests can share a group. The caller must wait
        (:meth:`Deferred.wait_async`) before it answers.
        """
        collected = Deferred()
        token = _DEFERRED.set(collected)
        try:
            yield collected
        finally:
            _DEFERRED.reset(token)

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread (a later entry starts a new one).

        Bounded: a thread stuck on the database past ``timeout`` is left behind (it is a
        daemon, and its requests are answered when it returns).
        """
        with self._changed:
            thread = self._thread
            self._closing = True
            self._changed.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.error("the audit committer did not finish within %.0f s", timeout)

    # ---- the committer's thread ----------------------------------------------------------

    def _run(self) -> None:
        try:
            while group := self._take():
                self._commit(group)
        finally:
            with self._changed:
                if self._thread is threading.current_thread():  # it died: nobody may hang
                    self._thread = None
                    stranded, self._queue = self._queue, []
                    for ticket in stranded:
                        ticket._finish(AuditUnavailableError("the audit committer stopped"))

    def _take(self) -> list[Ticket]:
        """The next group, oldest first; empty when closing with nothing queued."""
        with self._changed:
            while not self._queue:
                if self._closing:
                    self._thread = None  # under the lock: a new entry starts a new thread
                    return []
                self._changed.wait()
            if self._linger > 0:
                deadline = time.monotonic() + self._linger
                while len(self._queue) < self._max_group and not self._closing:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._changed.wait(remaining)
            group = self._queue[: self._max_group]
            del self._queue[: self._max_group]
            return group

    def _commit(self, group: list[Ticket]) -> None:
        assert self._sealer is not None  # submit refuses entries without one
        started = time.thread_time()
        appended: list[Ticket] = []
        try:
            if self._engine is not None:
                self._write(self._engine, self._sealer, group, appended)
            else:
                self._write_in_session(self._sealer, group, appended)
        except BaseException as error:
            log.error("audit group of %d entries not written: %s", len(group), error)
            share = (time.thread_time() - started) / len(group)
            for ticket in group:
                if not ticket.done():
                    ticket.cpu = share
                ticket._finish(error)  # not those already failed on their own
            if not isinstance(error, Exception):
                raise
            return
        self.groups += 1
        self.entries += len(appended)
        # Each request's share of the group's CPU, for its profile (Ticket.account).
        share = (time.thread_time() - started) / len(group)
        for ticket in appended:
            ticket.cpu = share
            ticket._finish()

    def _build(
        self, group: list[Ticket], named: Mapping[str, str], appended: list[Ticket]
    ) -> list[audit.EntryFields]:
        entries: list[audit.EntryFields] = []
        for ticket in group:
            try:
                entries.append(ticket.build(named))
            except Exception as error:  # that request's fault: it alone fails
                ticket._finish(error)
            else:
                appended.append(ticket)
        return entries

    def _write(
        self, engine: Engine, sealer: audit.Sealer, group: list[Ticket], appended: list[Ticket]
    ) -> None:
        """The group in one transaction on a Core connection; then its seal-file line."""
        # A connection from the pool per group, not one kept: a pool of one connection must
        # still serve the requests' reads, and the pool's pre-ping replaces a dead one.
        with self._file_lock.held(), engine.connect() as connection, connection.begin():
            # The lock before the pseudonyms: a key is only created inside an append.
            audit.lock_chain_on(connection)
            people = dict.fromkeys(person for ticket in group for person in ticket.people)
            named = audit.pseudonyms(connection, people, self._cache)
            entries = self._build(group, named, appended)
            head = audit.append_group_on(connection, sealer=sealer, entries=entries)
        if head is not None:  # committed: only now may the head be in the file
            audit.publish(sealer, [head])

    def _write_in_session(
        self, sealer: audit.Sealer, group: list[Ticket], appended: list[Ticket]
    ) -> None:
        """The same in a Session, for a session factory that is not a plain sessionmaker."""
        with self._sessions() as writer:
            audit.lock_chain(writer)
            people = dict.fromkeys(person for ticket in group for person in ticket.people)
            named = audit.pseudonyms(writer.connection(), people, self._cache)
            entries = self._build(group, named, appended)
            audit.append_group(writer, sealer=sealer, entries=entries)
            # The seal file's line is written on commit (audit._publish_sealed_heads).
            writer.commit()


def _reset_in_child(committer: weakref.ref[AuditCommitter]) -> None:
    alive = committer()
    if alive is not None:
        alive._reset()
