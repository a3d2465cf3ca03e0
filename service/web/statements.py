"""Payment statements of performance-based contracts as CSV or a printable page.

The JSON routes (``/api/v1/procurement/contracts/{id}/statement`` and the employer's) and
the pages answer a statement in the format asked for through :func:`statement_response`;
the printable page is a server-rendered template with its own print stylesheet (no script,
no CDN), in the caller's language.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from fastapi.responses import Response

from service.api.schemas import StatementOut
from service.operations.performance import statement_csv
from service.web.templating import render

__all__ = ["StatementFormat", "statement_file_name", "statement_response"]

StatementFormat = Literal["json", "csv", "html"]


def statement_file_name(statement: StatementOut, suffix: str) -> str:
    """``statement-<contract>-<period or running>.<suffix>``."""
    return f"statement-{statement.contract_id}-{statement.period or 'running'}.{suffix}"


def statement_response(
    request: Request, statement: StatementOut, format: StatementFormat
) -> Response:
    """The statement as JSON, as CSV (a download) or as the printable page."""
    if format == "csv":
        name = statement_file_name(statement, "csv")
        return Response(
            statement_csv(statement),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    if format == "html":
        return render(request, "performance/statement_print.html", {"statement": statement})
    return Response(statement.model_dump_json(), media_type="application/json")
