"""The file lock the workers' audit committers of one SQLite database take turns on."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from service.api.audit_committer import SqliteWriterLock
from service.storage.database import make_engine


def test_a_second_holder_waits_until_the_first_releases_and_then_gets_it_at_once(
    tmp_path: Path,
) -> None:
    # Two instances: two open file descriptions, as two worker processes would have.
    engine = make_engine(f"sqlite:///{tmp_path / 'kohtaanto.db'}")
    first, second = SqliteWriterLock.for_engine(engine), SqliteWriterLock.for_engine(engine)
    assert first.path == tmp_path / "kohtaanto.db-audit.lock"
    taken = threading.Event()
    got_it_at: list[float] = []

    def other() -> None:
        taken.wait()
        with second.held():
            got_it_at.append(time.monotonic())

    thread = threading.Thread(target=other)
    thread.start()
    with first.held():
        taken.set()
        time.sleep(0.2)
        released_at = time.monotonic()
    thread.join(5)
    assert got_it_at, "the second holder never got the lock"
    # Not before the release; and woken by it, not by a polling sleep.
    assert released_at <= got_it_at[0] < released_at + 0.05
    engine.dispose()


def test_a_forked_child_opens_the_lock_file_again_and_waits_for_its_parent(
    tmp_path: Path,
) -> None:
    """A child sharing the parent's open file description would share its lock too."""
    engine = make_engine(f"sqlite:///{tmp_path / 'kohtaanto.db'}")
    lock = SqliteWriterLock.for_engine(engine)
    read, write = os.pipe()
    with lock.held():
        pid = os.fork()
        if pid == 0:  # the child takes the lock while the parent still holds it
            os.close(read)
            try:
                with lock.held():
                    mine = lock._descriptor is not None and lock._descriptor[0] == os.getpid()
                    os.write(write, f"{int(mine)} {time.monotonic()!r}".encode())
            finally:
                os._exit(0)
        os.close(write)
        time.sleep(0.2)
        released_at = time.monotonic()
    answer = os.read(read, 100).decode().split()
    os.waitpid(pid, 0)
    os.close(read)
    assert answer[0] == "1"  # the child opened the file itself
    assert float(answer[1]) >= released_at  # and got the lock only once the parent let go
    engine.dispose()


def test_no_file_lock_without_a_database_file() -> None:
    assert SqliteWriterLock.for_engine(make_engine("sqlite://")).path is None
    assert SqliteWriterLock.for_engine(None).path is None
