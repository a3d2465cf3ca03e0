"""The coach's pages under ``/app/coach/``: caseload, a person, assessments, matches, plan.

Every page calls the operation the JSON API calls (:mod:`service.operations.coaching`) and
only turns its answer into HTML; a form handler catches :class:`InvalidError` and renders
the form again with the message beside the field (422). Forms work without JavaScript: the
skill search as you type (htmx) only fills the same list of "add" buttons that the search
button shows after a full submit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from features.skill_search import LabelHit
from matching.domain import (
    SKILL_LEVEL_MAX,
    SKILL_LEVEL_MIN,
    AssessmentMethod,
    ReasonCode,
    TargetGroup,
    WorkingLifeSkill,
)
from service.api.deps import SessionDep, StateDep
from service.api.runtime import ServingState
from service.api.schemas import (
    AssessmentIn,
    FeedbackIn,
    MatchesOut,
    OutcomeClaimOut,
    OutcomeIn,
    ProposalIn,
)
from service.api.security import Caller
from service.operations import coaching
from service.operations.coaching import CaseloadQuery
from service.operations.errors import InvalidError
from service.web.auth import CsrfForm, WebCoach
from service.web.i18n import babel_locale
from service.web.templating import labels, locale_of, render, translator

router = APIRouter(prefix="/app/coach", include_in_schema=False)

#: Skills suggested from the person's occupations, at most.
SUGGESTIONS = 12
#: Results of one skill search.
SEARCH_RESULTS = 10
#: Matches on the matches page.
MATCHES_SHOWN = 20

_SORTS = ("days_desc", "days_asc", "name")
_ELIGIBILITY = ("", "now", "soon")
_CONSENT_METHODS = ("written", "verbal", "electronic")


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _person_path(jobseeker_id: str, tail: str = "") -> str:
    return f"/app/coach/jobseekers/{jobseeker_id}{tail}"


# ---- caseload -------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def caseload(
    request: Request, caller: WebCoach, session: SessionDep, state: StateDep
) -> HTMLResponse:
    """The organisation's jobseekers: search by name, filter, sort by days unemployed."""
    _ = translator(request)
    params = request.query_params
    errors: dict[str, str] = {}
    name = params.get("q", "").strip()[:200]
    group_value = params.get("group", "")
    group = None
    if group_value:
        if group_value in {g.value for g in TargetGroup}:
            group = TargetGroup(group_value)
        else:
            errors["group"] = _("Choose a target group from the list.")
    eligibility = params.get("eligibility", "")
    if eligibility not in _ELIGIBILITY:
        errors["eligibility"] = _("Choose an eligibility from the list.")
        eligibility = ""
    sort = params.get("sort", "days_desc")
    if sort not in _SORTS:
        errors["sort"] = _("Choose an order from the list.")
        sort = "days_desc"
    page_text = params.get("page", "1")
    page = int(page_text) if page_text.isdigit() and len(page_text) < 7 else 1
    query = CaseloadQuery(
        name=name,
        group=group,
        eligibility=eligibility,  # type: ignore[arg-type]
        sort=sort,  # type: ignore[arg-type]
        page=page,
    )
    found = coaching.list_caseload(session, state, caller, query)
    values = {"q": name, "group": group_value, "eligibility": eligibility, "sort": sort}
    return render(
        request,
        "coach/caseload.html",
        {
            "caseload": found,
            "values": values,
            "errors": errors,
            "groups": [g.value for g in TargetGroup],
            "today": state.today,
            "soon_days": coaching.SOON_DAYS,
        },
        status_code=422 if errors else 200,
    )


# ---- a person -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkillProfileRow:
    skill_uri: str
    level: int
    evidence: list[coaching.SkillEvidenceRow]


def _skill_profile(rows: list[coaching.SkillEvidenceRow]) -> list[SkillProfileRow]:
    """One row per skill: its latest level, and every observation behind it (newest first)."""
    by_skill: dict[str, list[coaching.SkillEvidenceRow]] = defaultdict(list)
    for row in rows:
        by_skill[row.skill_uri].append(row)
    return [SkillProfileRow(uri, found[0].level, found) for uri, found in by_skill.items()]


def _language_names(request: Request, codes: list[str]) -> dict[str, str]:
    """Language codes (``fi``, ``sv``, ``ar``) named in the page's language."""
    names = babel_locale(locale_of(request)).languages
    return {code: str(names.get(code, code)) for code in codes}


