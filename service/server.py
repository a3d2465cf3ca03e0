"""The pre-fork HTTP server of ``kohtaanto serve``: one matching engine for every worker.

gunicorn's arbiter supervises uvicorn workers (``uvicorn-worker``) with ``preload_app``: the
supervisor builds the serving state once (:meth:`PreforkServer.load`), then forks the workers.
A forked worker shares the supervisor's memory pages copy-on-write, so the engine's arrays, the
vocabularies and the model are in memory once however many workers serve them; a page is copied
into a worker only when that worker writes to it (a change-feed row it applies). A worker that
dies is replaced within about a second by another fork of the same built state, which catches
up the change feed from the build's position before it serves (``create_app(forked=True)``):
nothing is rebuilt. ``--workers 1`` takes the same path with one worker.

What a forked worker must not use as it inherited it is dealt with once, here:

- the database connections in SQLAlchemy's pool (the build's): each worker drops its copies
  without closing them (:func:`after_fork`), so the supervisor's connections stay its own;
- the metrics listener's socket (a thread of the supervisor serves it): closed in each worker;
- the listening socket: re-wrapped so that accepted connections get ``TCP_NODELAY``
  (:func:`tcp_listener`), once, before the first fork;
- OpenMP's thread pool, which does not survive a fork (:func:`keep_openmp_single_threaded`);
- the collector, which would write to every shared object it scans: what the build made is
  frozen before each fork (``gc.freeze``).

Threads, and whatever is bound to one process (the change listener, the audit committer, the
SQLite probe connection, the per-event-loop matching slots), are started by the serving process
at first use and never by the build, so a fork inherits none of them; the state's locks are
only taken by request handling, which never runs in the supervisor, so none is held at a fork.
Prometheus' multiprocess values notice the fork themselves (one file per process id).
"""

from __future__ import annotations

import gc
import logging
import os
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from gunicorn.app.base import BaseApplication
from uvicorn_worker import UvicornWorker

from service.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

    from service.api.runtime import ServingState

log = logging.getLogger(__name__)

#: How long a worker may take to finish the requests it holds when the server stops.
GRACEFUL_SECONDS = 30
#: Idle keep-alive connections are closed after this many seconds (uvicorn's default).
KEEP_ALIVE_SECONDS = 5


def run_server(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    log_config: dict[str, Any],
    inherited: Sequence[socket.socket] = (),
) -> None:
    """Serve until SIGTERM or SIGINT; returns in the supervisor only (see ``SystemExit``).

    ``inherited``: sockets of the supervisor that its workers must not keep open.
    A forked worker leaves by ``SystemExit`` through the caller's frames as well: cleanups
    in the caller must check that they run in the supervisor's process.
    """
    PreforkServer(
        settings,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config,
        inherited=inherited,
    ).run()


class PreforkServer(BaseApplication):
    """gunicorn, configured in code, whose application is built before the workers fork."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str,
        port: int,
        workers: int,
        log_config: dict[str, Any],
        inherited: Sequence[socket.socket] = (),
    ) -> None:
        self.settings = settings
        self.inherited = list(inherited)
        self.state: ServingState | None = None
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.options: dict[str, Any] = {
            "bind": [bind],
            "workers": workers,
            "worker_class": ServiceWorker,
            "preload_app": True,
            # The heartbeat: a worker whose event loop does not answer this long is replaced.
            "timeout": settings.service.worker_healthcheck_seconds,
            "graceful_timeout": GRACEFUL_SECONDS,
            "keepalive": KEEP_ALIVE_SECONDS,
            "proc_name": "kohtaanto",
            "loglevel": settings.service.log_level,
            "logconfig_dict": gunicorn_log_config(log_config),
            # gunicorn's control socket would be a file in the working directory; the
            # service is operated by signals (TERM stops it, TTIN/TTOU add or remove a worker).
            "control_socket_disable": True,
            "when_ready": self.wrap_listeners,
            "pre_fork": self.before_fork,
            "post_fork": self.in_forked_worker,
            "child_exit": self.worker_gone,
        }
        super().__init__()

    # gunicorn's application interface --------------------------------------------------------
    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> FastAPI:
        """Build the serving state and the application, in the supervisor (``preload_app``)."""
        from service.api.app import build_state, create_app, freeze_long_lived_objects

        keep_openmp_single_threaded()
        state = build_state(self.settings)
        app = create_app(self.settings, state, forked=True)
        self.state = state
        freeze_long_lived_objects()
        log.info("engine built by the supervisor (pid %d); forking the workers", os.getpid())
        return app

    # gunicorn's hooks --------------------------------------------------------------------------
    def wrap_listeners(self, arbiter: Arbiter) -> None:
        """Give the listening sockets ``TCP_NODELAY`` connections, before the first fork."""
        for listener in arbiter.LISTENERS:
            listener.sock = tcp_listener(listener.sock)

    def before_fork(self, arbiter: Arbiter, worker: Worker) -> None:
        # What the supervisor made since the build (the arbiter's own objects) joins the
        # frozen generation too: cheap, and no collection in a worker touches shared pages.
        gc.freeze()

    def in_forked_worker(self, arbiter: Arbiter, worker: Worker) -> None:
        if self.state is not None:
            after_fork(self.state, self.inherited)

    def worker_gone(self, arbiter: Arbiter, worker: Worker) -> None:
        """A worker exited: its live gauges (if any) leave the metrics."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(worker.pid)


