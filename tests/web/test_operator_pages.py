"""The operator's pages: the model registry and cards, reload and rollback, the audit log.

The JSON admin routes are the reference: the pages show what they answer, the forms change
the served model as the JSON routes do, and only the roles those routes admit may post.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import lightgbm as lgb
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from features.schema import FEATURE_NAMES
from features.world_store import WorldTables
from matching.scoring import DIRECTIONS, Direction
from service.storage.database import make_engine
from service.storage.tables import AuditVerification
from tests.integration.test_audit_seal import _owner
from tests.web.conftest import Web, build_web
from training.ranker import RankerConfig
from training.registry import ModelRecord, gate_notes

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("web-operator")]


def _booster(seed: int) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    features = rng.random((200, len(FEATURE_NAMES)), dtype=np.float32)
    labels = (features[:, seed % len(FEATURE_NAMES)] > 0.7).astype(int)
    data = lgb.Dataset(features, label=labels, group=[20] * 10, feature_name=list(FEATURE_NAMES))
    params = {"objective": "lambdarank", "num_leaves": 4, "verbosity": -1, "num_threads": 1}
    return lgb.train(params, data, num_boost_round=3)


def _register(web: Web, seed: int, notes: str, card: str = "") -> ModelRecord:
    boosters: dict[Direction, lgb.Booster] = {d: _booster(seed) for d in DIRECTIONS}
    record: ModelRecord = web.app.state.serving.registry.register(
        boosters,
        config=RankerConfig(num_threads=1),
        metrics={"shortlist/ndcg@10": 0.5 + seed / 100},
        training_fingerprint=f"fingerprint-{seed}",
        notes=notes,
        card_sections=card,
    )
    return record


@pytest.fixture(scope="module")
def models(web: Web) -> Iterator[dict[str, ModelRecord]]:
    """Two champions in turn (first, then second) and a challenger the gate refused."""
    registry = web.app.state.serving.registry
    first = _register(web, 1, gate_notes(True, []))
    second = _register(web, 2, gate_notes(True, []))
    refused = _register(
        web,
        3,
        gate_notes(False, ["worse than the champion on shortlist/ndcg@10"]),
        card="## Findings\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |",
    )
    registry.promote(first.version)
    registry.promote(second.version)
    yield {"first": first, "second": second, "refused": refused}


def make_champion(web: Web, record: ModelRecord) -> None:
    """Make ``record`` the registry's champion (tests may run in any order)."""
    registry = web.app.state.serving.registry
    if registry.champion_version() != record.version:
        registry.promote(record.version)


def english(client: TestClient) -> TestClient:
    client.headers["accept-language"] = "en"
    return client


def _status(web: Web) -> dict[str, object]:
    answer = web.get("admin", "/api/v1/admin/model")
    assert answer.status_code == 200
    status: dict[str, object] = answer.json()
    return status


def _field(html: str, name: str) -> str:
    found = re.search(rf'data-field="{name}">([^<]*)<', html)
    assert found is not None, name
    return found.group(1).strip()


def test_the_json_registry_lists_champion_and_challengers(
    web: Web, models: dict[str, ModelRecord]
) -> None:
    make_champion(web, models["second"])
    for who in ("admin", "operator"):
        answer = web.get(who, "/api/v1/admin/models")
        assert answer.status_code == 200, answer.text
        versions = {v["version"]: v for v in answer.json()["versions"]}
        assert {m.version for m in models.values()} <= set(versions)
        assert versions[models["second"].version]["champion"]
        assert not versions[models["first"].version]["champion"]
        refused = versions[models["refused"].version]
        assert refused["gate"] == "refused"
        assert refused["gate_reasons"] == ["worse than the champion on shortlist/ndcg@10"]
        assert versions[models["first"].version]["gate"] == "passed"
        became = versions[models["first"].version]["became_champion"]
        assert became[0]["action"] == "promote"
        assert (
            versions[models["first"].version]["replaced"][0]["version"] == models["second"].version
        )
    for who in ("coach", "procurement", "employer"):
        assert web.get(who, "/api/v1/admin/models").status_code == 403
    card = web.get("operator", f"/api/v1/admin/models/{models['refused'].version}").json()
    assert card["card"].startswith(f"# Model card: {models['refused'].version}")
    missing = web.get("operator", "/api/v1/admin/models/m20000101-000000-00000000")
    assert missing.status_code == 404


