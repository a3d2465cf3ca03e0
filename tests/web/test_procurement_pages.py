"""The procurement officer's pages: contracts, each contract's ledger, the statistics.

The pages call the operations the JSON API calls; these tests read the numbers off the pages
and compare them with the JSON answers for the same user.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reporting.definitions import Kind, indicator
from service.api.security import pseudonym
from tests.web.conftest import Web

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("web-procurement")]


class Tables(HTMLParser):
    """Every ``<table id>`` of a page: rows by ``data-key`` (or ``id``), cells by
    ``data-column`` / ``data-field``, as their text; and every ``<img>``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, dict[str, str]]] = {}
        self.table_attrs: dict[str, dict[str, str]] = {}
        self.images: list[dict[str, str]] = []
        self._table: str | None = None
        self._row: str | None = None
        self._cell: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(attributes)
        elif tag == "table" and "id" in attributes:
            self._table = attributes["id"]
            self.tables[self._table] = {}
            self.table_attrs[self._table] = attributes
        elif tag == "tr" and self._table is not None:
            self._row = attributes.get("data-key") or attributes.get("id")
        elif tag in ("td", "th") and self._row is not None:
            column = attributes.get("data-column") or attributes.get("data-field")
            if column is not None:
                self._cell = column
                self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            assert self._table is not None and self._row is not None
            row = self.tables[self._table].setdefault(self._row, {})
            row[self._cell] = " ".join("".join(self._text).split())
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)


def parse(html: str) -> Tables:
    tables = Tables()
    tables.feed(html)
    return tables


def english(client: TestClient) -> TestClient:
    client.headers["accept-language"] = "en"
    return client


def number(text: str) -> float | None:
    """A number as the English pages show it (``1,234.5``, ``12.5%``); None when hidden."""
    if text.startswith("x"):
        return None
    if text in ("–", ""):
        return math.nan
    cleaned = text.replace(",", "").replace("\u00a0", "").replace("%", "").strip()
    value = float(cleaned)
    return value / 100 if text.endswith("%") else value


def same(shown: str, value: Any, hidden: bool, decimals: int) -> bool:
    """Whether a page's cell shows the JSON ``value`` (rounded as shown) or hides it."""
    parsed = number(shown)
    if hidden:
        return parsed is None and value is None
    if value is None:
        return parsed is not None and math.isnan(parsed)
    assert parsed is not None
    return abs(parsed - float(value)) <= 0.5 * 10**-decimals + 1e-9


def test_the_contracts_page_lists_the_organisations_contracts(web: Web) -> None:
    officer = english(web.signed_in("procurement"))
    page = officer.get("/app/procurement/")
    assert page.status_code == 200, page.text
    own = {
        c["contract_id"]: c
        for c in web.get(
            "procurement", "/api/v1/procurement/contracts", params={"limit": 500}
        ).json()
    }
    linked = set(re.findall(r'href="/app/procurement/contracts/([^"]+)"', page.text))
    assert web.facts["contract"] in linked
    assert linked <= set(own)
    assert len(linked) == min(len(own), 50)
    contract = own[web.facts["contract"]]
    # The employment conditions: hires and deadline in words, the date in the user's locale.
    condition = contract["conditions"][0]
    assert str(condition["hires_required"]) in page.text
    assert "registered_unemployed" not in page.text and "long_term_unemployed" not in page.text
    # Another organisation's contracts are not listed.
    others = {
        c["contract_id"]
        for c in web.get(
            "other-procurement", "/api/v1/procurement/contracts", params={"limit": 500}
        ).json()
    }
    assert not linked & others


def test_the_contract_page_shows_dates_in_the_users_language(web: Web) -> None:
    contract = web.get("procurement", f"/api/v1/procurement/contracts/{web.facts['contract']}")
    starts = contract.json()["starts_on"]  # YYYY-MM-DD
    year, month, day = (int(p) for p in starts.split("-"))
    officer = web.signed_in("procurement")
    officer.headers["accept-language"] = "fi"
    page = officer.get(f"/app/procurement/contracts/{web.facts['contract']}")
    assert page.status_code == 200
    assert f"{day}.{month}.{year}" in page.text  # Finnish medium date: d.M.yyyy
    assert starts not in page.text.split("<main", 1)[1]


def test_another_organisations_contract_is_not_found(web: Web) -> None:
    stranger = english(web.signed_in("other-procurement"))
    page = stranger.get(f"/app/procurement/contracts/{web.facts['contract']}")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert web.facts["contract"] not in page.text.split("<main", 1)[1]


