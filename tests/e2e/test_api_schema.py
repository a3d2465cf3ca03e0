"""Schemathesis over the OpenAPI schema: every route, every role, a fixed seed, no 5xx.

Each operation is called with the token of each role its route admits (read from the route's
``require`` dependency) with the full example budget, so generated requests reach the handlers
(and their validation), not only the authentication layer; and with every other role's token
with a small budget: those calls must be refused (4xx), never answered or failed. Calls and
status classes per role and database are printed at the end of the module (``-s``) and
written to ``schemathesis-calls.json`` in pytest's temporary directory of the session.
"""

from __future__ import annotations

import inspect
import json
import pkgutil
import re
from collections import Counter
from collections.abc import Iterator
from importlib import import_module
from typing import Any, cast

import pytest
import schemathesis
from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import service.api.routers
from service.api.app import create_app
from service.api.runtime import ServingState
from service.settings import Settings
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("api-schema")]


# The schema does not depend on data; each test points this app at the backend's state.
APP = create_app(Settings(), state=cast(ServingState, object()))  # set per test below
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

#: The roles the ``api`` fixture has a user (and token) for.
ROLES = ("coach", "employer", "procurement", "admin", "operator")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Calls per "role × database", by own or other role's route and status class.
CALLS: dict[str, Counter[str]] = {}


def _roles(dependant: Dependant) -> Iterator[str]:
    """The roles a route's ``require(...)`` dependency admits, wherever it sits."""
    for dependency in dependant.dependencies:
        if dependency.call is not None and inspect.isfunction(dependency.call):
            admitted = inspect.getclosurevars(dependency.call).nonlocals.get("roles", ())
            yield from (str(role) for role in admitted)
        yield from _roles(dependency)


def _admitted() -> dict[tuple[str, str], frozenset[str]]:
    """Per (method, path): the roles admitted; empty for routes without a role (probes)."""
    admitted: dict[tuple[str, str], frozenset[str]] = {}
    for module in pkgutil.iter_modules(service.api.routers.__path__):
        found = import_module(f"{service.api.routers.__name__}.{module.name}")
        for router in (v for v in vars(found).values() if isinstance(v, APIRouter)):
            for route in router.routes:
                if isinstance(route, APIRoute):
                    for method in route.methods:
                        # OpenAPI writes a path converter's parameter plainly ({uri:path}).
                        path = re.sub(r"\{(\w+):path\}", r"{\1}", route.path)
                        admitted[(method, path)] = frozenset(_roles(route.dependant))
    return admitted


ADMITTED = _admitted()


def _operation(case: schemathesis.Case) -> tuple[str, str]:
    """The case's operation (a case may try another method on it: a 405 is expected)."""
    return case.operation.method.upper(), case.operation.path


def _call(case: schemathesis.Case, api: Api, role: str, own: bool) -> Any:
    response = case.call_and_validate(headers=api.headers(role), checks=CHECKS)
    backend = "postgresql" if api.url.startswith("postgresql") else "sqlite"
    kind = f"{'own' if own else 'other'} route {response.status_code // 100}xx"
    CALLS.setdefault(f"{role} × {backend}", Counter())[kind] += 1
    return response


@pytest.fixture(scope="module", autouse=True)
def report_calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Print the counts and keep them in ``schemathesis-calls.json`` of the session's temp."""
    yield
    report = {key: dict(sorted(counts.items())) for key, counts in sorted(CALLS.items())}
    for key, counts in report.items():
        print(f"schemathesis calls, {key}: {counts}")
    session = tmp_path_factory.getbasetemp()
    if session.name.startswith("popen-"):  # an xdist worker's: the session's is its parent
        session = session.parent
    path = session / "schemathesis-calls.json"
    # Workers that split the module add their counts up.
    recorded = json.loads(path.read_text()) if path.exists() else {}
    for key, counts in report.items():
        total = Counter(recorded.get(key, {})) + Counter(counts)
        recorded[key] = dict(sorted(total.items()))
    path.write_text(json.dumps(recorded, indent=1, sort_keys=True, ensure_ascii=False))


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,  # the fixed seed: the same requests on every run
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_no_schema_violations(case: schemathesis.Case, api: Api) -> None:
    """Each role the route admits (the admin for open routes), with the full budget."""
    APP.state.serving = api.client.app.state.serving  # type: ignore[attr-defined]
    for role in sorted(ADMITTED[_operation(case)] & set(ROLES)) or ["admin"]:
        _call(case, api, role, own=True)


#: Open routes (the probes) serve every caller: only the role-guarded ones can refuse one.
OPEN_PATHS = sorted({path for (_, path), roles in ADMITTED.items() if not roles})
GUARDED = schema.exclude(path_regex="^(" + "|".join(map(re.escape, OPEN_PATHS)) + ")$")


@GUARDED.parametrize()
@settings(
    max_examples=4,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_other_roles_are_refused(case: schemathesis.Case, api: Api) -> None:
    """Every role the route does not admit: refused (4xx) whatever the request, never 2xx or 5xx."""
    admitted = ADMITTED[_operation(case)]
    assert admitted, "open routes are excluded above"
    APP.state.serving = api.client.app.state.serving  # type: ignore[attr-defined]
    for role in sorted(set(ROLES) - admitted):
        response = _call(case, api, role, own=False)
        assert 400 <= response.status_code < 500, (role, response.status_code, response.text)
