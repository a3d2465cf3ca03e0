"""The targeting advisor's page: a plan CSV posted by a procurement officer, answered with the
figures the JSON route gives for the same plan."""

from __future__ import annotations

import pytest

from tests.e2e.test_api_targeting import _plan
from tests.web.conftest import Web
from tests.web.test_procurement_pages import english, number, parse

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("web-targeting")]


def _csv(plan: list[dict[str, object]]) -> bytes:
    header = "line_id,buyer,cpv_codes,municipality,value_eur,starts_on,duration_months"
    rows = [
        ",".join(
            [
                str(line["line_id"]),
                "",
                ";".join(line["cpv_codes"]),  # type: ignore[arg-type]
                str(line["municipality"]),
                str(line["value_eur"]),
                str(line["starts_on"]),
                str(line["duration_months"]),
            ]
        )
        for line in plan
    ]
    return ("\n".join([header, *rows]) + "\n").encode()


def test_the_page_shows_what_the_json_route_answers(web: Web) -> None:
    client = english(web.signed_in("procurement"))
    form = client.get("/app/procurement/targeting")
    assert form.status_code == 200
    assert 'type="file"' in form.text and 'name="plan"' in form.text
    plan = _plan(web)
    for line in plan:
        line["buyer"] = web.facts["buyer"]
    answer = client.post(
        "/app/procurement/targeting",
        data={"csrf_token": web.csrf(form)},
        files={
            "plan": (
                "plan.csv",
                _csv(plan).replace(b",,", f",{web.facts['buyer']},".encode()),
                "text/csv",
            )
        },
    )
    assert answer.status_code == 200, answer.text
    shown = parse(answer.text).tables["advice-table"]
    body = web.post("procurement", "/api/v1/procurement/targeting", {"lines": _plan(web)}).json()
    assert set(shown) == {row["line_id"] for row in body["lines"]}
    for row in body["lines"]:
        cells = shown[row["line_id"]]
        assert number(cells["feasibility"]) == pytest.approx(row["feasibility"], abs=0.0051)
        if row["recommended"]:
            assert int(cells["hires"]) == row["hires"]
    images = [i for i in parse(answer.text).images if i.get("src", "").startswith("data:image/png")]
    assert len(images) == 1 and images[0].get("alt")


def test_a_bad_plan_file_is_refused_naming_the_line_and_field(web: Web) -> None:
    client = english(web.signed_in("procurement"))
    form = client.get("/app/procurement/targeting")
    plan = _plan(web)
    plan[1]["cpv_codes"] = ["99999999"]
    content = _csv(plan).replace(b",,", f",{web.facts['buyer']},".encode())
    answer = client.post(
        "/app/procurement/targeting",
        data={"csrf_token": web.csrf(form)},
        files={"plan": ("plan.csv", content, "text/csv")},
    )
    assert answer.status_code == 422
    assert "plan.csv:3: cpv_codes" in answer.text
    nothing = client.post("/app/procurement/targeting", data={"csrf_token": web.csrf(form)})
    assert nothing.status_code == 422 and 'aria-invalid="true"' in nothing.text
    forged = client.post(
        "/app/procurement/targeting",
        data={"csrf_token": "forged"},
        files={"plan": ("plan.csv", content, "text/csv")},
    )
    assert forged.status_code == 403


def test_the_page_is_for_procurement_officers_only(web: Web) -> None:
    coach = english(web.signed_in("coach"))
    assert coach.get("/app/procurement/targeting").status_code == 403
