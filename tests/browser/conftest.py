"""Browser tests: the application served on 127.0.0.1, driven in Debian's headless Chromium.

One live server per test process (:func:`tests.browser.site.serve`: uvicorn in a background
thread over a small generated world in SQLite, one user per role in two organisations of each
kind) and one browser per process (the distribution's Chromium). Every test gets a fresh
context whose requests may only go to 127.0.0.1: any other request is aborted and fails the
test.

Every browser test module sets ``pytestmark = BROWSER`` (``xdist_group("browser")``) so that
``pytest -n 2 --dist loadgroup`` runs them all in one worker, with one browser.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from features.world_store import WorldTables
from tests.browser.site import Guard, Site, launch, new_context, serve

# The machine may be busy with the rest of the suite: assertions wait up to 15 s, not 5.
expect.set_options(timeout=15_000)

#: The marks of every browser test module (``pytestmark = BROWSER``).
BROWSER = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="session")
def site(small_world: WorldTables, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve(small_world, tmp_path_factory.mktemp("browser-site")) as live:
        yield live


# Package scope, not session: Playwright's sync API keeps an event loop running in the
# worker's main thread while it is started, and a later test of the same worker that calls
# asyncio.run() would fail. The browser tests run one after another on one xdist worker (their
# group), so the driver starts once and stops when they are done.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = launch(playwright)
    yield launched
    launched.close()


@pytest.fixture
def guard() -> Guard:
    return Guard()


@pytest.fixture
def context(browser: Browser, site: Site, guard: Guard) -> Iterator[BrowserContext]:
    made = new_context(browser, site, guard)
    yield made
    made.close()
    assert not guard.refused, f"requests beyond 127.0.0.1 were attempted: {guard.refused}"


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
