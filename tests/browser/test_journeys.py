"""Issue 13's journeys through the real pages: coach, then employer, then procurement officer.

A coach finds a person in the caseload by name, records an assessment with the skill search,
opens the matches and proposes the person, with consent, to a vacancy under an employment
condition. The employer of that vacancy's supplier creates a vacancy from an ESCO occupation
(its essential skills prefilled), reads the shortlist, finds the coach's proposal with the
person's name, and records the hire. The procurement officer of the contract's buyer sees the
ledger count it. At each step a user of another organisation is refused the same pages, and
no employer page shows the person's name before the consent, nor ever their birth year, sex,
origin or health.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
from playwright.sync_api import Browser, Locator, Page, expect

from features.taxonomy import Taxonomy
from tests.browser.accessibility import audit, write_summary
from tests.browser.conftest import BROWSER
from tests.browser.site import Guard, Journey, Site, new_context, sign_in

pytestmark = BROWSER

#: Words that name a personal attribute an employer page must never show.
ATTRIBUTE_WORDS = re.compile(
    r"\b(year of birth|born|birth|age|sex|gender|female|male|migrant|origin|nationality|"
    r"health|work ability|restrictions?|disabilit\w*)\b",
    re.IGNORECASE,
)
#: The shortlist's columns: nothing else may describe a candidate.
SHORTLIST_COLUMNS = [
    "Candidate",
    "Match",
    "Skills and evidence",
    "Missing skills",
    "Distance",
    "Availability",
    "Accepts",
    "Outcome",
]
RESTRICTION_LABELS = {
    "no_heavy_lifting": "No heavy lifting",
    "no_night_work": "No night work",
    "no_shift_work": "No shift work",
    "no_prolonged_standing": "No prolonged standing",
    "no_outdoor_work": "No outdoor work",
}


@contextmanager
def signed_in(browser: Browser, site: Site, guard: Guard, username: str) -> Iterator[Page]:
    context = new_context(browser, site, guard)
    try:
        page = context.new_page()
        sign_in(page, username)
        yield page
    finally:
        context.close()


def refused(browser: Browser, site: Site, guard: Guard, username: str, paths: list[str]) -> None:
    """Each page answers 404 or 403 to ``username`` (a user of another organisation)."""
    with signed_in(browser, site, guard, username) as page:
        for path in paths:
            answer = page.goto(path)
            assert answer is not None
            assert answer.status in (403, 404), f"{username} got {answer.status} for {path}"


class EmployerPages:
    """Checks every employer page visited against the person's record."""

    def __init__(self, page: Page, person: pd.Series) -> None:
        self.page = page
        self.person = person
        self.consented = False
        self.checked: list[str] = []

    def check(self) -> None:
        text = self.page.locator("body").inner_text()
        where = self.page.url
        first, last = str(self.person["first_name"]), str(self.person["last_name"])
        if not self.consented:
            for shown in (f"{first} {last}", f"{last}, {first}", f"{last} {first}"):
                assert shown not in text, f"{where} names the person before consent"
            for contact in (self.person["email"], self.person["phone"]):
                assert str(contact) not in text, f"{where} shows contact details before consent"
        assert not re.search(rf"\b{int(self.person['birth_year'])}\b", text), (
            f"{where} shows the person's birth year"
        )
        for code in list(self.person["restrictions"]):
            assert RESTRICTION_LABELS.get(code, code) not in text, f"{where} shows health: {code}"
        # The people shown (shortlist rows, proposals) carry no personal attribute at all.
        for region in self.page.locator("#shortlist tbody tr, section.proposal dl").all():
            found = ATTRIBUTE_WORDS.search(region.inner_text())
            assert found is None, f"{where}: a candidate is described by {found.group(0)!r}"
        headers = self.page.locator("#shortlist thead th")
        if headers.count():
            assert headers.all_inner_texts() == SHORTLIST_COLUMNS
        self.checked.append(where)

    def goto(self, path: str) -> None:
        answer = self.page.goto(path)
        assert answer is not None and answer.status == 200, f"{path}: {answer and answer.status}"
        self.check()

    def click(self, target: Locator) -> None:
        with self.page.expect_navigation():
            target.click()
        self.check()


