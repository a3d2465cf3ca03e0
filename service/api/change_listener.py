"""A worker's ear on the change feed: ``LISTEN kohtaanto_changes`` on a connection of its own.

Writers on every host announce the feed's newest ``seq`` when they commit (see
``service.storage.changes``). This thread records the highest number announced in a
:class:`~service.storage.changes.FeedMark`, so that :meth:`ServingState.catch_up` knows
without a query whether anything changed. It never applies rows itself: the engine is
changed only by request threads, under the state's feed lock.

The mark may be trusted only while :attr:`ChangeListener.listening` is true. That turns true
after ``LISTEN`` and a read of the feed's current ``max(seq)`` (anything committed before the
``LISTEN`` is covered by the read, anything after it by a notification), and false as soon as
the connection is found broken; meanwhile the worker checks the database on every request, as
without a listener. The thread reconnects with exponential backoff, so it survives the
database restarting, and checks a silent connection with ``SELECT 1`` every
``probe_seconds``, so a connection lost without a word (a network partition) is found within
that time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from service.storage.changes import CHANGES_CHANNEL, FeedMark

log = logging.getLogger(__name__)

#: First wait before reconnecting; doubled up to :data:`MAX_BACKOFF_SECONDS`.
FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 5.0
#: The listening connections' ``application_name``.
APPLICATION_NAME = "kohtaanto-change-listener"


def libpq_conninfo(url: str | URL) -> str:
    """The SQLAlchemy URL as a libpq URI (``postgresql+psycopg://`` is SQLAlchemy's)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """A daemon thread that keeps :attr:`announced` at the newest ``seq`` announced."""

    def __init__(
        self,
        url: str | URL,
        *,
        probe_seconds: float = 5.0,
        connect_timeout_seconds: int = 5,
        every_second: Callable[[], object] | None = None,
    ) -> None:
        self.conninfo = libpq_conninfo(url)
        #: Run on this thread about once a second (the worker's model check, so that an idle
        #: worker loads a new champion too, and no request waits for the load).
        self.every_second = every_second
        self._last_tick = time.monotonic()
        self.probe_seconds = probe_seconds
        self.connect_timeout_seconds = connect_timeout_seconds
        self.announced = FeedMark()
        #: Connections made (1 after the first; more after each reconnect).
        self.connections = 0
        #: The server process of the current connection (``pg_stat_activity.pid``).
        self.backend_pid: int | None = None
        #: The process that started the thread: after a fork the child has no such thread.
        self.pid = os.getpid()
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._last_probe = 0.0
        self._thread = threading.Thread(target=self._run, name="change-listener", daemon=True)

    @property
    def listening(self) -> bool:
        """Whether :attr:`announced` is up to date (connected, listening, position read)."""
        return self._listening.is_set() and self.pid == os.getpid()

    def start(self) -> ChangeListener:
        self._thread.start()
        return self

    def wait_listening(self, timeout: float) -> bool:
        """Block until listening (or ``timeout`` seconds); returns whether it is."""
        return self._listening.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close its connection."""
        self._stop.set()
        self._listening.clear()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while not self._stop.is_set():
            try:
                self._listen()
                backoff = FIRST_BACKOFF_SECONDS
            except (psycopg.Error, OSError) as error:
                was_listening = self._listening.is_set()
                self._listening.clear()
                if self._stop.is_set():
                    return
                # The first failure of a connection that worked is a warning; the retries
                # while the database stays away are quieter.
                level = logging.WARNING if was_listening else logging.INFO
                log.log(
                    level,
                    "change listener disconnected (%s); checking the feed per request, "
                    "reconnecting in %.1f s",
                    str(error).strip().splitlines()[0] if str(error).strip() else type(error),
                    backoff,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            finally:
                self._listening.clear()

    def _listen(self) -> None:
        with psycopg.connect(
            self.conninfo,
            autocommit=True,
            connect_timeout=self.connect_timeout_seconds,
            application_name=APPLICATION_NAME,  # how operators find it in pg_stat_activity
        ) as connection:
            self.connections += 1
            self.backend_pid = connection.info.backend_pid
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANGES_CHANNEL)))
            row = connection.execute("SELECT max(seq) FROM changes").fetchone()
            self.announced.raise_to(int(row[0] or 0) if row else 0)
            self._listening.set()
            if self.connections > 1:
                log.info("change listener connected again")
            while not self._stop.is_set():
                heard = False
                # Returns after a second without a notification, so that a stop is seen
                # within a second; a silent connection is probed every probe_seconds.
                for notification in connection.notifies(timeout=min(self.probe_seconds, 1.0)):
                    heard = True
                    self._note(notification.payload)
                    if self._stop.is_set():
                        return
                    self._tick()
                if not heard:
                    self._probe(connection)
                self._tick()

    def _tick(self) -> None:
        now = time.monotonic()
        if self.every_second is None or now - self._last_tick < 1.0:
            return
        self._last_tick = now
        # Notifications wait in the socket meanwhile: until they are read, the worker asks
        # the database per request rather than trust a number that may be behind.
        self._listening.clear()
        try:
            self.every_second()
        except Exception:  # the listener must outlive any failure of the work it lends to
            log.exception("the change listener's periodic work failed")
        finally:
            if not self._stop.is_set():
                self._listening.set()

    def _probe(self, connection: psycopg.Connection[tuple[object, ...]]) -> None:
        now = time.monotonic()
        if now - self._last_probe >= self.probe_seconds:
            self._last_probe = now
            connection.execute("SELECT 1")

    def _note(self, payload: str) -> None:
        try:
            self.announced.raise_to(int(payload))
        except ValueError:
            log.warning("ignoring a change notification without a seq: %r", payload[:80])
