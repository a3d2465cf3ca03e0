"""What an employer (a supplier's recruiter) does: vacancies, shortlists, proposals, outcomes.

Each function is one operation (STYLE.md point 9): it checks that the vacancy belongs to the
caller's organisation (a foreign one is :class:`~service.operations.errors.NotFoundError`,
exactly as a missing one), commits its one transaction and writes the audit entry of a read
that shows people. The JSON routes (:mod:`service.api.routers.employers`) and the pages
(:mod:`service.web.routes.employer`) only translate in and out.

What an employer sees of a person
---------------------------------
A shortlist shows what a recruiter needs to judge fit — skills with the evidence behind them,
a distance band, availability, accepted job forms — and never name, contact details, age,
sex, origin, health or work-capacity details, or why someone counts toward a condition. Every
person is named by a pseudonym stable per vacancy (:func:`service.api.security.pseudonym`),
the same one the proposals list shows and the outcome route takes.

The coaches' proposals for a vacancy (:func:`vacancy_proposals`) add the person's name and
contact details, because and only when the proposal records the person's consent; a
proposed person also appears in the vacancy's shortlist, after the ranked candidates when the
ranking would not list them, marked ``proposed``. Both reads are written to the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import UploadFile
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from features.skill_search import LabelHit
from matching.commute import DISTANCE_BANDS, distance_band
from matching.domain import (
    SKILL_LEVEL_MAX,
    SKILL_LEVEL_MIN,
    LanguageSkill,
    OutcomeStage,
    PhysicalDemand,
    Vacancy,
    VacancySkill,
    check_references,
)
from matching.engine import Match, MatchList
from matching.stages import stage
from service.api import audit, encoding
from service.api.catalog import catalog_of
from service.api.deps import release
from service.api.explain import optional_float
from service.api.imports import employer_ownership, run_import
from service.api.outcomes import (
    EMPLOYER_STAGES,
    EmployerClaim,
    check_credited_hires_stay,
    confirm_claim,
    employer_claims,
    record_by_employer,
    reject_claim,
)
from service.api.ownership import own_vacancy
from service.api.runtime import ServingState
from service.api.schemas import (
    CandidateSkillOut,
    ContractOut,
    EmployerOutcomeIn,
    OccupationDraftOut,
    OccupationSkillOut,
    OutcomeClaimOut,
    OutcomeOut,
    ProposedCandidateOut,
    ShortlistOut,
    VacancyIn,
    VacancyOut,
    VacancySkillIn,
)
from service.api.security import Caller, pseudonym
from service.operations.bands import score_band
from service.operations.errors import ConflictError, InvalidError, NotFoundError
from service.operations.procurement import contracts_out
from service.storage.changes import record_changes
from service.storage.tables import (
    ChangeEntity,
    ClaimStatus,
    ContractRecord,
    EmploymentConditionRecord,
    JobseekerRecord,
    OutcomeRecord,
    Proposal,
    SupplierRecord,
    VacancyRecord,
    VacancySkillRecord,
)

__all__ = [
    "DEFAULT_SKILL_LEVEL",
    "DISTANCE_BANDS",
    "PROPOSALS_ROUTE",
    "SHORTLIST_ROUTE",
    "VacancySummary",
    "close_vacancy",
    "confirm_outcome_claim",
    "create_vacancy",
    "distance_band",
    "employer_contracts",
    "import_vacancies",
    "list_vacancies",
    "occupation_draft",
    "outcome_claims",
    "read_vacancy",
    "record_outcome",
    "reject_outcome_claim",
    "search_occupations",
    "shortlist",
    "shortlist_json",
    "strength_band",
    "update_vacancy",
    "vacancy_proposals",
    "vacancy_summaries",
    "vacancy_titles",
]

#: The audit log's route names of the two reads that show people to an employer.
SHORTLIST_ROUTE = "employer.shortlist"
PROPOSALS_ROUTE = "employer.proposals"

#: The level an occupation's essential skill is prefilled at (1 basic ... 4 expert).
DEFAULT_SKILL_LEVEL = 2


def strength_band(strength: float, method: str | None) -> str:
    if method is None:
        return "related"
    if strength >= 0.7:
        return "strong"
    if strength >= 0.4:
        return "moderate"
    return "weak"


# ---- vacancies ------------------------------------------------------------------------------


def supplier_ids(session: Session, caller: Caller) -> list[str]:
    """The suppliers of the caller's organisation (an employer's vacancies are theirs)."""
    return list(
        session.scalars(
            select(SupplierRecord.supplier_id).where(
                SupplierRecord.organisation_id == caller.organisation_id
            )
        )
    )


def _vacancy_outs(session: Session, records: Sequence[VacancyRecord]) -> list[VacancyOut]:
    """Vacancies with their skills in the order the employer gave them: one query for all."""
    skills: dict[str, list[VacancySkillIn]] = {r.vacancy_id: [] for r in records}
    if records:
        for s in session.scalars(
            select(VacancySkillRecord)
            .where(VacancySkillRecord.vacancy_id.in_(list(skills)))
            .order_by(VacancySkillRecord.vacancy_skill_id)
        ):
            skills[s.vacancy_id].append(
                VacancySkillIn(skill_uri=s.skill_uri, required=s.required, min_level=s.min_level)
            )
    out: list[VacancyOut] = []
    for record in records:
        values = {n: getattr(record, n) for n in VacancyOut.model_fields if n != "skills"}
        values["skills"] = skills[record.vacancy_id]
        out.append(VacancyOut.model_validate(values))
    return out


def _vacancy_out(session: Session, record: VacancyRecord) -> VacancyOut:
    return _vacancy_outs(session, [record])[0]


def list_vacancies(
    session: Session, caller: Caller, limit: int = 50, after: str | None = None
) -> list[VacancyOut]:
    """The vacancies of the caller's suppliers, by id, ``limit`` after ``after``."""
    query = select(VacancyRecord).where(
        VacancyRecord.supplier_id.in_(supplier_ids(session, caller))
    )
    if after:
        query = query.where(VacancyRecord.vacancy_id > after)
    rows = session.scalars(query.order_by(VacancyRecord.vacancy_id).limit(limit)).all()
    return _vacancy_outs(session, rows)