def test_the_registry_page_shows_versions_verdicts_and_the_served_model(
    web: Web, models: dict[str, ModelRecord]
) -> None:
    make_champion(web, models["second"])
    operator = english(web.signed_in("operator"))
    page = operator.get("/app/operator/")
    assert page.status_code == 200, page.text
    for record in models.values():
        assert f'href="/app/operator/models/{record.version}"' in page.text
    row = re.search(rf'data-key="{models["refused"].version}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert "Refused by the gate" in row.group(1)
    assert "worse than the champion on shortlist/ndcg@10" in row.group(1)
    champion = re.search(rf'data-key="{models["second"].version}">(.*?)</tr>', page.text, re.S)
    assert champion is not None and "Champion" in champion.group(1)
    assert _field(page.text, "champion") == models["second"].version


def test_a_model_card_page_per_version(web: Web, models: dict[str, ModelRecord]) -> None:
    admin = english(web.signed_in("admin"))
    refused = models["refused"].version
    page = admin.get(f"/app/operator/models/{refused}")
    assert page.status_code == 200
    assert f"Model card: {refused}" in page.text
    assert "<h3>Model card" in page.text  # the card's own h1, under the page's headings
    assert "<table>" in page.text and "<script>alert(1)</script>" not in page.text
    assert "fingerprint-3" in page.text
    assert admin.get("/app/operator/models/m20000101-000000-00000000").status_code == 404
    assert admin.get(f"/app/operator/models/{refused}/../../../etc/passwd").status_code == 404
    assert admin.get(f"/app/operator/models/{refused}/manifest.json").status_code == 404


def test_reload_and_rollback_forms_change_the_served_model(
    web: Web, models: dict[str, ModelRecord]
) -> None:
    make_champion(web, models["second"])
    admin = english(web.signed_in("admin"))
    page = admin.get("/app/operator/")
    token = web.csrf(page)
    assert 'action="/app/operator/model/reload"' in page.text
    reloaded = admin.post("/app/operator/model/reload", data={"csrf_token": token})
    assert reloaded.status_code == 303
    assert _status(web)["serving"] == models["second"].version

    rolled = admin.post("/app/operator/model/rollback", data={"csrf_token": token})
    assert rolled.status_code == 303 and rolled.headers["location"].endswith("rolled_back")
    status = _status(web)
    assert status["serving"] == status["champion"] == models["first"].version
    after = admin.get(rolled.headers["location"])
    assert _field(after.text, "serving") == models["first"].version

    # The registry's pointer moves elsewhere; the reload form loads it.
    web.app.state.serving.registry.promote(models["second"].version)
    assert admin.post("/app/operator/model/reload", data={"csrf_token": token}).status_code == 303
    assert _status(web)["serving"] == models["second"].version


def test_the_forms_are_refused_without_their_token(
    web: Web, models: dict[str, ModelRecord]
) -> None:
    admin = english(web.signed_in("admin"))
    before = _status(web)
    for action in ("reload", "rollback"):
        assert admin.post(f"/app/operator/model/{action}", data={}).status_code == 403
        wrong = admin.post(f"/app/operator/model/{action}", data={"csrf_token": "x" * 43})
        assert wrong.status_code == 403
    assert _status(web)["champion"] == before["champion"]
    assert _status(web)["serving"] == before["serving"]


def test_the_operator_sees_no_model_buttons_and_may_not_post(
    web: Web, models: dict[str, ModelRecord]
) -> None:
    assert web.post("operator", "/api/v1/admin/model/rollback", {}).status_code == 403
    operator = english(web.signed_in("operator"))
    page = operator.get("/app/operator/")
    assert "/app/operator/model/reload" not in page.text
    assert "/app/operator/model/rollback" not in page.text
    before = _status(web)
    token = web.csrf(page)
    for action in ("reload", "rollback"):
        answer = operator.post(f"/app/operator/model/{action}", data={"csrf_token": token})
        assert answer.status_code == 403
    assert _status(web)["champion"] == before["champion"]


def test_a_procurement_officer_gets_403_on_operator_pages(
    web: Web, models: dict[str, ModelRecord]
) -> None:
    officer = english(web.signed_in("procurement"))
    for path in (
        "/app/operator/",
        "/app/operator/audit",
        "/app/operator/audit/verify",
        f"/app/operator/models/{models['first'].version}",
    ):
        answer = officer.get(path)
        assert answer.status_code == 403, path
        assert "text/html" in answer.headers["content-type"]
    token = web.csrf(officer.get("/app/procurement/"))
    assert (
        officer.post("/app/operator/model/rollback", data={"csrf_token": token}).status_code == 403
    )


def _audited(web: Web) -> None:
    """Audit entries of two organisations: matches by the coaches of each."""
    person = web.facts["jobseeker"]
    assert web.get("coach", f"/api/v1/coach/jobseekers/{person}/matches").status_code == 200
    others = web.world.jobseekers
    other = others[others["organisation_id"].astype(str) == web.facts["other_org"]]
    other_id = str(other["jobseeker_id"].iloc[0])
    web.get("other-coach", f"/api/v1/coach/jobseekers/{other_id}/matches")


def test_the_audit_pages_keep_to_the_roles_scope(web: Web) -> None:
    _audited(web)
    every = web.get("operator", "/api/v1/admin/audit", params={"limit": 1000}).json()
    own = web.get("admin", "/api/v1/admin/audit", params={"limit": 1000}).json()
    assert len(own) < len(every)
    for who, expected in (("operator", every), ("admin", own)):
        client = english(web.signed_in(who))
        page = client.get("/app/operator/audit")
        assert page.status_code == 200
        shown = [int(s) for s in re.findall(r'<tr data-key="(\d+)">', page.text)]
        assert shown == [e["seq"] for e in expected][:50]
        assert _field(page.text, "total").replace(",", "") == str(len(expected))
    # Pages: the next page starts after the last entry shown.
    operator = english(web.signed_in("operator"))
    first_seq = every[0]["seq"]
    page = operator.get("/app/operator/audit", params={"after": first_seq})
    shown = [int(s) for s in re.findall(r'<tr data-key="(\d+)">', page.text)]
    assert shown == [e["seq"] for e in every if e["seq"] > first_seq][:50]


def test_the_chain_status_page_says_what_the_json_verify_says(web: Web) -> None:
    _audited(web)
    verdict = web.get("operator", "/api/v1/admin/audit/verify").json()
    assert verdict["status"] == "intact"
    # The JSON verify recorded its verdict; the page shows it without recomputing.
    page = english(web.signed_in("operator")).get("/app/operator/audit/verify")
    assert page.status_code == 200
    assert 'id="chain-status" data-status="intact"' in page.text
    assert "Intact" in page.text
    assert int(_field(page.text, "entries").replace(",", "")) == verdict["entries"]
    audit_page = english(web.signed_in("admin")).get("/app/operator/audit")
    assert 'data-field="verification" data-status="intact"' in audit_page.text


def _verification_count(web: Web) -> int:
    engine = make_engine(web.url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(AuditVerification)) or 0)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_web(
    request: pytest.FixtureRequest,
    small_world: WorldTables,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Web]:
    """An app of its own: no verification recorded yet, a chain this test may tamper with."""
    yield from build_web(request, small_world, tmp_path_factory)


