"""The employer's pages under ``/app/employer/``: vacancies, shortlists, proposals, outcomes.

Each page calls the operation the JSON API calls (:mod:`service.operations.recruiting`) and
only turns its answer into a page. What a page may show of a person is what the operation
answers: the shortlist page names people by pseudonym only (never name, birth year, sex,
origin or health), and only the proposals page shows a name, for a proposal that records
the person's consent.

Forms are plain POST forms with the CSRF field; a refused form is shown again with the
message beside the field (422), an accepted one redirects (303) to the page to read next.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from functools import lru_cache, partial
from typing import Annotated, Any, Literal

from babel import dates as babel_dates
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from matching.domain import (
    SKILL_LEVEL_MAX,
    SKILL_LEVEL_MIN,
    DomainValidationError,
    JobForm,
    ReasonCode,
)
from service.api.deps import SessionDep, StateDep
from service.api.runtime import ServingState
from service.api.schemas import (
    ConditionOut,
    ContractOut,
    EmployerOutcomeIn,
    OccupationDraftOut,
    VacancyIn,
    VacancyOut,
)
from service.api.security import Caller
from service.operations import performance, recruiting
from service.operations.errors import ConflictError, InvalidError
from service.storage.tables import ClaimStatus, SupplierRecord
from service.web.auth import CsrfForm, WebEmployer, safe_next
from service.web.i18n import babel_locale
from service.web.statements import statement_response
from service.web.templating import labels, locale_of, render, translator

router = APIRouter(prefix="/app/employer", include_in_schema=False)

#: Vacancies per page of the list.
PAGE_SIZE = 25
#: People in a vacancy's shortlist page.
SHORTLIST_SIZE = 20
#: The outcomes the pages record (a rejection takes a reason code).
OUTCOME_STAGES = ("interviewed", "hired", "declined_by_employer")
SKILL_LEVELS = tuple(range(SKILL_LEVEL_MIN, SKILL_LEVEL_MAX + 1))
_SKILL_FIELD = re.compile(r"^skill_([0-9]{1,3})$")
#: How many skill rows a vacancy form takes (the occupation's essential and optional skills).
MAX_SKILL_ROWS = 400


@lru_cache(maxsize=4096)
def _day(locale: str, value: date | None) -> str:
    """A day in the user's locale, as the ``date`` filter writes it; remembered, because a
    shortlist shows the same assessment days many times (Babel takes ~50 µs a date)."""
    if value is None:
        return ""
    return babel_dates.format_date(value, "medium", locale=babel_locale(locale))


def _page_context(request: Request) -> dict[str, Any]:
    """What every employer page gets besides its own values."""
    return {"day": partial(_day, locale_of(request))}


# ---- the vacancies ----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def vacancies(
    request: Request,
    caller: WebEmployer,
    session: SessionDep,
    state: StateDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Own vacancies (a page of them) and the coaches' claims awaiting a decision."""
    summaries, total = recruiting.vacancy_summaries(
        session, state, caller, PAGE_SIZE, (page - 1) * PAGE_SIZE
    )
    claims = recruiting.outcome_claims(session, state, caller)
    titles = recruiting.vacancy_titles(session, caller, {c.vacancy_id for c in claims})
    return render(
        request,
        "employer/vacancies.html",
        {
            "vacancies": summaries,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "claims": claims,
            "titles": titles,
            "today": state.today,
        },
    )


# ---- performance-based contracts and their payment statements --------------------------------


@router.get("/contracts", response_class=HTMLResponse)
def performance_contracts(
    request: Request, caller: WebEmployer, session: SessionDep
) -> HTMLResponse:
    """Your suppliers' performance-based contracts, each with a link to its statement."""
    contracts = [
        c
        for c in recruiting.employer_contracts(session, caller)
        if any(condition.performance_based for condition in c.conditions)
    ]
    return render(request, "employer/contracts.html", {"contracts": contracts})


