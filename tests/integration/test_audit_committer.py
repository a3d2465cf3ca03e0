"""Group commit of audit entries: many requests' entries in one transaction and one seal,
each request released only once its entry is durable, a failed group failing all of its
requests and writing nothing. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from matching.stages import recording
from service.api import audit
from service.api.audit_committer import AuditCommitter, AuditUnavailableError, EntryBuilder
from service.storage.database import make_session_factory
from service.storage.tables import AuditLogEntry, AuditSeal, PersonKey
from tests.integration.test_audit_chain import SEAL_KEY

pytestmark = pytest.mark.integration
#: Bounds every wait of these tests: a hang is a failure, not a stuck run.
WAIT = 30.0


@pytest.fixture
def sealer(tmp_path: Path) -> audit.Sealer:
    made = audit.Sealer(SEAL_KEY.encode(), tmp_path / "audit-seals.log")
    made.create_file()
    return made


@pytest.fixture
def committer(migrated_engine: Engine, sealer: audit.Sealer) -> Iterator[AuditCommitter]:
    made = AuditCommitter(make_session_factory(migrated_engine, writer=True), sealer, {})
    try:
        yield made
    finally:
        made.close(timeout=WAIT)


def _matches_entry(person: str, k: int) -> EntryBuilder:
    def build(named: Mapping[str, str]) -> audit.EntryFields:
        return audit.EntryFields(
            user_id=k,
            role="coach",
            organisation_id="ES-X",
            route="coach.matches",
            query={"jobseeker_id": named[person], "k": k},
            model_version="m1",
            results=[[f"VA{k}", 0.5]],
            explanation_digest=None,
        )

    return build


def _rows(engine: Engine) -> tuple[list[AuditLogEntry], int, dict[str, str]]:
    with make_session_factory(engine)() as session:
        entries = list(session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.seq)))
        seals = session.scalar(select(func.count()).select_from(AuditSeal)) or 0
        keys = {str(p.pseudonym): str(p.jobseeker_id) for p in session.scalars(select(PersonKey))}
    return entries, seals, keys


def _verify(engine: Engine, sealer: audit.Sealer, allowed: int = 0) -> audit.ChainReport:
    with make_session_factory(engine)() as session:
        return audit.verify_chain(session, sealer, unpublished_allowed=allowed)


def test_waiting_entries_share_one_transaction_and_one_seal(
    migrated_engine: Engine, sealer: audit.Sealer, committer: AuditCommitter
) -> None:
    """The first entry's group is held open until 31 more requests wait: they are the next
    group, appended in queue order, sealed once, and every request returns."""
    building, queued = threading.Event(), threading.Event()
    first = _matches_entry("JS0", 0)

    def held(named: Mapping[str, str]) -> audit.EntryFields:
        building.set()
        assert queued.wait(WAIT)
        return first(named)

    leader = threading.Thread(target=committer.record, args=(["JS0"], held))
    leader.start()
    assert building.wait(WAIT)  # the committer took the first entry alone
    tickets = []
    for k in range(1, 32):
        tickets.append(committer.submit([f"JS{k % 7}"], _matches_entry(f"JS{k % 7}", k)))
    queued.set()
    leader.join(WAIT)
    assert not leader.is_alive()
    for ticket in tickets:
        ticket.wait()
    assert (committer.groups, committer.entries) == (2, 32)
    entries, seals, keys = _rows(migrated_engine)
    assert [e.query["k"] for e in entries] == list(range(32))  # queue order
    assert seals == 2 and len(sealer.path.read_text().splitlines()) == 2
    assert {keys[e.query["jobseeker_id"]] for e in entries} == {f"JS{n}" for n in range(7)}
    report = _verify(migrated_engine, sealer)
    assert report.ok and report.entries == 32 and report.unpublished == 0, report


def test_a_failed_commit_fails_every_request_of_the_group_and_writes_nothing(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    writers = make_session_factory(migrated_engine, writer=True)
    failing = threading.Event()

    def sessions() -> Session:
        session = writers()

        @event.listens_for(session, "before_commit")
        def refuse(session: Session) -> None:
            if failing.is_set():
                raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

        return session

    committer = AuditCommitter(sessions, sealer, {})  # type: ignore[arg-type]
    try:
        committer.record(["JS1"], _matches_entry("JS1", 1))
        failing.set()
        tickets = [committer.submit([f"JS{k}"], _matches_entry(f"JS{k}", k)) for k in (2, 3, 4)]
        for ticket in tickets:
            with pytest.raises(OperationalError, match="disk I/O"):
                ticket.wait()
        entries, seals, keys = _rows(migrated_engine)
        assert [e.query["k"] for e in entries] == [1] and seals == 1
        assert set(keys.values()) == {"JS1"}  # the group's new keys rolled back with it
        assert len(sealer.path.read_text().splitlines()) == 1
        failing.clear()
        committer.record(["JS5"], _matches_entry("JS5", 5))  # the committer carries on
    finally:
        committer.close(timeout=WAIT)
    assert _verify(migrated_engine, sealer).ok


def test_an_entry_that_cannot_be_built_fails_its_request_only(
    migrated_engine: Engine, sealer: audit.Sealer, committer: AuditCommitter
) -> None:
    queued = threading.Event()

    def held(named: Mapping[str, str]) -> audit.EntryFields:
        assert queued.wait(WAIT)
        return _matches_entry("JS0", 0)(named)

    def broken(named: Mapping[str, str]) -> audit.EntryFields:
        return _matches_entry("JS9", 9)(named)  # names someone it did not list

    leader = committer.submit(["JS0"], held)
    good = committer.submit(["JS1"], _matches_entry("JS1", 1))
    bad = committer.submit(["JS2"], broken)
    also_good = committer.submit(["JS3"], _matches_entry("JS3", 3))
    queued.set()
    leader.wait()
    good.wait()
    also_good.wait()
    with pytest.raises(KeyError):
        bad.wait()
    entries, _, _ = _rows(migrated_engine)
    assert [e.query["k"] for e in entries] == [0, 1, 3]
    assert _verify(migrated_engine, sealer).ok


def test_close_commits_what_is_queued_and_a_later_entry_starts_again(
    migrated_engine: Engine, sealer: audit.Sealer, committer: AuditCommitter
) -> None:
    tickets = [committer.submit([f"JS{k}"], _matches_entry(f"JS{k}", k)) for k in range(20)]
    thread = committer._thread
    assert thread is not None and thread.is_alive()
    committer.close(timeout=WAIT)
    assert all(ticket.done() for ticket in tickets)
    for ticket in tickets:
        ticket.wait()
    # This committer's thread (other tests' committers in the process may still run).
    assert not thread.is_alive() and committer._thread is None
    committer.record(["JS20"], _matches_entry("JS20", 20))
    entries, _, _ = _rows(migrated_engine)
    assert len(entries) == 21 and _verify(migrated_engine, sealer).ok


def test_a_deferred_entry_is_waited_for_outside_the_work(
    migrated_engine: Engine, sealer: audit.Sealer, committer: AuditCommitter
) -> None:
    """Work on a matching slot leaves its ticket; the event loop waits for it, no thread."""
    queued = threading.Event()

    def held(named: Mapping[str, str]) -> audit.EntryFields:
        assert queued.wait(WAIT)
        return _matches_entry("JS1", 1)(named)

    with AuditCommitter.deferred() as deferred:
        committer.record(["JS1"], held)  # returns at once: the entry is not in yet
    assert len(deferred.tickets) == 1 and not deferred.tickets[0].done()

    async def answer() -> None:
        waiting = asyncio.ensure_future(deferred.wait_async())
        await asyncio.sleep(0)
        assert not waiting.done()
        queued.set()
        await asyncio.wait_for(waiting, WAIT)

    asyncio.run(answer())
    entries, _, _ = _rows(migrated_engine)
    assert [e.query["k"] for e in entries] == [1]


def test_a_worker_without_a_sealer_refuses_to_audit(migrated_engine: Engine) -> None:
    committer = AuditCommitter(make_session_factory(migrated_engine, writer=True), None, {})
    with pytest.raises(AuditUnavailableError):
        committer.record(["JS1"], _matches_entry("JS1", 1))


def test_entries_between_seals_verify_but_an_unsealed_tail_does_not(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    """verify_chain: a seal covers the entries before it; the chain must end on a seal."""
    writers: sessionmaker[Session] = make_session_factory(migrated_engine, writer=True)
    for group in ([1, 2, 3], [4], [5, 6]):
        with writers() as session:
            audit.append_group(
                session,
                sealer=sealer,
                entries=[_matches_entry(f"JS{k}", k)({f"JS{k}": f"P{k}"}) for k in group],
            )
            session.commit()
    report = _verify(migrated_engine, sealer)
    assert report.ok and report.entries == 6, report
    assert [line.split()[2] for line in sealer.path.read_text().splitlines()] == ["3", "4", "6"]
    with make_session_factory(migrated_engine)() as session:
        head = session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.seq.desc())).first()
        assert head is not None
        forged = AuditLogEntry(
            recorded_at=head.recorded_at,
            user_id=None,
            role=None,
            organisation_id=None,
            route="forged",
            query={},
            model_version=None,
            results=[],
            explanation_digest=None,
            prev_hash=head.entry_hash,
            entry_hash="",
        )
        forged.entry_hash = audit.entry_hash(head.entry_hash, audit._fields(forged))
        session.add(forged)
        session.commit()
    report = _verify(migrated_engine, sealer)
    assert not report.ok and report.first_bad_seq == 7 and report.problem == "it has no seal"


def test_a_forked_worker_commits_on_a_thread_of_its_own(
    migrated_engine: Engine, sealer: audit.Sealer, committer: AuditCommitter
) -> None:
    """A pre-forked worker inherits the committer after the parent's thread started."""
    committer.record(["JS1"], _matches_entry("JS1", 1))

    def child() -> None:
        migrated_engine.dispose(close=False)  # the parent's connections stay the parent's
        committer.record(["JS2"], _matches_entry("JS2", 2))

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(WAIT)
    assert process.exitcode == 0
    committer.record(["JS3"], _matches_entry("JS3", 3))  # the parent's thread still serves
    entries, _, _ = _rows(migrated_engine)
    assert [e.query["k"] for e in entries] == [1, 2, 3]
    assert _verify(migrated_engine, sealer).ok


