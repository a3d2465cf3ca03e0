"""``kohtaanto serve`` and ``kohtaanto audit verify``: running and checking the HTTP service."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from service.settings import get_settings

console = Console()
APP = "service.api.app:create_app"
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="TCP port.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="uvicorn worker processes.")
    ] = None,
    demo_world: Annotated[
        Path | None,
        typer.Option(
            help="First prepare the demo on this generated world: migrate, load it into an "
            "empty database, train a first model, create demo users and print their tokens."
        ),
    ] = None,
) -> None:
    """Run the HTTP API (uvicorn) on the configured database and model registry."""
    import uvicorn

    from service.storage.database import current_revision, head_revision, make_engine

    settings = get_settings()
    chosen_host = host or settings.service.host
    chosen_port = port or settings.service.port
    chosen_workers = workers or settings.service.workers
    if demo_world is not None:
        _prepare_demo(demo_world, f"http://{chosen_host}:{chosen_port}")
    revision = current_revision(make_engine(settings.database_url))
    if revision != head_revision():
        console.print(
            f"[red]the database {settings.database_url} is at revision {revision}, not "
            f"{head_revision()}: run `kohtaanto db upgrade` (and `kohtaanto load`) first[/]"
        )
        raise typer.Exit(2)
    # Workers share counters through files, so /metrics on any worker tells the whole story.
    metrics_dir = tempfile.mkdtemp(prefix="kohtaanto-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    console.print(
        f"Serving on http://{chosen_host}:{chosen_port} with {chosen_workers} worker(s); "
        f"database {settings.database_url}"
    )
    try:
        if chosen_workers > 1:
            from uvicorn.supervisors import Multiprocess

            config = uvicorn.Config(
                APP,
                factory=True,
                host=chosen_host,
                port=chosen_port,
                workers=chosen_workers,
                log_level="warning",
                access_log=False,
                timeout_worker_healthcheck=settings.service.worker_healthcheck_seconds,
            )
            # What uvicorn.run does for workers > 1, with a listener that keeps TCP_NODELAY.
            Multiprocess(config, sockets=[tcp_listener(config.bind_socket())]).run()
        else:
            uvicorn.run(
                APP,
                factory=True,
                host=chosen_host,
                port=chosen_port,
                log_level="warning",
                access_log=False,
            )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def tcp_listener(sock: socket.socket) -> socket.socket:
    """A listening TCP socket whose connections get ``TCP_NODELAY``, as asyncio intends.

    uvicorn binds the socket it hands to its workers with ``proto`` 0, and asyncio sets
    ``TCP_NODELAY`` on an accepted connection only when its ``proto`` is ``IPPROTO_TCP``
    (uvicorn issue #3149). With Nagle's algorithm on, a response written in two parts waits
    for the client's delayed ACK: every keep-alive request with ``--workers`` > 1 took ~40 ms
    more on Linux. The same descriptor is re-wrapped with the right ``proto``; the option is
    also set on the listener, whose accepted connections inherit it on Linux.
    """
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return sock
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return tcp


def _prepare_demo(world: Path, base_url: str) -> None:
    from service.demo_service import TOKENS_FILE, prepare_demo_service

    settings = get_settings()
    if not (world / "world.json").is_file():
        console.print(f"[red]{world} is not a generated world (run `make run` or generate)[/]")
        raise typer.Exit(2)
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
    console.print()


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit log's hash chain; exit 1 naming the first entry that was altered."""
    from service.api.audit import verify_chain
    from service.storage.database import make_engine, make_session_factory

    sessions = make_session_factory(make_engine(get_settings().database_url))
    with sessions() as session:
        report = verify_chain(session)
    if report.ok:
        console.print(f"audit log intact: {report.entries} entries, every hash verified")
        return
    console.print(
        f"[red]audit log broken at entry {report.first_bad_seq}: {report.problem} "
        f"({report.entries} entries before it verified)[/]"
    )
    raise typer.Exit(1)
