"""`make run`'s preparation: idempotent, and its tokens work against the service."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.demo_service import SIGN_INS_FILE, TOKENS_FILE, prepare_demo_service
from service.settings import PathSettings, Settings
from training.ranker import RankerConfig

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_demo_is_prepared_once_and_its_tokens_work(
    training_world_dir: Path, tmp_path: Path
) -> None:
    # The first model is trained on the world (the small one holds no matches test query).
    settings = Settings(paths=PathSettings(var_dir=tmp_path / "var"))
    one_thread = RankerConfig(num_threads=1)
    first = prepare_demo_service(training_world_dir, settings, one_thread)
    assert first.loaded_rows and first.loaded_rows > 10_000
    assert set(first.tokens) == {"coach", "employer", "procurement", "admin", "operator"}
    tokens_file = settings.paths.var_dir / TOKENS_FILE
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    again = prepare_demo_service(training_world_dir, settings, one_thread)
    assert again.loaded_rows is None  # the database already holds the world
    assert again.tokens == first.tokens == json.loads(tokens_file.read_text())
    assert again.model == first.model
    # Web sign-ins: one per role, a random password kept (hashed in the database, plain only
    # in the owner-readable file) and the same on every run.
    sign_ins_file = settings.paths.var_dir / SIGN_INS_FILE
    assert stat.S_IMODE(sign_ins_file.stat().st_mode) == 0o600
    assert set(first.sign_ins) == set(first.tokens)
    assert again.sign_ins == first.sign_ins == json.loads(sign_ins_file.read_text())
    passwords = [sign_in["password"] for sign_in in first.sign_ins.values()]
    assert len(set(passwords)) == len(passwords) and min(map(len, passwords)) >= 12

    with TestClient(create_app(settings)) as client:

        def get(role: str, path: str) -> dict[str, object]:
            response = client.get(path, headers={"Authorization": f"Bearer {first.tokens[role]}"})
            assert response.status_code == 200, (role, path, response.text)
            body: dict[str, object] = response.json()
            return body

        matches = get("coach", f"/api/v1/coach/jobseekers/{first.jobseeker_id}/matches?k=3")
        assert matches["results"] and matches["model_version"]
        assert get("employer", f"/api/v1/employer/vacancies/{first.vacancy_id}/shortlist")
        ledger = get("procurement", f"/api/v1/procurement/contracts/{first.contract_id}/ledger")
        assert ledger["lines"]
        assert get("admin", "/api/v1/admin/model")["serving"] == matches["model_version"]
        assert get("operator", "/api/v1/admin/audit/verify")["status"] == "intact"

        sections = {
            "coach": "/app/coach/",
            "employer": "/app/employer/",
            "procurement": "/app/procurement/",
            "admin": "/app/operator/",
            "operator": "/app/operator/",
        }
        for role, sign_in in first.sign_ins.items():
            browser = TestClient(client.app, follow_redirects=False)
            form = browser.get("/app/sign-in")
            token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            answer = browser.post("/app/sign-in", data={"csrf_token": token, **sign_in})
            assert answer.status_code == 303, (role, answer.text)
            assert answer.headers["location"] == sections[role]

    # A demo prepared before the operator role existed gains its user and keeps the others.
    older = {role: token for role, token in first.tokens.items() if role != "operator"}
    tokens_file.write_text(json.dumps(older), encoding="utf-8")
    upgraded = prepare_demo_service(training_world_dir, settings, one_thread)
    assert {r: t for r, t in upgraded.tokens.items() if r != "operator"} == older
    assert upgraded.tokens["operator"] != first.tokens["operator"]
    with TestClient(create_app(settings)) as client:
        for role, token in upgraded.tokens.items():
            path = "/api/v1/admin/audit" if role == "operator" else "/api/v1/admin/model"
            expected = 200 if role in ("admin", "operator") else 403
            answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == expected, (role, answer.text)


def test_make_run_prints_the_app_address_and_a_sign_in_per_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from service import cli_service, demo_service
    from service.demo_service import DemoService

    sign_ins = {
        role: {"username": f"demo-{role}", "password": f"pw-{role}-0123456789"}
        for role in ("coach", "employer", "procurement", "admin", "operator")
    }
    demo = DemoService(
        {role: f"token-{role}" for role in sign_ins}, sign_ins, "JS1", "V1", "C1", None, "v1"
    )
    monkeypatch.setattr(demo_service, "prepare_demo_service", lambda world, settings: demo)
    (tmp_path / "world.json").write_text("{}")
    cli_service._prepare_demo(tmp_path, "http://127.0.0.1:8000")
    printed = " ".join(capsys.readouterr().out.split())
    assert "The web application: http://127.0.0.1:8000/app/" in printed
    for role, sign_in in sign_ins.items():
        assert f"{role} {sign_in['username']} {sign_in['password']}" in printed
