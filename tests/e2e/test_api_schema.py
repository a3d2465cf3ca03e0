"""Schemathesis over the OpenAPI schema: every route, a fixed seed, no 5xx, no schema breach.

Each operation is called with the token of the role its path belongs to, so generated
requests reach the handlers (and their validation), not only the authentication layer.
"""

from __future__ import annotations

from typing import cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.api.app import create_app
from service.api.runtime import ServingState
from service.settings import Settings
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("api-schema")]


# The schema does not depend on data; each test points this app at the backend's state.
APP = create_app(Settings(), state=cast(ServingState, object()))  # set per test below
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

ROLE_OF_PREFIX = {"coach": "coach", "employer": "employer", "procurement": "procurement"}


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,  # the fixed seed: the same requests on every run
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_no_schema_violations(case: schemathesis.Case, api: Api) -> None:
    APP.state.serving = api.client.app.state.serving  # type: ignore[attr-defined]
    parts = case.path.strip("/").split("/")
    role = ROLE_OF_PREFIX.get(parts[2], "admin") if len(parts) > 2 else "admin"
    case.call_and_validate(
        headers=api.headers(role),
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