@router.get("/jobseekers/{jobseeker_id}", response_class=HTMLResponse)
def person(
    request: Request, jobseeker_id: str, caller: WebCoach, session: SessionDep, state: StateDep
) -> HTMLResponse:
    """A person's profile, languages, work ability and skill profile with its evidence."""
    profile = coaching.read_jobseeker(session, caller, jobseeker_id)
    evidence = coaching.skill_evidence(session, caller, jobseeker_id)
    assessments = coaching.assessment_summaries(session, caller, jobseeker_id)
    days = (
        None
        if profile.unemployment_start is None
        else max(0, (state.today - profile.unemployment_start).days)
    )
    return render(
        request,
        "coach/person.html",
        {
            "person": profile,
            "days_unemployed": days,
            "skills": _skill_profile(evidence),
            "assessments": assessments,
            "language_names": _language_names(request, [x.language for x in profile.languages]),
            "saved": request.query_params.get("saved", ""),
        },
    )


# ---- assessments ----------------------------------------------------------------------------


@dataclass
class AssessmentForm:
    """What the assessment form shows: the values entered so far and the chosen skills."""

    assessed_on: str = ""
    method: str = ""
    note: str = ""
    #: (skill URI, level) in the order chosen.
    skills: list[tuple[str, int]] | None = None
    working_life: dict[str, int] | None = None
    query: str = ""


def _form_of(form: FormData) -> AssessmentForm:
    uris = [str(v) for v in form.getlist("skill_uri")]
    levels = [str(v) for v in form.getlist("level")]
    skills: list[tuple[str, int]] = []
    seen: set[str] = set()
    for i, uri in enumerate(uris[:200]):
        text = levels[i] if i < len(levels) else ""
        level = int(text) if text.isdigit() else SKILL_LEVEL_MIN + 1
        if uri and uri not in seen:
            seen.add(uri)
            skills.append((uri, level))
    working = {}
    for skill in WorkingLifeSkill:
        text = str(form.get(f"working_life_{skill.value}") or "")
        if text.isdigit():
            working[skill.value] = int(text)
    return AssessmentForm(
        assessed_on=str(form.get("assessed_on") or "").strip(),
        method=str(form.get("method") or ""),
        note=str(form.get("note") or ""),
        skills=skills,
        working_life=working,
        query=str(form.get("skill_query") or "").strip()[:100],
    )


def _suggestions(
    request: Request, state: ServingState, occupations: list[str], chosen: set[str]
) -> list[str]:
    """Essential skills of the person's occupations not chosen yet (then optional ones)."""
    related = state.skill_search().skills_of_occupations(occupations)
    found = [uri for uri in (*related.essential, *related.optional) if uri not in chosen]
    return found[:SUGGESTIONS]


