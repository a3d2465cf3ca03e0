"""The workers of one host share the mark of the change feed's own commits."""

from __future__ import annotations

import os

from service.storage.changes import COMMITTED_HERE, SharedFeedMark


def test_a_commit_noted_in_a_forked_worker_is_seen_by_its_siblings_and_supervisor() -> None:
    """The pre-fork server's workers are forks made after this module was imported: a write
    through one worker must be known to the others at once (their next request reads it)."""
    target = COMMITTED_HERE.seq + 5
    pid = os.fork()
    if pid == 0:  # a worker that committed a change
        try:
            COMMITTED_HERE.raise_to(target)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert COMMITTED_HERE.seq == target


def test_the_mark_only_rises() -> None:
    mark = SharedFeedMark()
    mark.raise_to(7)
    mark.raise_to(3)
    assert mark.seq == 7