def test_the_verify_page_shows_recorded_verifications_and_runs_one_on_post(
    fresh_web: Web,
) -> None:
    web = fresh_web
    _audited(web)
    operator = english(web.signed_in("operator"))
    # Viewing recomputes nothing and records nothing.
    for _ in range(2):
        page = operator.get("/app/operator/audit/verify")
        assert page.status_code == 200
        assert 'data-status="none"' in page.text
        assert "No verification yet" in page.text
        assert 'action="/app/operator/audit/verify"' in page.text
    assert _verification_count(web) == 0
    assert 'data-field="verification">' in operator.get("/app/operator/audit").text
    # Running it: POST, 303 back to the page (POST-redirect-GET), one verdict recorded.
    answer = operator.post("/app/operator/audit/verify", data={"csrf_token": web.csrf(page)})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/operator/audit/verify"
    assert _verification_count(web) == 1
    page = operator.get(answer.headers["location"])
    assert 'id="chain-status" data-status="intact"' in page.text
    assert "No verification yet" not in page.text
    shown = int(_field(page.text, "entries").replace(",", ""))
    verdict = web.get("operator", "/api/v1/admin/audit/verify").json()
    assert verdict["status"] == "intact" and shown == verdict["entries"] > 0
    assert re.search(r'<tr data-key="\d+" data-status="intact">', page.text)
    assert ">operator<" in page.text  # who ran it
    # An admin may run it too, as the JSON route allows; without the CSRF token nobody may.
    admin = english(web.signed_in("admin"))
    token = web.csrf(admin.get("/app/operator/audit/verify"))
    answer = admin.post("/app/operator/audit/verify", data={"csrf_token": token})
    assert answer.status_code == 303
    assert _verification_count(web) == 3
    for client in (operator, admin):
        assert client.post("/app/operator/audit/verify", data={}).status_code == 403
        refused = client.post("/app/operator/audit/verify", data={"csrf_token": "forged"})
        assert refused.status_code == 403
    assert _verification_count(web) == 3
    coach = english(web.signed_in("coach"))
    token = web.csrf(coach.get("/app/coach/"))
    assert coach.post("/app/operator/audit/verify", data={"csrf_token": token}).status_code == 403
    assert _verification_count(web) == 3