class ServiceWorker(UvicornWorker):
    """A uvicorn worker that logs as the service does (JSON lines through the root logger)."""

    # uvicorn's access lines are replaced by the service's own (``kohtaanto.access``).
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {"loop": "auto", "http": "auto", "access_log": False}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # UvicornWorker hands uvicorn's loggers gunicorn's handlers and stops them
        # propagating; with gunicorn's loggers propagating to the root (gunicorn_log_config)
        # that would drop uvicorn's lines: send them to the root as the log config says.
        for name in ("uvicorn.error", "uvicorn.access"):
            logger = logging.getLogger(name)
            logger.handlers = []
            logger.propagate = name != "uvicorn.access"


def after_fork(state: ServingState, inherited: Sequence[socket.socket]) -> None:
    """Make a forked worker's copy of ``state`` its own: in the worker, right after the fork."""
    # The pooled connections' sockets were copied too; a query on one would interleave with
    # the supervisor's on the same connection. Forget them without closing them (closing
    # would end the supervisor's sessions): the worker's pool opens its own on first use.
    state.db.dispose(close=False)
    for sock in inherited:
        # The worker's copy of the descriptor only: the supervisor's listener serves on.
        sock.close()


def keep_openmp_single_threaded() -> None:
    """LightGBM runs its OpenMP loops on one thread, in this process and in its forks.

    GNU OpenMP's thread pool does not survive a fork: a forked worker that enters a parallel
    loop with more threads than one, after its parent ran one, waits forever for threads that
    are not there (loading a newly promoted champion hung every worker). A worker scores on one
    thread per request anyway (``LightGBMScorer``); a model loads on one thread too.
    """
    import ctypes

    from lightgbm.basic import _LIB, _safe_call

    _safe_call(_LIB.LGBM_SetMaxThreads(ctypes.c_int(1)))


def gunicorn_log_config(log_config: dict[str, Any]) -> dict[str, Any]:
    """``log_config`` with gunicorn's loggers sent to the root's handlers (the JSON lines)."""
    level = log_config["root"]["level"]
    loggers = dict(log_config.get("loggers", {}))
    loggers["gunicorn.error"] = {"handlers": [], "level": level, "propagate": True}
    # Requests are logged by the service (``kohtaanto.access``); gunicorn's worker logs none.
    loggers["gunicorn.access"] = {"handlers": [], "level": "CRITICAL", "propagate": False}
    return {**log_config, "loggers": loggers}


def tcp_listener(sock: socket.socket) -> socket.socket:
    """A listening TCP socket whose connections get ``TCP_NODELAY``, as asyncio intends.

    gunicorn (like uvicorn) binds the socket it hands to its workers with ``proto`` 0, and
    asyncio sets ``TCP_NODELAY`` on an accepted connection only when its ``proto`` is
    ``IPPROTO_TCP`` (uvicorn issue #3149). With Nagle's algorithm on, a response written in two
    parts waits for the client's delayed ACK: every keep-alive request with ``--workers`` > 1
    took ~40 ms more on Linux. The same descriptor is re-wrapped with the right ``proto``; the
    option is also set on the listener, whose accepted connections inherit it on Linux.
    """
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return sock
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return tcp
