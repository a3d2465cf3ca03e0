"""The engine's and the service's answers, unchanged by work that only makes them cheaper.

A fixed generated world, a small LightGBM model committed under ``tests/data/golden_registry``
and about thirty fixed queries per entry point: the engine directly (with and without
factors, with filters, shortlists, named people explained for a vacancy, under the default
limits and under small ones that make retrieval trim its candidates) and the HTTP service
(matches, shortlists, an employer's view of the proposals). Each answer is stored in
``tests/data/golden_answers.json`` as the sha256 of its canonical JSON and, for the service,
the audit entry's results and explanation digest. The golden file was written by the code
before the speed work of issue 14; the test recomputes with the current code and compares
exactly. It was rewritten once since, on purpose: the first-stage prior that retrieval uses
when it must trim (now in both directions, with more features) changed the answers under the
small limits only (recall@20 against exhaustive scoring rose from 0.92/0.94 to 0.98/0.97 on
the national world); every answer under the default limits stayed byte-identical.

Nothing in the golden file varies between runs: the world has a seed and a fixed day, the
pseudonym key is fixed, and times, sequence numbers and generated ids are left out.

Regenerate (only when an answer is *meant* to change, and say why in the commit)::

    python tests/integration/test_answers_unchanged.py --write
    # the model, once: python tests/integration/test_answers_unchanged.py --train-model
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN_FILE = DATA / "golden_answers.json"
GOLDEN_REGISTRY = DATA / "golden_registry"
WORLD_SEED = 23
WORLD_SIZE = (3000, 2500)  # jobseekers, vacancies
PSEUDONYM_KEY = bytes(range(32))
#: Keys of a response whose values differ run to run (generated ids, instants).
VOLATILE = frozenset(
    {"proposal_id", "created_at", "proposed_at", "recorded_at", "seq", "request_id"}
)
#: Routes whose audit digest covers an instant (a proposal's time): their digest is left out.
TIMED_DIGESTS = frozenset({"employer.proposals"})

pytestmark = [pytest.mark.xdist_group("answers-unchanged")]


# ------------------------------------------------------------------------------ canonical form


def _plain(value: Any) -> Any:
    """JSON-ready, with volatile keys removed and dates as ISO text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def digest(value: Any) -> str:
    """sha256 of the canonical JSON of ``value`` (sorted keys; floats by their repr)."""
    text = json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------ the world


def generate(world_dir: Path) -> None:
    from training.synthetic import WorldConfig, generate_world

    seekers, vacancies = WORLD_SIZE
    generate_world(WorldConfig(seekers=seekers, vacancies=vacancies, seed=WORLD_SEED), world_dir)


def _small_limits() -> Any:
    """Limits that make retrieval trim (and use the shortlist prior) in a small world."""
    from service.settings import MatchingSettings

    return MatchingSettings(candidate_pool=20, exhaustive_limit=25, prior_pool=15)


