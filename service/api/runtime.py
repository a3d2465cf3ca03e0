"""What one service worker serves from: the matching engine, kept in step with the database,
and the champion model, swapped without dropping a request.

Every uvicorn worker holds its own :class:`~matching.engine.MatchingEngine` in memory. Writes go
to the database and append a row to the ``changes`` feed in the same transaction; before a
matching query a worker applies the feed rows it has not seen (:meth:`ServingState.catch_up`),
so a jobseeker saved through one worker is matched by every worker, on every host. On
PostgreSQL a worker learns that there are rows to apply from notifications
(:mod:`service.api.change_listener`), so an unchanged feed costs a request no query.

Live state follows the same path. Whether a person is in work and how many people a vacancy has
hired are derived from the outcome events (:mod:`features.live_state`), exactly as a
whole-world build derives them; a recorded hire or ended employment appends feed rows for the
person and the vacancy (``service.api.outcomes``), and applying a row reads that person's or
vacancy's events again. So a hire through one worker takes the person out of every worker's
answers, and a vacancy with as many hires as openings out of every coach's matches.

The model is the registry's ``CHAMPION``. A worker compares the pointer at most once per
``model_check_seconds`` (one ``stat`` and a small read), before matching and, on PostgreSQL,
from its change listener's thread about once a second (so an idle worker follows too), and
on an admin reload call; a new champion is loaded completely *before* the engine's scorer
reference is replaced, and requests already running keep the scorer they started with (see
``MatchingEngine.set_scorer``), so a swap fails no request. A champion that cannot be loaded
leaves the current scorer serving.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from features.live_state import vacancy_hires
from features.matching_data import Vocabularies, hires_made, seeker_update, vacancy_update
from features.skill_search import SkillSearch, skill_search_for
from features.world_store import (
    SCHEMAS,
    jobseeker_from_row,
    vacancy_from_rows,
)
from matching.domain import OutcomeStage
from matching.engine import MatchingEngine
from matching.scoring import RuleBasedScorer
from service.api.audit import Sealer
from service.api.audit_committer import AuditCommitter
from service.api.change_listener import ChangeListener
from service.api.display import DisplayFields
from service.api.security import CallerCache
from service.storage.changes import COMMITTED_HERE, ERASED_PREFIX, erased_entity_ids
from service.storage.tables import (
    AssessmentRecord,
    Change,
    ChangeEntity,
    ChangeOp,
    EmploymentConditionRecord,
    JobseekerRecord,
    OutcomeRecord,
    SkillObservationRecord,
    VacancyRecord,
    VacancySkillRecord,
)
from training.registry import ModelCompatibilityError, ModelRegistry, UnknownModelError

log = logging.getLogger(__name__)

#: How many requests look for the rows of this process's own commit before giving up on it.
OWN_COMMIT_LOOKS = 3

#: What serves without a champion: the documented rules (whose version names their weights).
RULES_VERSION = RuleBasedScorer.version
#: The feed's newest sequence number (built once: building it per request costs more than
#: running it).
_NEWEST_CHANGE = select(func.max(Change.seq))
#: The outcome stages a person's employment, and so their place in matching, derives from.
EMPLOYMENT_STAGES = (OutcomeStage.HIRED.value, OutcomeStage.EMPLOYMENT_ENDED.value)
T = TypeVar("T")


def record_dict(record: object, columns: tuple[str, ...]) -> dict[str, object]:
    """The world-schema columns of an ORM row as a plain mapping."""
    return {name: getattr(record, name) for name in columns}


def frame_of(records: list[object], table: str) -> pd.DataFrame:
    """ORM rows as a DataFrame with the world table's columns (the converters' input)."""
    columns = tuple(SCHEMAS[table].names)
    return pd.DataFrame([record_dict(r, columns) for r in records], columns=list(columns))


@dataclass
class ModelStatus:
    version: str
    loaded_at: float
    last_error: str | None = None
    swaps: int = 0


def _model_check_of(state: weakref.ref[ServingState]) -> Callable[[], object]:
    """The worker's model check, for its change listener's thread (which must not keep the
    state alive: see the finalizer in ``ServingState._listening``)."""

    def check() -> object:
        serving = state()
        return None if serving is None else serving.check_model()

    return check


@dataclass
class ServingState:
    """One worker's engine, vocabularies, registry and change-feed position."""

    engine: MatchingEngine
    vocab: Vocabularies
    db: Engine
    sessions: sessionmaker[Session]
    #: Sessions for requests that write (SQLite: BEGIN IMMEDIATE, see storage.database).
    write_sessions: sessionmaker[Session]
    registry: ModelRegistry
    today: date
    model_check_seconds: float = 1.0
    last_change: int = 0
    #: The secret behind employer-facing pseudonyms (the same in every worker); also the key
    #: of an erased person's change-feed row (see ``storage.changes.erased_entity_id``).
    pseudonym_key: bytes = b""
    #: Seals the audit chain's heads (None only where nothing is audited, e.g. unit tests).
    sealer: Sealer | None = None
    #: Audit pseudonyms this worker has written, by jobseeker id (see ``audit.pseudonyms``).
    pseudonyms: dict[str, str] = field(default_factory=dict)
    #: How long a worker answers statistics from the fact tables it built.
    statistics_cache_seconds: float = 300.0
    #: Per-worker caches of the routers (e.g. the statistics' fact tables), by name.
    caches: dict[str, object] = field(default_factory=dict)
    model: ModelStatus = field(default_factory=lambda: ModelStatus(RULES_VERSION, time.time()))
    #: Vacancy and person fields the answers show, dropped as the feed applies changes.
    display: DisplayFields = field(default_factory=DisplayFields)
    #: Authenticated callers by token hash, for ``token_cache_seconds`` (see CallerCache).
    callers: CallerCache = field(default_factory=lambda: CallerCache(ttl_seconds=10.0))
    #: Matches and shortlists this worker computes at once (see ``in_matching_slot``).
    matching_threads: int = 1
    #: Where the reference data and its cache are (None: the packaged data, the default cache).
    data_dir: Path | None = None
    cache_dir: Path | None = None
    #: The process that built the state: a pre-fork server's supervisor, whose workers
    #: serve copies of it (``service.server``), or the worker itself.
    built_by_pid: int = field(default_factory=os.getpid)
    _slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    #: PostgreSQL: learn of changes from notifications (see :meth:`catch_up`) instead of
    #: asking the database on every request. Off where a state is built by hand (tests).
    listen_for_changes: bool = False
    _model_lock: threading.Lock = field(default_factory=threading.Lock)
    _feed_lock: threading.Lock = field(default_factory=threading.Lock)
    _listener: ChangeListener | None = None
    #: The highest of this process's own commits (``COMMITTED_HERE``) already looked for;
    #: those before the state was built are in the engine it was built with.
    _own_seen: int = field(default_factory=lambda: COMMITTED_HERE.seq)
    #: Requests that looked for the current own commit without finding its rows yet.
    _own_tries: int = 0
    #: SQLite: a connection of this process kept for the per-request look at the feed.
    _sqlite_probe: tuple[int, Any] | None = None
    _probe_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Appends the worker's audit entries in groups, one writer transaction per group
    #: (see ``audit_committer``); its ``record`` returns once the entry is durable.
    audit_committer: AuditCommitter = field(init=False, repr=False)
    _checked_at: float = 0.0

    def skill_search(self) -> SkillSearch:
        """The worker's ESCO label search over the served taxonomy (built at the first call)."""
        return skill_search_for(self.vocab.taxonomy, self.data_dir, self.cache_dir)

    @cached_property
    def skill_uris(self) -> list[str]:
        """ESCO skill URIs by taxonomy row, as plain strings.

        Explanations name a skill per matched or missing requirement (hundreds per response);
        a DataFrame column lookup plus ``.iat`` per name took ~15% of a worker's CPU.
        """
        return [str(uri) for uri in self.vocab.taxonomy.skills["uri"]]

    def __post_init__(self) -> None:
        # Built here, not on first use: two threads must never start two committers, whose
        # groups could then both be missing from the seal file (one per worker is allowed).
        self.audit_committer = AuditCommitter(self.write_sessions, self.sealer, self.pseudonyms)

    async def in_matching_slot(self, work: Callable[[], T]) -> T:
        """Run ``work`` on a thread once one of the worker's matching slots is free.

        Matching is CPU-bound and the engine serves one query at a time under the GIL, so
        more threads only take turns: with eight requests in flight, eight threads woke and
        slept on the engine lock and the GIL, and which one ran next was chance, which made
        the slowest answers wait several times as long as the median. The slots are taken in
        arrival order (``anyio.CapacityLimiter`` is FIFO); one limiter per event loop.

        The audit entry ``work`` records is waited for after the slot is free: the next
        request computes meanwhile, and entries of several requests share a commit group.
        """
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = anyio.CapacityLimiter(self.matching_threads)
        with self.audit_committer.deferred() as audited:
            answer = await anyio.to_thread.run_sync(work, limiter=slots)
        await audited.wait_async()  # the answer leaves only once its entry is durable
        return answer

    # ------------------------------------------------------------------ the model
    @property
    def model_version(self) -> str:
        return str(self.engine.scorer.version)

    def check_model(self, force: bool = False) -> str:
        """Load the registry's champion when it changed; return the serving version."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.model_check_seconds:
            return self.model_version
        with self._model_lock:
            self._checked_at = now
            wanted = self.registry.champion_version()
            if wanted is None or wanted == self.model_version:
                if wanted is None and self.model_version != RULES_VERSION:
                    # The champion pointer was removed: fall back to the documented rules.
                    self.engine.set_scorer(None)
                    self.model = ModelStatus(
                        self.model_version, time.time(), None, self.model.swaps + 1
                    )
                return self.model_version
            try:
                scorer = self.registry.load(wanted)
            except (ModelCompatibilityError, UnknownModelError, OSError) as error:
                log.error(
                    "champion %s cannot be loaded, keeping %s: %s",
                    wanted,
                    self.model_version,
                    error,
                )
                self.model.last_error = str(error)
                return self.model_version
            self.engine.set_scorer(scorer)
            self.model = ModelStatus(scorer.version, time.time(), None, self.model.swaps + 1)
            log.info("now serving model %s", scorer.version)
            return self.model_version

    # ------------------------------------------------------------------ the change feed
    def catch_up(self) -> int:
        """Apply the change-feed rows this worker has not seen; return how many.

        Called before every matching query, so the question "did anything change?" must be
        cheap. With a listener (PostgreSQL, :mod:`service.api.change_listener`) it costs no
        query: the newest ``seq`` any host announced, and this process's own latest commit
        (read-your-writes, before its notification arrives), are compared with the position.
        Without one (SQLite, or while the listener is disconnected) the database is asked
        on every request: never serve stale silently.

        Callers time it as the stage ``catch_up`` (``matching.stages``; stages never nest).
        """
        settled = self._settled_newest()
        if settled is None:
            return 0
        own = COMMITTED_HERE.seq
        applied = self._apply_feed(settled)
        if own > self._own_seen:
            # The hint is published just before the database confirms the commit: a request
            # racing that commit finds no rows and the next one looks again. A hint whose rows
            # never come (a commit that failed after all) is given up after a few looks.
            self._own_tries += 1
            if self.last_change >= own or self._own_tries >= OWN_COMMIT_LOOKS:
                self._own_seen, self._own_tries = own, 0
        return applied

    def _settled_newest(self) -> int | None:
        """A ``seq`` every row up to which is committed (or will never be), or None when
        nothing is new."""
        listener = self._listening()
        if listener is not None:
            announced = listener.announced.seq
            own = COMMITTED_HERE.seq
            if announced <= self.last_change and own <= self._own_seen:
                return None
            # The own commit is only a hint (see storage.changes): never move the position
            # past what was read or announced.
            return announced
        newest = self._newest_in_database()
        return newest if newest > self.last_change else None

    def _listening(self) -> ChangeListener | None:
        """The process's listener when it is up to date; started at the first call.

        Started lazily, in the process that serves: a thread does not survive a fork, so a
        state built before forking workers must not have started one.
        """
        if not self.listen_for_changes or self.db.dialect.name != "postgresql":
            return None
        listener = self._listener
        if listener is None or listener.pid != os.getpid():
            with self._feed_lock:
                if self._listener is None or self._listener.pid != os.getpid():
                    self._listener = ChangeListener(
                        self.db.url, every_second=_model_check_of(weakref.ref(self))
                    ).start()
                    # A state dropped without close() (tests) must not leave the thread
                    # and its connection behind; stopping without a join wakes it within 1 s.
                    weakref.finalize(self, self._listener.stop, 0.0)
                listener = self._listener
        return listener if listener.listening else None

    def _newest_in_database(self) -> int:
        """``max(seq)`` of the feed, asked now.

        SQLite: on a connection this process keeps for it, about 4 µs, against 120 µs for a
        pooled session (measured on a development machine); PostgreSQL (the listener's
        fallback): a pooled session, which also survives the database restarting.
        """
        database = self.db.url.database
        if self.db.dialect.name != "sqlite" or not database or database == ":memory:":
            with self.sessions() as session:
                return session.scalar(_NEWEST_CHANGE) or 0
        with self._probe_lock:
            if self._sqlite_probe is None or self._sqlite_probe[0] != os.getpid():
                # A connection made before a fork must not be used by the child. Its own,
                # read-only, outside the pool: kept for the process's life, a pooled one
                # would be one connection fewer for requests (none left on a pool of one).
                probe = sqlite3.connect(
                    f"{Path(database).resolve().as_uri()}?mode=ro",
                    uri=True,
                    check_same_thread=False,
                )
                self._sqlite_probe = (os.getpid(), probe)
            cursor = self._sqlite_probe[1].cursor()
            try:
                cursor.execute("SELECT max(seq) FROM changes")
                row = cursor.fetchone()
            finally:
                cursor.close()
        return int(row[0] or 0) if row else 0

    def _apply_feed(self, settled: int) -> int:
        with self._feed_lock, self.sessions() as session:
            rows = session.scalars(
                select(Change).where(Change.seq > self.last_change).order_by(Change.seq)
            ).all()
            latest: dict[tuple[str, str], Change] = {}
            for row in rows:
                latest[(row.entity, row.entity_id)] = row  # only the last state matters
            for (entity, entity_id), change in latest.items():
                if entity == ChangeEntity.JOBSEEKER:
                    self._apply_jobseeker(session, entity_id, change.op)
                else:
                    self._apply_vacancy(session, entity_id, change.op)
            # Past the last row read, and past the settled number even when its rows are
            # gone (an erasure deletes a person's rows and appends a later one).
            self.last_change = max(self.last_change, rows[-1].seq if rows else 0, settled)
            return len(rows)

    @property
    def change_listener(self) -> ChangeListener | None:
        """The listener this process started (None before the first catch-up, or without)."""
        return self._listener

    def close(self) -> None:
        """Stop the change listener and release the database connections (at shutdown)."""
        if self._listener is not None:
            self._listener.stop()
        with self._probe_lock:
            if self._sqlite_probe is not None and self._sqlite_probe[0] == os.getpid():
                self._sqlite_probe[1].close()
            self._sqlite_probe = None
        self.db.dispose()

    def in_matching(self, jobseeker_id: str) -> bool:
        """Whether the engine holds the person as available today (not in work, not erased).

        Call after :meth:`catch_up`; a person the engine does not know is not in matching.
        """
        seekers = self.engine.data.seekers
        row = seekers.row_of.get(jobseeker_id)
        return row is not None and bool(seekers["active"][row])

    def _apply_jobseeker(self, session: Session, jobseeker_id: str, op: str) -> None:
        self.display.forget_person(jobseeker_id)
        if jobseeker_id.startswith(ERASED_PREFIX):
            self._apply_erasure(jobseeker_id)
            return
        record = session.get(JobseekerRecord, jobseeker_id)
        if op == ChangeOp.DELETE or record is None:
            if jobseeker_id in self.engine.data.seekers.row_of:
                self.engine.deactivate_seeker(jobseeker_id)
            return
        person = jobseeker_from_row(record_dict(record, tuple(SCHEMAS["jobseekers"].names)))
        # The events live state is derived from: whether the person is in work today.
        employment_events = session.scalars(
            select(OutcomeRecord).where(
                OutcomeRecord.jobseeker_id == jobseeker_id,
                OutcomeRecord.stage.in_(EMPLOYMENT_STAGES),
            )
        ).all()
        assessments = session.scalars(
            select(AssessmentRecord).where(AssessmentRecord.jobseeker_id == jobseeker_id)
        ).all()
        observations = session.scalars(
            select(SkillObservationRecord).where(
                SkillObservationRecord.jobseeker_id == jobseeker_id
            )
        ).all()
        self.engine.upsert_seeker(
            seeker_update(
                person,
                frame_of(list(assessments), "assessments"),
                frame_of(list(observations), "skill_observations"),
                self.vocab,
                self.today,
                outcomes=frame_of(list(employment_events), "outcomes"),
            )
        )

    def _apply_erasure(self, token: str) -> None:
        """Take an erased person out of this worker's engine.

        The feed names them only by a keyed token, so the engine's people are hashed until
        one gives it: a full pass over a national world's 300,000 people takes about 0.6 s
        (measured), once per erasure and worker. A person this worker never held gives none.
        """
        held = list(self.engine.data.seekers.row_of)
        for candidate, jobseeker_id in erased_entity_ids(self.pseudonym_key, held):
            if candidate == token:
                self.engine.deactivate_seeker(jobseeker_id)
                self.pseudonyms.pop(jobseeker_id, None)
                return

    def _apply_vacancy(self, session: Session, vacancy_id: str, op: str) -> None:
        self.display.forget_vacancy(vacancy_id)
        record = session.get(VacancyRecord, vacancy_id)
        if op == ChangeOp.DELETE or record is None:
            if vacancy_id in self.engine.data.vacancies.row_of:
                self.engine.deactivate_vacancy(vacancy_id)
            return
        skills = session.scalars(
            select(VacancySkillRecord).where(VacancySkillRecord.vacancy_id == vacancy_id)
        ).all()
        vacancy = vacancy_from_rows(
            record_dict(record, tuple(SCHEMAS["vacancies"].names)),
            frame_of(list(skills), "vacancy_skills"),
        )
        if record.condition_id is None:
            conditions = frame_of([], "employment_conditions")
            hires = pd.Series(dtype="int64")
            hired = session.scalars(
                select(OutcomeRecord).where(
                    OutcomeRecord.stage == OutcomeStage.HIRED.value,
                    OutcomeRecord.vacancy_id == vacancy_id,
                )
            ).all()
        else:
            # The hires of the whole condition: the hires it still owes, and among them the
            # hires of this vacancy.
            condition = session.get(EmploymentConditionRecord, record.condition_id)
            conditions = frame_of([condition] if condition else [], "employment_conditions")
            hired = session.scalars(
                select(OutcomeRecord)
                .join(VacancyRecord, VacancyRecord.vacancy_id == OutcomeRecord.vacancy_id)
                .where(
                    OutcomeRecord.stage == OutcomeStage.HIRED.value,
                    VacancyRecord.condition_id == record.condition_id,
                )
            ).all()
            siblings = session.scalars(
                select(VacancyRecord).where(VacancyRecord.condition_id == record.condition_id)
            ).all()
            hires = hires_made(
                frame_of(list(hired), "outcomes"), frame_of(list(siblings), "vacancies"), self.today
            )
        hired_here = vacancy_hires(
            frame_of([h for h in hired if h.vacancy_id == vacancy_id], "outcomes"),
            [vacancy_id],
            np.datetime64(self.today, "D"),
        )
        self.engine.upsert_vacancy(
            vacancy_update(vacancy, conditions, hires, self.vocab, hired_here=int(hired_here[0]))
        )
