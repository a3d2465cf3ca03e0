"""What one service worker serves from: the matching engine, kept in step with the database,
and the champion model, swapped without dropping a request.

Every uvicorn worker holds its own :class:`~matching.engine.MatchingEngine` in memory. Writes go
to the database and append a row to the ``changes`` feed in the same transaction; before a
matching query a worker applies the feed rows it has not seen (:meth:`ServingState.catch_up`),
so a jobseeker saved through one worker is matched by every worker.

Live state follows the same path. Whether a person is in work and how many people a vacancy has
hired are derived from the outcome events (:mod:`features.live_state`), exactly as a
whole-world build derives them; a recorded hire or ended employment appends feed rows for the
person and the vacancy (``service.api.outcomes``), and applying a row reads that person's or
vacancy's events again. So a hire through one worker takes the person out of every worker's
answers, and a vacancy with as many hires as openings out of every coach's matches.

The model is the registry's ``CHAMPION``. A worker compares the pointer at most once per
``model_check_seconds`` (one ``stat`` and a small read) and on an admin reload call; a new
champion is loaded completely *before* the engine's scorer reference is replaced, and requests
already running keep the scorer they started with (see ``MatchingEngine.set_scorer``), so a
swap fails no request. A champion that cannot be loaded leaves the current scorer serving.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TypeVar

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
from service.api.security import CallerCache
from service.storage.changes import ERASED_PREFIX, erased_entity_ids
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

#: What serves without a champion: the documented rules (whose version names their weights).
RULES_VERSION = RuleBasedScorer.version
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
    #: Authenticated callers by token hash, for ``token_cache_seconds`` (see CallerCache).
    callers: CallerCache = field(default_factory=lambda: CallerCache(ttl_seconds=10.0))
    #: Matches and shortlists this worker computes at once (see ``in_matching_slot``).
    matching_threads: int = 1
    #: Where the reference data and its cache are (None: the packaged data, the default cache).
    data_dir: Path | None = None
    cache_dir: Path | None = None
    _slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    _model_lock: threading.Lock = field(default_factory=threading.Lock)
    _feed_lock: threading.Lock = field(default_factory=threading.Lock)
    _audit_lock: threading.Lock = field(default_factory=threading.Lock)
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

    @contextmanager
    def audit_writer(self) -> Iterator[tuple[Session, Sealer]]:
        """A short writer session for one audit entry and the sealer for it, committed when
        the block ends. The lock is held across the commit and the seal file's line (see
        ``audit.verify_chain``: at most one unwritten line per worker).

        A worker's appends queue on a lock of their own, so one thread at a time waits for
        the database's write lock. On SQLite the others would wait in its busy handler, which
        sleeps 1, 2, 5, 10... ms between tries instead of waking when the lock is free: with
        every matches and shortlist request writing its entry, that waiting was a fifth of
        the request threads' time under 8 concurrent requests.
        """
        if self.sealer is None:
            raise RuntimeError("this worker was built without an audit sealer")
        with self._audit_lock, self.write_sessions() as writer:
            yield writer, self.sealer
            writer.commit()

    async def in_matching_slot(self, work: Callable[[], T]) -> T:
        """Run ``work`` on a thread once one of the worker's matching slots is free.

        Matching is CPU-bound and the engine serves one query at a time under the GIL, so
        more threads only take turns: with eight requests in flight, eight threads woke and
        slept on the engine lock and the GIL, and which one ran next was chance, which made
        the slowest answers wait several times as long as the median. The slots are taken in
        arrival order (``anyio.CapacityLimiter`` is FIFO); one limiter per event loop.
        """
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = anyio.CapacityLimiter(self.matching_threads)
        return await anyio.to_thread.run_sync(work, limiter=slots)

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
        """Apply the change-feed rows this worker has not seen; return how many."""
        with self.sessions() as session:
            newest = session.scalar(select(func.max(Change.seq))) or 0
            if newest <= self.last_change:
                return 0
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
            if rows:
                self.last_change = rows[-1].seq
            return len(rows)

    def in_matching(self, jobseeker_id: str) -> bool:
        """Whether the engine holds the person as available today (not in work, not erased).

        Call after :meth:`catch_up`; a person the engine does not know is not in matching.
        """
        seekers = self.engine.data.seekers
        row = seekers.row_of.get(jobseeker_id)
        return row is not None and bool(seekers["active"][row])

    def _apply_jobseeker(self, session: Session, jobseeker_id: str, op: str) -> None:
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
