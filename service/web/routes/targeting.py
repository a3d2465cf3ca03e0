"""The targeting advisor's page under ``/app/procurement/targeting``.

The page posts a plan CSV (the columns of ``kohtaanto target --plan``) and shows what the JSON
route answers for it: the same operation (:func:`service.operations.targeting.advise_csv`),
the same table and chart as the CLI's report. Supply is counts by target group, never people.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from service.api.deps import StateDep
from service.operations import targeting as operations
from service.operations.errors import InvalidError
from service.web.auth import CsrfForm, WebProcurement
from service.web.templating import render, translator
from targeting.plan import PLAN_COLUMNS

router = APIRouter(prefix="/app/procurement", include_in_schema=False)

#: Best-ranked profiles shown per plan line (the JSON route and the CLI give them all).
PROFILES_PER_LINE = 5
#: The largest plan file the page reads (a plan of 100 lines is about 10 kB).
MAX_PLAN_BYTES = 256 * 1024


def _page(request: Request, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return render(
        request,
        "procurement/targeting.html",
        {"columns": PLAN_COLUMNS, "max_lines": operations.MAX_API_LINES, **context},
        status_code=status_code,
    )


@router.get("/targeting", response_class=HTMLResponse)
def targeting_form(request: Request, caller: WebProcurement) -> HTMLResponse:
    """The form: a procurement plan to advise on, as a CSV file."""
    return _page(request, {"errors": {}})


@router.post("/targeting", response_class=HTMLResponse)
async def targeting_advice(
    request: Request, caller: WebProcurement, form: CsrfForm, state: StateDep
) -> HTMLResponse:
    """The advice for the uploaded plan: the table, the chart and each line's reasons."""
    _ = translator(request)
    upload = form.get("plan")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, {"errors": {"plan": _("Choose a plan file (CSV).")}}, 422)
    content = await upload.read(MAX_PLAN_BYTES + 1)
    if len(content) > MAX_PLAN_BYTES:
        message = _("The plan file is larger than 256 kB.")
        return _page(request, {"errors": {"plan": message}}, 422)
    try:
        result = await run_in_threadpool(
            operations.advise_csv, state, caller, content, upload.filename
        )
    except InvalidError as error:
        return _page(request, {"errors": {"plan": error.message}}, 422)
    chart = await run_in_threadpool(operations.chart_data_uri, result)
    reasons = {a.line.line_id: list(a.reasons) for a in result.advices}
    profiles: dict[str, list[dict[str, Any]]] = {}
    for profile in result.profiles:
        shown = profiles.setdefault(str(profile["line_id"]), [])
        if len(shown) < PROFILES_PER_LINE:
            shown.append(profile)
    return _page(
        request,
        {
            "errors": {},
            "filename": upload.filename,
            "result": result,
            "lines": result.lines,
            "reasons": reasons,
            "profiles": profiles,
            "chart": chart,
        },
    )
