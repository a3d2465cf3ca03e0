"""The payment statements of performance-based contracts on the pages (issue 15, item 3).

The buyer's contract page and the supplier's statement page show what the JSON statement
says; the printable page and the CSV are the same statement; nobody else reads them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_api import _contract_body
from tests.e2e.test_api_performance import performance_scenario
from tests.web.conftest import Web, build_web

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("web-performance")]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def web(
    request: pytest.FixtureRequest,
    small_world: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Web]:
    yield from build_web(request, small_world, tmp_path_factory)


@pytest.fixture(scope="module")
def scenario(web: Web) -> dict[str, Any]:
    return performance_scenario(web)


def _json(web: Web, scenario: dict[str, Any]) -> dict[str, Any]:
    answer = web.get("procurement", scenario["path"])
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _field(html: str, name: str) -> list[str]:
    """The text of every element with ``data-field="name"``."""
    pattern = re.compile(rf'data-field="{name}"[^>]*>([^<]*)<')
    return [" ".join(m.group(1).split()) for m in pattern.finditer(html)]


def _money(value: float) -> str:
    return f"{value:,.2f}"


def test_the_contract_page_shows_the_statement(web: Web, scenario: dict[str, Any]) -> None:
    statement = _json(web, scenario)
    (condition,) = statement["conditions"]
    page = web.signed_in("procurement").get(f"/app/procurement/contracts/{scenario['contract']}")
    assert page.status_code == 200, page.text
    assert 'id="statement"' in page.text
    assert _field(page.text, "amount_eur")[0] == f"{_money(condition['amount_eur'])} €"
    assert _field(page.text, "credited_hires") == [str(condition["credited_hires"])]
    assert _field(page.text, "capped_amount_eur")[0].startswith(
        _money(condition["lines"][0]["capped_amount_eur"])
    )
    for line in condition["lines"]:
        assert f'data-event="{line["event_id"]}"' in page.text
        assert line["candidate"] in page.text
        assert f"#{line['recorded_by'][0]['seq']}" in page.text
    assert "over the cap" in page.text
    for secret in (scenario["first"], scenario["second"]):
        assert secret not in page.text


def test_a_quota_contract_page_has_no_statement(web: Web) -> None:
    created = web.post("procurement", "/api/v1/procurement/contracts", _contract_body(web))
    assert created.status_code == 201, created.text
    page = web.signed_in("procurement").get(
        f"/app/procurement/contracts/{created.json()['contract_id']}"
    )
    assert page.status_code == 200 and 'id="statement"' not in page.text


def test_printable_statement_and_csv(web: Web, scenario: dict[str, Any]) -> None:
    statement = _json(web, scenario)
    officer = web.signed_in("procurement")
    base = f"/app/procurement/contracts/{scenario['contract']}/statement"
    printable = officer.get(f"{base}.html")
    assert printable.status_code == 200, printable.text
    assert _field(printable.text, "statement_amount_eur") == [
        f"{_money(statement['amount_eur'])} €"
    ]
    # Server-rendered and self-contained: the service's own stylesheet, no script, no CDN.
    assert "<script" not in printable.text
    assert re.findall(r'(?:href|src)="([^"]+)"', printable.text) == ["/app/static/css/app.css"]
    period = statement["conditions"][0]["lines"][-1]["period"]
    one = officer.get(f"{base}.html", params={"period": period})
    assert one.status_code == 200 and period in one.text
    expected = sum(
        line["capped_amount_eur"]
        for line in statement["conditions"][0]["lines"]
        if line["period"] == period
    )
    assert _field(one.text, "statement_amount_eur") == [f"{_money(expected)} €"]
    download = officer.get(f"{base}.csv")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [r["event_id"] for r in rows if r["record"] == "outcome"] == [
        line["event_id"] for line in statement["conditions"][0]["lines"]
    ]


def test_the_supplier_reads_its_statement(web: Web, scenario: dict[str, Any]) -> None:
    statement = _json(web, scenario)
    employer = web.signed_in("employer")
    listing = employer.get("/app/employer/contracts")
    assert listing.status_code == 200, listing.text
    link = f"/app/employer/contracts/{scenario['contract']}/statement"
    assert link in listing.text
    page = employer.get(link)
    assert page.status_code == 200, page.text
    assert _field(page.text, "statement_amount_eur") == [f"{_money(statement['amount_eur'])} €"]
    for line in statement["conditions"][0]["lines"]:
        assert line["candidate"] in page.text
    printable = employer.get(f"{link}.csv")
    assert printable.status_code == 200 and scenario["contract"] in printable.text


def test_nobody_else_reads_the_statement(web: Web, scenario: dict[str, Any]) -> None:
    contract = scenario["contract"]
    for who, path in (
        ("other-employer", f"/app/employer/contracts/{contract}/statement"),
        ("other-employer", f"/app/employer/contracts/{contract}/statement.csv"),
        ("other-procurement", f"/app/procurement/contracts/{contract}/statement.html"),
        ("other-procurement", f"/app/procurement/contracts/{contract}"),
    ):
        assert web.signed_in(who).get(path).status_code == 404, (who, path)
    other = web.signed_in("other-employer").get("/app/employer/contracts")
    assert other.status_code == 200 and contract not in other.text
    # A procurement officer is not an employer and the other way round.
    assert web.signed_in("coach").get(
        f"/app/employer/contracts/{contract}/statement"
    ).status_code in (
        303,
        403,
    )
