"""axe-core (the copy packaged in axe-playwright-python) on every page each role reaches.

For each role the crawl starts at the role's section, follows same-origin links under /app/
(GET only: nothing is changed), visits one page per URL pattern (the first person, vacancy or
contract stands for all of them) and at most :data:`MAX_PAGES` pages, and runs axe on each.
A violation of impact serious or critical fails the test with its rule, impact and targets.
A summary (page -> violations by impact) is printed and written to var/browser/axe-summary.txt
(:mod:`tests.browser.accessibility`).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.accessibility import AXE, audit, summary, write_summary
from tests.browser.conftest import BROWSER
from tests.browser.site import Site, sign_in

pytestmark = BROWSER

MAX_PAGES = 40
#: Links that change state, leave the pages or download a file: never followed by the crawl.
SKIP = re.compile(r"/(sign-out|sign-in|static|lang|language|locale)(/|$|\?)|\.(csv|png)$")
#: Section start per role (the admin's pages are the operator's).
START = {
    "coach": "/app/coach",
    "employer": "/app/employer",
    "procurement": "/app/procurement",
    "operator": "/app/operator",
}


#: Pages a crawl by links does not reach (a form's other states, error pages), per role, with
#: the status each must answer.
def extra_pages(site: Site, role: str) -> list[tuple[str, int]]:
    occupation = quote(str(site.world.vacancies["occupation_uri"].iloc[0]), safe="")
    return {
        "coach": [
            ("/app/coach/?q=a&eligibility=now&sort=name", 200),
            ("/app/coach/?group=no-such-group", 422),
            ("/app/coach/jobseekers/NO-SUCH-PERSON", 404),
            ("/app/employer/", 403),
        ],
        "employer": [
            ("/app/employer/vacancies/new?q=cook", 200),
            (f"/app/employer/vacancies/new?occupation_uri={occupation}", 200),
            ("/app/employer/vacancies/NO-SUCH-VACANCY", 404),
        ],
        "procurement": [("/app/procurement/contracts/NO-SUCH-CONTRACT", 404)],
        "operator": [("/app/coach/", 403)],
    }[role]


def pattern(path: str) -> str:
    """The page a URL is an instance of: segments with digits (ids) become ``{id}``."""
    return "/".join("{id}" if re.search(r"\d", part) else part for part in path.split("/"))


def crawl(page: Page, site: Site, start: str, role: str) -> list[str]:
    """Visit the pages reachable from ``start`` by links (one per pattern) and audit each."""
    queue = [start]
    seen_patterns: set[str] = set()
    failing: list[str] = []
    visited = 0
    while queue and visited < MAX_PAGES:
        target = queue.pop(0)
        key = pattern(urlsplit(target).path)
        if key in seen_patterns:
            continue
        seen_patterns.add(key)
        answer = page.goto(target)
        assert answer is not None
        assert answer.status == 200, f"{target} answered {answer.status}"
        visited += 1
        failing += audit(page, urlsplit(page.url).path + _query(page.url), role)
        for href in page.locator("a[href]").evaluate_all("(links) => links.map(a => a.href)"):
            absolute = urljoin(page.url, href)
            parts = urlsplit(absolute)
            if (
                f"{parts.scheme}://{parts.netloc}" == site.url
                and parts.path.startswith("/app/")
                and not SKIP.search(parts.path)
                and pattern(parts.path) not in seen_patterns
            ):
                queue.append(absolute.split("#")[0])
    return failing


def _query(url: str) -> str:
    query = urlsplit(url).query
    return f"?{query}" if query else ""


@pytest.mark.parametrize("role", ["coach", "employer", "procurement", "operator"])
def test_axe_finds_no_serious_violation_on_a_roles_pages(
    role: str, context: BrowserContext, site: Site
) -> None:
    page = context.new_page()
    sign_in(page, role)
    failing = crawl(page, site, START[role], role)
    for path, status in extra_pages(site, role):
        answer = page.goto(path)
        assert answer is not None and answer.status == status, f"{path}: {answer and answer.status}"
        failing += audit(page, path if status == 200 else f"{path} ({status})", role)
    if role == "operator":  # the verify page's other state: after a verification, its table
        page.goto("/app/operator/audit/verify")
        with page.expect_navigation():
            page.locator('form[action="/app/operator/audit/verify"] button').click()
        assert page.locator("#verifications").count() == 1
        failing += audit(page, "/app/operator/audit/verify (verified)", role)
    print(write_summary())
    pages = summary[role]
    assert len(pages) >= 2, f"the crawl of {START[role]} found no further page: {list(pages)}"
    assert not failing, "axe found serious or critical violations:\n" + "\n".join(failing)


def test_axe_finds_no_serious_violation_on_the_public_pages(page: Page) -> None:
    """The sign-in form, empty and refused, and the API documentation."""
    failing = []
    page.goto("/app/sign-in")
    failing += audit(page, "/app/sign-in", "anonymous")
    page.locator("#username").fill("coach")
    page.locator("#password").fill("wrong password, twelve+")
    page.locator("form:has(#password) [type=submit]").click()
    expect(page.get_by_role("alert")).to_be_visible()
    failing += audit(page, "/app/sign-in (refused)", "anonymous")
    print(write_summary())
    assert not failing, "axe found serious or critical violations:\n" + "\n".join(failing)


def test_axe_reports_a_page_that_breaks_the_rules(page: Page) -> None:
    """The check itself can fail: a field without a label and an image without a text."""
    page.set_content(
        "<!doctype html><html><head><title>Broken</title></head><body><main>"
        "<h1>Broken</h1><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='>"
        "<form><input type='text' name='q'></form></main></body></html>"
    )
    results = AXE.run(page).response
    rules = {v["id"]: v["impact"] for v in results["violations"]}
    assert rules.get("image-alt") == "critical"
    assert rules.get("label") == "critical"
    assert "<html> element must have a lang attribute" in str(results) or "html-has-lang" in rules