def read_vacancy(session: Session, caller: Caller, vacancy_id: str) -> VacancyOut:
    return _vacancy_out(session, own_vacancy(session, caller, vacancy_id))


def _validated_vacancy(
    body: VacancyIn, vacancy_id: str, session: Session, caller: Caller, state: ServingState
) -> str:
    """Check a vacancy body against the caller's contracts and the reference data.

    Returns the supplier the vacancy belongs to; raises 409/422 naming the field otherwise.
    """
    suppliers = supplier_ids(session, caller)
    if not suppliers:
        raise ConflictError("your organisation is no supplier")
    supplier_id = suppliers[0]
    if body.contract_id is not None:
        contract = session.get(ContractRecord, body.contract_id)
        if contract is None or contract.supplier_id not in suppliers:
            raise InvalidError(
                ["body", "contract_id"], "is not a contract of yours", body.contract_id
            )
        supplier_id = contract.supplier_id
    if body.condition_id is not None:
        condition = session.get(EmploymentConditionRecord, body.condition_id)
        if condition is None or condition.contract_id != body.contract_id:
            raise InvalidError(
                ["body", "condition_id"],
                "is not a condition of the given contract",
                body.condition_id,
            )
        if body.job_form.value not in condition.allowed_job_forms:
            raise InvalidError(
                ["body", "job_form"], "is not allowed by the condition", body.job_form
            )
    if body.closes_on < body.opens_on:
        raise InvalidError(["body", "closes_on"], "is before opens_on", str(body.closes_on))
    vacancy = Vacancy(
        vacancy_id=vacancy_id,
        supplier_id=supplier_id,
        occupation_uri=body.occupation_uri,
        title=body.title,
        municipality=body.municipality,
        job_form=body.job_form,
        opens_on=body.opens_on,
        closes_on=body.closes_on,
        contract_id=body.contract_id,
        condition_id=body.condition_id,
        skills=tuple(VacancySkill(s.skill_uri, s.required, s.min_level) for s in body.skills),
        languages=tuple(LanguageSkill(x.language, x.level) for x in body.languages),
        remote_share=body.remote_share,
        hours_per_week=body.hours_per_week,
        shift_work=body.shift_work,
        night_work=body.night_work,
        physical_demand=PhysicalDemand(body.physical_demand),
        driving_licence_required=body.driving_licence_required,
        openings=body.openings,
    )
    check_references(vacancy, catalog_of(state))
    return supplier_id


