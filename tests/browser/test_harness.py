"""The harness itself: the browser reaches only 127.0.0.1, and Swagger UI works offline."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import BROWSER
from tests.browser.site import Guard

pytestmark = BROWSER


def test_a_request_beyond_loopback_is_refused_and_noted(
    context: BrowserContext, guard: Guard
) -> None:
    page = context.new_page()
    page.goto("/healthz")
    outcome = page.evaluate(
        "() => fetch('https://cdn.jsdelivr.net/npm/x.js').then(() => 'loaded', () => 'refused')"
    )
    assert outcome == "refused"
    assert guard.refused == ["https://cdn.jsdelivr.net/npm/x.js"]
    guard.refused.clear()  # noted as it should be; the fixture checks nothing else left


def test_swagger_ui_renders_the_operations_offline(page: Page, guard: Guard) -> None:
    """/docs loads Swagger UI from the service itself (no CDN) and lists the operations."""
    page.goto("/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 20
    expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/coach/jobseekers").first
    ).to_be_visible()
    assert guard.refused == [], f"Swagger UI asked for {guard.refused}"


def test_redoc_renders_offline(page: Page, guard: Guard) -> None:
    """/redoc loads ReDoc from the service itself and renders every operation's heading."""
    page.goto("/redoc")
    expect(page.get_by_role("menuitem", name="coaches")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name=re.compile(r"Readyz$"))).to_be_visible()
    assert page.locator("h2").count() > 20
    assert guard.refused == [], f"ReDoc asked for {guard.refused}"
