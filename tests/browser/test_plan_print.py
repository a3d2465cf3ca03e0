"""The employment plan prints cleanly: only the plan, no navigation, forms or buttons."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import BROWSER
from tests.browser.site import Site, sign_in

pytestmark = BROWSER


def test_the_employment_plan_prints_without_the_pages_furniture(page: Page, site: Site) -> None:
    journey = site.journey()
    sign_in(page, "coach")
    page.goto(f"/app/coach/jobseekers/{journey.jobseeker_id}/plan")
    on_screen = page.locator("h1")
    expect(on_screen).to_be_visible()
    expect(page.locator(".site-header")).to_be_visible()
    expect(page.get_by_role("button", name="Print the plan")).to_be_visible()

    page.emulate_media(media="print")
    for furniture in (".site-header", ".site-footer", "nav", "form", "button", ".skip-link"):
        for element in page.locator(furniture).all():
            expect(element).to_be_hidden()
    expect(on_screen).to_be_visible()
    expect(page.locator("main")).to_contain_text(journey.name)
    expect(page.locator("main table").first).to_be_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")
    expect(page.locator(".site-header")).to_be_visible()