def hires_made(page: Page, contract_id: str, condition_id: str) -> int:
    page.goto(f"/app/procurement/contracts/{contract_id}")
    cell = page.locator(f"#line-{condition_id} [data-field=hires_made]")
    expect(cell).to_be_visible()
    return int(re.sub(r"\D", "", cell.inner_text()))


def skill_label(taxonomy: Taxonomy, uri: str) -> str:
    return str(taxonomy.skills.loc[taxonomy.skill_index(uri), "label"])


def coach_journey(page: Page, site: Site, journey: Journey, label: str) -> list[str]:
    """Find the person, record an assessment, open the matches, propose with consent.

    Returns axe's serious or critical findings on the forms' states the crawl cannot reach.
    """
    failing: list[str] = []
    person_path = f"/app/coach/jobseekers/{journey.jobseeker_id}"
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.locator("#q").fill(journey.last_name)
    with page.expect_navigation():
        page.locator("#q").press("Enter")
    link = page.get_by_role("link", name=f"{journey.last_name}, {journey.first_name}")
    with page.expect_navigation():
        link.first.click()
    assert page.url.endswith(person_path), page.url
    expect(page.locator("h1")).to_have_text(journey.name)

    # The assessment: the skill search suggests as one types; pick the suggestion.
    with page.expect_navigation():
        page.locator(".sub-nav").get_by_role("link", name="Record an assessment").click()
    words = label.split()
    page.locator("#skill_query").press_sequentially(" ".join(words[:3]), delay=20)
    suggestion = page.locator(f"#skill-results button[name=add_skill][value='{journey.skill_uri}']")
    expect(suggestion).to_be_visible()
    failing += audit(page, "assessment form, skill suggestions shown", "journey")
    with page.expect_navigation():
        suggestion.click()
    chosen = page.locator("table[aria-labelledby=chosen-heading] tbody tr")
    expect(chosen).to_have_count(1)
    expect(chosen.first).to_contain_text(label)
    chosen.first.locator("select").select_option("3")
    page.locator("#method").select_option("work_trial")
    page.locator("#note").fill("Observed during a two-week work trial.")
    with page.expect_navigation():
        page.get_by_role("button", name="Save the assessment").click()
    assert page.url.endswith(f"{person_path}?saved=assessment"), page.url
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.locator("table:has(#skills-caption)")).to_contain_text(label)

    # The matches, and the proposal with the person's consent.
    with page.expect_navigation():
        page.locator(".sub-nav").get_by_role("link", name="Matches").click()
    expect(page.locator("h1")).to_have_text(f"Matches for {journey.name}")
    propose = page.locator(f"a[href='{person_path}/vacancies/{journey.vacancy_id}/propose']")
    expect(propose).to_be_visible()
    match = page.locator("article.match", has=propose)
    expect(match).to_contain_text("The person counts toward it as")
    with page.expect_navigation():
        propose.click()
    # Without the consent ticked the proposal is refused, the reason beside the box.
    page.locator("#consent_given_at").fill(f"{site.world.as_of.isoformat()}T09:30")
    page.locator("#consent_method-written").check()
    page.locator("#note").fill("Keen on this job; available at once.")
    page.get_by_role("button", name="Propose the person").click()
    expect(page.locator("#consent")).to_have_attribute("aria-invalid", "true")
    failing += audit(page, "proposal form, refused without consent", "journey")
    page.locator("#consent").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Propose the person").click()
    assert page.url.endswith(f"{person_path}/outcomes?saved=proposal"), page.url
    expect(page.locator("main")).to_contain_text(journey.vacancy_title)
    return failing