def _assessment_page(
    request: Request,
    state: ServingState,
    person: Any,
    values: AssessmentForm,
    assessment_id: str | None,
    errors: dict[str, str] | None = None,
    hits: list[LabelHit] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    chosen = {uri for uri, _ in values.skills or []}
    return render(
        request,
        "coach/assessment.html",
        {
            "person": person,
            "values": values,
            "assessment_id": assessment_id,
            "errors": errors or {},
            "hits": hits,
            "query": values.query,
            "suggestions": _suggestions(request, state, person.preferred_occupations, chosen),
            "methods": [m.value for m in AssessmentMethod],
            "working_life_skills": [s.value for s in WorkingLifeSkill],
            "levels": list(range(SKILL_LEVEL_MIN, SKILL_LEVEL_MAX + 1)),
            "today": state.today,
            "action": _person_path(
                person.jobseeker_id,
                "/assessments" if assessment_id is None else f"/assessments/{assessment_id}",
            ),
        },
        status_code=status_code,
    )


@router.get("/jobseekers/{jobseeker_id}/assessments/new", response_class=HTMLResponse)
def new_assessment(
    request: Request, jobseeker_id: str, caller: WebCoach, session: SessionDep, state: StateDep
) -> HTMLResponse:
    """The form to record an assessment."""
    profile = coaching.read_jobseeker(session, caller, jobseeker_id)
    values = AssessmentForm(assessed_on=state.today.isoformat(), skills=[], working_life={})
    return _assessment_page(request, state, profile, values, None)


@router.get("/jobseekers/{jobseeker_id}/assessments/{assessment_id}", response_class=HTMLResponse)
def edit_assessment(
    request: Request,
    jobseeker_id: str,
    assessment_id: str,
    caller: WebCoach,
    session: SessionDep,
    state: StateDep,
) -> HTMLResponse:
    """The form to correct an assessment (its observations are replaced on saving)."""
    profile = coaching.read_jobseeker(session, caller, jobseeker_id)
    stored = coaching.read_assessment(session, caller, jobseeker_id, assessment_id)
    values = AssessmentForm(
        assessed_on=stored.assessed_on.isoformat(),
        method=stored.method.value,
        note=stored.note,
        skills=[(o.skill_uri, o.level) for o in stored.observations],
        working_life={w.skill.value: w.level for w in stored.working_life},
    )
    return _assessment_page(request, state, profile, values, assessment_id)


#: Assessment form fields (the API's body field names) a message can stand beside.
_ASSESSMENT_FIELDS = ("assessed_on", "method", "note", "observations", "working_life")


def _assessment_errors(request: Request, error: InvalidError | ValidationError) -> dict[str, str]:
    """Validation errors as messages beside the form's fields, in the user's language."""
    _ = translator(request)
    messages = {
        "assessed_on": _("Enter the date of the assessment, today or earlier, as YYYY-MM-DD."),
        "method": _("Choose how the skills were observed."),
        "note": _("The note is too long (at most 2,000 characters)."),
        "observations": _("Check the chosen skills: each needs a known ESCO skill and a level."),
        "working_life": _("Check the working-life skills: each level is from 1 to 4."),
    }
    locs: list[list[Any]] = (
        [error.loc] if isinstance(error, InvalidError) else [list(e["loc"]) for e in error.errors()]
    )
    errors: dict[str, str] = {}
    for loc in locs:
        parts = [p for p in loc if p != "body"]
        field = str(parts[0]) if parts else ""
        if field not in messages:
            field = "observations"
        errors.setdefault(field, messages[field])
    return errors


async def _save_assessment(
    request: Request,
    jobseeker_id: str,
    assessment_id: str | None,
    caller: Caller,
    form: FormData,
    state: ServingState,
) -> Response:
    values = _form_of(form)
    action = str(form.get("action") or "")
    added = str(form.get("add_skill") or "")
    removed = str(form.get("remove_skill") or "")

    def run() -> Response:
        with state.write_sessions() as session:
            profile = coaching.read_jobseeker(session, caller, jobseeker_id)
            if assessment_id is not None:
                coaching.read_assessment(session, caller, jobseeker_id, assessment_id)
            skills = values.skills if values.skills is not None else []
            values.skills = skills
            if added or removed or action == "search":
                known = {uri for uri, _ in skills}
                if added and state.vocab.taxonomy.has_skill(added) and added not in known:
                    skills.append((added, SKILL_LEVEL_MIN + 1))
                if removed:
                    skills[:] = [(uri, level) for uri, level in skills if uri != removed]
                hits = None
                if action == "search" and values.query:
                    hits = state.skill_search().skills(values.query, SEARCH_RESULTS)
                elif action == "search":
                    hits = []
                return _assessment_page(request, state, profile, values, assessment_id, hits=hits)
            try:
                day = date.fromisoformat(values.assessed_on)
            except ValueError:
                error = InvalidError(["body", "assessed_on"], "is not a date")
                return _assessment_page(
                    request,
                    state,
                    profile,
                    values,
                    assessment_id,
                    _assessment_errors(request, error),
                    status_code=422,
                )
            try:
                body = AssessmentIn.model_validate(
                    {
                        "assessed_on": day.isoformat(),
                        "method": values.method,
                        "note": values.note,
                        "observations": [
                            {"skill_uri": uri, "level": level} for uri, level in skills
                        ],
                        "working_life": [
                            {"skill": skill, "level": level}
                            for skill, level in (values.working_life or {}).items()
                        ],
                    }
                )
                if assessment_id is None:
                    coaching.create_assessment(session, state, caller, jobseeker_id, body)
                else:
                    coaching.update_assessment(
                        session, state, caller, jobseeker_id, assessment_id, body
                    )
            except (InvalidError, ValidationError) as error:
                session.rollback()
                return _assessment_page(
                    request,
                    state,
                    profile,
                    values,
                    assessment_id,
                    _assessment_errors(request, error),
                    status_code=422,
                )
        return _see_other(_person_path(jobseeker_id, "?saved=assessment"))

    return await run_in_threadpool(run)


@router.post("/jobseekers/{jobseeker_id}/assessments", response_model=None)
async def record_assessment(
    request: Request, jobseeker_id: str, caller: WebCoach, form: CsrfForm, state: StateDep
) -> Response:
    """Save a new assessment, or add, remove or search skills in the form (no JavaScript)."""
    return await _save_assessment(request, jobseeker_id, None, caller, form, state)


@router.post("/jobseekers/{jobseeker_id}/assessments/{assessment_id}", response_model=None)
async def correct_assessment(
    request: Request,
    jobseeker_id: str,
    assessment_id: str,
    caller: WebCoach,
    form: CsrfForm,
    state: StateDep,
) -> Response:
    """Save a corrected assessment (or add, remove or search skills in the form)."""
    return await _save_assessment(request, jobseeker_id, assessment_id, caller, form, state)


@router.get("/skill-search", response_class=HTMLResponse)
def skill_search(request: Request, caller: WebCoach, state: StateDep) -> HTMLResponse:
    """The skill search's result list (a fragment for htmx): an "add" button per skill."""
    query = (request.query_params.get("skill_query") or request.query_params.get("q") or "")[:100]
    hits = state.skill_search().skills(query, SEARCH_RESULTS) if query.strip() else None
    return render(request, "coach/_skill_results.html", {"hits": hits, "query": query})


# ---- matches, proposals, feedback -----------------------------------------------------------


def _area_codes(request: Request) -> dict[str, str]:
    """Employment area names (as the engine explains them) -> their codes, for the labels."""
    state: ServingState = request.app.state.serving
    cached = state.caches.get("web.coach.area_codes")
    if isinstance(cached, dict):
        return cached
    found: dict[str, str] = {}
    for code, names in labels(request).employment_areas.items():
        found.setdefault(names["fi"], code)
    state.caches["web.coach.area_codes"] = found
    return found


@router.get("/jobseekers/{jobseeker_id}/matches", response_class=HTMLResponse)
async def matches(
    request: Request, jobseeker_id: str, caller: WebCoach, session: SessionDep, state: StateDep
) -> HTMLResponse:
    """The person's best vacancies: band, reasons, skill gaps, distance, eligibility."""

    def run() -> tuple[Any, MatchesOut]:
        profile = coaching.read_jobseeker(session, caller, jobseeker_id)
        answer = coaching.matches(
            session, state, caller, jobseeker_id, k=MATCHES_SHOWN, factors=False
        )
        return profile, answer

    profile, answer = await state.in_matching_slot(run)
    return render(
        request,
        "coach/matches.html",
        {
            "person": profile,
            "answer": answer,
            "area_codes": _area_codes(request),
            "saved": request.query_params.get("saved", ""),
        },
    )


def _local_zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.web.time_zone)