def test_a_tampered_chain_shows_tampered_after_a_verification(fresh_web: Web) -> None:
    web = fresh_web
    _audited(web)
    engine = make_engine(web.url)
    try:
        _owner(
            engine,
            "UPDATE audit_log SET route = 'tampered' WHERE seq = (SELECT MIN(seq) FROM audit_log)",
        )
    finally:
        engine.dispose()
    operator = english(web.signed_in("operator"))
    page = operator.get("/app/operator/audit/verify")
    assert 'data-status="none"' in page.text  # nothing recomputed on viewing
    answer = operator.post("/app/operator/audit/verify", data={"csrf_token": web.csrf(page)})
    assert answer.status_code == 303
    page = operator.get("/app/operator/audit/verify")
    assert 'id="chain-status" data-status="tampered"' in page.text
    assert "Tampered" in page.text
    assert _field(page.text, "first_bad_seq")
    audit_page = operator.get("/app/operator/audit")
    assert 'data-field="verification" data-status="tampered"' in audit_page.text


def test_a_rollback_without_an_earlier_champion_is_refused_on_the_page(
    web: Web, models: dict[str, ModelRecord]
) -> None:
    make_champion(web, models["second"])
    admin = english(web.signed_in("admin"))
    token = web.csrf(admin.get("/app/operator/"))
    answers = [
        admin.post("/app/operator/model/rollback", data={"csrf_token": token}) for _ in range(5)
    ]
    refused = [a for a in answers if a.status_code == 409]
    assert refused, [a.status_code for a in answers]
    assert "no previous champion to roll back to" in refused[0].text
    assert 'role="alert"' in refused[0].text
    status = _status(web)
    assert status["serving"] == status["champion"]
    make_champion(web, models["second"])
