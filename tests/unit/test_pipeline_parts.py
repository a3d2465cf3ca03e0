"""Pieces of the retraining pipeline that need no world: group labels and the reload call."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from matching.domain import TargetGroup
from matching.eligibility import DEFAULT_RULES, NEVER
from training.pipeline import (
    RetrainConfig,
    RetrainConfigError,
    load_retrain_config,
    notify_step,
    target_group_labels,
)

pytestmark = pytest.mark.unit

FOREVER = np.datetime64("9999-12-31", "D")


def _periods(**member_from: str) -> tuple[np.ndarray, np.ndarray]:
    """One person's (starts, ends) rows: member of the named groups from the given day."""
    starts = np.full((1, len(DEFAULT_RULES)), NEVER)
    ends = np.full((1, len(DEFAULT_RULES)), FOREVER)
    for j, rule in enumerate(DEFAULT_RULES):
        if rule.group.value in member_from:
            starts[0, j] = np.datetime64(member_from[rule.group.value], "D")
    return starts, ends


def test_target_groups_are_those_on_the_rows_day() -> None:
    starts, ends = _periods(long_term_unemployed="2026-03-01", migrant_background="2000-01-01")
    days = np.array(["2026-02-28", "2026-03-01"], dtype="datetime64[D]")
    labels = target_group_labels(np.repeat(starts, 2, 0), np.repeat(ends, 2, 0), days)
    assert labels[0] == "migrant_background"
    assert labels[1] == "long_term_unemployed|migrant_background"


def test_a_person_in_no_group_is_labelled_none() -> None:
    starts, ends = _periods()
    labels = target_group_labels(starts, ends, np.array(["2026-01-01"], dtype="datetime64[D]"))
    assert labels.tolist() == ["none"]
    assert "none" not in {g.value for g in TargetGroup}


class _Recorder(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[str, str, str | None]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        type(self).calls.append(("POST", self.path, self.headers.get("Authorization")))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def reload_server() -> Iterator[str]:
    _Recorder.calls = []
    _Recorder.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v1/admin/model/reload"
    finally:
        server.shutdown()
        server.server_close()


def test_notify_posts_to_the_reload_url_with_the_token(reload_server: str) -> None:
    assert notify_step(reload_server, "secret", 5.0) == "notified"
    assert _Recorder.calls == [("POST", "/api/v1/admin/model/reload", "Bearer secret")]


def test_notify_reports_a_refusal_and_an_unreachable_service(reload_server: str) -> None:
    _Recorder.status = 403
    assert notify_step(reload_server, "wrong", 5.0) == "failed: HTTP Error 403: Forbidden"
    closed = "http://127.0.0.1:9/reload"  # the discard port: nothing listens there
    assert notify_step(closed, None, 2.0).startswith("failed: ")
    assert notify_step(None, "t", 1.0) == "not configured"


def test_the_documented_example_configs_are_valid_and_current() -> None:
    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    # The annotated example lists every default; a changed default must update the docs.
    assert load_retrain_config(examples / "retrain.toml") == RetrainConfig()
    worse = load_retrain_config(examples / "worse-challenger.toml")
    assert (worse.ranker.num_trees, worse.ranker.num_leaves) == (1, 2)


def test_a_config_file_error_names_the_file_and_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[ranker\nnum_trees = 3\n")
    with pytest.raises(RetrainConfigError, match=r"broken\.toml: not valid TOML"):
        load_retrain_config(broken)
    with pytest.raises(RetrainConfigError, match="cannot be read"):
        load_retrain_config(tmp_path / "missing.toml")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[ranker]\nobjective = "pointwise"\n')
    with pytest.raises(RetrainConfigError, match=r"ranker\.objective"):
        load_retrain_config(wrong)
