"""Routes that answer a read again when the database dropped its connection mid-request.

``pool_pre_ping`` hands every request a live connection, but PostgreSQL can still end one
while a request uses it (a restart, a failover, ``pg_terminate_backend``). The request then
fails with a disconnect error and its connection is discarded by the pool. A read (GET or
HEAD) is safe to run once more on a fresh connection, so the client sees an answer instead
of a 503; a write is not retried (it may have committed before the connection dropped, and
only the client can decide to repeat it). The one side effect of a read, the audit entry of a
matches or shortlist answer, can then be written twice when the connection dropped during
its commit: the log may over-report an answer as shown, never under-report one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

#: Methods that change nothing a client relies on: answered again after a disconnect.
RETRIED_METHODS = frozenset({"GET", "HEAD"})


def dropped_connection(error: BaseException) -> bool:
    """Whether ``error`` is the database ending the connection (not a query's own error)."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


class ReadRetryRoute(APIRoute):
    """An :class:`APIRoute` whose reads are run once more after a dropped connection."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_with_retry(request: Request) -> Response:
            try:
                return await handle(request)
            except DBAPIError as error:
                if request.method not in RETRIED_METHODS or not dropped_connection(error):
                    raise
                log.warning(
                    "database connection dropped during %s; answering again", request.url.path
                )
                return await handle(request)

        return handle_with_retry
