"""Quota and performance contracts side by side over HTTP: the published table of
:mod:`reporting.contract_types`, computed from the service database as from the world."""

from __future__ import annotations

import math
from typing import Any

import pytest

from features.world_store import WorldTables
from reporting.contract_types import contract_type_table, publish_contract_type_table
from reporting.definitions import CONTRACT_TYPE_BASE, SEX_GROUPS, TOTAL, Kind, sex_column
from reporting.facts import build_facts
from reporting.performance import credited_outcomes, payments_by_condition
from reporting.publish import PublishedTable
from service.operations.procurement import STATISTICS_TABLES
from service.storage.database import make_engine
from service.storage.world_io import read_world_tables
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-contract-types")]

PATH = "/api/v1/statistics/contract-types"


def _expected(world: WorldTables, by: str = "municipality") -> PublishedTable:
    facts = build_facts(world)
    raw = contract_type_table(facts, by, credited=credited_outcomes(world, facts=facts))  # type: ignore[arg-type]
    return publish_contract_type_table(raw, by)  # type: ignore[arg-type]


def _same(answer: Any, expected: Any) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return answer is None
    if isinstance(expected, float):
        return answer is not None and math.isclose(answer, expected, rel_tol=1e-9, abs_tol=1e-6)
    return bool(answer == expected)


def test_the_table_is_the_worlds_with_small_cells_hidden(api: Api) -> None:
    response = api.get("procurement", PATH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["by"] == "municipality" and body["count"] == len(body["data"])
    assert "public_cost" in body["meta"] and body["meta"]["parameters_version"]
    expected = _expected(api.world)
    assert body["columns"] == list(expected.values.columns)
    assert not [c for c in body["columns"] if c.startswith("people_")]
    records = expected.to_document()["data"]
    assert len(body["data"]) == len(records)
    for row, want in zip(body["data"], records, strict=True):
        assert row["hidden"] == want["hidden"], row["municipality"]
        for column in body["columns"]:
            assert _same(row[column], want[column]), (row["municipality"], column, row[column])
        for column in row["hidden"]:
            assert row[column] is None  # a hidden figure never leaves the service
    kinds = {row["contract_type"] for row in body["data"]}
    assert kinds == {"quota", "performance"}
    totals = [row for row in body["data"] if row["municipality"] == TOTAL]
    assert [row["contract_type"] for row in totals] == ["quota", "performance"]
    assert any(row["hidden"] for row in body["data"])  # a small world has small cells


def test_sex_groups_add_up_and_payments_reconcile(api: Api) -> None:
    body = api.get("admin", PATH, params={"by": "country"}).json()
    assert body["meta"]["by"] == "country"
    checked = 0
    for row in body["data"]:
        for item in CONTRACT_TYPE_BASE:
            if item.kind not in (Kind.PEOPLE, Kind.AMOUNT):
                continue
            parts = [row[sex_column(item.name, s)] for s in SEX_GROUPS]
            if row[item.name] is None or any(p is None for p in parts):
                continue
            assert math.isclose(sum(parts), row[item.name], abs_tol=1e-6), item.name
            checked += 1
    assert checked > 20
    # The payments the service counts (read from its database, as the statistics cache reads
    # it) are what the performance ledger owes, condition by condition, in total.
    world = api.world
    owed = payments_by_condition(
        credited_outcomes(world), world.performance_terms, world.employment_conditions
    )
    engine = make_engine(api.url)
    try:
        stored = read_world_tables(engine, STATISTICS_TABLES)
    finally:
        engine.dispose()
    facts = build_facts(stored)
    raw = contract_type_table(facts, "country", credited=credited_outcomes(stored, facts=facts))
    totals = raw[raw["country"] == TOTAL].set_index("contract_type")
    assert owed["amount_eur"].sum() > 0
    assert math.isclose(totals.at["performance", "payments_eur"], owed["amount_eur"].sum())
    assert totals.at["quota", "payments_eur"] == 0  # quota conditions are not paid per outcome
    for row in body["data"]:
        if row["country"] == TOTAL:
            shown = row["payments_eur"]
            want = totals.at[row["contract_type"], "payments_eur"]
            assert shown is None if "payments_eur" in row["hidden"] else math.isclose(shown, want)


def test_bad_parameters_are_422_naming_the_field(api: Api) -> None:
    unknown = api.get("procurement", PATH, params={"by": "buyer"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == ["query", "by"]
    backwards = api.get("procurement", PATH, params={"start": "2026-05-01", "end": "2026-01-01"})
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["loc"] == ["query", "end"]
    not_a_day = api.get("procurement", PATH, params={"start": "May 2026"})
    assert not_a_day.status_code == 422
    assert not_a_day.json()["errors"][0]["loc"] == ["query", "start"]
    bad_area = api.get("procurement", f"{PATH}/chart.png", params={"area": "../etc"})
    assert bad_area.status_code == 422
    assert bad_area.json()["errors"][0]["loc"] == ["query", "area"]
    missing = api.get("procurement", f"{PATH}/chart.png", params={"area": "999"})
    assert missing.status_code == 404


def test_a_window_and_the_chart(api: Api) -> None:
    windowed = api.get("procurement", PATH, params={"start": "2025-01-01", "end": "2026-01-01"})
    assert windowed.status_code == 200, windowed.text
    assert windowed.json()["meta"]["start"] == "2025-01-01"
    everything = api.get("procurement", PATH).json()

    def hires(body: dict[str, Any]) -> int:
        rows = [r for r in body["data"] if r["municipality"] == TOTAL]
        return sum(r["hires_made"] or 0 for r in rows)

    assert 0 < hires(windowed.json()) < hires(everything)
    chart = api.get("procurement", f"{PATH}/chart.png")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content[:8] == b"\x89PNG\r\n\x1a\n" and len(chart.content) > 10_000


def test_only_procurement_and_admin_read_it(api: Api) -> None:
    for who in ("coach", "employer"):
        assert api.get(who, PATH).status_code == 403
        assert api.get(who, f"{PATH}/chart.png").status_code == 403
