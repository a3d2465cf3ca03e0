"""The statistics page's section on quota and performance contracts side by side, by sex.

The section shows rows of the published table ``/api/v1/statistics/contract-types`` (all
areas and the officer's own area); these tests read its numbers and compare them with the
JSON answer for the same user.
"""

from __future__ import annotations

from typing import Any

import pytest

from reporting.definitions import SEX_GROUPS, TOTAL, Kind, contract_type_indicator, sex_column
from tests.web.conftest import Web
from tests.web.test_procurement_pages import english, parse, same

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("web-contract-types")]

PAGE = "/app/procurement/statistics"


def _decimals(name: str) -> int:
    item = contract_type_indicator(name)
    if item.unit == "share":
        return 3  # a percentage with one decimal
    if name == "impact_per_euro":
        return 2
    return 0 if item.kind in (Kind.AMOUNT, Kind.COUNT, Kind.PEOPLE) else 1


def _json_rows(web: Web) -> dict[str, dict[str, Any]]:
    answer = web.get("procurement", "/api/v1/statistics/contract-types")
    assert answer.status_code == 200, answer.text
    return {f"{r['municipality']}:{r['contract_type']}": r for r in answer.json()["data"]}


def test_the_section_shows_the_published_rows_of_all_areas_and_the_own_area(web: Web) -> None:
    officer = english(web.signed_in("procurement"))
    page = officer.get(PAGE)
    assert page.status_code == 200, page.text
    assert "Quota and performance contracts side by side" in page.text
    parsed = parse(page.text)
    table = parsed.tables["contract-types-table"]
    rows = _json_rows(web)
    columns = set(next(iter(table.values())))
    # All areas for both types, and the officer's own area (the buyer's municipality).
    assert {f"{TOTAL}:quota", f"{TOTAL}:performance"} <= columns
    own = {c for c in columns if not c.startswith(TOTAL)}
    assert own, columns
    compared = 0
    for name, cells in table.items():
        for column, shown in cells.items():
            row = rows.get(column)
            if row is None:
                assert shown == "–"
                continue
            hidden = name in row["hidden"]
            assert same(shown, row[name], hidden, _decimals(name)), (name, column, shown)
            compared += 1
    assert compared >= 2 * 12


def test_the_chart_has_the_by_sex_numbers_beside_it(web: Web) -> None:
    officer = english(web.signed_in("procurement"))
    page = officer.get(PAGE, params={"start": "2025-01-01"})
    assert page.status_code == 200, page.text
    parsed = parse(page.text)
    image = next(i for i in parsed.images if "contract-types/chart.png" in i.get("src", ""))
    assert image["src"].endswith("?start=2025-01-01")
    assert len(image.get("alt", "")) > 80
    png = officer.get(image["src"])
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert parsed.table_attrs["contract-types-by-sex"]["data-chart"] == "contract_types"
    table = parsed.tables["contract-types-by-sex"]
    answer = web.get(
        "procurement", "/api/v1/statistics/contract-types", params={"start": "2025-01-01"}
    )
    totals = {r["contract_type"]: r for r in answer.json()["data"] if r["municipality"] == TOTAL}
    assert set(table) == {f"{k}:{g}" for k in totals for g in ("all", *SEX_GROUPS)}
    for key, cells in table.items():
        kind, group = key.split(":")
        row = totals[kind]
        for name, shown in cells.items():
            column = name if group == "all" else sex_column(name, group)
            hidden = column in row["hidden"]
            assert same(shown, row[column], hidden, _decimals(name)), (key, name, shown)


def test_the_section_is_translated_and_absent_on_a_bad_window(web: Web) -> None:
    finnish = web.signed_in("procurement", language="fi")
    page = finnish.get(PAGE)
    assert page.status_code == 200
    assert "Kiintiö- ja tulosperusteiset sopimukset rinnakkain" in page.text
    bad = english(web.signed_in("procurement")).get(
        PAGE, params={"start": "2026-01-01", "end": "2025-01-01"}
    )
    assert bad.status_code == 422
    assert 'id="contract-types-table"' not in bad.text
    anonymous = web.anonymous().get(f"{PAGE}/contract-types/chart.png")
    assert anonymous.status_code in (303, 401)