def _store_vacancy(session: Session, record: VacancyRecord, body: VacancyIn) -> VacancyOut:
    """Write the body's fields and skills to ``record`` and tell the workers, then commit."""
    for name, value in body.model_dump(mode="json", exclude={"skills"}).items():
        setattr(record, name, value)
    record.opens_on, record.closes_on = body.opens_on, body.closes_on
    session.add(record)
    session.flush()
    session.execute(
        delete(VacancySkillRecord).where(VacancySkillRecord.vacancy_id == record.vacancy_id)
    )
    for s in body.skills:
        session.add(
            VacancySkillRecord(
                vacancy_id=record.vacancy_id,
                skill_uri=s.skill_uri,
                required=s.required,
                min_level=s.min_level,
            )
        )
    session.flush()
    record_changes(session.connection(), ChangeEntity.VACANCY, [record.vacancy_id])
    session.commit()
    return _vacancy_out(session, record)


def create_vacancy(
    session: Session, state: ServingState, caller: Caller, body: VacancyIn
) -> VacancyOut:
    """A vacancy under one of the employer's contracts (and its employment condition)."""
    vacancy_id = f"VA-{uuid.uuid4().hex[:16]}"
    supplier_id = _validated_vacancy(body, vacancy_id, session, caller, state)
    return _store_vacancy(
        session, VacancyRecord(vacancy_id=vacancy_id, supplier_id=supplier_id), body
    )


def update_vacancy(
    session: Session, state: ServingState, caller: Caller, vacancy_id: str, body: VacancyIn
) -> VacancyOut:
    """Change a vacancy; a vacancy with credited hires keeps its contract and condition."""
    record = own_vacancy(session, caller, vacancy_id)
    supplier_id = _validated_vacancy(body, vacancy_id, session, caller, state)
    check_credited_hires_stay(session, record, body.contract_id, body.condition_id)
    record.supplier_id = supplier_id
    return _store_vacancy(session, record, body)


def close_vacancy(
    session: Session, state: ServingState, caller: Caller, vacancy_id: str
) -> VacancyOut:
    """Stop taking candidates: the vacancy closed yesterday, so it is not open today."""
    record = own_vacancy(session, caller, vacancy_id)
    yesterday = state.today - timedelta(days=1)
    record.closes_on = min(record.closes_on, yesterday)
    record.opens_on = min(record.opens_on, record.closes_on)
    session.flush()
    record_changes(session.connection(), ChangeEntity.VACANCY, [vacancy_id])
    session.commit()
    return _vacancy_out(session, record)


@dataclass(frozen=True)
class VacancySummary:
    """One line of the employer's vacancy list (the page's own-vacancies table)."""

    vacancy_id: str
    title: str
    occupation_uri: str
    municipality: str
    job_form: str
    opens_on: date
    closes_on: date
    openings: int
    contract_id: str | None
    contract_title: str | None
    condition_id: str | None
    #: ``open``, ``filled`` (every opening hired), ``upcoming`` or ``closed``, as of today.
    status: str
    proposals: int
    #: Outcome events the employer recorded (interviews, hires, declines...).
    outcomes: int
    hires: int


#: The stages an employer records (or confirms from a coach's claim).
_EMPLOYER_RECORDED = tuple(sorted(EMPLOYER_STAGES))


