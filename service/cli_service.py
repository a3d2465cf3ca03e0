"""``kohtaanto serve`` and ``kohtaanto audit verify``: running and checking the HTTP service."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from service.cli_paths import fail
from service.observability import uvicorn_log_config
from service.settings import get_settings

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

console = Console()
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="TCP port.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker processes, forked from one built engine."),
    ] = None,
    demo_world: Annotated[
        Path | None,
        typer.Option(
            help="First prepare the demo on this generated world: migrate, load it into an "
            "empty database, train a first model, create demo users and print their tokens."
        ),
    ] = None,
) -> None:
    """Run the HTTP API on the configured database and model registry.

    The matching engine is built once, then the worker processes are forked from it and share
    its memory (a pre-fork server: gunicorn supervising uvicorn workers, see service.server).
    SIGTERM stops the server gracefully; a worker that dies is replaced at once.
    """
    from service.server import run_server
    from service.storage.database import current_revision, head_revision, make_engine

    settings = get_settings()
    chosen_host = host or settings.service.host
    chosen_port = port or settings.service.port
    chosen_workers = workers or settings.service.workers
    service = settings.service
    if service.metrics_port == chosen_port:
        fail(
            f"the metrics port {service.metrics_port} is the API's port: set "
            "KOHTAANTO_SERVICE__METRICS_PORT to another (0 turns the listener off), or "
            "KOHTAANTO_SERVICE__METRICS_ON_API_PORT=true to serve /metrics on the API port"
        )
    # Workers share counters through files (prometheus_client's multiprocess mode): one
    # listener in this supervisor process serves /metrics of every worker, on a loopback port
    # apart from the public API (a per-worker listener would need a port per worker). Set
    # before anything imports prometheus_client, which chooses its mode at import.
    metrics_dir = tempfile.mkdtemp(prefix="kohtaanto-metrics-")
    previous_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    supervisor = os.getpid()
    listener = None
    try:
        if demo_world is not None:
            _prepare_demo(demo_world, f"http://{chosen_host}:{chosen_port}")
        database = make_engine(settings.database_url)
        try:
            revision = current_revision(database)
        finally:
            database.dispose()  # no connection of the check is left for the workers
        if revision != head_revision():
            fail(
                f"the database {settings.database_url} is at revision {revision}, not "
                f"{head_revision()}: run `kohtaanto db upgrade` (and `kohtaanto load`) first"
            )
        try:
            listener = start_metrics_listener(service.metrics_host, service.metrics_port)
        except OSError as error:
            fail(
                f"cannot serve metrics on {service.metrics_host}:{service.metrics_port}: "
                f"{error.strerror or error} (set KOHTAANTO_SERVICE__METRICS_PORT)"
            )
        console.print(
            f"Serving on http://{chosen_host}:{chosen_port} with {chosen_workers} worker(s), "
            f"once the engine is built; database {settings.database_url}",
            markup=False,
            highlight=False,
        )
        if listener is not None:
            console.print(
                f"Metrics on http://{service.metrics_host}:{service.metrics_port}/metrics",
                markup=False,
                highlight=False,
            )
        run_server(
            settings,
            host=chosen_host,
            port=chosen_port,
            workers=chosen_workers,
            log_config=uvicorn_log_config(service.log_level, access=service.access_log),
            inherited=[listener.socket] if listener is not None else [],
        )
    finally:
        # A forked worker exits (SystemExit) through here too: only the supervisor cleans up;
        # a worker would wait forever for the listener thread it does not have.
        if os.getpid() == supervisor:
            if listener is not None:
                listener.shutdown()
            shutil.rmtree(metrics_dir, ignore_errors=True)
            # Not left pointing at the removed folder (serve run in-process, e.g. by tests).
            if previous_dir is None:
                os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            else:
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous_dir


def start_metrics_listener(host: str, port: int) -> WSGIServer | None:
    """Serve every worker's metrics (the multiprocess directory) on ``host:port``, or None.

    A daemon thread of the supervisor, which handles no requests itself: a scrape costs the
    workers nothing. Port 0 means no listener.
    """
    if port == 0:
        return None
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    server, _ = start_http_server(port, addr=host, registry=registry)
    return server


def _prepare_demo(world: Path, base_url: str) -> None:
    from service.demo_service import SIGN_INS_FILE, TOKENS_FILE, prepare_demo_service

    settings = get_settings()
    if not (world / "world.json").is_file():
        console.print(f"[red]{world} is not a generated world (run `make run` or generate)[/]")
        raise typer.Exit(2)
    # In the supervisor, before it forks the workers: training leaves OpenMP's thread pool
    # here, which a fork does not carry over; service.server keeps LightGBM on one thread
    # from then on, so no worker ever waits for the pool's threads.
    with console.status("Preparing the demo service (database, first model, users)..."):
        demo = prepare_demo_service(world, settings)
    if demo.loaded_rows is not None:
        console.print(f"Loaded the demo world into the database: {demo.loaded_rows:,} rows.")
    console.print(f"Model: {demo.model}")
    console.print(
        f"\nDemo tokens (also in {settings.paths.var_dir / TOKENS_FILE}, owner-readable only):"
    )
    for role, token in demo.tokens.items():
        console.print(f"  {role:<12} {token}")
    matches = f"{base_url}/api/v1/coach/jobseekers/{demo.jobseeker_id}/matches?k=3"
    shortlist = f"{base_url}/api/v1/employer/vacancies/{demo.vacancy_id}/shortlist?k=5"
    ledger = f"{base_url}/api/v1/procurement/contracts/{demo.contract_id}/ledger"
    console.print("\nTry (API documentation at " + base_url + "/docs):", soft_wrap=True)
    for role, url in (("coach", matches), ("employer", shortlist), ("procurement", ledger)):
        console.print(
            f"  curl -s -H 'Authorization: Bearer {demo.tokens[role]}' '{url}'", soft_wrap=True
        )
    sign_ins = settings.paths.var_dir / SIGN_INS_FILE
    console.print(f"\nThe web application: {base_url}/app/", soft_wrap=True, highlight=False)
    console.print(
        f"Demo sign-ins (username and password; also in {sign_ins}, owner-readable only):",
        soft_wrap=True,
        highlight=False,
    )
    for role, sign_in in demo.sign_ins.items():
        console.print(
            f"  {role:<12} {sign_in['username']:<20} {sign_in['password']}",
            markup=False,
            highlight=False,
        )
    console.print()


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain and seals.

    Exit 0: intact. Exit 1: tampered (the line names the first entry that does not fit).
    Exit 2: cannot verify (database unreachable or not migrated, key or seal file missing).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from service.api.audit import Sealer, SealUnavailableError, verify_chain
    from service.storage.database import make_engine, make_session_factory

    settings = get_settings()
    try:
        sealer = Sealer.from_settings(settings)
        engine = make_engine(settings.database_url)
    except (SealUnavailableError, SQLAlchemyError, OSError) as error:
        _cannot_verify(str(error))
    try:
        with make_session_factory(engine)() as session:
            report = verify_chain(session, sealer, unpublished_allowed=settings.service.workers)
    except SealUnavailableError as error:
        _cannot_verify(str(error))
    except SQLAlchemyError as error:
        # One line, not the driver's multi-line message and a traceback.
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        _cannot_verify(f"the database {engine.url!r} cannot be read: {reason}")
    finally:
        engine.dispose()
    if report.ok:
        console.print(
            f"audit log intact: {report.entries} entries, every hash and seal verified",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    where = "" if report.first_bad_seq is None else f" at entry {report.first_bad_seq}"
    fail(
        f"audit log tampered{where}: {report.problem} "
        f"({report.entries} entries before it verified)",
        code=1,
    )


def _cannot_verify(reason: str) -> NoReturn:
    fail(f"audit log cannot be verified: {reason}")
