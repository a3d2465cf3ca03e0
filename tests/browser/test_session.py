"""Signing in with the keyboard only, switching the language, signing out for good."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import BROWSER
from tests.browser.site import Guard, Site, new_context, password_of, sign_in

pytestmark = BROWSER

LOCALES_DIR = Path(__file__).parents[2] / "service" / "web" / "locales"


def translation(locale: str, msgid: str) -> str:
    """The shipped translation of ``msgid`` (base catalogue); it must exist and differ."""
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "base.po").open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    message = catalogue.get(msgid)
    assert message is not None and message.string, f"{msgid!r} has no {locale} translation"
    assert message.string != msgid
    return str(message.string)


def focus_is_visible(page: Page) -> bool:
    """The focused element draws an outline or a box shadow (the focus indicator)."""
    return bool(
        page.evaluate(
            """() => {
                const style = getComputedStyle(document.activeElement);
                const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
                return outline || style.boxShadow !== 'none';
            }"""
        )
    )


def tab_to(page: Page, selector: str, limit: int = 20) -> None:
    """Press Tab until ``selector`` has the focus; every stop on the way shows its focus."""
    for _ in range(limit):
        if page.evaluate(f"() => document.activeElement.matches({selector!r})"):
            return
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.outerHTML.slice(0, 120)")
        assert focus_is_visible(page), f"no visible focus on {focused}"
    raise AssertionError(f"{selector} was not reached with Tab in {limit} presses")


def test_sign_in_with_the_keyboard_only(page: Page) -> None:
    page.goto("/app/sign-in")
    # The form's first field has the focus when the page opens (autofocus).
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type("coach")
    tab_to(page, "#password")
    page.keyboard.type(password_of("coach"))
    tab_to(page, "form:has(#password) [type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/app/coach/")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_the_skip_link_is_the_first_stop_and_moves_to_the_content(page: Page) -> None:
    sign_in(page, "coach")
    page.goto("/app/account")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("main#main a").first).to_be_focused()


def test_a_wrong_password_is_refused_with_the_reason_beside_the_fields(page: Page) -> None:
    page.goto("/app/sign-in")
    page.locator("#username").fill("coach")
    page.locator("#password").fill("not the password at all")
    page.locator("form:has(#password) [type=submit]").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    assert "/app/sign-in" in page.url


def test_the_language_switch_changes_the_pages_to_finnish_and_swedish(
    page: Page, browser: Browser, site: Site, guard: Guard
) -> None:
    sign_in(page, "coach")
    page.goto("/app/account")
    expect(page.locator("h1")).to_have_text("Your account")
    for locale, name in (("fi", "suomi"), ("sv", "svenska"), ("en", "English")):
        with page.expect_navigation():
            page.locator(f"form.language-switcher button[value={locale}]").click()
        assert page.url.endswith("/app/account"), "the switch stays on the same page"
        expect(page.locator("html")).to_have_attribute("lang", locale)
        expect(page.locator(f"button[value={locale}]")).to_have_attribute("aria-pressed", "true")
        if locale == "en":
            expect(page.locator("h1")).to_have_text("Your account")
            continue
        expect(page.locator("h1")).to_have_text(translation(locale, "Your account"))
        expect(page.locator("form.sign-out button")).to_have_text(translation(locale, "Sign out"))
        expect(page.locator("dd", has_text=name)).to_be_visible()
    # The choice is the user's: their next sign-in, in another browser, keeps it.
    with page.expect_navigation():
        page.locator("form.language-switcher button[value=sv]").click()
    other = new_context(browser, site, guard)
    try:
        again = other.new_page()
        sign_in(again, "coach")
        again.goto("/app/account")
        expect(again.locator("html")).to_have_attribute("lang", "sv")
    finally:
        other.close()
        with page.expect_navigation():
            page.locator("form.language-switcher button[value=en]").click()


def test_after_sign_out_the_back_button_reaches_no_page(page: Page) -> None:
    sign_in(page, "coach")
    page.goto("/app/account")
    expect(page.locator("h1")).to_have_text("Your account")
    with page.expect_navigation():
        page.locator("form.sign-out button").click()
    assert "/app/sign-in" in page.url
    # The pages are sent with Cache-Control: no-store, so going back asks the server again,
    # which sends the signed-out browser to the sign-in form.
    page.go_back()
    expect(page.locator("#username")).to_be_visible()
    assert "/app/sign-in" in page.url
    expect(page.get_by_text("Your account")).to_have_count(0)
    answer = page.goto("/app/coach/")
    assert answer is not None
    assert "/app/sign-in" in page.url
