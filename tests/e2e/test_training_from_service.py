"""The nightly job trained on the service's own database and the exposures it logged
(employers' shortlists and coaches' matches)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from features.world_store import WorldTables
from service.storage.exposure_log import PRIOR_WEIGHT, position_propensity
from tests.e2e.conftest import Api
from training.dataset import DatasetConfig
from training.pipeline import database_load_step, retrain
from training.ranker import RankerConfig
from training.registry import ModelRegistry

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-training")]


@pytest.fixture(scope="session")
def small_world(training_world: WorldTables) -> WorldTables:
    """This module's service (the ``api`` fixture) holds the training world: the nightly job
    trains both directions, and the small world's coaches' searches leave no matches test
    query the engine could have served (see ``training_world_dir``)."""
    return training_world


def test_position_propensity_is_the_smoothed_share_proposed() -> None:
    shown = pd.DataFrame(
        {
            "vacancy_id": ["V1", "V1", "V2", "V2"],
            "jobseeker_id": ["A", "B", "A", "C"],
            "position": [1, 2, 1, 2],
        }
    )
    propensity = position_propensity(shown, {("V1", "A"), ("V2", "A")})
    # Overall 2/4 = 0.5; position 1: (2 + 20 * 0.5) / (2 + 20); position 2: (0 + 10) / 22.
    assert propensity[1] == pytest.approx((2 + PRIOR_WEIGHT * 0.5) / (2 + PRIOR_WEIGHT))
    assert propensity[2] == pytest.approx((0 + PRIOR_WEIGHT * 0.5) / (2 + PRIOR_WEIGHT))
    assert propensity[1] > propensity[2]


def test_shortlists_served_become_exposures_and_a_model_trains_on_the_database(
    api: Api, tmp_path_factory: pytest.TempPathFactory
) -> None:
    vacancy = api.facts["vacancy"]
    served = api.get(
        "employer", f"/api/v1/employer/vacancies/{vacancy}/shortlist", params={"k": 10}
    )
    assert served.status_code == 200 and served.json()["results"]
    world, fingerprint = database_load_step(api.url)
    logged = world.exposures[world.exposures["exposure_id"].astype(str).str.startswith("AU")]
    assert len(logged) == len(served.json()["results"])
    assert set(logged["vacancy_id"].astype(str)) == {vacancy}
    assert logged["position"].tolist() == list(range(1, len(logged) + 1))
    assert logged["propensity"].between(0.01, 1.0).all()
    assert (world.exposures["exposure_id"].astype(str).str.startswith("AU")).sum() == len(logged)
    assert set(logged["query_kind"].astype(str)) == {"vacancy_shortlist"}
    assert len(fingerprint) == 64

    # A coach's matches answer is logged in the other direction, one query per answer.
    jobseeker = api.facts["jobseeker"]
    matched = api.get("coach", f"/api/v1/coach/jobseekers/{jobseeker}/matches", params={"k": 5})
    assert matched.status_code == 200 and matched.json()["results"]
    world, _ = database_load_step(api.url)
    audited = world.exposures[world.exposures["exposure_id"].astype(str).str.startswith("AU")]
    searches = audited[audited["query_kind"].astype(str) == "jobseeker_matches"]
    assert searches["vacancy_id"].astype(str).tolist() == [
        m["vacancy_id"] for m in matched.json()["results"]
    ]
    assert set(searches["jobseeker_id"].astype(str)) == {jobseeker}
    assert searches["query_id"].nunique() == 1

    # A later outcome changes what the data fingerprint says the model saw.
    person = api.post(
        "coach",
        "/api/v1/coach/jobseekers",
        {
            "first_name": "F",
            "last_name": "P",
            "home_municipality": api.facts["municipality"],
            "birth_year": 1985,
        },
    ).json()["jobseeker_id"]
    proposal = {
        "vacancy_id": vacancy,
        "consent_given_at": datetime.now(UTC).isoformat(),
        "consent_method": "verbal",
    }
    assert (
        api.post("coach", f"/api/v1/coach/jobseekers/{person}/proposals", proposal).status_code
        == 201
    )
    assert database_load_step(api.url)[1] != fingerprint

    registry = ModelRegistry(tmp_path_factory.mktemp("models-from-db"))
    result = retrain(
        None,
        registry,
        database_url=api.url,
        dataset_config=DatasetConfig(valid_weeks=16, test_weeks=16),
        ranker_config=RankerConfig(num_threads=1),
    )
    assert result.version is not None
    record = registry.show(result.version)
    assert record.manifest.training_fingerprint == database_load_step(api.url)[1]
    assert set(result.reports) == {"shortlist", "matches"}
    for report in result.reports.values():  # a database has no hidden model
        assert "oracle" not in report.overall.index