def hire_under_the_contract(web: Web) -> None:
    """A coach proposes a long-term unemployed person, the employer hires them (JSON API)."""
    person = web.post(
        "coach",
        "/api/v1/coach/jobseekers",
        {
            "first_name": "Ledger",
            "last_name": "Testinen",
            "email": "ledger@example.org",
            "phone": "+358401234567",
            "home_municipality": web.facts["municipality"],
            "birth_year": 1985,
            "sex": "female",
            "unemployment_start": "2020-01-01",
            "languages": [{"language": "fi", "level": "native"}],
        },
    )
    assert person.status_code == 201, person.text
    pid = person.json()["jobseeker_id"]
    shared = web.world.vacancies.set_index("vacancy_id").loc[web.facts["vacancy"]]
    opened = web.post(
        "employer",
        "/api/v1/employer/vacancies",
        {
            "contract_id": web.facts["contract"],
            "condition_id": web.facts["condition"],
            "occupation_uri": str(shared["occupation_uri"]),
            "title": "Ledger page hire",
            "municipality": str(shared["municipality"]),
            "job_form": str(shared["job_form"]),
            "opens_on": str(shared["opens_on"].date()),
            "closes_on": str(shared["closes_on"].date()),
        },
    )
    assert opened.status_code == 201, opened.text
    vacancy = opened.json()["vacancy_id"]
    proposed = web.post(
        "coach",
        f"/api/v1/coach/jobseekers/{pid}/proposals",
        {
            "vacancy_id": vacancy,
            "consent_given_at": datetime.now(UTC).isoformat(),
            "consent_method": "electronic",
        },
    )
    assert proposed.status_code == 201, proposed.text
    state = web.app.state.serving
    hired = web.post(
        "employer",
        f"/api/v1/employer/vacancies/{vacancy}/outcomes",
        {
            "candidate": pseudonym(state.pseudonym_key, vacancy, pid),
            "stage": "hired",
            "occurred_at": f"{state.today}T09:00:00Z",
        },
    )
    assert hired.status_code == 201, hired.text


def test_the_ledger_page_counts_what_the_json_ledger_counts(web: Web) -> None:
    hire_under_the_contract(web)
    contract = web.facts["contract"]
    ledger = web.get("procurement", f"/api/v1/procurement/contracts/{contract}/ledger").json()
    assert sum(line["hires_made"] + line["hires_not_counted"] for line in ledger["lines"]) > 0
    officer = english(web.signed_in("procurement"))
    page = officer.get(f"/app/procurement/contracts/{contract}")
    assert page.status_code == 200
    parsed = parse(page.text)
    rows = parsed.tables
    lines = {key.removeprefix("line-"): cells for key, cells in rows["ledger-table"].items()}
    assert set(lines) == {line["condition_id"] for line in ledger["lines"]}
    for line in ledger["lines"]:
        shown = lines[line["condition_id"]]
        for field in ("hires_required", "hires_made", "hires_not_counted"):
            assert number(shown[field]) == line[field], (field, shown, line)
        status = re.search(
            rf'id="line-{line["condition_id"]}".*?data-value="([a-z_]+)"', page.text, re.S
        )
        assert status is not None and status.group(1) == line["deadline_status"]
    # The breakdowns: every target group and job form with its count.
    for line in ledger["lines"]:
        for kind, counts in (
            ("target_group", line["by_target_group"]),
            ("job_form", line["by_job_form"]),
        ):
            for key, count in counts.items():
                match = re.search(
                    rf'data-condition="{line["condition_id"]}".*?data-kind="{kind}" '
                    rf'data-key="{key}">.*?<td class="number">([^<]+)</td>',
                    page.text,
                    re.S,
                )
                assert match is not None and number(match.group(1)) == count


def _indicator_rows(web: Web, **params: str) -> list[dict[str, Any]]:
    answer = web.get("procurement", "/api/v1/statistics/indicators", params=params)
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["data"]
    return rows