def vacancy_summaries(
    session: Session, state: ServingState, caller: Caller, limit: int = 50, offset: int = 0
) -> tuple[list[VacancySummary], int]:
    """A page of the caller's vacancies, newest opening first, and how many there are.

    Three queries whatever the page's length: the page (with its contract's title), then the
    proposals and the outcomes of the page's vacancies counted per vacancy.
    """
    mine = (
        select(SupplierRecord.supplier_id)
        .where(SupplierRecord.organisation_id == caller.organisation_id)
        .scalar_subquery()
    )
    total = int(
        session.scalar(
            select(func.count())
            .select_from(VacancyRecord)
            .where(VacancyRecord.supplier_id.in_(mine))
        )
        or 0
    )
    rows = session.execute(
        select(
            VacancyRecord.vacancy_id,
            VacancyRecord.title,
            VacancyRecord.occupation_uri,
            VacancyRecord.municipality,
            VacancyRecord.job_form,
            VacancyRecord.opens_on,
            VacancyRecord.closes_on,
            VacancyRecord.openings,
            VacancyRecord.contract_id,
            VacancyRecord.condition_id,
            ContractRecord.title.label("contract_title"),
        )
        .outerjoin(ContractRecord, ContractRecord.contract_id == VacancyRecord.contract_id)
        .where(VacancyRecord.supplier_id.in_(mine))
        .order_by(VacancyRecord.opens_on.desc(), VacancyRecord.vacancy_id)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [r.vacancy_id for r in rows]
    proposals: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    hires: dict[str, int] = {}
    if ids:
        proposals = {
            str(v): int(n)
            for v, n in session.execute(
                select(Proposal.vacancy_id, func.count())
                .where(Proposal.vacancy_id.in_(ids))
                .group_by(Proposal.vacancy_id)
            )
        }
        for v, stage, n, people in session.execute(
            select(
                OutcomeRecord.vacancy_id,
                OutcomeRecord.stage,
                func.count(),
                func.count(func.distinct(OutcomeRecord.jobseeker_id)),
            )
            .where(OutcomeRecord.vacancy_id.in_(ids), OutcomeRecord.stage.in_(_EMPLOYER_RECORDED))
            .group_by(OutcomeRecord.vacancy_id, OutcomeRecord.stage)
        ):
            outcomes[str(v)] = outcomes.get(str(v), 0) + int(n)
            if stage == OutcomeStage.HIRED.value:
                hires[str(v)] = int(people)
    today = state.today
    summaries = []
    for r in rows:
        hired = hires.get(r.vacancy_id, 0)
        if r.closes_on < today:
            status = "closed"
        elif r.opens_on > today:
            status = "upcoming"
        elif hired >= r.openings:
            status = "filled"
        else:
            status = "open"
        summaries.append(
            VacancySummary(
                vacancy_id=r.vacancy_id,
                title=r.title,
                occupation_uri=r.occupation_uri,
                municipality=r.municipality,
                job_form=r.job_form,
                opens_on=r.opens_on,
                closes_on=r.closes_on,
                openings=r.openings,
                contract_id=r.contract_id,
                contract_title=r.contract_title,
                condition_id=r.condition_id,
                status=status,
                proposals=proposals.get(r.vacancy_id, 0),
                outcomes=outcomes.get(r.vacancy_id, 0),
                hires=hired,
            )
        )
    return summaries, total


# ---- contracts and occupations: what a new vacancy starts from ------------------------------


def employer_contracts(
    session: Session,
    caller: Caller,
    current_on: date | None = None,
    contract_id: str | None = None,
) -> list[ContractOut]:
    """The contracts of the caller's suppliers with their employment conditions.

    ``current_on``: only contracts not ended by that day; ``contract_id``: only that one.
    Two queries: the contracts, then every condition of them.
    """
    query = (
        select(ContractRecord)
        .join(SupplierRecord, SupplierRecord.supplier_id == ContractRecord.supplier_id)
        .where(SupplierRecord.organisation_id == caller.organisation_id)
        .order_by(ContractRecord.ends_on.desc(), ContractRecord.contract_id)
    )
    if current_on is not None:
        query = query.where(ContractRecord.ends_on >= current_on)
    if contract_id is not None:
        query = query.where(ContractRecord.contract_id == contract_id)
    return contracts_out(session, session.scalars(query).all())


def search_occupations(state: ServingState, query: str, limit: int = 10) -> list[LabelHit]:
    """ESCO occupations whose preferred or alternative labels match ``query``, best first."""
    return state.skill_search().occupations(query, limit)


def occupation_draft(
    state: ServingState,
    occupation_uri: str,
    level: int = DEFAULT_SKILL_LEVEL,
    loc: Sequence[str | int] = ("query", "occupation_uri"),
) -> OccupationDraftOut:
    """A vacancy's requirements prefilled from an ESCO occupation: its essential skills, each
    required at ``level``; the employer edits them before creating the vacancy."""
    taxonomy = state.vocab.taxonomy
    if not taxonomy.has_occupation(occupation_uri):
        raise InvalidError(list(loc), "is not an ESCO occupation", occupation_uri)
    level = min(max(level, SKILL_LEVEL_MIN), SKILL_LEVEL_MAX)
    row = taxonomy.occupations.iloc[taxonomy.occupation_index(occupation_uri)]
    related = state.skill_search().skills_of_occupations([occupation_uri])
    labels = taxonomy.skills["label"]

    def skills(uris: Sequence[str], required: bool) -> list[OccupationSkillOut]:
        return [
            OccupationSkillOut(
                skill_uri=uri,
                label=str(labels.iat[taxonomy.skill_index(uri)]),
                required=required,
                min_level=level,
            )
            for uri in uris
        ]

    return OccupationDraftOut(
        occupation_uri=occupation_uri,
        label=str(row["label"]),
        isco_code=str(row["isco_code"]),
        skills=skills(related.essential, True),
        optional_skills=skills(related.optional, False),
    )


def vacancy_titles(
    session: Session, caller: Caller, vacancy_ids: Collection[str]
) -> dict[str, str]:
    """The titles of those of ``vacancy_ids`` that are the caller's vacancies."""
    if not vacancy_ids:
        return {}
    return {
        str(v): str(t)
        for v, t in session.execute(
            select(VacancyRecord.vacancy_id, VacancyRecord.title)
            .join(SupplierRecord, SupplierRecord.supplier_id == VacancyRecord.supplier_id)
            .where(
                SupplierRecord.organisation_id == caller.organisation_id,
                VacancyRecord.vacancy_id.in_(list(vacancy_ids)),
            )
        )
    }


# ---- shortlists and proposals ---------------------------------------------------------------


def _skill_outs(state: ServingState, match: Match) -> list[CandidateSkillOut]:
    return [CandidateSkillOut.model_validate(s) for s in _skills(state, match)]


def _skills(state: ServingState, match: Match) -> list[dict[str, Any]]:
    """The fields of :class:`~service.api.schemas.CandidateSkillOut`, in its order."""
    uris = state.skill_uris
    return [
        {
            "label": str(s.label),
            "skill_uri": uris[s.skill],
            "evidence_strength": strength_band(s.strength, s.method),
            "level": round(float(s.level), 2),
            "required_level": int(s.required_level),
            "method": s.method,
            "last_assessed": s.last_assessed,
        }
        for s in match.explanation.matched_skills
    ]


def _audit_shortlist(
    state: ServingState,
    caller: Caller,
    vacancy_id: str,
    k: int,
    found: MatchList,
    extra: Sequence[Match],
    digest: str,
) -> None:
    """Audit a shortlist: its ranked people as results, the proposed ones after them under
    ``query.proposed``. The read's only write: the worker's committer appends it with the
    entries of the other requests waiting, and returns once it is durable."""
    ranked = [(m.jobseeker_id, round(m.score, 6)) for m in found.results]
    proposed = [(m.jobseeker_id, round(m.score, 6)) for m in extra]

    def entry(named: Mapping[str, str]) -> audit.EntryFields:
        query: dict[str, object] = {"vacancy_id": vacancy_id, "k": k, "on": str(state.today)}
        if proposed:
            query["proposed"] = [[named[person], score] for person, score in proposed]
        return audit.EntryFields(
            user_id=caller.user_id,
            role=caller.role.value,
            organisation_id=caller.organisation_id,
            route=SHORTLIST_ROUTE,
            query=query,
            model_version=found.model_version,
            results=[[named[person], score] for person, score in ranked],
            explanation_digest=digest,
        )

    state.audit_committer.record([person for person, _ in ranked + proposed], entry)


def _audit_proposals(
    state: ServingState,
    caller: Caller,
    vacancy_id: str,
    shown: Sequence[tuple[str, str]],
    digest: str,
) -> None:
    """Audit a proposals list: each person named, and whether their identity was shown."""
    model_version = state.model_version

    def entry(named: Mapping[str, str]) -> audit.EntryFields:
        return audit.EntryFields(
            user_id=caller.user_id,
            role=caller.role.value,
            organisation_id=caller.organisation_id,
            route=PROPOSALS_ROUTE,
            query={"vacancy_id": vacancy_id, "on": str(state.today)},
            model_version=model_version,
            results=[[named[person], disclosure] for person, disclosure in shown],
            explanation_digest=digest,
        )

    state.audit_committer.record([person for person, _ in shown], entry)


def _check_open_vacancy(
    session: Session, state: ServingState, caller: Caller, vacancy_id: str
) -> None:
    """404 unless the vacancy is the caller's, 409 once it closed; after ``catch_up``, from
    the worker's memory (``state.display``, as fresh as the engine's copy of the vacancy)."""
    vacancy = state.display.vacancies(session, [vacancy_id]).get(vacancy_id)
    if vacancy is None or vacancy.organisation_id != caller.organisation_id:
        raise NotFoundError("vacancy", vacancy_id)
    if vacancy.closes_on < state.today:
        raise ConflictError(f"vacancy {vacancy_id} closed on {vacancy.closes_on}: no shortlist")


def shortlist_json(
    session: Session, state: ServingState, caller: Caller, vacancy_id: str, k: int = 20
) -> bytes:
    """Pseudonymous candidates for one of the employer's open vacancies, best first, as the
    JSON of :class:`~service.api.schemas.ShortlistOut`.

    CPU-bound: the API runs it in one of the worker's matching slots
    (:meth:`ServingState.in_matching_slot`). The people coaches proposed to the vacancy who
    are in matching but not among the ``k`` best follow them, marked ``proposed``. The answer
    is written to the audit log (its ranked people as results, the others under
    ``query.proposed``, so that the exposure log sees only what the ranking showed). Built
    as plain values and written once (:mod:`service.api.encoding`): the results' bytes are
    both the audit digest's and the answer's.
    """
    # The feed first: the vacancy's owner and closing day below are read from what it keeps.
    with stage("catch_up"):
        state.check_model()
        state.catch_up()
    with stage("database"):
        _check_open_vacancy(session, state, caller, vacancy_id)
    found: MatchList = state.engine.shortlist_for_vacancy(
        vacancy_id, k=k, on=state.today, with_factors=False
    )
    ranked_ids = [m.jobseeker_id for m in found.results]
    with stage("database"):
        # Proposals are not in the change feed: always read, in Core on the session's own
        # connection (the ORM's layers were half the cost of this one-column read; a second
        # connection would wait forever on a pool of one).
        proposed_ids = set(
            session.connection().scalars(
                select(Proposal.jobseeker_id).where(Proposal.vacancy_id == vacancy_id)
            )
        )
    unranked = sorted(proposed_ids.difference(ranked_ids))
    extra = state.engine.explain_for_vacancy(vacancy_id, unranked, state.today) if unranked else ()
    shown = [*found.results, *extra]
    with stage("database"):
        people = state.display.people(session, [m.jobseeker_id for m in shown]) if shown else {}
        release(session)  # the audit writer takes a connection of its own
    with stage("response"):
        secret = state.pseudonym_key
        results: list[dict[str, Any]] = []
        for rank, m in enumerate(shown, 1):
            person = people.get(m.jobseeker_id)
            score = round(m.score, 6)
            # The fields of schemas.CandidateOut, in its order.
            results.append(
                {
                    "candidate": pseudonym(secret, vacancy_id, m.jobseeker_id),
                    "rank": rank,
                    "score": float(score),
                    "probability": optional_float(m.probability),
                    "band": score_band(m.probability, score),
                    "skills": _skills(state, m),
                    "skill_gaps": [str(s.label) for s in m.explanation.missing_skills],
                    "distance_band": distance_band(m.explanation.distance_km),
                    "available": True,
                    "accepted_job_forms": sorted(person.accepted_job_forms) if person else [],
                    # The identity of a consented proposal is shown in the proposals list
                    # only (vacancy_proposals), where its reading is audited as a reveal.
                    "proposed": m.jobseeker_id in proposed_ids,
                }
            )
    with stage("serialisation"):
        listed = encoding.to_json(results)
        digest = encoding.array_digest(listed)
    _audit_shortlist(state, caller, vacancy_id, k, found, extra, digest)
    with stage("serialisation"):
        return encoding.to_json(
            {
                "vacancy_id": vacancy_id,
                "on": found.on,
                "model_version": found.model_version,
                "candidates": int(found.candidates),
                "results": encoding.Fragment(listed),
            }
        )


def shortlist(
    session: Session, state: ServingState, caller: Caller, vacancy_id: str, k: int = 20
) -> ShortlistOut:
    """:func:`shortlist_json` as the model, for the employer's pages (one audited read)."""
    return ShortlistOut.model_validate_json(shortlist_json(session, state, caller, vacancy_id, k))


def vacancy_proposals(
    session: Session, state: ServingState, caller: Caller, vacancy_id: str
) -> list[ProposedCandidateOut]:
    """The coaches' proposals for one of the employer's vacancies, oldest first.

    Each person by the vacancy's pseudonym, with skills and evidence, distance band and
    availability while the vacancy is open and the person in matching; with name and
    contact details because the proposal records the person's consent (a proposal without
    it shows none). The read is audited: which people it named, and that their identity
    was shown.
    """
    vacancy = own_vacancy(session, caller, vacancy_id)
    workplace = vacancy.municipality
    rows = session.execute(
        select(
            Proposal.proposal_id,
            Proposal.jobseeker_id,
            Proposal.created_at,
            Proposal.consent_given_at,
            Proposal.consent_method,
            Proposal.note,
            JobseekerRecord.first_name,
            JobseekerRecord.last_name,
            JobseekerRecord.email,
            JobseekerRecord.phone,
            JobseekerRecord.home_municipality,
            JobseekerRecord.accepted_job_forms,
        )
        .join(JobseekerRecord, JobseekerRecord.jobseeker_id == Proposal.jobseeker_id)
        .where(Proposal.vacancy_id == vacancy_id)
        .order_by(Proposal.created_at, Proposal.proposal_id)
    ).all()
    ids = [r.jobseeker_id for r in rows]
    recorded: dict[str, list[str]] = {}
    if ids:
        for person, stage in session.execute(
            select(OutcomeRecord.jobseeker_id, OutcomeRecord.stage)
            .where(
                OutcomeRecord.vacancy_id == vacancy_id,
                OutcomeRecord.jobseeker_id.in_(ids),
                OutcomeRecord.stage.in_(_EMPLOYER_RECORDED),
            )
            .order_by(OutcomeRecord.occurred_at)
        ):
            recorded.setdefault(str(person), []).append(str(stage))
    release(session)
    state.check_model()
    state.catch_up()
    explained = {
        m.jobseeker_id: m for m in state.engine.explain_for_vacancy(vacancy_id, ids, state.today)
    }
    geography = state.vocab.geography
    secret = state.pseudonym_key
    results: list[ProposedCandidateOut] = []
    for r in rows:
        consented = r.consent_given_at is not None and bool(r.consent_method)
        m = explained.get(r.jobseeker_id)
        if m is not None:
            km: float | None = m.explanation.distance_km
        elif geography.has_municipality(r.home_municipality) and geography.has_municipality(
            workplace
        ):
            km = float(geography.distance(r.home_municipality, workplace))
        else:
            km = None
        results.append(
            ProposedCandidateOut(
                proposal_id=r.proposal_id,
                candidate=pseudonym(secret, vacancy_id, r.jobseeker_id),
                proposed_at=r.created_at,
                consent_given_at=r.consent_given_at,
                consent_method=r.consent_method,
                available=state.in_matching(r.jobseeker_id),
                band=None if m is None else score_band(m.probability, round(m.score, 6)),
                probability=None if m is None else m.probability,
                skills=[] if m is None else _skill_outs(state, m),
                skill_gaps=[] if m is None else [s.label for s in m.explanation.missing_skills],
                distance_band=None if km is None else distance_band(km),
                accepted_job_forms=sorted(r.accepted_job_forms or []),
                outcomes=recorded.get(r.jobseeker_id, []),
                note=r.note,
                first_name=r.first_name if consented else None,
                last_name=r.last_name if consented else None,
                email=r.email if consented else None,
                phone=r.phone if consented else None,
            )
        )
    digest = audit.response_digest(results)
    # Who was named, and whether their identity was shown (the consent's effect).
    shown = [
        (r.jobseeker_id, "identity" if out.first_name is not None else "pseudonym")
        for r, out in zip(rows, results, strict=True)
    ]
    _audit_proposals(state, caller, vacancy_id, shown, digest)
    return results


# ---- outcomes and claims --------------------------------------------------------------------


def record_outcome(
    session: Session,
    state: ServingState,
    caller: Caller,
    vacancy_id: str,
    body: EmployerOutcomeIn,
) -> OutcomeOut:
    """Interview, hire, decline (with a reason code) or end of employment, by pseudonym.

    ``body.candidate`` is the pseudonym the shortlist or the proposals list showed; the person
    must have been proposed to this vacancy or shown in one of its shortlists.
    """
    record = record_by_employer(
        session,
        state,
        caller,
        vacancy_id,
        body.candidate,
        body.stage,
        body.reason,
        body.occurred_at,
    )
    return OutcomeOut(
        event_id=record.event_id,
        candidate=body.candidate,
        vacancy_id=vacancy_id,
        stage=record.stage,
        reason=record.reason,
        occurred_at=record.occurred_at,
    )


def _claim_out(found: EmployerClaim) -> OutcomeClaimOut:
    return OutcomeClaimOut.of(found.claim, candidate=found.candidate)


def outcome_claims(
    session: Session,
    state: ServingState,
    caller: Caller,
    status: ClaimStatus | None = ClaimStatus.PENDING,
    vacancy_id: str | None = None,
) -> list[OutcomeClaimOut]:
    """Coaches' outcome claims about the caller's vacancies, by pseudonym, oldest first."""
    return [_claim_out(c) for c in employer_claims(session, state, caller, status, vacancy_id)]


def confirm_outcome_claim(
    session: Session, state: ServingState, caller: Caller, claim_id: str
) -> OutcomeClaimOut:
    """Confirm a coach's claim: the outcome is recorded now, as if the employer had."""
    return _claim_out(confirm_claim(session, state, caller, claim_id))


def reject_outcome_claim(
    session: Session, state: ServingState, caller: Caller, claim_id: str
) -> OutcomeClaimOut:
    """Reject a coach's claim: nothing is recorded; the coach sees it rejected."""
    return _claim_out(reject_claim(session, state, caller, claim_id))


# ---- imports --------------------------------------------------------------------------------


def import_vacancies(
    session: Session,
    state: ServingState,
    caller: Caller,
    vacancies: UploadFile | None,
    vacancy_skills: UploadFile | None,
) -> dict[str, int]:
    """CSV files (docs/csv-import.md): every bad row is reported, or all are imported."""
    files = {"vacancies": vacancies, "vacancy_skills": vacancy_skills}
    return run_import(session, state, files, employer_ownership(session, caller))
