"""Input that once answered 500 or was silently coerced (probe finding S3), and the error shape.

Every kind of input the probe found is sent raw (the bytes a client could send), on SQLite and
PostgreSQL: each is a 422 in the one problem+json shape naming what is wrong, and nothing is
written. Every other error status has the same shape.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from service.storage.database import make_engine, make_session_factory
from service.storage.tables import AssessmentRecord, ContractRecord, JobseekerRecord, Proposal
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api")]

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def count(api: Api, table: Any) -> int:
    engine = make_engine(api.url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(table)) or 0)
    finally:
        engine.dispose()


def send(api: Api, who: str, method: str, path: str, raw: str | bytes) -> Any:
    content = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return api.client.request(
        method,
        path,
        headers={**api.headers(who), "Content-Type": "application/json"},
        content=content,
    )


def assert_problem(response: Any, status: int, path: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    problem: dict[str, Any] = response.json()
    assert problem.keys() >= PROBLEM_KEYS, problem
    assert problem["status"] == status and problem["instance"] == path
    assert isinstance(problem["title"], str) and problem["title"]
    assert isinstance(problem["detail"], str) and problem["detail"]
    return problem


def assert_invalid(response: Any, path: str, *where: str) -> list[dict[str, Any]]:
    """A 422 problem whose ``errors`` name each field in ``where`` (a dotted location)."""
    errors: list[dict[str, Any]] = assert_problem(response, 422, path)["errors"]
    assert errors and all({"loc", "msg", "type"} <= e.keys() for e in errors), errors
    named = {".".join(str(p) for p in e["loc"]) for e in errors}
    for field in where:
        assert field in named, (field, errors)
    return errors


def jobseeker_json(api: Api, **raw_fields: str) -> str:
    """A valid jobseeker body, with some fields replaced by raw JSON text."""
    body = {
        "first_name": "Raw",
        "last_name": "Input",
        "home_municipality": api.facts["municipality"],
        "birth_year": 1985,
    }
    text = json.dumps(body)[:-1]
    for name, value in raw_fields.items():
        text += f', "{name}": {value}'
    return text + "}"


JOBSEEKERS = "/api/v1/coach/jobseekers"


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("max_commute_km", "NaN"),
        ("max_commute_km", "Infinity"),
        ("max_hours_per_week", "-Infinity"),
        ("max_commute_km", "1e400"),  # a valid JSON number that is infinite as a double
    ],
)
def test_non_finite_numbers_are_422_and_nothing_is_written(api: Api, field: str, raw: str) -> None:
    before = count(api, JobseekerRecord)
    response = send(api, "coach", "POST", JOBSEEKERS, jobseeker_json(api, **{field: raw}))
    assert_invalid(response, JOBSEEKERS, "body")
    assert count(api, JobseekerRecord) == before


def test_infinity_in_a_contract_value_is_422(api: Api) -> None:
    path = "/api/v1/procurement/contracts"
    body = json.dumps(
        {
            "supplier_id": "x",
            "cpv_code": "79620000",
            "title": "t",
            "starts_on": "2026-01-01",
            "ends_on": "2026-12-31",
        }
    )
    before = count(api, ContractRecord)
    response = send(api, "procurement", "POST", path, body[:-1] + ', "value_eur": Infinity}')
    assert_invalid(response, path, "body")
    assert count(api, ContractRecord) == before


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "[NaN]"])
def test_a_non_finite_body_is_422(api: Api, raw: str) -> None:
    before = count(api, JobseekerRecord)
    assert_invalid(send(api, "coach", "POST", JOBSEEKERS, raw), JOBSEEKERS, "body")
    assert count(api, JobseekerRecord) == before


@pytest.mark.parametrize(
    "raw_fields",
    [
        {"first_name": '"\\ud800"'},
        {"email": '"a\\udfffb@example.org"'},
        {"\\ud800": "1"},  # as a key: the error that names it must not break either
    ],
)
def test_a_lone_surrogate_is_422_and_nothing_is_written(
    api: Api, raw_fields: dict[str, str]
) -> None:
    before = count(api, JobseekerRecord)
    response = send(api, "coach", "POST", JOBSEEKERS, jobseeker_json(api, **raw_fields))
    assert_invalid(response, JOBSEEKERS, "body")
    assert count(api, JobseekerRecord) == before


def test_a_surrogate_pair_is_text_not_an_error(api: Api) -> None:
    emoji = jobseeker_json(api).replace('"Raw"', '"Raw \\ud83d\\ude00"')
    created = send(api, "coach", "POST", JOBSEEKERS, emoji)
    assert created.status_code == 201, created.text
    assert created.json()["first_name"] == "Raw \U0001f600"


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+01:00",  # UTC is in year 0
        "9999-12-31T23:59:59-01:00",  # UTC is in year 10000
    ],
)
def test_a_datetime_that_overflows_in_utc_is_422(api: Api, moment: str) -> None:
    person = api.facts["jobseeker"]
    path = f"{JOBSEEKERS}/{person}/proposals"
    body = {"vacancy_id": api.facts["vacancy"], "consent_method": "written"}
    before = count(api, Proposal)
    response = send(api, "coach", "POST", path, json.dumps(body | {"consent_given_at": moment}))
    assert_invalid(response, path, "body.consent_given_at")
    assert count(api, Proposal) == before
    outcomes = f"{JOBSEEKERS}/{person}/outcomes"
    outcome = {"vacancy_id": api.facts["vacancy"], "stage": "interviewed", "occurred_at": moment}
    assert_invalid(
        send(api, "coach", "POST", outcomes, json.dumps(outcome)), outcomes, "body.occurred_at"
    )


@pytest.mark.parametrize("value", ["0", "1700000000", '"20260504"', '"2026-05-04T00:00:00"'])
def test_a_date_is_only_an_iso_date_string(api: Api, value: str) -> None:
    person = api.facts["jobseeker"]
    path = f"{JOBSEEKERS}/{person}/assessments"
    before = count(api, AssessmentRecord)
    response = send(
        api, "coach", "POST", path, '{"method": "work_trial", "assessed_on": ' + value + "}"
    )
    assert_invalid(response, path, "body.assessed_on")
    assert count(api, AssessmentRecord) == before


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("birth_year", '"1985"'),  # a string is not a number
        ("birth_year", "1985.0"),  # nor a float an integer
        ("max_commute_km", '"12.5"'),
        ("driving_licence", '"true"'),  # nor a string or number a boolean
        ("driving_licence", "1"),
        ("first_name", "12"),  # nor a number a string
        ("languages", '{"language": "fi", "level": "native"}'),  # nor an object a list
    ],
)
def test_values_are_not_coerced(api: Api, field: str, raw: str) -> None:
    body = json.loads(jobseeker_json(api))
    body.pop(field, None)
    text = json.dumps(body)[:-1] + f', "{field}": {raw}' + "}"
    before = count(api, JobseekerRecord)
    assert_invalid(send(api, "coach", "POST", JOBSEEKERS, text), JOBSEEKERS, f"body.{field}")
    assert count(api, JobseekerRecord) == before


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (
            "/api/v1/coach/jobseekers/{jobseeker}/matches",
            {"max_distance_km": "nan"},
            "max_distance_km",
        ),
        (
            "/api/v1/coach/jobseekers/{jobseeker}/matches",
            {"max_distance_km": "inf"},
            "max_distance_km",
        ),
        ("/api/v1/statistics/indicators", {"start": "0"}, "start"),
        ("/api/v1/statistics/indicators", {"end": "1700000000"}, "end"),
        ("/api/v1/statistics/indicators", {"start": "20260101"}, "start"),
    ],
)
def test_query_parameters_are_strict_too(
    api: Api, path: str, params: dict[str, str], field: str
) -> None:
    who = "coach" if "/coach/" in path else "procurement"
    target = path.format(jobseeker=api.facts["jobseeker"])
    response = api.get(who, target, params=params)
    assert_invalid(response, target, f"query.{field}")


# ---- one problem shape for every error ------------------------------------------------------


def test_every_error_is_one_problem_shape(api: Api) -> None:
    unknown = api.client.get("/api/v1/nowhere")
    assert_problem(unknown, 404, "/api/v1/nowhere")
    wrong_method = api.client.patch(JOBSEEKERS, headers=api.headers("coach"))
    assert_problem(wrong_method, 405, JOBSEEKERS)
    assert set(wrong_method.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    anonymous = api.client.get(JOBSEEKERS)
    assert_problem(anonymous, 401, JOBSEEKERS)
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert_problem(api.get("employer", JOBSEEKERS), 403, JOBSEEKERS)
    missing = f"{JOBSEEKERS}/nobody"
    assert_problem(api.get("coach", missing), 404, missing)
    huge = send(api, "coach", "POST", JOBSEEKERS, b'{"note": "' + b"x" * 2_000_000 + b'"}')
    assert_problem(huge, 413, JOBSEEKERS)
    proposals = f"{JOBSEEKERS}/{api.facts['jobseeker']}/proposals"
    proposal = {
        "vacancy_id": api.facts["vacancy"],
        "consent_given_at": datetime.now(UTC).isoformat(),
        "consent_method": "written",
    }
    first = api.post("coach", proposals, proposal)
    assert first.status_code in (201, 409), first.text
    assert_problem(api.post("coach", proposals, proposal), 409, proposals)
    # A rule of the domain (an unknown municipality) and pydantic's own checks alike.
    town = api.post("coach", JOBSEEKERS, json.loads(jobseeker_json(api, home_municipality='"1"')))
    assert_invalid(town, JOBSEEKERS, "body.home_municipality")
    not_json = send(api, "coach", "POST", JOBSEEKERS, b"\xff\xfe{")
    assert_invalid(not_json, JOBSEEKERS, "body")


def test_an_unreachable_database_is_a_503_problem(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = api.client.app.state.serving  # type: ignore[attr-defined]
    # Nothing listens on port 1: every connection is refused at once.
    nowhere = make_session_factory(make_engine("postgresql+psycopg://kohtaanto@127.0.0.1:1/x"))
    monkeypatch.setattr(serving, "sessions", nowhere)
    assert_problem(api.client.get("/readyz"), 503, "/readyz")
    assert_problem(api.get("coach", JOBSEEKERS), 503, JOBSEEKERS)


def test_the_openapi_documents_problem_json_for_errors(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    problem = document["components"]["schemas"]["Problem"]
    assert PROBLEM_KEYS | {"errors"} <= problem["properties"].keys()
    operation = document["paths"]["/api/v1/coach/jobseekers"]["post"]
    for status in ("401", "403", "404", "409", "413", "422", "503"):
        content = operation["responses"][status]["content"]
        assert list(content) == ["application/problem+json"], (status, content)
