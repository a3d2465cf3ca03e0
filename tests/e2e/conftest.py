"""The service on a loaded small world, per database backend, for the HTTP tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.live_state import employments, seeker_status
from features.world_store import WorldTables
from service.api.app import create_app
from service.api.security import hash_token
from service.settings import PathSettings, Settings
from service.storage.database import make_engine, make_session_factory, upgrade_to_head
from service.storage.tables import User
from service.storage.world_io import load_world_into_database
from tests.conftest import wipe_postgres


@dataclass
class Api:
    client: TestClient
    world: WorldTables
    url: str
    facts: dict[str, str]
    #: The settings the app was built with (a second worker is built from the same).
    settings: Settings

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer token-{who}"}

    def get(self, who: str, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers(who), **kwargs)

    def post(self, who: str, path: str, body: Any) -> Any:
        return self.client.post(path, headers=self.headers(who), json=body)


def _facts(world: WorldTables) -> dict[str, str]:
    """Two organisations of each kind, and objects that belong to the first of each.

    The jobseeker is in matching on the world's day (not in work), so that matches exist.
    """
    seekers = world.jobseekers
    orgs = seekers["organisation_id"].astype(str).value_counts().index.tolist()
    available = seeker_status(
        seekers["jobseeker_id"].astype(str).to_numpy(),
        pd.to_datetime(seekers["unemployment_start"]).to_numpy("datetime64[D]"),
        employments(world.outcomes, seekers),
        np.datetime64(world.as_of, "D"),
    ).available
    mine = seekers[(seekers["organisation_id"].astype(str) == orgs[0]).to_numpy() & available]
    vacancies = world.vacancies
    is_open = (vacancies["opens_on"].dt.date <= world.as_of) & (
        world.as_of <= vacancies["closes_on"].dt.date
    )
    conditioned = vacancies[vacancies["condition_id"].notna() & is_open]
    vacancy = conditioned.iloc[0]
    suppliers = world.suppliers.set_index("supplier_id")
    supplier_org = str(suppliers.loc[vacancy["supplier_id"], "organisation_id"])
    other_supplier_org = next(
        str(o) for o in world.suppliers["organisation_id"].astype(str) if o != supplier_org
    )
    contract = world.contracts.set_index("contract_id").loc[vacancy["contract_id"]]
    other_buyer = next(
        str(b) for b in world.contracts["buyer_id"].astype(str) if b != str(contract["buyer_id"])
    )
    return {
        "org": orgs[0],
        "other_org": orgs[1],
        "jobseeker": str(mine["jobseeker_id"].iloc[0]),
        "supplier_org": supplier_org,
        "other_supplier_org": other_supplier_org,
        "vacancy": str(vacancy["vacancy_id"]),
        "condition": str(vacancy["condition_id"]),
        "contract": str(vacancy["contract_id"]),
        "buyer": str(contract["buyer_id"]),
        "other_buyer": other_buyer,
        "municipality": str(mine["home_municipality"].iloc[0]),
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest,
    small_world: WorldTables,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Api]:
    root = tmp_path_factory.mktemp(f"api-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'kohtaanto.db'}"
    else:
        # The worker's PostgreSQL database is shared by modules: start from an empty schema.
        url = wipe_postgres(request.getfixturevalue("postgres_database"))
    upgrade_to_head(url)
    engine = make_engine(url)
    load_world_into_database(small_world, engine)
    facts = _facts(small_world)
    users = {
        "coach": ("coach", facts["org"]),
        "other-coach": ("coach", facts["other_org"]),
        "employer": ("employer", facts["supplier_org"]),
        "other-employer": ("employer", facts["other_supplier_org"]),
        "procurement": ("procurement", facts["buyer"]),
        "other-procurement": ("procurement", facts["other_buyer"]),
        "admin": ("admin", facts["org"]),
        "operator": ("operator", facts["org"]),
    }
    with make_session_factory(engine)() as session:
        for name, (role, org) in users.items():
            session.add(
                User(
                    name=name,
                    role=role,
                    organisation_id=org,
                    token_hash=hash_token(f"token-{name}"),
                )
            )
        session.commit()
    engine.dispose()
    settings = Settings(
        paths=PathSettings(var_dir=root / "var"),
        database_url=url,
    )
    with TestClient(create_app(settings)) as client:
        yield Api(client, small_world, url, facts, settings)