def _queries(world: Any) -> tuple[list[str], list[str]]:
    """Fixed jobseekers in matching and vacancies open on the world's day (every n-th id)."""
    import pandas as pd

    from features.live_state import employments, seeker_status

    seekers = world.jobseekers
    available = seeker_status(
        seekers["jobseeker_id"].astype(str).to_numpy(),
        pd.to_datetime(seekers["unemployment_start"]).to_numpy("datetime64[D]"),
        employments(world.outcomes, seekers),
        np.datetime64(world.as_of, "D"),
    ).available
    people = sorted(seekers["jobseeker_id"].astype(str)[available])
    vacancies = world.vacancies
    is_open = (vacancies["opens_on"].dt.date <= world.as_of) & (
        world.as_of <= vacancies["closes_on"].dt.date
    )
    jobs = sorted(vacancies["vacancy_id"].astype(str)[is_open])
    return people[:: max(1, len(people) // 12)][:12], jobs[:: max(1, len(jobs) // 10)][:10]


# ------------------------------------------------------------------------------ the engine


def engine_answers(world_dir: Path, registry_root: Path) -> dict[str, Any]:
    """Per query name, the digest of the engine's whole answer (scores and explanations)."""
    from features.world_store import SERVING_TABLES, load_world
    from matching.engine import MatchFilters
    from service.composition import build_engine
    from service.settings import MatchingSettings, Settings
    from training.registry import ModelRegistry

    world = load_world(world_dir, SERVING_TABLES)
    full_world = load_world(world_dir)
    people, jobs = _queries(full_world)
    model = ModelRegistry(registry_root).load()
    on = world.as_of
    answers: dict[str, Any] = {}
    for label, limits in (("default", MatchingSettings()), ("small", _small_limits())):
        engine = build_engine(world, Settings(matching=limits))
        engine.set_scorer(model)
        data = engine.data
        for person in people:
            for factors in (True, False):
                result = engine.matches_for_jobseeker(person, 20, on, with_factors=factors)
                answers[f"{label}/matches/{person}/factors={factors}"] = _engine_entry(result)
        for person in people[:4]:
            home = int(data.seekers["home"][data.seekers.row_of[person]])
            for name, filters in (
                ("near", MatchFilters(max_distance_km=30.0)),
                ("home", MatchFilters(municipality=home)),
                ("forms", MatchFilters(job_forms=frozenset({"employment", "work_trial"}))),
            ):
                result = engine.matches_for_jobseeker(person, 10, on, filters)
                answers[f"{label}/matches/{person}/{name}"] = _engine_entry(result)
        for job in jobs:  # in order: exposure from earlier shortlists weighs on later ones
            for factors in (True, False):
                result = engine.shortlist_for_vacancy(job, 20, on, with_factors=factors)
                answers[f"{label}/shortlist/{job}/factors={factors}"] = _engine_entry(result)
        result = engine.shortlist_for_vacancy(jobs[0], 15, on, MatchFilters(max_distance_km=40.0))
        answers[f"{label}/shortlist/{jobs[0]}/near"] = _engine_entry(result)
        for job in jobs[:3]:
            explained = engine.explain_for_vacancy(job, people, on)
            answers[f"{label}/explain/{job}"] = {
                "sha256": digest(explained),
                "ids": [m.jobseeker_id for m in explained],
            }
    return answers


def _engine_entry(result: Any) -> dict[str, Any]:
    ids = [m.vacancy_id if result.kind == "matches" else m.jobseeker_id for m in result.results]
    return {"sha256": digest(result), "candidates": result.candidates, "ids": ids}


# ------------------------------------------------------------------------------ the service


def service_answers(world_dir: Path, registry_root: Path, root: Path) -> dict[str, Any]:
    """Per request, the status, the digest of the body and the audit entry it wrote."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from features.world_store import load_world
    from service.api.app import create_app
    from service.api.audit import all_people
    from service.api.security import hash_token
    from service.settings import PathSettings, Settings
    from service.storage.database import make_engine, make_session_factory, upgrade_to_head
    from service.storage.tables import AuditLogEntry, User
    from service.storage.world_io import load_world_into_database

    world = load_world(world_dir)
    people, jobs = _queries(world)
    url = f"sqlite:///{root / 'kohtaanto.db'}"
    upgrade_to_head(url)
    db = make_engine(url)
    load_world_into_database(world, db)
    var = root / "var"
    shutil.copytree(registry_root, var / "models")
    (var / "pseudonym.key").write_bytes(PSEUDONYM_KEY)
    seekers = world.jobseekers
    org_of_person = dict(
        zip(
            seekers["jobseeker_id"].astype(str), seekers["organisation_id"].astype(str), strict=True
        )
    )
    home_of = dict(
        zip(
            seekers["jobseeker_id"].astype(str),
            seekers["home_municipality"].astype(str),
            strict=True,
        )
    )
    org_of_supplier = dict(
        zip(
            world.suppliers["supplier_id"],
            world.suppliers["organisation_id"].astype(str),
            strict=True,
        )
    )
    supplier_of = dict(
        zip(world.vacancies["vacancy_id"].astype(str), world.vacancies["supplier_id"], strict=True)
    )
    coach_of = {p: f"coach-{org_of_person[p]}" for p in people}
    employer_of = {j: f"employer-{org_of_supplier[supplier_of[j]]}" for j in jobs}
    with make_session_factory(db)() as session:
        for name in sorted(set(coach_of.values()) | set(employer_of.values())):
            role, org = name.split("-", 1)
            session.add(
                User(name=name, role=role, organisation_id=org, token_hash=hash_token(name))
            )
        session.commit()
    settings = Settings(paths=PathSettings(var_dir=var), database_url=url, matching=_small_limits())
    answers: dict[str, Any] = {}
    with TestClient(create_app(settings)) as client:
        last_seq = [0]

        def call(name: str, who: str, method: str, path: str, **kwargs: Any) -> None:
            response = client.request(
                method, path, headers={"Authorization": f"Bearer {who}"}, **kwargs
            )
            entry: dict[str, Any] = {"status": response.status_code}
            entry["sha256"] = digest(response.json())
            with make_session_factory(db)() as session:
                audit = session.scalars(
                    select(AuditLogEntry)
                    .where(AuditLogEntry.seq > last_seq[0])
                    .order_by(AuditLogEntry.seq)
                ).all()
                # Audit pseudonyms come from a random key per person: name the person.
                person_of = all_people(session.connection())
            if audit:
                last_seq[0] = audit[-1].seq
            entry["audit"] = [
                {
                    "route": a.route,
                    "model_version": a.model_version,
                    "results": _named(a.results, person_of),
                    "explanation_digest": (
                        None if a.route in TIMED_DIGESTS else a.explanation_digest
                    ),
                }
                for a in audit
            ]
            answers[name] = entry

        for person in people:
            base = f"/api/v1/coach/jobseekers/{person}/matches"
            call(f"matches/{person}", coach_of[person], "GET", base)
            call(f"matches/{person}/lean", coach_of[person], "GET", base, params={"factors": False})
        for person in people[:4]:
            base = f"/api/v1/coach/jobseekers/{person}/matches"
            call(
                f"matches/{person}/filtered",
                coach_of[person],
                "GET",
                base,
                params={"k": 7, "max_distance_km": 40, "job_form": ["employment", "work_trial"]},
            )
            municipality = home_of[person]
            call(
                f"matches/{person}/home",
                coach_of[person],
                "GET",
                base,
                params={"municipality": municipality},
            )
        for job in jobs:
            base = f"/api/v1/employer/vacancies/{job}/shortlist"
            call(f"shortlist/{job}", employer_of[job], "GET", base)
            call(f"shortlist/{job}/k5", employer_of[job], "GET", base, params={"k": 5})
        # A coach proposes two people to the first vacancy: the employer's shortlist lists
        # them (when the ranking does not) and the proposals show them, explained.
        job = jobs[0]
        for person in people[:2]:
            body = {
                "vacancy_id": job,
                "consent_given_at": "2026-10-30T10:00:00Z",
                "consent_method": "written",
            }
            call(
                f"propose/{person}",
                coach_of[person],
                "POST",
                f"/api/v1/coach/jobseekers/{person}/proposals",
                json=body,
            )
        call(
            f"shortlist/{job}/proposed",
            employer_of[job],
            "GET",
            f"/api/v1/employer/vacancies/{job}/shortlist",
        )
        call(
            f"proposals/{job}",
            employer_of[job],
            "GET",
            f"/api/v1/employer/vacancies/{job}/proposals",
        )
    db.dispose()
    return answers


def _named(value: Any, person_of: dict[str, str]) -> Any:
    """``value`` with every audit pseudonym replaced by the person it names."""
    if isinstance(value, list):
        return [_named(v, person_of) for v in value]
    if isinstance(value, str):
        return person_of.get(value, value)
    return value


# ------------------------------------------------------------------------------ the test


@pytest.fixture(scope="module")
def golden_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("golden_world")
    generate(out)
    return out


def _golden() -> dict[str, Any]:
    golden: dict[str, Any] = json.loads(GOLDEN_FILE.read_text())
    return golden


def _differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    problems = [f"{name}: missing" for name in expected if name not in found]
    problems += [f"{name}: not in the golden file" for name in found if name not in expected]
    problems += [
        f"{name}: expected {expected[name]}, found {found[name]}"
        for name in expected
        if name in found and expected[name] != found[name]
    ]
    return problems


def test_the_engine_answers_as_before(golden_world_dir: Path) -> None:
    expected = _golden()["engine"]
    found = engine_answers(golden_world_dir, GOLDEN_REGISTRY)
    assert len(expected) >= 30
    problems = _differences(expected, found)
    assert not problems, f"{len(problems)} answers changed:\n" + "\n".join(problems[:10])


def test_the_service_answers_and_audits_as_before(golden_world_dir: Path, tmp_path: Path) -> None:
    expected = _golden()["service"]
    found = service_answers(golden_world_dir, GOLDEN_REGISTRY, tmp_path)
    assert len(expected) >= 30
    assert all(entry["status"] in (200, 201) for entry in expected.values())
    problems = _differences(expected, found)
    assert not problems, f"{len(problems)} answers changed:\n" + "\n".join(problems[:10])


# ------------------------------------------------------------------------------ regenerating


def train_golden_model(world_dir: Path, root: Path) -> str:
    """A small LightGBM ranker per direction on the world's pair features (quality does not
    matter; it must use many features so that a changed score or feature shows)."""
    import lightgbm as lgb

    from features.pair_features import pair_features
    from features.schema import FEATURE_NAMES
    from features.world_store import SERVING_TABLES, load_world
    from matching.scoring import DIRECTIONS, Calibration, Direction, RuleBasedScorer
    from service.composition import build_engine
    from service.settings import Settings
    from training.ranker import RankerConfig
    from training.registry import ModelRegistry

    world = load_world(world_dir, SERVING_TABLES)
    engine = build_engine(world, Settings())
    data, on = engine.data, world.as_of
    rules = RuleBasedScorer(FEATURE_NAMES)
    boosters: dict[Direction, lgb.Booster] = {}
    calibrations: dict[Direction, Calibration | None] = {}
    for n, direction in enumerate(DIRECTIONS):
        rng = np.random.default_rng(100 + n)
        groups = 300
        size = 40
        if direction == "matches":
            s = np.repeat(rng.integers(0, len(data.seekers), groups), size)
            v = rng.integers(0, len(data.vacancies), groups * size)
        else:
            v = np.repeat(rng.integers(0, len(data.vacancies), groups), size)
            s = rng.integers(0, len(data.seekers), groups * size)
        features = pair_features(data, s, v, on)
        signal = rules.score(features) + rng.normal(0, 0.05, len(s))
        labels = np.digitize(signal, np.quantile(signal, [0.6, 0.85, 0.95]))
        train = lgb.Dataset(
            features, label=labels, group=[size] * groups, feature_name=list(FEATURE_NAMES)
        )
        params = {
            "objective": "lambdarank",
            "num_leaves": 15,
            "min_data_in_leaf": 20,
            "learning_rate": 0.1,
            "verbosity": -1,
            "num_threads": 1,
            "seed": 100 + n,
            "deterministic": True,
        }
        booster = lgb.train(params, train, num_boost_round=40)
        boosters[direction] = booster
        scores = booster.predict(features, num_threads=1)
        knots = np.quantile(scores, np.linspace(0, 1, 9))
        calibrations[direction] = Calibration(
            tuple(float(x) for x in knots), tuple(float(p) for p in np.linspace(0.01, 0.4, 9))
        )
    registry = ModelRegistry(root, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC))
    record = registry.register(
        boosters,
        config=RankerConfig(num_threads=1),
        metrics={},
        training_fingerprint="golden-answers",
        calibrations=calibrations,
    )
    registry.promote(record.version)
    return record.version


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description="Write the golden answers (or its model).")
    parser.add_argument("--write", action="store_true", help="write tests/data/golden_answers")
    parser.add_argument("--train-model", action="store_true", help="train the committed model")
    parser.add_argument("--out", type=Path, default=GOLDEN_FILE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="golden-") as temp:
        world_dir = Path(temp) / "world"
        generate(world_dir)
        if args.train_model:
            shutil.rmtree(GOLDEN_REGISTRY, ignore_errors=True)
            print("trained", train_golden_model(world_dir, GOLDEN_REGISTRY))
        if args.write:
            service_root = Path(temp) / "service"
            service_root.mkdir()
            golden = {
                "engine": engine_answers(world_dir, GOLDEN_REGISTRY),
                "service": service_answers(world_dir, GOLDEN_REGISTRY, service_root),
            }
            args.out.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
            print(f"wrote {len(golden['engine'])} + {len(golden['service'])} answers to {args.out}")


if __name__ == "__main__":
    main()