def _consent_instant(request: Request, text: str) -> datetime | None:
    """``YYYY-MM-DDTHH:MM`` (a datetime-local input) or a date, in the service's time zone."""
    text = text.strip().replace(" ", "T")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text) if "T" in text else None
        if moment is None:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, 12, 0)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_local_zone(request))
    return moment.astimezone(UTC)


def _proposal_page(
    request: Request,
    session: Any,
    caller: Caller,
    jobseeker_id: str,
    vacancy_id: str,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    profile = coaching.read_jobseeker(session, caller, jobseeker_id)
    vacancy = coaching.vacancy_for_proposal(session, caller, jobseeker_id, vacancy_id)
    return render(
        request,
        "coach/feedback.html" if values.get("feedback") else "coach/propose.html",
        {
            "person": profile,
            "vacancy": vacancy,
            "values": values,
            "errors": errors or {},
            "consent_methods": _CONSENT_METHODS,
            "reasons": [r.value for r in ReasonCode],
        },
        status_code=status_code,
    )


@router.get(
    "/jobseekers/{jobseeker_id}/vacancies/{vacancy_id}/propose", response_class=HTMLResponse
)
def proposal_form(
    request: Request, jobseeker_id: str, vacancy_id: str, caller: WebCoach, session: SessionDep
) -> HTMLResponse:
    """The form to propose the person to a vacancy, with their consent recorded."""
    return _proposal_page(request, session, caller, jobseeker_id, vacancy_id, {})


@router.post("/jobseekers/{jobseeker_id}/vacancies/{vacancy_id}/propose", response_model=None)
async def propose(
    request: Request,
    jobseeker_id: str,
    vacancy_id: str,
    caller: WebCoach,
    form: CsrfForm,
    state: StateDep,
) -> Response:
    """Propose the person; refused (beside the field) without their consent recorded."""
    _ = translator(request)
    values = {
        "consent": str(form.get("consent") or ""),
        "consent_given_at": str(form.get("consent_given_at") or "")[:40],
        "consent_method": str(form.get("consent_method") or ""),
        "note": str(form.get("note") or "")[:2000],
    }
    errors: dict[str, str] = {}
    if values["consent"] != "yes":
        errors["consent"] = _(
            "A person is proposed only with their consent: confirm that they gave it."
        )
    instant = _consent_instant(request, values["consent_given_at"])
    if instant is None:
        errors["consent_given_at"] = _("Enter when the person gave their consent.")
    if values["consent_method"] not in _CONSENT_METHODS:
        errors["consent_method"] = _("Choose how the person gave their consent.")

    def run() -> Response:
        with state.write_sessions() as session:
            if not errors:
                try:
                    body = ProposalIn.model_validate(
                        {
                            "vacancy_id": vacancy_id,
                            "consent_given_at": instant.isoformat() if instant else "",
                            "consent_method": values["consent_method"],
                            "note": values["note"],
                        }
                    )
                    coaching.propose(session, state, caller, jobseeker_id, body)
                except InvalidError as error:
                    session.rollback()
                    late = instant is not None and instant > datetime.now(UTC)
                    if error.field == "consent_given_at" and late:
                        errors["consent_given_at"] = _("The consent cannot be in the future.")
                    elif error.field == "consent_given_at":
                        errors["consent_given_at"] = _(
                            "The consent cannot be older than the person's registration "
                            "as unemployed."
                        )
                    else:
                        errors["note"] = _("Check the note (at most 2,000 characters).")
                except ValidationError:
                    session.rollback()
                    errors["note"] = _("Check the note (at most 2,000 characters).")
            if errors:
                return _proposal_page(
                    request, session, caller, jobseeker_id, vacancy_id, values, errors, 422
                )
        return _see_other(_person_path(jobseeker_id, "/outcomes?saved=proposal"))

    return await run_in_threadpool(run)


@router.get(
    "/jobseekers/{jobseeker_id}/vacancies/{vacancy_id}/feedback", response_class=HTMLResponse
)
def feedback_form(
    request: Request, jobseeker_id: str, vacancy_id: str, caller: WebCoach, session: SessionDep
) -> HTMLResponse:
    """The form to say why a suggested vacancy does not fit the person."""
    return _proposal_page(request, session, caller, jobseeker_id, vacancy_id, {"feedback": "1"})


@router.post("/jobseekers/{jobseeker_id}/vacancies/{vacancy_id}/feedback", response_model=None)
async def feedback(
    request: Request,
    jobseeker_id: str,
    vacancy_id: str,
    caller: WebCoach,
    form: CsrfForm,
    state: StateDep,
) -> Response:
    """Record why a suggestion did not fit (a reason code and a comment)."""
    _ = translator(request)
    values = {
        "feedback": "1",
        "reason_code": str(form.get("reason_code") or ""),
        "comment": str(form.get("comment") or "")[:2000],
    }

    def run() -> Response:
        with state.write_sessions() as session:
            try:
                body = FeedbackIn.model_validate(
                    {
                        "vacancy_id": vacancy_id,
                        "reason_code": values["reason_code"],
                        "comment": values["comment"],
                    }
                )
            except ValidationError:
                errors = {"reason_code": _("Choose why the vacancy does not fit.")}
                return _proposal_page(
                    request, session, caller, jobseeker_id, vacancy_id, values, errors, 422
                )
            coaching.give_feedback(session, caller, jobseeker_id, body)
        return _see_other(_person_path(jobseeker_id, "/matches?saved=feedback"))

    return await run_in_threadpool(run)


# ---- outcomes and the employment plan -------------------------------------------------------


#: What a coach may report after a proposal (the API's ``OutcomeIn.stage``).
OUTCOME_STAGES = (
    "interviewed",
    "hired",
    "retained_6m",
    "employment_ended",
    "declined_by_employer",
    "declined_by_jobseeker",
)


def _outcomes_page(
    request: Request,
    session: Any,
    caller: Caller,
    jobseeker_id: str,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    profile = coaching.read_jobseeker(session, caller, jobseeker_id)
    proposals = coaching.list_proposals(session, caller, jobseeker_id)
    events = coaching.list_outcomes(session, caller, jobseeker_id)
    claims = coaching.list_outcome_claims(session, caller, jobseeker_id)
    titles = coaching.vacancy_titles(
        session,
        [p.vacancy_id for p in proposals]
        + [e.vacancy_id for e in events]
        + [c.vacancy_id for c in claims],
    )
    return render(
        request,
        "coach/outcomes.html",
        {
            "person": profile,
            "proposals": proposals,
            "events": events,
            "claims": claims,
            "titles": titles,
            "saved": request.query_params.get("saved", ""),
            "stages": OUTCOME_STAGES,
            "reasons": [r.value for r in ReasonCode],
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/jobseekers/{jobseeker_id}/outcomes", response_class=HTMLResponse)
def outcomes(
    request: Request, jobseeker_id: str, caller: WebCoach, session: SessionDep
) -> HTMLResponse:
    """The person's proposals, outcome events and outcome claims, and a form to report one."""
    return _outcomes_page(request, session, caller, jobseeker_id)


def _outcome_errors(request: Request, error: InvalidError | ValidationError) -> dict[str, str]:
    _ = translator(request)
    messages = {
        "vacancy_id": _("Choose a vacancy the person was proposed to."),
        "stage": _(
            "This stage cannot be recorded now: an employment ends only after a recorded hire."
        ),
        "reason": _("A decline needs a reason."),
        "occurred_at": _(
            "Check the date: not in the future, not before the proposal, and an employment "
            "ends after its hire."
        ),
    }
    locs: list[list[Any]] = (
        [error.loc] if isinstance(error, InvalidError) else [list(e["loc"]) for e in error.errors()]
    )
    errors: dict[str, str] = {}
    for loc in locs:
        parts = [str(p) for p in loc if p != "body"]
        field = parts[0] if parts and parts[0] in messages else "stage"
        errors.setdefault(field, messages[field])
    return errors


@router.post("/jobseekers/{jobseeker_id}/outcomes", response_model=None)
async def record_outcome(
    request: Request, jobseeker_id: str, caller: WebCoach, form: CsrfForm, state: StateDep
) -> Response:
    """Report an outcome: a decline by the person is stored, the employer's decisions become
    claims the employer confirms."""
    values = {
        "vacancy_id": str(form.get("vacancy_id") or "")[:64],
        "stage": str(form.get("stage") or ""),
        "reason": str(form.get("reason") or ""),
        "occurred_on": str(form.get("occurred_on") or "").strip()[:10],
    }

    def run() -> Response:
        with state.write_sessions() as session:
            try:
                day = date.fromisoformat(values["occurred_on"])
            except ValueError:
                error = InvalidError(["body", "occurred_at"], "is not a date")
                return _outcomes_page(
                    request,
                    session,
                    caller,
                    jobseeker_id,
                    values,
                    _outcome_errors(request, error),
                    422,
                )
            moment = datetime(day.year, day.month, day.day, 12, 0, tzinfo=_local_zone(request))
            try:
                body = OutcomeIn.model_validate(
                    {
                        "vacancy_id": values["vacancy_id"],
                        "stage": values["stage"],
                        "reason": values["reason"] or None,
                        "occurred_at": moment.astimezone(UTC).isoformat(),
                    }
                )
                answer = coaching.record_outcome(session, state, caller, jobseeker_id, body)
            except (InvalidError, ValidationError) as error:
                session.rollback()
                return _outcomes_page(
                    request,
                    session,
                    caller,
                    jobseeker_id,
                    values,
                    _outcome_errors(request, error),
                    422,
                )
        saved = "claim" if isinstance(answer, OutcomeClaimOut) else "outcome"
        return _see_other(_person_path(jobseeker_id, f"/outcomes?saved={saved}"))

    return await run_in_threadpool(run)


@router.get("/jobseekers/{jobseeker_id}/plan", response_class=HTMLResponse)
async def plan(
    request: Request, jobseeker_id: str, caller: WebCoach, session: SessionDep, state: StateDep
) -> HTMLResponse:
    """The employment plan: the skills that would unlock most of the near-miss vacancies."""

    def run() -> tuple[Any, coaching.EmploymentPlan]:
        profile = coaching.read_jobseeker(session, caller, jobseeker_id)
        return profile, coaching.employment_plan(session, state, caller, jobseeker_id)

    profile, found = await state.in_matching_slot(run)
    return render(request, "coach/plan.html", {"person": profile, "plan": found})