@router.get("/contracts/{contract_id}/statement", response_class=HTMLResponse)
def contract_statement(
    request: Request,
    contract_id: str,
    caller: WebEmployer,
    session: SessionDep,
    state: StateDep,
) -> HTMLResponse:
    """The running payment statement of one of your suppliers' contracts (what the buyer
    reads too)."""
    answer = performance.supplier_statement(session, state, caller, contract_id)
    return render(request, "employer/statement.html", {"statement": answer})


@router.get("/contracts/{contract_id}/statement.{suffix}", response_class=Response)
def contract_statement_file(
    request: Request,
    contract_id: str,
    suffix: Literal["html", "csv"],
    caller: WebEmployer,
    session: SessionDep,
    state: StateDep,
    period: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The statement (or one period's) as a printable page or CSV."""
    answer = performance.supplier_statement(session, state, caller, contract_id, period or None)
    return statement_response(request, answer, suffix)


# ---- a new vacancy from an ESCO occupation ------------------------------------------------------


@router.get("/occupation-search", response_class=HTMLResponse)
def occupation_search(
    request: Request,
    caller: WebEmployer,
    state: StateDep,
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """The occupations matching ``q`` (htmx swaps this list in as the employer types)."""
    hits = recruiting.search_occupations(state, q, 15) if q.strip() else []
    return render(request, "employer/_occupations.html", {"hits": hits, "q": q})


def _municipality_options(request: Request, state: ServingState) -> list[tuple[str, str, str]]:
    """(country, code, name) of every municipality, by country and name in the user's language."""
    locale = locale_of(request)
    key = f"web.employer.municipalities.{locale}"
    cached = state.caches.get(key)
    if cached is None:
        names = labels(request).municipalities
        cached = sorted(
            (
                ("FI" if len(code) == 3 else "SE", code, by_locale[locale])
                for code, by_locale in names.items()
            ),
            key=lambda row: (row[0], row[2].casefold()),
        )
        state.caches[key] = cached
    options: list[tuple[str, str, str]] = cached  # type: ignore[assignment]
    return options


def _supplier_home(session: Session, caller: Caller) -> str:
    home = session.scalar(
        select(SupplierRecord.municipality)
        .where(SupplierRecord.organisation_id == caller.organisation_id)
        .order_by(SupplierRecord.supplier_id)
        .limit(1)
    )
    return str(home or "")


def _draft_rows(draft: OccupationDraftOut) -> list[dict[str, Any]]:
    return [
        {"skill_uri": s.skill_uri, "min_level": s.min_level, "required": True, "keep": True}
        for s in draft.skills
    ] + [
        {"skill_uri": s.skill_uri, "min_level": s.min_level, "required": False, "keep": False}
        for s in draft.optional_skills
    ]


def _form_page(
    request: Request,
    session: Session,
    state: ServingState,
    caller: Caller,
    values: Mapping[str, Any],
    rows: list[dict[str, Any]],
    errors: Mapping[str, str],
    q: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    hits = recruiting.search_occupations(state, q, 15) if q.strip() else []
    contracts = recruiting.employer_contracts(session, caller, current_on=state.today)
    choices = _contract_choices(contracts)
    if values.get("contract") is None:  # a new form: under the first contract's condition
        values = {**values, "contract": choices[0]["value"] if choices else ""}
    return render(
        request,
        "employer/vacancy_form.html",
        {
            "values": values,
            "rows": rows,
            "errors": errors,
            "q": q,
            "hits": hits,
            "contracts": contracts,
            "contract_choices": choices,
            "municipalities": _municipality_options(request, state),
            "job_forms": [form.value for form in JobForm],
            "levels": SKILL_LEVELS,
        },
        status_code,
    )


def _contract_choices(contracts: list[ContractOut]) -> list[dict[str, Any]]:
    """The contract select's options: each condition of each contract, or the contract alone."""
    choices: list[dict[str, Any]] = []
    for contract in contracts:
        for condition in contract.conditions:
            choices.append(
                {
                    "value": f"{contract.contract_id}|{condition.condition_id}",
                    "contract": contract,
                    "condition": condition,
                }
            )
        choices.append(
            {"value": f"{contract.contract_id}|", "contract": contract, "condition": None}
        )
    return choices


@router.get("/vacancies/new", response_class=HTMLResponse)
def new_vacancy(
    request: Request,
    caller: WebEmployer,
    session: SessionDep,
    state: StateDep,
    occupation_uri: Annotated[str, Query(max_length=300)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """Create a vacancy: pick an occupation, then edit its prefilled skills and the rest."""
    _ = translator(request)
    errors: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    values: dict[str, Any] = {
        "municipality": _supplier_home(session, caller),
        "job_form": JobForm.EMPLOYMENT.value,
        "opens_on": state.today.isoformat(),
        "closes_on": date.fromordinal(state.today.toordinal() + 60).isoformat(),
        "openings": "1",
        "hours_per_week": "37.5",
        "contract": None,
    }
    if occupation_uri:
        try:
            draft = recruiting.occupation_draft(state, occupation_uri, loc=["occupation_uri"])
        except InvalidError:
            errors["occupation_uri"] = _("Choose an occupation from the list.")
        else:
            values["occupation_uri"] = draft.occupation_uri
            values["title"] = draft.label
            rows = _draft_rows(draft)
    return _form_page(request, session, state, caller, values, rows, errors, q)


def _number(text: str, kind: Callable[[str], Any]) -> Any:
    try:
        return kind(text.strip().replace(",", "."))
    except ValueError:
        return None


def _vacancy_form(form: FormData) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The posted form as (its values, its skill rows)."""
    values = {
        name: str(form.get(name, "") or "")
        for name in (
            "occupation_uri",
            "title",
            "municipality",
            "job_form",
            "opens_on",
            "closes_on",
            "openings",
            "hours_per_week",
            "contract",
        )
    }
    rows: list[dict[str, Any]] = []
    for name in form:
        found = _SKILL_FIELD.match(name)
        if not found or len(rows) >= MAX_SKILL_ROWS:
            continue
        i = found.group(1)
        level = _number(str(form.get(f"level_{i}", "")), int)
        rows.append(
            {
                "skill_uri": str(form.get(name, "")),
                "min_level": level if level in SKILL_LEVELS else SKILL_LEVEL_MIN,
                "required": form.get(f"required_{i}") != "optional",
                "keep": form.get(f"keep_{i}") is not None,
            }
        )
    return values, rows


def _vacancy_body(values: Mapping[str, str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    contract_id, _, condition_id = values["contract"].partition("|")
    return {
        "contract_id": contract_id or None,
        "condition_id": condition_id or None,
        "occupation_uri": values["occupation_uri"],
        "title": values["title"],
        "municipality": values["municipality"],
        "job_form": values["job_form"],
        "opens_on": values["opens_on"],
        "closes_on": values["closes_on"],
        "openings": _number(values["openings"], int),
        "hours_per_week": _number(values["hours_per_week"], float),
        "skills": [
            {"skill_uri": r["skill_uri"], "required": r["required"], "min_level": r["min_level"]}
            for r in rows
            if r["keep"]
        ],
    }


def _vacancy_messages(_: Callable[..., str]) -> dict[str, str]:
    """A message per field of the vacancy form, in the user's language."""
    return {
        "occupation_uri": _("Choose an occupation from the list."),
        "title": _("Write a title of at most 300 characters."),
        "municipality": _("Choose the municipality where the work is done."),
        "job_form": _("Choose a job form the contract's condition allows."),
        "opens_on": _("Write the opening day as a date."),
        "closes_on": _("The closing day must be a date on or after the opening day."),
        "openings": _("Write a whole number of openings from 1 to 1000."),
        "hours_per_week": _("Write the weekly hours as a number from 1 to 80."),
        "contract": _("Choose one of your contracts (or none)."),
        "skills": _("Check the skills: each one once, with a level from 1 to 4."),
        "form": _("The vacancy could not be created: your organisation is no supplier."),
    }


_FIELD_OF = {"contract_id": "contract", "condition_id": "contract"}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    if not parts:
        return "form"
    head = parts[0].split("[")[0].split(".")[0]
    return _FIELD_OF.get(head, head)


@router.post("/vacancies", response_class=HTMLResponse)
def create_vacancy(
    request: Request,
    caller: WebEmployer,
    form: CsrfForm,
    session: SessionDep,
    state: StateDep,
) -> Response:
    """Create the vacancy of the form; shown again with the messages when refused (422)."""
    _ = translator(request)
    messages = _vacancy_messages(_)
    values, rows = _vacancy_form(form)
    fields: set[str] = set()
    created: VacancyOut | None = None
    try:
        body = VacancyIn.model_validate(_vacancy_body(values, rows))
    except ValidationError as error:
        fields = {_field(e["loc"]) for e in error.errors()}
    else:
        try:
            created = recruiting.create_vacancy(session, state, caller, body)
        except InvalidError as error:
            fields = {_field(error.loc)}
        except DomainValidationError as error:
            fields = {_field([str(error.field)])}
        except ConflictError:
            fields = {"form"}
    if created is not None:
        return RedirectResponse(
            f"/app/employer/vacancies/{created.vacancy_id}?created=1", status_code=303
        )
    session.rollback()
    errors = {f: messages.get(f, messages["form"]) for f in fields}
    return _form_page(request, session, state, caller, values, rows, errors, status_code=422)


# ---- a vacancy: its shortlist, its proposals, outcomes ------------------------------------------


def _contract_of(
    session: Session, caller: Caller, vacancy: VacancyOut
) -> tuple[ContractOut | None, ConditionOut | None]:
    """The vacancy's contract and employment condition (None without them)."""
    if vacancy.contract_id is None:
        return None, None
    found = recruiting.employer_contracts(session, caller, contract_id=vacancy.contract_id)
    if not found:
        return None, None
    conditions = [c for c in found[0].conditions if c.condition_id == vacancy.condition_id]
    return found[0], conditions[0] if conditions else None


def _vacancy_page(
    request: Request,
    session: Session,
    state: ServingState,
    caller: Caller,
    vacancy_id: str,
    form_errors: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    vacancy = recruiting.read_vacancy(session, caller, vacancy_id)
    contract, condition = _contract_of(session, caller, vacancy)
    claims = recruiting.outcome_claims(session, state, caller, ClaimStatus.PENDING, vacancy_id)
    try:
        shortlist = recruiting.shortlist(session, state, caller, vacancy_id, SHORTLIST_SIZE)
    except ConflictError:
        shortlist = None  # closed: no shortlist, the outcomes can still be recorded
    return render(
        request,
        "employer/vacancy.html",
        {
            **_page_context(request),
            "vacancy": vacancy,
            "contract": contract,
            "condition": condition,
            "shortlist": shortlist,
            "claims": claims,
            "today": state.today,
            "form_errors": form_errors or {},
            "stages": OUTCOME_STAGES,
            "reasons": [code.value for code in ReasonCode],
        },
        status_code,
    )


def _proposals_page(
    request: Request,
    session: Session,
    state: ServingState,
    caller: Caller,
    vacancy_id: str,
    form_errors: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    vacancy = recruiting.read_vacancy(session, caller, vacancy_id)
    proposals = recruiting.vacancy_proposals(session, state, caller, vacancy_id)
    return render(
        request,
        "employer/proposals.html",
        {
            **_page_context(request),
            "vacancy": vacancy,
            "proposals": proposals,
            "today": state.today,
            "form_errors": form_errors or {},
            "stages": OUTCOME_STAGES,
            "reasons": [code.value for code in ReasonCode],
        },
        status_code,
    )


@router.get("/vacancies/{vacancy_id}", response_class=HTMLResponse)
async def vacancy(
    request: Request,
    vacancy_id: str,
    caller: WebEmployer,
    session: SessionDep,
    state: StateDep,
) -> HTMLResponse:
    """The vacancy, its pseudonymous shortlist, and the coaches' claims to decide."""
    return await state.in_matching_slot(
        partial(_vacancy_page, request, session, state, caller, vacancy_id)
    )


@router.get("/vacancies/{vacancy_id}/proposals", response_class=HTMLResponse)
async def proposals(
    request: Request,
    vacancy_id: str,
    caller: WebEmployer,
    session: SessionDep,
    state: StateDep,
) -> HTMLResponse:
    """The coaches' proposals: identity shown for those with the person's consent."""
    return await state.in_matching_slot(
        partial(_proposals_page, request, session, state, caller, vacancy_id)
    )


def _outcome_messages(_: Callable[..., str]) -> dict[str, str]:
    return {
        "stage": _("Choose what happened."),
        "reason": _("Choose the reason for the rejection."),
        "occurred_at": _(
            "The day must be a date from the vacancy's opening day to today, not before the "
            "person registered as unemployed."
        ),
        "candidate": _("This person is not a candidate of this vacancy."),
        "form": _("The outcome could not be recorded."),
    }


@router.post("/vacancies/{vacancy_id}/outcomes", response_class=HTMLResponse)
def record_outcome(
    request: Request,
    vacancy_id: str,
    caller: WebEmployer,
    form: CsrfForm,
    session: SessionDep,
    state: StateDep,
) -> Response:
    """Record an interview, a hire or a rejection (with its reason) of one candidate."""
    _ = translator(request)
    candidate = str(form.get("candidate", ""))
    back = "proposals" if form.get("back") == "proposals" else "shortlist"
    day = str(form.get("occurred_on", "") or "")
    body: dict[str, Any] = {
        "candidate": candidate,
        "stage": str(form.get("stage", "")),
        "reason": str(form.get("reason", "")) or None,
    }
    fields: set[str] = set()
    try:
        when = datetime.combine(date.fromisoformat(day), time(12), tzinfo=UTC)
    except ValueError:
        fields.add("occurred_at")
    else:
        body["occurred_at"] = when
    if body["stage"] not in OUTCOME_STAGES:
        fields.add("stage")
    if not fields:
        try:
            outcome = EmployerOutcomeIn.model_validate(body)
            recruiting.record_outcome(session, state, caller, vacancy_id, outcome)
        except ValidationError as error:
            fields = {_field(e["loc"]) for e in error.errors()}
        except InvalidError as error:
            fields = {_field(error.loc)}
        else:
            page = "/proposals" if back == "proposals" else ""
            return RedirectResponse(
                f"/app/employer/vacancies/{vacancy_id}{page}?recorded={body['stage']}",
                status_code=303,
            )
    session.rollback()
    messages = _outcome_messages(_)
    errors = {
        "candidate": candidate,
        "values": {"stage": body["stage"], "reason": body["reason"] or "", "occurred_on": day},
        "fields": {f: messages.get(f, messages["form"]) for f in fields},
    }
    render_page = _proposals_page if back == "proposals" else _vacancy_page
    return render_page(request, session, state, caller, vacancy_id, errors, 422)


def _decided(request: Request, form: FormData, decided: Any) -> Response:
    """Back to the page the claim was decided on (the vacancy's by default)."""
    default = f"/app/employer/vacancies/{decided.vacancy_id}"
    target = safe_next(str(form.get("next", "") or ""), default)
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}claim={decided.status}", status_code=303)


@router.post("/outcome-claims/{claim_id}/confirm", response_class=HTMLResponse)
def confirm_claim(
    request: Request,
    claim_id: str,
    caller: WebEmployer,
    form: CsrfForm,
    session: SessionDep,
    state: StateDep,
) -> Response:
    """Confirm a coach's outcome claim: the outcome is recorded now."""
    return _decided(
        request, form, recruiting.confirm_outcome_claim(session, state, caller, claim_id)
    )


@router.post("/outcome-claims/{claim_id}/reject", response_class=HTMLResponse)
def reject_claim(
    request: Request,
    claim_id: str,
    caller: WebEmployer,
    form: CsrfForm,
    session: SessionDep,
    state: StateDep,
) -> Response:
    """Reject a coach's outcome claim: nothing is recorded."""
    return _decided(
        request, form, recruiting.reject_outcome_claim(session, state, caller, claim_id)
    )