def test_every_chart_has_a_table_with_the_numbers_of_the_json_statistics(web: Web) -> None:
    officer = english(web.signed_in("procurement"))
    page = officer.get("/app/procurement/statistics")
    assert page.status_code == 200, page.text
    parsed = parse(page.text)
    charts = [i for i in parsed.images if "/statistics/charts/" in i.get("src", "")]
    assert charts
    by_chart = {attrs.get("data-chart"): name for name, attrs in parsed.table_attrs.items()}
    buyer = web.facts["buyer"]
    for image in charts:
        name = image["src"].rsplit("/", 1)[1].split(".png")[0]
        assert len(image.get("alt", "")) > 40  # says what the chart shows
        assert name in by_chart, f"chart {name} has no table beside it"
        png = officer.get(image["src"])
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"

    # Hires required and made per contract: the JSON rows of by=contract for our contracts.
    table = parsed.tables[by_chart["fulfilment"]]
    own = [r for r in _indicator_rows(web, by="contract") if r["buyer_id"] == buyer]
    # The chart draws the 25 contracts with the most hires required; the table has those.
    assert own and set(table) <= {r["contract_id"] for r in own}
    assert len(table) == min(len(own), 25)
    shown_least = min(r["hires_required"] for r in own if r["contract_id"] in table)
    assert all(r["hires_required"] <= shown_least for r in own if r["contract_id"] not in table)
    own = [r for r in own if r["contract_id"] in table]
    assert any(r["hires_required"] for r in own)
    for row in own:
        cells = table[row["contract_id"]]
        for column, decimals in (
            ("hires_required", 0),
            ("hires_credited", 0),
            ("fulfilment_rate", 3),
        ):
            assert same(cells[column], row[column], column in row["hidden"], decimals), (
                column,
                cells,
                row,
            )

    # Hires by target group per quarter: the JSON rows of by=buyer&period=quarter.
    table = parsed.tables[by_chart["hires_by_target_group"]]
    periods = [
        r for r in _indicator_rows(web, by="buyer", period="quarter") if r["buyer_id"] == buyer
    ]
    assert set(table) == {r["period"] for r in periods}
    for row in periods:
        cells = table[row["period"]]
        for group in cells:
            column = "hires_made" if group == "hires_made" else f"hires_tg_{group}"
            hidden = column in row["hidden"]
            assert same(cells[group], row[column], hidden, 0), (group, cells, row)

    # Impact per hire: the organisation's row of the JSON impact by buyer.
    impact = web.get("procurement", "/api/v1/statistics/impact", params={"by": "buyer"}).json()
    mine = [r for r in impact["data"] if r["buyer_id"] == buyer]
    if not mine:  # no hire under the organisation's conditions: no chart to explain
        assert "impact_per_hire" not in by_chart
        assert not any("impact_per_hire" in i["src"] for i in charts)
    for row in mine:
        table = parsed.tables[by_chart["impact_per_hire"]]
        for who in ("person", "municipality", "state"):
            for suffix in ("", "_low", "_high"):
                column = f"{who}_eur_per_hire{suffix}"
                assert same(table[who][column], row[column], column in row["hidden"], 0)

    # The organisation's indicator row: every published indicator, hidden cells hidden.
    row = next(r for r in _indicator_rows(web, by="buyer") if r["buyer_id"] == buyer)
    shown = parsed.tables["indicator-table"]
    assert set(shown) == {
        c for c in row if c not in ("buyer_id", "name", "kind", "country", "hidden")
    }
    for column, cells in shown.items():
        item = indicator(column)
        decimals = (
            3
            if item.unit == "share"  # a percentage with one decimal
            else 0
            if item.kind in (Kind.AMOUNT, Kind.COUNT, Kind.PEOPLE)
            else 1
        )
        assert same(cells["value"], row[column], column in row["hidden"], decimals), (column, cells)


def test_the_statistics_window_is_a_get_form_and_checks_its_dates(web: Web) -> None:
    officer = english(web.signed_in("procurement"))
    assert (
        '<form method="get" action="/app/procurement/statistics"'
        in officer.get("/app/procurement/statistics").text
    )
    page = officer.get(
        "/app/procurement/statistics", params={"start": "2025-01-01", "end": "2026-01-01"}
    )
    assert page.status_code == 200
    assert "charts/fulfilment.png?start=2025-01-01&amp;end=2026-01-01" in page.text
    window = [
        r
        for r in _indicator_rows(web, by="contract", start="2025-01-01", end="2026-01-01")
        if r["buyer_id"] == web.facts["buyer"]
    ]
    table = parse(page.text).tables["fulfilment-table"]
    assert set(table) <= {r["contract_id"] for r in window}
    assert len(table) == min(len(window), 25)
    wrong = officer.get(
        "/app/procurement/statistics", params={"start": "2026-01-01", "end": "2025-01-01"}
    )
    assert wrong.status_code == 422
    assert 'aria-invalid="true"' in wrong.text and 'id="end-error"' in wrong.text


def test_the_pages_are_for_procurement_officers_only(web: Web) -> None:
    coach = english(web.signed_in("coach"))
    for path in (
        "/app/procurement/",
        f"/app/procurement/contracts/{web.facts['contract']}",
        "/app/procurement/statistics",
        "/app/procurement/statistics/charts/fulfilment.png",
    ):
        assert coach.get(path).status_code == 403, path
    anonymous = web.anonymous()
    answer = anonymous.get("/app/procurement/statistics")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/app/sign-in?next=/app/procurement/statistics")