def employer_journey(pages: EmployerPages, journey: Journey) -> tuple[str, list[str]]:
    """Create a vacancy from an occupation, read the shortlist and the proposal, hire.

    Returns the new vacancy's id and axe's serious or critical findings on the way.
    """
    page = pages.page
    failing: list[str] = []
    pages.goto("/app/employer/")
    pages.click(page.locator("a[href='/app/employer/vacancies/new']").first)
    page.locator("#q").press_sequentially("cook", delay=20)
    hit = page.locator("#occupation-results .occupation-hits a").first
    expect(hit).to_be_visible()
    failing += audit(page, "new vacancy, occupation suggestions shown", "journey")
    occupation = hit.inner_text()
    pages.click(hit)
    essential = page.locator("fieldset input[type=checkbox][id^=keep_]:checked")
    assert essential.count() > 0, "the occupation's essential skills are not prefilled"
    title = page.locator("#title")
    expect(title).to_have_value(occupation)
    title.fill(f"{occupation} (summer)")
    conditioned = page.locator("#contract option:not([value$='|']):not([value=''])")
    assert conditioned.count() > 0, "no contract with an employment condition to choose"
    page.locator("#contract").select_option(conditioned.first.get_attribute("value"))
    page.locator("#level_0").select_option("3")
    pages.click(page.get_by_role("button", name="Create the vacancy"))
    created = re.search(r"/app/employer/vacancies/([^/?]+)\?created=1$", page.url)
    assert created, page.url
    expect(page.get_by_role("heading", name="Shortlist")).to_be_visible()

    # The proposed-to vacancy: the shortlist (pseudonyms), then the proposals (the name).
    pages.goto(f"/app/employer/vacancies/{journey.vacancy_id}")
    expect(page.locator("#shortlist tbody tr").first).to_be_visible()
    assert journey.name not in page.locator("main").inner_text()
    pages.consented = True
    pages.goto(f"/app/employer/vacancies/{journey.vacancy_id}/proposals")
    proposal = page.locator("section.proposal", has_text=journey.name)
    expect(proposal).to_have_count(1)
    expect(proposal).to_contain_text("Keen on this job; available at once.")
    proposal.locator("summary").click()
    proposal.locator("select[name=stage]").select_option("hired")
    pages.click(proposal.get_by_role("button", name="Record"))
    assert page.url.endswith("/proposals?recorded=hired"), page.url
    expect(page.locator("section.proposal", has_text=journey.name)).to_contain_text("Hired")
    failing += audit(page, "proposals, a hire recorded", "journey")
    return created.group(1), failing


def test_coach_proposes_employer_hires_and_the_ledger_counts_it(
    browser: Browser, site: Site, guard: Guard, taxonomy: Taxonomy
) -> None:
    journey = site.journey()
    person = site.person(journey.jobseeker_id)
    employer = site.add_user("journey-employer", "employer", journey.supplier_org)
    procurement = site.add_user("journey-procurement", "procurement", journey.buyer)
    person_path = f"/app/coach/jobseekers/{journey.jobseeker_id}"
    vacancy_path = f"/app/employer/vacancies/{journey.vacancy_id}"
    contract_path = f"/app/procurement/contracts/{journey.contract_id}"

    with signed_in(browser, site, guard, procurement) as officer:
        before = hires_made(officer, journey.contract_id, journey.condition_id)

    # Before any proposal, the employer's pages are pseudonymous.
    with signed_in(browser, site, guard, employer) as page:
        pages = EmployerPages(page, person)
        pages.goto("/app/employer/")
        pages.goto(vacancy_path)
        pages.goto(f"{vacancy_path}/proposals")
        expect(page.locator("section.proposal", has_text=journey.name)).to_have_count(0)

    with signed_in(browser, site, guard, "coach") as page:
        failing = coach_journey(page, site, journey, skill_label(taxonomy, journey.skill_uri))
    refused(
        browser,
        site,
        guard,
        "other-coach",
        [
            person_path,
            f"{person_path}/assessments/new",
            f"{person_path}/matches",
            f"{person_path}/vacancies/{journey.vacancy_id}/propose",
            f"{person_path}/plan",
        ],
    )
    with signed_in(browser, site, guard, "other-coach") as page:
        page.goto(f"/app/coach/?q={journey.last_name}")
        expect(page.locator(f"a[href='{person_path}']")).to_have_count(0)

    with signed_in(browser, site, guard, employer) as page:
        pages = EmployerPages(page, person)
        created, found = employer_journey(pages, journey)
        failing += found
        assert len(pages.checked) >= 6
    refused(
        browser,
        site,
        guard,
        site.outsider("employer", "supplier", journey.supplier_org),
        [vacancy_path, f"{vacancy_path}/proposals", f"/app/employer/vacancies/{created}"],
    )

    with signed_in(browser, site, guard, procurement) as officer:
        assert hires_made(officer, journey.contract_id, journey.condition_id) == before + 1
    refused(
        browser,
        site,
        guard,
        site.outsider("procurement", "buyer", journey.buyer),
        [contract_path],
    )
    assert not guard.refused, f"requests beyond 127.0.0.1: {guard.refused}"
    print(write_summary())
    assert not failing, "axe found serious or critical violations:\n" + "\n".join(failing)
