"""A live Kohtaanto site on 127.0.0.1 and a Chromium that may only talk to it.

Used by the browser tests (``tests/browser/conftest.py``) and by ``scripts/screenshots.py``:

- :func:`serve` loads a world into SQLite, creates one user per role in two organisations of
  each kind (each with a password, for the sign-in form, and a bearer token ``token-<name>``,
  for setup through the JSON API) and serves ``create_app`` with uvicorn in a background
  thread until the context ends.
- :func:`launch` starts the distribution's Chromium (``scripts/ensure-chromium.sh`` installs
  it; a browser is never downloaded) with the flags a closed network needs;
  :func:`new_context` gives a fresh context whose requests may only go to 127.0.0.1 (any
  other is aborted and noted in a :class:`Guard`).
- :func:`sign_in` signs a user in through the real form.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pandas as pd
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, ViewportSize

from features.world_store import WorldTables
from service.api.app import create_app
from service.api.security import hash_token
from service.settings import PathSettings, Settings, WebSettings
from service.storage.database import make_engine, make_session_factory, upgrade_to_head
from service.storage.tables import User
from service.storage.world_io import load_world_into_database
from tests.e2e.conftest import _facts

CHROMIUM = os.environ.get("KOHTAANTO_CHROMIUM", "/usr/bin/chromium")
#: Without the background-networking flags Chromium keeps calling Google's hosts, which a
#: closed network refuses; nothing here may depend on any of that.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
#: Every user's password is their username and this (long enough for any password rule).
PASSWORD_SUFFIX = "-salasana-2026"
#: The prepared users: name -> (role, key of the world's facts naming the organisation).
USERS = {
    "coach": ("coach", "org"),
    "other-coach": ("coach", "other_org"),
    "employer": ("employer", "supplier_org"),
    "other-employer": ("employer", "other_supplier_org"),
    "procurement": ("procurement", "buyer"),
    "other-procurement": ("procurement", "other_buyer"),
    "operator": ("operator", "org"),
    "admin": ("admin", "org"),
}


def password_of(username: str) -> str:
    return f"{username}{PASSWORD_SUFFIX}"


@dataclass(frozen=True)
class Journey:
    """A person of the coach's caseload whose best match is a vacancy under a condition."""

    jobseeker_id: str
    first_name: str
    last_name: str
    vacancy_id: str
    vacancy_title: str
    supplier_org: str
    contract_id: str
    condition_id: str
    buyer: str
    #: A skill the vacancy requires that the person lacks (or has), for the assessment.
    skill_uri: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Site:
    """The live server and what is known about its world."""

    url: str
    database_url: str
    world: WorldTables
    facts: dict[str, str]
    users: dict[str, tuple[str, str]] = field(default_factory=dict)

    def api(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A JSON API call with ``who``'s bearer token (setup and checks, not the journeys)."""
        with httpx.Client(base_url=self.url, timeout=60) as client:
            return client.request(
                method, path, headers={"Authorization": f"Bearer token-{who}"}, **kwargs
            )

    def add_user(self, username: str, role: str, organisation_id: str) -> str:
        """A further user (e.g. the employer of a vacancy's supplier); returns the username."""
        if username not in self.users:
            create_users(self.database_url, {username: (role, organisation_id)})
            self.users[username] = (role, organisation_id)
        return username

    def person(self, jobseeker_id: str) -> pd.Series:
        seekers = self.world.jobseekers
        return seekers[seekers["jobseeker_id"].astype(str) == jobseeker_id].iloc[0]

    def outsider(self, role: str, kind: str, not_of: str) -> str:
        """A user of ``role`` in an organisation of ``kind`` other than ``not_of``."""
        column = {"supplier": ("suppliers", "organisation_id"), "buyer": ("contracts", "buyer_id")}
        table, name = column[kind]
        organisation = next(
            str(o) for o in getattr(self.world, table)[name].astype(str) if str(o) != not_of
        )
        return self.add_user(f"outsider-{role}-{organisation}", role, organisation)

    def journey(self, skip: int = 0, min_results: int = 1) -> Journey:
        """The ``skip``-th person of the coach whose first match is under a condition.

        The person has at least ``min_results`` matches. The hire of such a pair counts in
        the contract's ledger (the person belongs to one of the condition's target groups:
        matching only offers conditioned vacancies then).
        """
        seekers = self.world.jobseekers
        mine = seekers[seekers["organisation_id"].astype(str) == self.facts["org"]]
        found = 0
        for jobseeker_id in mine["jobseeker_id"].astype(str).head(200):
            answer = self.api(
                "coach",
                "GET",
                f"/api/v1/coach/jobseekers/{jobseeker_id}/matches",
                params={"k": max(3, min_results)},
            )
            if answer.status_code != 200 or len(answer.json()["results"]) < min_results:
                continue
            best = answer.json()["results"][0]
            if best["explanation"]["eligible"] is not True:
                continue
            if found < skip:
                found += 1
                continue
            vacancies = self.world.vacancies.set_index("vacancy_id")
            vacancy = vacancies.loc[best["vacancy_id"]]
            contract = self.world.contracts.set_index("contract_id").loc[vacancy["contract_id"]]
            supplier = self.world.suppliers.set_index("supplier_id").loc[vacancy["supplier_id"]]
            person = self.person(jobseeker_id)
            explanation = best["explanation"]
            skills = explanation["skill_gaps"] + explanation["matched_skills"]
            if not skills:
                continue
            return Journey(
                jobseeker_id=jobseeker_id,
                first_name=str(person["first_name"]),
                last_name=str(person["last_name"]),
                vacancy_id=str(best["vacancy_id"]),
                vacancy_title=str(best["title"]),
                supplier_org=str(supplier["organisation_id"]),
                contract_id=str(vacancy["contract_id"]),
                condition_id=str(vacancy["condition_id"]),
                buyer=str(contract["buyer_id"]),
                skill_uri=str(skills[0]["skill_uri"]),
            )
        raise LookupError("no person of the coach has a conditioned vacancy as first match")


def create_users(database_url: str, users: dict[str, tuple[str, str]]) -> None:
    """Users with a bearer token ``token-<name>`` and the password :func:`password_of`."""
    from service.operations import accounts

    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            for name, (role, organisation) in users.items():
                record = User(
                    name=name,
                    role=role,
                    organisation_id=organisation,
                    token_hash=hash_token(f"token-{name}"),
                    username=name,
                )
                session.add(record)
            session.commit()
            for name in users:
                accounts.set_password(session, WebSettings(), name, password_of(name))
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the host process keeps its own handlers
        pass


@contextmanager
def serve(world: WorldTables, root: Path) -> Iterator[Site]:
    """The application on 127.0.0.1:<free port> over ``world`` (SQLite under ``root``)."""
    url = f"sqlite:///{root / 'kohtaanto.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    load_world_into_database(world, engine)
    engine.dispose()
    facts = _facts(world)
    users = {name: (role, facts[key]) for name, (role, key) in USERS.items()}
    create_users(url, users)
    settings = Settings(paths=PathSettings(var_dir=root / "var"), database_url=url)
    port = _free_port()
    server = _Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name="kohtaanto-live-site", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield Site(f"http://127.0.0.1:{port}", url, world, facts, dict(users))
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def launch(playwright: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(
            f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make chromium)"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@dataclass
class Guard:
    """Requests that tried to leave 127.0.0.1 (each one aborted)."""

    refused: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()


def new_context(
    browser: Browser, site: Site, guard: Guard, locale: str = "en-GB"
) -> BrowserContext:
    """A fresh context (no cookies, English) whose requests may only go to 127.0.0.1."""
    context = browser.new_context(base_url=site.url, viewport=VIEWPORT, locale=locale)
    # Generous: `make test` runs the rest of the suite beside these on a machine of two cores.
    context.set_default_timeout(30_000)
    context.route(re.compile(r".*"), guard.route)
    return context


def sign_in(page: Page, username: str, password: str | None = None) -> None:
    """Sign in through the real form at /app/sign-in and wait for the page it leads to."""
    page.goto("/app/sign-in")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password or password_of(username))
    with page.expect_navigation():
        page.locator("form:has(input[name=password]) [type=submit]").click()
    if urlsplit(page.url).path.startswith("/app/sign-in"):
        raise AssertionError(f"sign-in as {username} failed: {page.url}")
