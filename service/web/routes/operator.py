"""The operator's pages under ``/app/operator/``: the model registry, the audit log.

For the ``admin`` and ``operator`` roles (``WebOperator``), on the JSON admin routes' rules
(:mod:`service.api.routers.admin`): both read the model registry, the model cards and the
audit log (an admin only its own organisation's entries); only an admin reloads or rolls
back the model, so the operator sees no such buttons and gets 403 posting the forms.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markdown_it import MarkdownIt
from markupsafe import Markup

from service.api.deps import SessionDep, StateDep
from service.api.security import Caller
from service.operations import platform as operations
from service.operations.errors import ConflictError, ForbiddenError
from service.storage.tables import Role
from service.web.auth import CsrfForm, WebOperator
from service.web.templating import render

router = APIRouter(prefix="/app/operator", include_in_schema=False)

#: Audit entries per page.
AUDIT_PAGE_SIZE = 50
#: Recorded chain verifications the verify page lists.
VERIFICATIONS_SHOWN = 10
#: The roles that may reload or roll back the model (the JSON API's ``AdminDep``).
MODEL_CHANGERS = (Role.ADMIN,)

Version = Annotated[str, Path(max_length=64)]

#: Model cards are Markdown written by the training pipeline; raw HTML in them is escaped.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


_HEADING = re.compile(r"<(/?)h([1-6])>")
_RELATIVE_SRC = re.compile(r'src="([A-Za-z0-9][A-Za-z0-9._-]*)"')


@functools.lru_cache(maxsize=32)
def _card_html(card: str, version: str) -> Markup:
    """The card's Markdown as HTML under the page's own headings (h1 -> h3...), its images
    (files beside the card) served from the version's folder."""
    html = _MARKDOWN.render(card)
    html = _HEADING.sub(lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 2, 6)}>", html)
    html = _RELATIVE_SRC.sub(lambda m: f'src="/app/operator/models/{version}/{m.group(1)}"', html)
    # Rendered with raw HTML disabled: whatever the card holds was escaped.
    return Markup(html)


def may_change_model(caller: Caller) -> bool:
    return caller.role in MODEL_CHANGERS


@router.get("/", response_class=HTMLResponse)
def registry(request: Request, caller: WebOperator, state: StateDep) -> HTMLResponse:
    """The served model, the champion, every challenger and the gate's verdicts."""
    return _registry_page(request, caller, state)


def _registry_page(
    request: Request, caller: Caller, state: StateDep, problem: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "operator/registry.html",
        {
            "registry": operations.model_registry(state),
            "may_change": may_change_model(caller),
            "done": request.query_params.get("done"),
            "problem": problem,
        },
        status_code=409 if problem else 200,
    )


@router.get("/models/{version}", response_class=HTMLResponse)
def model_card(
    request: Request, version: Version, caller: WebOperator, state: StateDep
) -> HTMLResponse:
    """One version's gate verdict, figures, champion history and model card."""
    found = operations.model_card(state, version)
    card = _card_html(found.card, found.model.version) if found.card else None
    return render(request, "operator/model.html", {"found": found, "card": card})


@router.get("/models/{version}/{name}", response_class=Response)
def model_card_file(version: Version, name: str, caller: WebOperator, state: StateDep) -> Response:
    """A chart the model card links to (``reliability-<direction>.png``)."""
    return Response(operations.model_attachment(state, version, name), media_type="image/png")


def _check_changer(caller: Caller) -> None:
    if not may_change_model(caller):
        raise ForbiddenError("only an administrator reloads or rolls back the model")


@router.post("/model/reload", response_class=Response)
async def reload_model(
    request: Request, caller: WebOperator, form: CsrfForm, state: StateDep
) -> Response:
    """Load the registry's champion now."""
    _check_changer(caller)
    await run_in_threadpool(operations.reload_model, state)
    return RedirectResponse("/app/operator/?done=reloaded", status_code=303)


@router.post("/model/rollback", response_class=Response)
async def rollback_model(
    request: Request, caller: WebOperator, form: CsrfForm, state: StateDep
) -> Response:
    """Make the previous champion serve again; 409 with the reason when there is none."""
    _check_changer(caller)
    try:
        await run_in_threadpool(operations.rollback_model, state)
    except ConflictError as error:
        return await run_in_threadpool(_registry_page, request, caller, state, error.detail)
    return RedirectResponse("/app/operator/?done=rolled_back", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    caller: WebOperator,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> HTMLResponse:
    """The audit entries the caller may read, a page at a time, and the chain's last seal."""
    entries = operations.audit_entries(session, caller, after, AUDIT_PAGE_SIZE + 1)
    more = len(entries) > AUDIT_PAGE_SIZE
    entries = entries[:AUDIT_PAGE_SIZE]
    return render(
        request,
        "operator/audit.html",
        {
            "entries": entries,
            "after": after,
            "next_after": entries[-1].seq if more and entries else None,
            "total": operations.audit_entry_count(session, caller),
            "seal": operations.last_seal(session),
            "verification": next(iter(operations.last_verifications(session, 1)), None),
            "everyone": caller.role is Role.OPERATOR,
        },
    )


@router.get("/audit/verify", response_class=HTMLResponse)
def verify_audit(request: Request, caller: WebOperator, session: SessionDep) -> HTMLResponse:
    """The latest recorded verifications of the whole chain (nothing is recomputed here) and
    the form that runs one now."""
    verifications = operations.last_verifications(session, VERIFICATIONS_SHOWN)
    return render(
        request,
        "operator/verify.html",
        {
            "verifications": verifications,
            "latest": verifications[0] if verifications else None,
            "seal": operations.last_seal(session),
        },
    )


@router.post("/audit/verify", response_class=Response)
async def run_verify_audit(
    request: Request, caller: WebOperator, form: CsrfForm, session: SessionDep, state: StateDep
) -> Response:
    """Recompute the whole chain now (what ``kohtaanto audit verify`` does), record the
    verdict and show it (POST-redirect-GET). Admins and the operator, as the JSON route."""
    workers = request.app.state.settings.service.workers
    await run_in_threadpool(operations.verify_audit, session, state, workers, caller.user_id)
    return RedirectResponse("/app/operator/audit/verify", status_code=303)