def _burning(person: str, k: int, seconds: float) -> EntryBuilder:
    """An entry whose building spends ``seconds`` of the committer thread's CPU."""
    build = _matches_entry(person, k)

    def burn(named: Mapping[str, str]) -> audit.EntryFields:
        started = time.thread_time()
        while time.thread_time() - started < seconds:
            pass
        return build(named)

    return burn


def test_a_request_profile_counts_its_share_of_the_committers_cpu(
    committer: AuditCommitter,
) -> None:
    # The entry is built on the committer's thread: the request's own thread only waits,
    # so without its share its audit stage would show next to nothing.
    with recording() as timings:
        committer.record(["JS1"], _burning("JS1", 1, 0.03))
    assert timings["audit"] >= 0.028
    with recording() as deferred_timings:
        with committer.deferred() as audited:
            committer.record(["JS2"], _burning("JS2", 2, 0.03))
        assert "audit" not in deferred_timings or deferred_timings["audit"] < 0.02
        asyncio.run(audited.wait_async())
    assert deferred_timings["audit"] >= 0.028
    # A group's CPU is shared among its entries: two tickets of one group, half each.
    building, held = threading.Event(), threading.Event()

    def blocker(named: Mapping[str, str]) -> audit.EntryFields:
        building.set()
        assert held.wait(WAIT)
        return _matches_entry("JS3", 3)(named)

    first = committer.submit(["JS3"], blocker)
    assert building.wait(WAIT)  # its group is taken: the next two queue behind it
    pair = [committer.submit([f"JS{k}"], _burning(f"JS{k}", k, 0.02)) for k in (4, 5)]
    held.set()
    first.wait()
    for ticket in pair:
        ticket.wait()
    assert committer.groups == 4
    assert pair[0].cpu == pair[1].cpu and pair[0].cpu >= 0.019


def test_a_failed_commit_on_the_connection_fails_the_group_and_keeps_the_committer(
    migrated_engine: Engine, sealer: audit.Sealer, committer: AuditCommitter
) -> None:
    failing = threading.Event()

    @event.listens_for(migrated_engine, "commit")
    def refuse(connection: object) -> None:
        if failing.is_set():
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    try:
        committer.record(["JS1"], _matches_entry("JS1", 1))
        failing.set()
        with pytest.raises(OperationalError, match="disk I/O"):
            committer.record(["JS2"], _matches_entry("JS2", 2))
        failing.clear()
        committer.record(["JS3"], _matches_entry("JS3", 3))
    finally:
        event.remove(migrated_engine, "commit", refuse)
    entries, seals, keys = _rows(migrated_engine)
    assert [e.query["k"] for e in entries] == [1, 3] and seals == 2
    assert set(keys.values()) == {"JS1", "JS3"}
    assert len(sealer.path.read_text().splitlines()) == 2
    assert _verify(migrated_engine, sealer).ok
