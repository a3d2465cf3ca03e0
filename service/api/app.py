"""The FastAPI application: one router per audience, shared error handling, metrics.

The serving state is the matching engine built from the database (the same arrays as from a
generated world), the champion model and the change feed's position (:func:`build_state`).
``kohtaanto serve`` builds it once, in the supervisor, and forks its workers from it
(``service.server``): they share its pages. ``create_app(settings)`` alone builds it at start-up
(``uvicorn --factory``, tests).

Bad input never becomes a 500: bodies that are not strict JSON (NaN, Infinity, a lone
surrogate), malformed or coerced values and parameters are 422 with field paths (FastAPI's
validation of strict models), domain rule violations and unknown reference codes are 422 naming
the field and the offending value, bodies over ``max_body_bytes`` are 413, and database
constraint conflicts are 409 — each request's writes are one transaction, rolled back on any
error. Every error answer is an RFC 9457 problem (:mod:`service.api.problems`).
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, status
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features.geography import load_geography
from features.matching_data import Vocabularies
from features.taxonomy import load_taxonomy
from features.world_store import SERVING_TABLES
from matching.stages import recording, server_timing
from service import web
from service.api import audit
from service.api.metrics import LATENCY, REQUESTS
from service.api.problems import StrictJSONBodies, install_problem_handlers, problem, replay
from service.api.routers import (
    admin,
    coaches,
    employers,
    procurement,
    reference,
    statistics,
    targeting,
    users,
)
from service.api.runtime import ServingState
from service.api.security import CallerCache
from service.composition import build_engine
from service.observability import RequestLogging
from service.settings import Settings, get_settings
from service.storage.database import make_engine, make_session_factory
from service.storage.tables import Change
from service.storage.world_io import read_world_tables
from training.registry import ModelRegistry

log = logging.getLogger(__name__)


def pseudonym_key(settings: Settings) -> bytes:
    """The secret behind employer-facing pseudonyms: from the settings, or kept in ``var/``.

    Every worker, host and restart must give a person the same pseudonym for a vacancy (and
    the same token to their erasure's feed row), so a single host creates the file once, and
    a host of several (``service.host_id`` set) only reads it: one it made up would differ
    from the other hosts' (see docs/deployment.md).
    """
    if settings.service.pseudonym_key is not None:
        key = settings.service.pseudonym_key.get_secret_value().encode("utf-8")
        if not key:
            raise ValueError("the pseudonym key in the settings (service.pseudonym_key) is empty")
        return key
    path = settings.paths.var_dir / "pseudonym.key"
    if not path.exists() and settings.service.host_id:
        raise FileNotFoundError(
            f"host {settings.service.host_id!r} has no pseudonym key: set "
            f"KOHTAANTO_SERVICE__PSEUDONYM_KEY, or copy {path} from the other hosts"
        )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(secrets.token_bytes(32))
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)  # atomic: the first worker's key wins
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_bytes()


def build_state(settings: Settings) -> ServingState:
    """Everything a worker serves from, built from the database and the model registry.

    A pre-fork server builds it once, before it forks the workers that inherit it: it starts
    no thread and holds no database connection in use. What a serving process needs of its
    own (the change listener, the audit committer's thread) starts at first use there.
    """
    db = make_engine(settings.database_url)
    sessions = make_session_factory(db)
    with sessions() as session:
        last_change = session.scalar(select(func.max(Change.seq))) or 0
    world = read_world_tables(db, SERVING_TABLES)
    engine = build_engine(world, settings)
    taxonomy = load_taxonomy(settings.paths.data_dir, settings.paths.cache_dir)
    geography = load_geography(settings.paths.data_dir, settings.paths.cache_dir)
    state = ServingState(
        engine=engine,
        vocab=Vocabularies.build(taxonomy, geography),
        db=db,
        sessions=sessions,
        write_sessions=make_session_factory(db, writer=True),
        registry=ModelRegistry(settings.paths.var_dir / "models"),
        today=settings.service.today or world.as_of,
        model_check_seconds=settings.service.model_check_seconds,
        last_change=last_change,
        pseudonym_key=pseudonym_key(settings),
        sealer=audit.Sealer.from_settings(settings, create=True),
        statistics_cache_seconds=settings.service.statistics_cache_seconds,
        callers=CallerCache(settings.service.token_cache_seconds),
        matching_threads=settings.service.matching_threads,
        listen_for_changes=settings.service.listen_for_changes,
        data_dir=settings.paths.data_dir,
        cache_dir=settings.paths.cache_dir,
    )
    state.check_model(force=True)
    return state


class LimitsAndMetrics:
    """Refuse oversized bodies with 413 before anything parses them; count and time requests.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) runs
    each request in a task of its own with memory streams between it and the app, which cost
    a worker more than routing and dependencies together.

    With ``stage_timing`` each request runs under :func:`matching.stages.recording` and its
    answer carries a ``Server-Timing`` header of the CPU each stage took. The recording is a
    context variable, so the stages timed on the matching thread (``anyio.to_thread`` copies
    the context, and the dictionary is the same object there) land in it too.
    """

    def __init__(self, app: ASGIApp, max_body: int, stage_timing: bool = False) -> None:
        self.app = app
        self.max_body = max_body
        self.stage_timing = stage_timing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self._too_large(scope, receive, send)
            return
        if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
            # Chunked: read it here, bounded, and hand the app what was read.
            chunks: list[bytes] = []
            size, more = 0, True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                more = message.get("more_body", False)
                if size > self.max_body:
                    await self._too_large(scope, receive, send)
                    return
            receive = replay(b"".join(chunks), receive)
        status_code = 500
        timings: dict[str, float] | None = None

        async def send_and_note(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                if timings is not None:
                    # The stages so far: the answer is complete when its head is sent.
                    header = (b"server-timing", server_timing(timings).encode("ascii"))
                    message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            if self.stage_timing:
                with recording() as timings:
                    await self.app(scope, receive, send_and_note)
            else:
                await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(scope["method"], route, str(status_code)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the body may be at most {self.max_body} bytes",
            scope["path"],
        )
        await response(scope, receive, send)


def freeze_long_lived_objects() -> None:
    """Keep the collector away from what was built so far (the engine, vocabularies, caches).

    They live as long as the process. Left to the collector, every full collection walked
    them again: a 170 ms stall of the whole worker on the national world, every few hundred
    requests (the slowest percent of answers). Frozen, they are never scanned; garbage made by
    requests is still collected as usual. In a pre-fork server it also keeps the shared pages
    shared: a collection writes to the header of every object it scans, which would copy
    each page of them into the worker that collected.
    """
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None, state: ServingState | None = None, *, forked: bool = False
) -> FastAPI:
    """The application; ``state`` lets tests share one prepared engine between apps.

    ``forked``: ``state`` was built by a supervisor before it forked the worker processes
    (``service.server``); each worker owns its copy-on-write copy, catches it up with the
    change feed before it serves, and stops its threads and connections at shutdown.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A state set before start-up (tests sharing one engine, or the supervisor's) is used
        # as it is.
        built = getattr(app.state, "serving", None) is None
        if built:
            app.state.serving = build_state(settings)
            freeze_long_lived_objects()
        elif forked:
            # A worker that replaces a dead one is forked from the state as it was built:
            # before it answers anything it loads the champion promoted since, if any, and
            # applies what changed in the database since.
            try:
                app.state.serving.check_model(force=True)
                app.state.serving.catch_up()
            except (SQLAlchemyError, OSError) as error:
                # Not fatal: gunicorn stops the whole server when a worker cannot start, and
                # both are done again before every matching query (the database may be back).
                log.warning("a forked worker could not catch up at start-up: %s", error)
        yield
        if built or forked:
            # Requests have been answered: commit what is still queued, then stop.
            app.state.serving.audit_committer.close()
            app.state.serving.close()  # the change listener and the database connections

    app = FastAPI(
        title="Kohtaanto",
        version="1.0.0",
        description=(
            "Matching jobseekers supported by job coaches with vacancies created under the "
            "employment conditions of public procurement contracts."
        ),
        lifespan=lifespan,
        # Served by service.web from local copies of Swagger UI and ReDoc (no CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.serving = state
    app.state.settings = settings

    # Innermost first: the size limit (outside) bounds what the strict JSON check reads.
    app.add_middleware(StrictJSONBodies)
    app.add_middleware(
        LimitsAndMetrics,
        max_body=settings.service.max_body_bytes,
        stage_timing=settings.service.stage_timing,
    )
    # Outermost (added last): the request id is set before anything else logs, and requests
    # refused by the limits get an access line too.
    app.add_middleware(RequestLogging)

    install_problem_handlers(app)

    routers = (coaches, employers, procurement, targeting, statistics, admin, users, reference)
    for router in (module.router for module in routers):
        app.include_router(router)
    app.include_router(admin.probes)
    if settings.service.metrics_on_api_port:
        app.include_router(admin.metrics_probe)
    # The web application's pages (service.web), after the API's error handlers: it wraps
    # them so that errors under /app/ render as pages.
    app.include_router(web.router)
    web.install(app)
    return app
