"""The targeting advisor in a real browser: a procurement officer uploads a plan file and reads
the advice (table, chart, reasons), and axe finds no serious violation on the answer page."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.accessibility import audit
from tests.browser.conftest import BROWSER
from tests.browser.site import Site, sign_in

pytestmark = BROWSER


def _plan_file(site: Site, folder: Path) -> Path:
    contracts = site.world.contracts
    mine = contracts[contracts["buyer_id"].astype(str) == site.facts["buyer"]].iloc[0]
    organisations = site.world.organisations.set_index("organisation_id")
    place = mine["buyer_municipality"]
    if not isinstance(place, str) or not place:
        place = str(organisations.loc[site.facts["buyer"], "municipality"])
    start = (site.world.as_of + timedelta(days=14)).isoformat()
    path = folder / "plan.csv"
    path.write_text(
        "line_id,buyer,cpv_codes,municipality,value_eur,starts_on,duration_months\n"
        f"P-1,{site.facts['buyer']},{mine['cpv_code']},{place},1800000,{start},24\n"
        f"P-2,{site.facts['buyer']},90910000,{place},300000,{start},12\n",
        encoding="utf-8",
    )
    return path


def test_a_plan_upload_shows_the_advice(page: Page, site: Site, tmp_path: Path) -> None:
    sign_in(page, "procurement")
    page.goto("/app/procurement/")
    page.get_by_role("link", name="Targeting advisor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Targeting advisor")
    page.locator("#plan").set_input_files(str(_plan_file(site, tmp_path)))
    with page.expect_navigation():
        page.get_by_role("button", name="Advise").click()
    rows = page.locator("#advice-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator('#advice-table tr[data-key="P-1"] th')).to_have_text("P-1")
    expect(page.locator("figure.chart img")).to_have_attribute(
        "src", re.compile(r"^data:image/png;base64,")
    )
    assert page.locator("#reasons + dl dd").count() >= 2
    failing = audit(page, "/app/procurement/targeting (advice)", "procurement")
    assert not failing, "axe found serious or critical violations:\n" + "\n".join(failing)
