"""Statistics over HTTP: for procurement and admin roles, suppressed like `kohtaanto stats`."""

from __future__ import annotations

import pytest

from features.world_store import load_world
from reporting.indicators import indicator_table
from reporting.publish import publish_indicator_table
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-statistics")]


def test_indicators_match_the_world_and_hide_small_cells(api: Api) -> None:
    response = api.get("procurement", "/api/v1/statistics/indicators", params={"by": "buyer"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["by"] == "buyer" and body["count"] == len(body["data"])
    expected = publish_indicator_table(
        indicator_table(load_world(api.world.root), "buyer", None, totals=True), ["buyer_id"]
    )
    assert body["columns"] == list(expected.values.columns)
    total = next(row for row in body["data"] if row["buyer_id"] == "TOTAL")
    expected_total = expected.values[expected.values["buyer_id"] == "TOTAL"].iloc[0]
    assert total["contracts"] == expected_total["contracts"]
    assert total["hires_required"] == expected_total["hires_required"]
    hidden_somewhere = [row for row in body["data"] if row["hidden"]]
    for row in hidden_somewhere:
        for column in row["hidden"]:
            assert row[column] is None  # a hidden figure never leaves the service


def test_impact_and_charts(api: Api) -> None:
    impact = api.get("admin", "/api/v1/statistics/impact", params={"by": "country"})
    assert impact.status_code == 200, impact.text
    assert impact.json()["meta"]["parameters_version"]
    chart = api.get("procurement", "/api/v1/statistics/charts/fulfilment.png")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/png"
    assert chart.content[:8] == b"\x89PNG\r\n\x1a\n" and len(chart.content) > 10_000


def test_statistics_are_for_procurement_and_admin_only(api: Api) -> None:
    for who in ("coach", "employer"):
        refused = api.get(who, "/api/v1/statistics/indicators")
        assert refused.status_code == 403
    bad = api.get(
        "admin",
        "/api/v1/statistics/indicators",
        params={"start": "2026-05-01", "end": "2026-01-01"},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "end"]
    unknown = api.get("admin", "/api/v1/statistics/indicators", params={"by": "galaxy"})
    assert unknown.status_code == 422
