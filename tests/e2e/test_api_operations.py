"""Operations: request ids and access lines of the real app, where /metrics is served, and
the shipped Prometheus alert rules and Grafana dashboard naming only exported metrics."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from service.api.app import create_app
from service.cli import app as cli
from service.cli_service import start_metrics_listener
from service.observability import ACCESS_LOGGER, JsonFormatter
from service.settings import ServiceSettings
from service.storage.database import upgrade_to_head
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-operations")]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: Recorded by Prometheus itself for every scrape, not exported by the service.
PROMETHEUS_OWN = {"up"}
METRIC_NAME = re.compile(r"\b(kohtaanto_[a-z0-9_]+|up)\b(?!\s*\()")


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def test_request_ids_and_access_lines(api: Api, access_lines: io.StringIO) -> None:
    path = f"/api/v1/coach/jobseekers/{api.facts['jobseeker']}"
    answer = api.client.get(path, headers={**api.headers("coach"), "X-Request-ID": "probe-1"})
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] == "probe-1"
    refused = api.client.get(path, headers={"X-Request-ID": "x" * 300})
    assert refused.status_code == 401
    assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["X-Request-ID"])

    lines = [json.loads(line) for line in access_lines.getvalue().splitlines()]
    assert [(line["request_id"], line["status"]) for line in lines] == [
        ("probe-1", 200),
        (refused.headers["X-Request-ID"], 401),
    ]
    first = lines[0]
    assert first["method"] == "GET" and first["path"] == path
    assert isinstance(first["user_id"], int) and first["user_id"] > 0
    assert lines[1]["user_id"] is None


def test_metrics_are_not_on_the_api_port_unless_configured(api: Api) -> None:
    assert api.client.get("/metrics").status_code == 404
    exposed = api.settings.model_copy(update={"service": ServiceSettings(metrics_on_api_port=True)})
    state = api.client.app.state.serving  # type: ignore[attr-defined]
    with TestClient(create_app(exposed, state)) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert "kohtaanto_http_requests_total" in answer.text


def _exported(api: Api) -> set[str]:
    """Every sample name the service's /metrics can show (a histogram's _bucket, ...)."""
    exposed = api.settings.model_copy(update={"service": ServiceSettings(metrics_on_api_port=True)})
    state = api.client.app.state.serving  # type: ignore[attr-defined]
    with TestClient(create_app(exposed, state)) as client:
        client.get("/healthz")
        text = client.get("/metrics").text
    names: set[str] = set()
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "gauge": ("",),
        "summary": ("_sum", "_count", ""),
    }
    for family in text_string_to_metric_families(text):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names


def _rule_expressions() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert rule["alert"].startswith("Kohtaanto") and rule["labels"]["severity"]
    return expressions


def _dashboard_expressions() -> list[str]:
    dashboard: dict[str, Any] = json.loads((DEPLOY / "grafana" / "kohtaanto.json").read_text())
    assert dashboard["uid"] == "kohtaanto" and dashboard["panels"]
    expressions = []
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        expressions.extend(target["expr"] for target in panel["targets"])
    return expressions


def test_alerts_and_dashboard_use_only_exported_metrics(api: Api) -> None:
    exported = _exported(api)
    assert "kohtaanto_http_request_seconds_bucket" in exported
    for source, expressions in (
        ("alerts.yml", _rule_expressions()),
        ("kohtaanto.json", _dashboard_expressions()),
    ):
        assert expressions, source
        used = {name for expr in expressions for name in METRIC_NAME.findall(expr)}
        assert used - PROMETHEUS_OWN, f"{source} uses none of the service's metrics"
        unknown = used - exported - PROMETHEUS_OWN
        assert not unknown, f"{source} uses metrics the service does not export: {unknown}"


def test_the_metrics_listener_serves_the_workers_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert start_metrics_listener("127.0.0.1", 0) is None  # port 0: no listener
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_metrics_listener("127.0.0.1", port)
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/plain")
    finally:
        server.shutdown()
        server.server_close()


def test_serve_names_a_busy_metrics_port_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'kohtaanto.db'}"
    upgrade_to_head(url)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # serve points prometheus_client at a directory of its own: restored afterwards.
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        monkeypatch.setenv("KOHTAANTO_DATABASE_URL", url)
        monkeypatch.setenv("KOHTAANTO_SERVICE__METRICS_PORT", str(port))
        from service.settings import get_settings

        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli, ["serve"], terminal_width=200)
        finally:
            get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_excel_semicolon_uploads_import_and_keep_the_ownership_rules(api: Api) -> None:
    from tests.e2e.test_api import _coach_files, _upload
    from tests.integration.test_storage_csv_excel import excel

    files = {name: excel(content.decode()) for name, content in _coach_files(api, "X").items()}
    foreign = _upload(api, "other-coach", "/api/v1/coach/imports", files)
    assert foreign.status_code == 422, foreign.text
    assert {"organisation_id", "coach_id"} <= {e["loc"][3] for e in foreign.json()["errors"]}
    imported = _upload(api, "coach", "/api/v1/coach/imports", files)
    assert imported.status_code == 201, imported.text
    assert imported.json()["jobseekers"] == 2
