"""Soak the HTTP service with faults: mixed reads and writes of every role, bounded, on loopback.

    python bench/bench_soak.py [--minutes 10] [--database postgresql|sqlite] [--workers 2]
                               [--clients 4] [--rate 12] [--json]

Prepares a small generated world (``var/bench/soak/world``, generated once) in a database of
its own: on PostgreSQL (the default; trust auth on 127.0.0.1:5432, database ``test`` is only
used to create and drop ``kohtaanto_soak_<pid>_<random>``), or in a new SQLite file with
``--database sqlite``. It creates one user per role (``Role``), registers two stand-in model
versions in the service's registry (small LightGBM rankers fitted to random features: the
soak is about swapping models, not about their rankings), promotes the first, and starts
``kohtaanto serve --workers N`` on a free loopback port.

For ``--minutes`` it then sends requests from ``--clients`` threads at ``--rate`` requests per
second in all, drawn by weight from :data:`CATALOGUE` (the one place that knows the routes and
bodies): coaches create, read, update and erase jobseekers, record assessments, ask for
matches, propose with consent, give feedback and report outcomes; employers create and update
vacancies, read shortlists and record outcomes of proposed candidates; procurement officers
create contracts and read contracts, ledgers and statistics; admins read the model status, the
audit log and its verification (an ``operator`` role, when the service has one, reads the
audit log too). Meanwhile faults are injected evenly over the run, one cycle per ~3 minutes
(at least one, and an even number of swaps), a cycle being:

- a worker process killed with SIGKILL (uvicorn's supervisor is expected to start a new one);
- a model swap: the other version promoted in the registry and ``POST /admin/model/reload``,
  or ``POST /admin/model/rollback``;
- every database connection cut (``pg_terminate_backend`` of every backend on the soak
  database, ``--cut-repeats`` times 0.25 s apart; skipped on SQLite, which has no server
  connections).

It prints the requests answered by status class and role, failed requests (connection errors,
timeouts), every 5xx (route and body sampled), audit entries written against the audited
requests answered 200 (matches and shortlists, counted in the database), whether the audit
chain still verifies (API and ``kohtaanto audit verify``), each worker's RSS at start and end,
p50/p99 latency per role, and the time of each fault and of the recovery after it. With
``--json`` the same summary follows as one JSON document.

Exit code 1 when any request was answered 5xx, the audit entries do not match the answered
requests, the audit chain does not verify or a killed worker was not replaced; 2 when the soak
could not be set up. A read whose connection is terminated under it is answered again on a
fresh connection (``service.api.routing``); a write is answered 503 (it may have been saved, so
only the client can decide to repeat it). Such 503s to requests in flight during a cut are
counted apart, and ``--allow-cut-503`` (set by ``make bench-soak``) lets them pass.
The server is stopped by the process id this script started, the soak database dropped; every
run starts a new service folder (``<root>/var-<database>``: models, keys, audit seals) because
its database is new.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from bench_service import (
    _warm_reference_cache,
    free_port,
    memory_gib,
    start_server,
    stop_server,
    wait_ready,
    worker_pids,
)

REPO = Path(__file__).resolve().parents[1]
API = "/api/v1"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


# ---------------------------------------------------------------------------- preparation


class SetupError(Exception):
    """The soak could not start: nothing was measured."""


@dataclass
class Prepared:
    """What the soak knows about its world: users and the objects they own."""

    url: str
    var_dir: Path
    as_of: date
    tokens: dict[str, str]  # role -> bearer token
    versions: list[str]  # registered model versions, the champion first
    seekers: list[str]  # the coach organisation's jobseekers in the world
    vacancies: dict[str, dict[str, Any]]  # the employer's open vacancies: id -> VacancyIn body
    conditions: list[dict[str, Any]]  # the employer's contracts' conditions (for new vacancies)
    supplier_id: str
    contracts: list[str]  # the procurement organisation's contracts
    cpv_code: str


def _choose_organisations(world: Any) -> tuple[str, str, str]:
    """The coach organisation with most jobseekers; the supplier organisation with most
    vacancies open on the world's day under a contract; the buyer of most of those."""
    seekers = world.jobseekers
    coach_org = str(seekers["organisation_id"].astype(str).value_counts().index[0])
    day = np.datetime64(world.as_of, "D")
    vacancies = world.vacancies
    opens = vacancies["opens_on"].to_numpy("datetime64[D]")
    closes = vacancies["closes_on"].to_numpy("datetime64[D]")
    open_now = vacancies[(opens <= day) & (day <= closes) & vacancies["contract_id"].notna()]
    supplier = str(open_now["supplier_id"].astype(str).value_counts().index[0])
    supplier_org = world.suppliers.set_index("supplier_id").loc[supplier, "organisation_id"]
    contracts = world.contracts.set_index("contract_id")
    buyers = contracts.loc[open_now["contract_id"].astype(str), "buyer_id"].astype(str)
    return coach_org, str(supplier_org), str(buyers.value_counts().index[0])


def _vacancy_bodies(world: Any, supplier_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The supplier's open vacancies as ``VacancyIn`` bodies (kept to build edits from)."""
    day = np.datetime64(world.as_of, "D")
    vacancies = world.vacancies
    opens = vacancies["opens_on"].to_numpy("datetime64[D]")
    closes = vacancies["closes_on"].to_numpy("datetime64[D]")
    mine = vacancies[
        (opens <= day)
        & (day <= closes)
        & vacancies["supplier_id"].astype(str).isin(supplier_ids).to_numpy()
    ]
    skills = world.vacancy_skills
    by_vacancy: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in skills[skills["vacancy_id"].isin(mine["vacancy_id"])].itertuples():
        by_vacancy[str(row.vacancy_id)].append(
            {"skill_uri": str(row.skill_uri), "required": bool(row.required), "min_level": 1}
        )
    bodies: dict[str, dict[str, Any]] = {}
    for row in mine.itertuples():
        bodies[str(row.vacancy_id)] = {
            "contract_id": None if row.contract_id is None else str(row.contract_id),
            "condition_id": None if row.condition_id is None else str(row.condition_id),
            "occupation_uri": str(row.occupation_uri),
            "title": str(row.title),
            "municipality": str(row.municipality),
            "job_form": str(row.job_form),
            "opens_on": row.opens_on.date().isoformat(),
            "closes_on": row.closes_on.date().isoformat(),
            "openings": int(row.openings),
            "skills": by_vacancy.get(str(row.vacancy_id), [])[:10],
        }
    return bodies


def _stand_in_boosters(seed: int) -> dict[str, Any]:
    """One small LightGBM ranker per direction on random features of the served schema."""
    import lightgbm as lgb

    from features.schema import FEATURE_NAMES

    boosters = {}
    for offset, direction in enumerate(("shortlist", "matches")):
        rng = np.random.default_rng(seed * 10 + offset)
        features = rng.random((400, len(FEATURE_NAMES)))
        labels = rng.integers(0, 3, 400)
        data = lgb.Dataset(
            features, label=labels, group=[20] * 20, feature_name=list(FEATURE_NAMES)
        )
        params = {
            "objective": "lambdarank",
            "num_leaves": 8,
            "min_data_in_leaf": 5,
            "num_threads": 1,
            "seed": seed,
            "deterministic": True,
            "verbosity": -1,
        }
        boosters[direction] = lgb.train(params, data, num_boost_round=20)
    return boosters


def _register_models(var_dir: Path) -> list[str]:
    from training.ranker import RankerConfig
    from training.registry import ModelRegistry

    registry = ModelRegistry(var_dir / "models")
    versions = []
    for seed in (1, 2):
        record = registry.register(
            _stand_in_boosters(seed),  # type: ignore[arg-type]
            config=RankerConfig(num_trees=20, num_threads=1),
            metrics={},
            training_fingerprint=f"bench-soak-stand-in-{seed}",
            notes="bench_soak stand-in: random features, for swapping only",
        )
        versions.append(record.version)
    registry.promote(versions[0])
    return versions


def _roles() -> list[str]:
    from service.storage.tables import Role

    return [role.value for role in Role]


def prepare(world_dir: Path, url: str, var_dir: Path, size: tuple[int, int]) -> Prepared:
    """Migrate and load the world into ``url``; users, stand-in models and query objects."""
    from features.world_store import load_world
    from service.storage.database import make_engine, make_session_factory, upgrade_to_head
    from service.storage.users import create_user
    from service.storage.world_io import load_world_into_database
    from training.synthetic import WorldConfig, generate_world

    if not (world_dir / "world.json").exists():
        log(f"generating a {size[0]:,} / {size[1]:,} world into {world_dir} ...")
        generate_world(WorldConfig(seekers=size[0], vacancies=size[1], seed=11), world_dir)
    world = load_world(world_dir)
    started = time.perf_counter()
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        rows = load_world_into_database(world, engine).total_rows
        log(f"database: migrated and {rows:,} rows loaded in {time.perf_counter() - started:.1f} s")
        coach_org, supplier_org, buyer = _choose_organisations(world)
        organisations = {
            "coach": coach_org,
            "employer": supplier_org,
            "procurement": buyer,
            "admin": coach_org,
        }
        tokens = {}
        with make_session_factory(engine)() as session:
            for role in _roles():
                # A role added later (e.g. a platform operator) belongs to the admin's side.
                organisation = organisations.get(role, coach_org)
                created = create_user(
                    session, name=f"soak {role}", role=role, organisation_id=organisation
                )
                tokens[role] = created.token
            session.commit()
    finally:
        engine.dispose()
    _warm_reference_cache(var_dir)
    versions = _register_models(var_dir)

    seekers = world.jobseekers
    mine = seekers[seekers["organisation_id"].astype(str) == coach_org]
    suppliers = world.suppliers
    supplier_ids = suppliers.loc[
        suppliers["organisation_id"].astype(str) == supplier_org, "supplier_id"
    ].astype(str)
    contracts = world.contracts
    theirs = contracts[contracts["supplier_id"].astype(str).isin(supplier_ids)]
    conditions = world.employment_conditions
    usable = conditions[conditions["contract_id"].isin(theirs["contract_id"])]
    bought = contracts[contracts["buyer_id"].astype(str) == buyer]
    return Prepared(
        url=url,
        var_dir=var_dir,
        as_of=world.as_of,
        tokens=tokens,
        versions=versions,
        seekers=[str(x) for x in mine["jobseeker_id"].head(300)],
        vacancies=_vacancy_bodies(world, list(supplier_ids)),
        conditions=[
            {
                "contract_id": str(row["contract_id"]),
                "condition_id": str(row["condition_id"]),
                "job_form": str(row["allowed_job_forms"][0]),
            }
            for row in usable.to_dict("records")
        ],
        supplier_id=str(supplier_ids.iloc[0]),
        contracts=[str(x) for x in bought["contract_id"]],
        cpv_code=str(bought["cpv_code"].iloc[0]),
    )


# ---------------------------------------------------------------------------- the catalogue


@dataclass
class Call:
    """One HTTP request of an action; ``then`` sees its answer (to grow the pools)."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    then: Callable[[httpx.Response], None] | None = None


@dataclass
class Pools:
    """Objects the soak's users own, shared by the client threads (under ``lock``)."""

    prepared: Prepared
    lock: threading.Lock = field(default_factory=threading.Lock)
    created_seekers: dict[str, str] = field(default_factory=dict)  # jobseeker -> vacancy aimed at
    seeker_bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    assessments: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    proposals: list[tuple[str, str]] = field(default_factory=list)
    claimed: set[tuple[str, str]] = field(default_factory=set)
    pending_claims: set[str] = field(default_factory=set)  # claims the employer has seen
    candidates: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    created_vacancies: dict[str, dict[str, Any]] = field(default_factory=dict)
    contracts: list[str] = field(default_factory=list)
    audit_after: int = 0

    def __post_init__(self) -> None:
        self.contracts = list(self.prepared.contracts)

    def seekers(self, rng: random.Random) -> str:
        with self.lock:
            created = list(self.created_seekers)
        if created and rng.random() < 0.5:
            return rng.choice(created)
        return rng.choice(self.prepared.seekers)

    def vacancies(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {**self.prepared.vacancies, **self.created_vacancies}


def _day(prepared: Prepared, days: int = 0) -> str:
    return (prepared.as_of + timedelta(days=days)).isoformat()


def _moment(prepared: Prepared, days: int = 0, hour: int = 10) -> str:
    """A time on the world's calendar (the service's "today" is the world's ``as_of``)."""
    at = datetime.combine(prepared.as_of + timedelta(days=days), datetime.min.time(), UTC)
    return (at + timedelta(hours=hour)).isoformat()


# Coaches -------------------------------------------------------------------------------------


def coach_list(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/coach/jobseekers", params={"limit": 20})


def coach_read(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/coach/jobseekers/{p.seekers(rng)}")


def coach_create(p: Pools, rng: random.Random) -> Call | None:
    """A jobseeker aimed at one of the employer's vacancies (its place and occupation), so
    that the employer's shortlist shows them once proposed."""
    vacancies = p.vacancies()
    if not vacancies:
        return None
    vacancy_id = rng.choice(sorted(vacancies))
    vacancy = vacancies[vacancy_id]
    body = {
        "first_name": "Soak",
        "last_name": f"Person-{uuid.uuid4().hex[:8]}",
        "home_municipality": vacancy["municipality"],
        "birth_year": rng.randint(1965, 2004),
        "unemployment_start": _day(p.prepared, -rng.randint(60, 800)),
        "preferred_occupations": [vacancy["occupation_uri"]],
        "max_commute_km": 40.0,
        "languages": [{"language": "fi", "level": "B2"}],
    }

    def then(response: httpx.Response) -> None:
        if response.status_code == 201:
            jobseeker_id = response.json()["jobseeker_id"]
            with p.lock:
                p.created_seekers[jobseeker_id] = vacancy_id
                p.seeker_bodies[jobseeker_id] = body

    return Call("POST", f"{API}/coach/jobseekers", json=body, then=then)


def coach_update(p: Pools, rng: random.Random) -> Call | None:
    with p.lock:
        if not p.seeker_bodies:
            return None
        jobseeker_id = rng.choice(sorted(p.seeker_bodies))
        body = {**p.seeker_bodies[jobseeker_id], "max_commute_km": float(rng.randint(20, 60))}
    return Call("PUT", f"{API}/coach/jobseekers/{jobseeker_id}", json=body)


def coach_erase(p: Pools, rng: random.Random) -> Call | None:
    with p.lock:
        # Erase only people the soak created, and keep a few to work with.
        if len(p.created_seekers) < 8:
            return None
        jobseeker_id = rng.choice(sorted(p.created_seekers))
        del p.created_seekers[jobseeker_id]
        p.seeker_bodies.pop(jobseeker_id, None)
        p.proposals = [pair for pair in p.proposals if pair[0] != jobseeker_id]
    return Call("DELETE", f"{API}/coach/jobseekers/{jobseeker_id}")


def coach_assess(p: Pools, rng: random.Random) -> Call | None:
    """A work trial showing the skills of the vacancy the person is aimed at."""
    with p.lock:
        if not p.created_seekers:
            return None
        jobseeker_id = rng.choice(sorted(p.created_seekers))
        vacancy_id = p.created_seekers[jobseeker_id]
    skills = p.vacancies().get(vacancy_id, {}).get("skills", [])
    body = {
        "assessed_on": _day(p.prepared, -rng.randint(1, 30)),
        "method": rng.choice(["work_trial", "observation", "test"]),
        "note": "soak",
        "observations": [
            {"skill_uri": s["skill_uri"], "level": rng.randint(2, 4), "confidence": 0.9}
            for s in skills
        ],
    }

    def then(response: httpx.Response) -> None:
        if response.status_code == 201:
            with p.lock:
                p.assessments[jobseeker_id].append(response.json()["assessment_id"])

    return Call("POST", f"{API}/coach/jobseekers/{jobseeker_id}/assessments", json=body, then=then)


def coach_assessments(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/coach/jobseekers/{p.seekers(rng)}/assessments")


def coach_matches(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/coach/jobseekers/{p.seekers(rng)}/matches", params={"k": 10})


def coach_propose(p: Pools, rng: random.Random) -> Call | None:
    with p.lock:
        proposed = set(p.proposals)
        waiting = [pair for pair in p.created_seekers.items() if pair not in proposed]
    if not waiting:
        return None
    jobseeker_id, vacancy_id = rng.choice(sorted(waiting))
    body = {
        "vacancy_id": vacancy_id,
        "consent_given_at": _moment(p.prepared, -1),
        "consent_method": rng.choice(["written", "verbal", "electronic"]),
        "note": "soak",
    }

    def then(response: httpx.Response) -> None:
        if response.status_code in (201, 409):  # 409: proposed by another thread already
            with p.lock:
                p.proposals.append((jobseeker_id, vacancy_id))

    return Call("POST", f"{API}/coach/jobseekers/{jobseeker_id}/proposals", json=body, then=then)


def coach_proposals(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/coach/jobseekers/{p.seekers(rng)}/proposals")


def coach_feedback(p: Pools, rng: random.Random) -> Call:
    body = {
        "vacancy_id": rng.choice(sorted(p.vacancies())),
        "reason_code": rng.choice(["commute", "language", "skills", "hours", "other"]),
        "comment": "soak",
    }
    return Call("POST", f"{API}/coach/jobseekers/{p.seekers(rng)}/feedback", json=body)


def coach_outcome(p: Pools, rng: random.Random) -> Call | None:
    """An interview the coach learnt of, for one of their proposals (a claim), once each."""
    with p.lock:
        open_pairs = [pair for pair in p.proposals if pair not in p.claimed]
        if not open_pairs:
            return None
        pair = rng.choice(open_pairs)
        p.claimed.add(pair)
    jobseeker_id, vacancy_id = pair
    body = {"vacancy_id": vacancy_id, "stage": "interviewed", "occurred_at": _moment(p.prepared)}
    return Call("POST", f"{API}/coach/jobseekers/{jobseeker_id}/outcomes", json=body)


# Employers -----------------------------------------------------------------------------------


def employer_list(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/employer/vacancies", params={"limit": 20})


def employer_read(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/employer/vacancies/{rng.choice(sorted(p.vacancies()))}")


def employer_create(p: Pools, rng: random.Random) -> Call | None:
    if not p.prepared.conditions:
        return None
    condition = rng.choice(p.prepared.conditions)
    template = p.prepared.vacancies[rng.choice(sorted(p.prepared.vacancies))]
    body = {
        **template,
        **condition,
        "title": f"Soak vacancy {uuid.uuid4().hex[:6]}",
        "opens_on": _day(p.prepared, -10),
        "closes_on": _day(p.prepared, 60),
        "openings": rng.randint(1, 3),
    }

    def then(response: httpx.Response) -> None:
        if response.status_code == 201:
            with p.lock:
                p.created_vacancies[response.json()["vacancy_id"]] = body

    return Call("POST", f"{API}/employer/vacancies", json=body, then=then)


def employer_update(p: Pools, rng: random.Random) -> Call | None:
    with p.lock:
        if not p.created_vacancies:
            return None
        vacancy_id = rng.choice(sorted(p.created_vacancies))
        body = {**p.created_vacancies[vacancy_id], "openings": rng.randint(1, 4)}
    return Call("PUT", f"{API}/employer/vacancies/{vacancy_id}", json=body)


def employer_shortlist(p: Pools, rng: random.Random) -> Call:
    """A shortlist, preferably of a vacancy a coach proposed someone to; the proposed
    candidates' pseudonyms are kept for the employer's outcomes."""
    with p.lock:
        proposed = [vacancy for _, vacancy in p.proposals]
    vacancies = p.vacancies()
    if proposed and rng.random() < 0.6:
        vacancy_id = rng.choice(proposed)
    else:
        vacancy_id = rng.choice(sorted(vacancies))

    def then(response: httpx.Response) -> None:
        if response.status_code == 200:
            found = {c["candidate"] for c in response.json()["results"] if c.get("proposed")}
            with p.lock:
                p.candidates[vacancy_id] |= found

    return Call(
        "GET", f"{API}/employer/vacancies/{vacancy_id}/shortlist", params={"k": 50}, then=then
    )


def employer_outcome(p: Pools, rng: random.Random) -> Call | None:
    with p.lock:
        known = [(v, c) for v, found in p.candidates.items() for c in sorted(found)]
        if not known:
            return None
        vacancy_id, candidate = rng.choice(known)
        # One outcome per candidate: the next one would repeat the interview.
        p.candidates[vacancy_id].discard(candidate)
    body = {"candidate": candidate, "stage": "interviewed", "occurred_at": _moment(p.prepared)}
    return Call("POST", f"{API}/employer/vacancies/{vacancy_id}/outcomes", json=body)


def employer_claims(p: Pools, rng: random.Random) -> Call:
    """The coaches' outcome claims waiting for this employer; kept for confirmation."""

    def then(response: httpx.Response) -> None:
        if response.status_code == 200:
            with p.lock:
                p.pending_claims |= {claim["claim_id"] for claim in response.json()}

    return Call("GET", f"{API}/employer/outcome-claims", params={"status": "pending"}, then=then)


def employer_confirm(p: Pools, rng: random.Random) -> Call | None:
    """Confirm a coach's claim: only then does the outcome count anywhere."""
    with p.lock:
        if not p.pending_claims:
            return None
        claim_id = rng.choice(sorted(p.pending_claims))
        p.pending_claims.discard(claim_id)
    return Call("POST", f"{API}/employer/outcome-claims/{claim_id}/confirm")


# Procurement ---------------------------------------------------------------------------------


def procurement_list(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/procurement/contracts", params={"limit": 20})


def procurement_read(p: Pools, rng: random.Random) -> Call:
    with p.lock:
        contract_id = rng.choice(p.contracts)
    return Call("GET", f"{API}/procurement/contracts/{contract_id}")


def procurement_ledger(p: Pools, rng: random.Random) -> Call:
    with p.lock:
        contract_id = rng.choice(p.contracts)
    return Call("GET", f"{API}/procurement/contracts/{contract_id}/ledger")


def procurement_create(p: Pools, rng: random.Random) -> Call:
    body = {
        "supplier_id": p.prepared.supplier_id,
        "cpv_code": p.prepared.cpv_code,
        "title": f"Soak contract {uuid.uuid4().hex[:6]}",
        "starts_on": _day(p.prepared, -30),
        "ends_on": _day(p.prepared, 365),
        "value_eur": float(rng.randint(10, 500) * 1000),
        "conditions": [
            {
                "target_groups": ["long_term_unemployed"],
                "hires_required": rng.randint(1, 5),
                "deadline": _day(p.prepared, 300),
            }
        ],
    }

    def then(response: httpx.Response) -> None:
        if response.status_code == 201:
            with p.lock:
                p.contracts.append(response.json()["contract_id"])

    return Call("POST", f"{API}/procurement/contracts", json=body, then=then)


def statistics_indicators(p: Pools, rng: random.Random) -> Call:
    by = rng.choice(["municipality", "contract", "country"])
    return Call("GET", f"{API}/statistics/indicators", params={"by": by})


def statistics_impact(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/statistics/impact", params={"by": "country"})


# Admins and operators ------------------------------------------------------------------------


def admin_model(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/admin/model")


def admin_audit(p: Pools, rng: random.Random) -> Call:
    with p.lock:
        after = p.audit_after

    def then(response: httpx.Response) -> None:
        if response.status_code == 200 and response.json():
            with p.lock:
                p.audit_after = max(p.audit_after, int(response.json()[-1]["seq"]))

    return Call("GET", f"{API}/admin/audit", params={"after": after, "limit": 50}, then=then)


def admin_verify(p: Pools, rng: random.Random) -> Call:
    return Call("GET", f"{API}/admin/audit/verify")


@dataclass(frozen=True)
class Action:
    name: str
    role: str
    weight: float
    build: Callable[[Pools, random.Random], Call | None]
    #: The audit log's ``route`` for a 200 answer, when the route is audited.
    audited: str | None = None
    #: Whether it changes the world (left out by ``--reads-only``: a steady world, where
    #: growing memory cannot be new people and vacancies).
    write: bool = False


#: Every request the soak sends, by role, with its share of the load. Reads outweigh writes,
#: as at an employment office; matches and shortlists (the audited reads) are the most common.
CATALOGUE: tuple[Action, ...] = (
    Action("jobseekers list", "coach", 3, coach_list),
    Action("jobseeker read", "coach", 3, coach_read),
    Action("jobseeker create", "coach", 3, coach_create, write=True),
    Action("jobseeker update", "coach", 1, coach_update, write=True),
    Action("jobseeker erase", "coach", 0.5, coach_erase, write=True),
    Action("assessment create", "coach", 3, coach_assess, write=True),
    Action("assessments list", "coach", 2, coach_assessments),
    Action("matches", "coach", 8, coach_matches, audited="coach.matches"),
    Action("proposal create", "coach", 3, coach_propose, write=True),
    Action("proposals list", "coach", 1, coach_proposals),
    Action("feedback", "coach", 1, coach_feedback, write=True),
    Action("outcome claim", "coach", 1, coach_outcome, write=True),
    Action("vacancies list", "employer", 2, employer_list),
    Action("vacancy read", "employer", 2, employer_read),
    Action("vacancy create", "employer", 1, employer_create, write=True),
    Action("vacancy update", "employer", 1, employer_update, write=True),
    Action("shortlist", "employer", 8, employer_shortlist, audited="employer.shortlist"),
    Action("outcome", "employer", 2, employer_outcome, write=True),
    Action("outcome claims", "employer", 1, employer_claims),
    Action("claim confirm", "employer", 1, employer_confirm, write=True),
    Action("contracts list", "procurement", 2, procurement_list),
    Action("contract read", "procurement", 1, procurement_read),
    Action("ledger", "procurement", 3, procurement_ledger),
    Action("contract create", "procurement", 0.5, procurement_create, write=True),
    Action("statistics indicators", "procurement", 1, statistics_indicators),
    Action("model status", "admin", 2, admin_model),
    Action("audit entries", "admin", 2, admin_audit),
    Action("audit verify", "admin", 0.5, admin_verify),
    Action("statistics impact", "admin", 1, statistics_impact),
    Action("audit entries", "operator", 1, admin_audit),
    Action("audit verify", "operator", 0.3, admin_verify),
)


# ---------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class Answer:
    at: float  # seconds since the soak started, when the request was sent
    took: float
    role: str
    action: str
    status: int  # 0: no answer (connection error or timeout)
    failure: str | None = None
    model_version: str | None = None
    body: str | None = None  # a 4xx or 5xx answer's body, cut short
    path: str = ""


@dataclass
class Record:
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: list[Answer] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.started

    def add(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def snapshot(self) -> list[Answer]:
        with self.lock:
            return list(self.answers)


def _send(client: httpx.Client, call: Call, action: Action, record: Record) -> None:
    sent = record.now()
    try:
        response = client.request(call.method, call.path, json=call.json, params=call.params)
    except httpx.HTTPError as error:
        failure = f"{type(error).__name__}: {error}"[:200]
        took = record.now() - sent
        record.add(
            Answer(
                sent, took, action.role, action.name, 0, failure, path=f"{call.method} {call.path}"
            )
        )
        return
    took = record.now() - sent
    version = None
    body = None
    if response.status_code >= 400:
        body = response.text[:300]
    elif action.audited and response.status_code == 200:
        version = response.json().get("model_version")
    record.add(
        Answer(
            sent,
            took,
            action.role,
            action.name,
            response.status_code,
            None,
            version,
            body,
            f"{call.method} {call.path}",
        )
    )
    if call.then is not None:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            call.then(response)


def client_thread(
    base: str,
    tokens: dict[str, str],
    pools: Pools,
    record: Record,
    until: float,
    rate: float,
    seed: int,
    timeout: float,
    reads_only: bool = False,
) -> None:
    """Send catalogue actions at ``rate`` per second until ``until`` (soak seconds)."""
    rng = random.Random(seed)
    actions = [a for a in CATALOGUE if a.role in tokens and not (reads_only and a.write)]
    weights = [a.weight for a in actions]
    clients = {
        role: httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
        for role, token in tokens.items()
    }
    try:
        due = record.now() + rng.random() / rate
        while due < until:
            time.sleep(max(0.0, due - record.now()))
            # After a stall (a cut connection, a dead worker) carry on at the rate rather than
            # catch up in a burst: the load stays bounded.
            due = max(due, record.now() - 1.0) + 1.0 / rate
            for _ in range(5):  # an action with nothing to act on yet gives way to another
                action = rng.choices(actions, weights)[0]
                try:
                    call = action.build(pools, rng)
                    if call is not None:
                        _send(clients[action.role], call, action, record)
                except Exception as error:
                    # A fault of this script (say, an answer of an unexpected shape after an
                    # API change) is told, and the load goes on.
                    log(f"  {action.role} {action.name}: the soak's client failed: {error!r}")
                    break
                if call is not None:
                    break
    finally:
        for client in clients.values():
            client.close()


# ---------------------------------------------------------------------------- faults


@dataclass
class Fault:
    kind: str
    at: float
    detail: str
    recovered_at: float | None = None
    recovery: str = ""
    #: The model version a swap made the champion.
    target: str | None = None
    #: The worker that replaced a killed one.
    new_pid: int | None = None
    #: When the last termination of a connection cut was done.
    ended: float | None = None


def _listening_inode(port: int) -> str | None:
    """The inode of the loopback socket listening on ``port`` (from /proc/net/tcp)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return fields[9]
    return None


def accepting(pid: int, inode: str) -> bool:
    """Whether worker ``pid`` accepts connections: its event loop polls the listening socket.

    Every worker inherits the listening socket when it starts; it registers it with its
    epoll only once its start-up (the engine build) is done and it serves.
    """
    try:
        fds = [
            entry.name
            for entry in Path(f"/proc/{pid}/fd").iterdir()
            if os.readlink(entry) == f"socket:[{inode}]"
        ]
        for info in Path(f"/proc/{pid}/fdinfo").iterdir():
            for line in info.read_text().splitlines():
                if line.startswith("tfd:") and line.split()[1] in fds:
                    return True
    except OSError:
        return False
    return False


def _wait_for_replacement(
    server: subprocess.Popen[bytes],
    port: int,
    killed: int,
    before: set[int],
    record: Record,
    limit: float,
) -> tuple[float | None, float | None, int | None]:
    """(restarted at, serving at, new pid): a new worker appeared, then it accepted."""
    inode = _listening_inode(port)
    deadline = time.monotonic() + limit
    restarted = None
    new: int | None = None
    while time.monotonic() < deadline and server.poll() is None:
        # A replacement that fails to start is replaced in turn: follow whichever is new.
        fresh = sorted(set(worker_pids(server)) - before - {killed})
        if fresh and restarted is None:
            restarted = record.now()
        for pid in fresh:
            new = pid
            if inode is not None and accepting(pid, inode):
                return restarted, record.now(), pid
        time.sleep(0.1)
    return restarted, None, new


def kill_worker(server: subprocess.Popen[bytes], port: int, record: Record, turn: int) -> Fault:
    workers = sorted(worker_pids(server))
    if not workers:
        return Fault("worker killed", record.now(), "no worker to kill", None, "no worker found")
    victim = workers[turn % len(workers)]
    at = record.now()
    os.kill(victim, signal.SIGKILL)
    restarted, ready, new = _wait_for_replacement(server, port, victim, set(workers), record, 120.0)
    fault = Fault("worker killed", at, f"SIGKILL to worker {victim}", new_pid=new)
    if restarted is None:
        fault.recovery = "NOT REPLACED within 120 s"
    elif ready is None:
        fault.recovery = f"replaced by {new} after {restarted - at:.1f} s, not serving at 120 s"
    else:
        fault.recovered_at = ready
        fault.recovery = (
            f"replaced by {new} after {restarted - at:.1f} s, serving after {ready - at:.1f} s"
        )
    return fault


def swap_model(base: str, admin_token: str, prepared: Prepared, record: Record, turn: int) -> Fault:
    """Odd turns: promote the other version and POST reload; even turns: POST rollback."""
    from training.registry import ModelRegistry

    headers = {"Authorization": f"Bearer {admin_token}"}
    at = record.now()
    with httpx.Client(base_url=base, headers=headers, timeout=30.0) as client:
        try:
            if turn % 2 == 0:
                registry = ModelRegistry(prepared.var_dir / "models")
                target = next(v for v in prepared.versions if v != registry.champion_version())
                registry.promote(target)
                response = client.post(f"{API}/admin/model/reload")
                how = f"promoted {target}, POST reload -> {response.status_code}"
            else:
                response = client.post(f"{API}/admin/model/rollback")
                how = f"POST rollback -> {response.status_code}"
                target = response.json().get("champion", "?") if response.is_success else "?"
        except httpx.HTTPError as error:
            return Fault("model swapped", at, f"the swap request failed: {error}")
    return Fault("model swapped", at, how, target=target)


def cut_connections(
    admin_url: str, database: str, record: Record, repeats: int, spacing: float = 0.25
) -> Fault:
    """Terminate every backend on the soak database, ``repeats`` times ``spacing`` apart.

    One cut mostly finds idle pooled connections (which the pool's pre-ping replaces); a
    short series also catches transactions in flight, as a database fail-over would.
    """
    from sqlalchemy import text

    from service.storage.database import make_engine

    at = record.now()
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    cut = []
    try:
        with engine.connect() as connection:
            for turn in range(repeats):
                if turn:
                    time.sleep(spacing)
                found = connection.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": database},
                )
                cut.append(int(found or 0))
    finally:
        engine.dispose()
    ended = record.now()
    return Fault(
        "connections cut",
        at,
        f"pg_terminate_backend x{repeats} over {ended - at:.1f} s: "
        f"{'+'.join(map(str, cut))} backends",
        ended=ended,
    )


def settle(faults: list[Fault], answers: list[Answer], end: float) -> None:
    """Recovery times read from the answers, and the failures each fault caused.

    A kill is over when the new worker accepts connections (seen by ``kill_worker``); a swap
    when no answer to a request sent after it carries the old model any more; a cut when a
    request sent after its last termination was answered 2xx (requests during the series of
    terminations may be answered 503). Failed requests (no answer) and 5xx are counted
    by the time they ended: a request in flight on a killed worker was sent before the kill.
    """
    ordered = sorted(faults, key=lambda f: f.at)
    for index, fault in enumerate(ordered):
        window_end = ordered[index + 1].at if index + 1 < len(ordered) else end
        sent_after = [a for a in answers if fault.at <= a.at < window_end]
        if fault.kind == "model swapped":
            target = fault.target
            versions = [a for a in sent_after if a.model_version]
            stale = [a for a in versions if a.model_version != target]
            first_new = next((a for a in versions if a.model_version == target), None)
            if first_new is None:
                fault.recovery = f"no answer from {target} before the next fault"
            else:
                first = first_new.at + first_new.took
                last_stale = max((a.at + a.took for a in stale), default=first)
                fault.recovered_at = max(last_stale, first)
                fault.recovery = (
                    f"serving {target}: first answer +{first - fault.at:.2f} s, "
                    f"{len(stale)} answers from the old model, the last +"
                    f"{last_stale - fault.at:.2f} s"
                )
        elif fault.kind == "connections cut":
            last_cut = fault.ended if fault.ended is not None else fault.at
            good = next((a for a in sent_after if a.at >= last_cut and 200 <= a.status < 300), None)
            if good is None:
                fault.recovery = "no 2xx answer before the next fault"
            else:
                fault.recovered_at = good.at + good.took
                fault.recovery = (
                    f"first 2xx answer to a request sent after the last termination "
                    f"+{fault.recovered_at - last_cut:.2f} s after it"
                )
        upto = fault.recovered_at if fault.recovered_at is not None else window_end
        failed = [
            a.at + a.took
            for a in answers
            if (a.status == 0 or a.status >= 500) and fault.at <= a.at + a.took < window_end
        ]
        during = sum(1 for ended in failed if ended <= upto)
        fault.recovery += (
            f"; {during} failed/5xx until recovered, {len(failed)} before the next fault"
        )


# ---------------------------------------------------------------------------- databases


@contextlib.contextmanager
def soak_database(kind: str, admin_url: str, root: Path) -> Iterator[tuple[str, str | None]]:
    """(url, PostgreSQL database name): a new database, dropped (or deleted) at the end."""
    from sqlalchemy import text

    from service.storage.database import make_engine, normalise_url

    if kind == "sqlite":
        path = root / "kohtaanto.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        yield f"sqlite:///{path.resolve()}", None
        return
    parsed = normalise_url(admin_url)
    if parsed.host not in LOOPBACK:
        raise SystemExit(f"--postgres-url must be on loopback, not {parsed.host}")
    name = f"kohtaanto_soak_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(
        admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False), name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def audit_counts(url: str, after: int) -> tuple[dict[str, int], int]:
    """Audit entries by route with ``seq`` > ``after``, and the highest ``seq``."""
    from sqlalchemy import func, select

    from service.storage.database import make_engine
    from service.storage.tables import AuditLogEntry

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(AuditLogEntry.route, func.count())
                .where(AuditLogEntry.seq > after)
                .group_by(AuditLogEntry.route)
            ).all()
            top = connection.scalar(select(func.coalesce(func.max(AuditLogEntry.seq), 0)))
    finally:
        engine.dispose()
    return {str(route): int(n) for route, n in rows}, int(top or 0)


# ---------------------------------------------------------------------------- the soak


def sample_memory(
    server: subprocess.Popen[bytes],
    record: Record,
    memory: dict[int, list[tuple[float, float]]],
    stop: threading.Event,
    every: float = 2.0,
) -> None:
    """RSS (MiB) of every worker process every ``every`` seconds until ``stop`` is set."""
    while True:
        for pid in worker_pids(server):
            rss = memory_gib(pid)[0] * 1024
            if not math.isnan(rss):  # NaN: the worker ended between listing and reading
                memory[pid].append((record.now(), rss))
        if stop.wait(every):
            return


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cli_verify(url: str, var_dir: Path) -> tuple[int, str]:
    """``kohtaanto audit verify`` on the soak database: (exit code, its last line)."""
    env = {
        **os.environ,
        "KOHTAANTO_PATHS__VAR_DIR": str(var_dir.resolve()),
        "KOHTAANTO_DATABASE_URL": url,
    }
    command = [str(Path(sys.executable).with_name("kohtaanto")), "audit", "verify"]
    # Its exit code is the answer (0 intact, otherwise tampered or unverifiable): no check.
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, cwd=REPO, check=False
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode, lines[-1] if lines else ""


def api_verify(base: str, token: str) -> dict[str, Any]:
    """``GET /admin/audit/verify`` once the load has stopped."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=120.0) as client:
            answer = client.get(f"{API}/admin/audit/verify")
        ok = answer.status_code == 200 and bool(answer.json().get("ok"))
        return {"api": f"{answer.status_code} {answer.text[:200]}", "api_ok": ok}
    except (httpx.HTTPError, ValueError) as error:
        return {"api": f"no answer: {error!r}", "api_ok": False}


def percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    p50, p99 = np.percentile(np.asarray(values) * 1000, [50, 99])
    return float(p50), float(p99)


def status_class(status: int) -> str:
    return "failed" if status == 0 else f"{status // 100}xx"


def summarise(
    answers: list[Answer],
    faults: list[Fault],
    audit: dict[str, int],
    memory: dict[int, list[tuple[float, float]]],
    verify: dict[str, Any],
    seconds: float,
    setup: dict[str, Any],
    allow_cut_503: bool = False,
) -> dict[str, Any]:
    by_role: dict[str, Counter[str]] = defaultdict(Counter)
    latency: dict[str, list[float]] = defaultdict(list)
    failures: Counter[str] = Counter()
    for a in answers:
        by_role[a.role][status_class(a.status)] += 1
        if a.status:
            latency[a.role].append(a.took)
        else:
            kind = (a.failure or "").split(":")[0] or "error"
            failures[f"{a.role} {a.action}: {kind}"] += 1
    server_errors = [a for a in answers if a.status >= 500]
    # A 503 to a request that was in flight while its connection was being terminated is the
    # service's documented "database unavailable", not a failure of its own; it is still a 5xx.
    cuts = [(f.at, f.ended or f.at) for f in faults if f.kind == "connections cut"]
    in_cut = [
        a
        for a in server_errors
        if a.status == 503 and any(a.at <= hi and a.at + a.took >= lo for lo, hi in cuts)
    ]
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    action_latency: dict[str, list[float]] = defaultdict(list)
    for a in answers:
        key = f"{a.role} {a.action}"
        statuses[key][a.status] += 1
        if a.status:
            action_latency[key].append(a.took)
    refused: dict[str, str] = {}
    for a in answers:
        if 400 <= a.status < 500:
            refused.setdefault(f"{a.role} {a.action} {a.status}", a.body or "")
    audited = {}
    mismatch = False
    for action in {a for a in CATALOGUE if a.audited}:
        route = action.audited or ""
        mine = [a for a in answers if a.action == action.name and a.role == action.role]
        ok = sum(1 for a in mine if a.status == 200)
        lost = sum(1 for a in mine if a.status == 0 or a.status >= 500)
        written = audit.get(route, 0)
        # A request cut off by a killed worker, a timeout or a connection cut during its
        # commit may have written its entry although no answer arrived; an answered 200
        # without its entry, or more entries than requests, is a defect.
        fine = ok <= written <= ok + lost
        mismatch |= not fine
        audited[route] = {
            "answered_200": ok,
            "no_answer_or_5xx": lost,
            "entries": written,
            "ok": fine,
        }
    # A replacement worker's RSS counts from when it served, not from its first breath.
    serving = {f.new_pid: f.recovered_at for f in faults if f.new_pid and f.recovered_at}
    workers = {}
    for pid, all_samples in memory.items():
        since = serving.get(pid, 0.0)
        samples = [s for s in all_samples if s[0] >= since] or all_samples[-1:]
        first, last = samples[0], samples[-1]
        times = np.asarray([t for t, _ in samples])
        sizes = np.asarray([rss for _, rss in samples])
        # The trend (least squares) tells steady growth from a step at warm-up.
        slope = float(np.polyfit(times, sizes, 1)[0]) * 60 if np.ptp(times) >= 10 else math.nan
        workers[str(pid)] = {
            "from_s": round(first[0], 1),
            "to_s": round(last[0], 1),
            "rss_start_mib": round(first[1], 1),
            "rss_end_mib": round(last[1], 1),
            "growth_mib": round(last[1] - first[1], 1),
            "trend_mib_per_min": round(slope, 1),
            "peak_mib": round(max(s[1] for s in samples), 1),
        }
    unreplaced = [f for f in faults if f.kind == "worker killed" and f.recovered_at is None]
    return {
        "setup": setup,
        "seconds": round(seconds, 1),
        "requests": len(answers),
        "by_role": {role: dict(sorted(c.items())) for role, c in sorted(by_role.items())},
        "latency_ms": {
            role: dict(zip(("p50", "p99"), (round(x, 1) for x in percentiles(v)), strict=True))
            for role, v in sorted(latency.items())
        },
        "statuses_by_action": {
            name: {str(k): v for k, v in sorted(c.items())} for name, c in sorted(statuses.items())
        },
        "latency_by_action_ms": {
            name: dict(zip(("p50", "p99"), (round(x, 1) for x in percentiles(v)), strict=True))
            for name, v in sorted(action_latency.items())
        },
        "failed": sum(failures.values()),
        "failures": dict(failures.most_common()),
        "server_errors": len(server_errors),
        "server_errors_503_in_cut": len(in_cut),
        "server_error_samples": [
            {
                "at_s": round(a.at, 2),
                "role": a.role,
                "action": a.action,
                "route": a.path,
                "status": a.status,
                "body": a.body,
            }
            for a in server_errors[:20]
        ],
        "client_error_samples": refused,
        "audit": audited,
        "audit_other_routes": {r: n for r, n in sorted(audit.items()) if r not in audited},
        "audit_verify": verify,
        "workers": workers,
        "faults": [
            {
                "kind": f.kind,
                "at_s": round(f.at, 2),
                "detail": f.detail,
                "recovered_at_s": None if f.recovered_at is None else round(f.recovered_at, 2),
                "recovery": f.recovery,
            }
            for f in sorted(faults, key=lambda f: f.at)
        ],
        "verdict": {
            "no_5xx": not server_errors or (allow_cut_503 and len(in_cut) == len(server_errors)),
            "audit_matches": not mismatch,
            "audit_intact": bool(verify.get("api_ok")) and verify.get("cli_exit") == 0,
            "killed_workers_replaced": not unreplaced,
        },
    }


def report(summary: dict[str, Any]) -> None:
    setup = summary["setup"]
    print(
        f"\nsoak: {summary['seconds']:.0f} s on {setup['database']} with {setup['workers']} "
        f"workers, {setup['clients']} client threads at {setup['rate']} req/s; "
        f"{summary['requests']:,} requests"
    )
    print("\nanswers by role and status class (failed = no answer: connection error/timeout)")
    classes = ["2xx", "3xx", "4xx", "5xx", "failed"]
    print(f"  {'role':12}" + "".join(f"{c:>8}" for c in classes) + f"{'p50 ms':>9}{'p99 ms':>9}")
    for role, counts in summary["by_role"].items():
        lat = summary["latency_ms"].get(role, {"p50": float("nan"), "p99": float("nan")})
        print(
            f"  {role:12}"
            + "".join(f"{counts.get(c, 0):>8}" for c in classes)
            + f"{lat['p50']:>9.1f}{lat['p99']:>9.1f}"
        )
    print("\nstatus codes (0 = no answer) and p50/p99 ms by action")
    for name, counts in summary["statuses_by_action"].items():
        lat = summary["latency_by_action_ms"].get(name, {"p50": float("nan"), "p99": float("nan")})
        codes = "  ".join(f"{k}: {v}" for k, v in counts.items())
        print(f"  {name:34} {lat['p50']:7.1f} {lat['p99']:7.1f}   {codes}")
    print(f"\nfailed requests (no answer): {summary['failed']}")
    for what, n in summary["failures"].items():
        print(f"  {n:5}  {what}")
    print(
        f"5xx answers: {summary['server_errors']} ({summary['server_errors_503_in_cut']} of them "
        "503 to requests in flight while the database connections were cut)"
    )
    for sample in summary["server_error_samples"]:
        print(
            f"  +{sample['at_s']:.2f} s {sample['role']} {sample['route']} -> "
            f"{sample['status']}: {sample['body']}"
        )
    print("\n4xx answers, one body per action and status (expected refusals, or a stale catalogue)")
    for what, body in summary["client_error_samples"].items():
        print(f"  {what}: {body}")
    print("\naudit entries written vs audited requests answered 200")
    for route, row in summary["audit"].items():
        print(
            f"  {route:20} entries {row['entries']:>6}  answered 200 {row['answered_200']:>6}  "
            f"no answer or 5xx {row['no_answer_or_5xx']:>4}  {'ok' if row['ok'] else 'MISMATCH'}"
        )
    if summary["audit_other_routes"]:
        others = ", ".join(f"{r}: {n}" for r, n in summary["audit_other_routes"].items())
        print(f"  entries of other routes: {others}")
    verify = summary["audit_verify"]
    print(
        f"  chain: API verify ok={verify.get('api_ok')} ({verify.get('api')}); "
        f"`kohtaanto audit verify` exit {verify.get('cli_exit')}: {verify.get('cli')}"
    )
    print("\nworker RSS (MiB), first and last sample of each worker process")
    for pid, row in summary["workers"].items():
        print(
            f"  worker {pid:>8} +{row['from_s']:>6.1f}..+{row['to_s']:>6.1f} s: "
            f"{row['rss_start_mib']:7.1f} -> {row['rss_end_mib']:7.1f} "
            f"(growth {row['growth_mib']:+.1f}, trend {row['trend_mib_per_min']:+.1f}/min, "
            f"peak {row['peak_mib']:.1f})"
        )
    print("\nfaults")
    for fault in summary["faults"]:
        print(f"  +{fault['at_s']:7.2f} s {fault['kind']:15} {fault['detail']}")
        print(f"  {'':11}{'':15} recovery: {fault['recovery']}")
    print("\nverdict")
    for name, ok in summary["verdict"].items():
        print(f"  [{'ok' if ok else 'FAILED'}] {name}")


def schedule(seconds: float, database: str) -> list[tuple[float, str]]:
    """One cycle of the faults every ~3 minutes (at least one), evenly spread; swaps alternate
    promote + reload and rollback, and an even number of them exercises both."""
    kinds = ["kill", "swap"] + (["cut"] if database == "postgresql" else [])
    cycles = max(1, min(5, int(seconds // 180)))
    faults = [kind for _ in range(cycles) for kind in kinds]
    if cycles % 2:
        faults.append("swap")
    step = seconds / (len(faults) + 1)
    return [(step * (i + 1), kind) for i, kind in enumerate(faults)]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("KOHTAANTO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a loopback server's database to create and drop the soak database from",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=12.0, help="requests per second, in all")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--world", type=Path, default=Path("var/bench/soak/world"))
    parser.add_argument("--root", type=Path, default=Path("var/bench/soak"))
    parser.add_argument("--seekers", type=int, default=2000, help="when generating")
    parser.add_argument("--vacancies", type=int, default=800, help="when generating")
    parser.add_argument(
        "--cut-repeats", type=int, default=8, help="terminations per connection cut, 0.25 s apart"
    )
    parser.add_argument(
        "--allow-cut-503",
        action="store_true",
        help="do not fail on 503 answers to requests in flight while connections were cut",
    )
    parser.add_argument(
        "--reads-only",
        action="store_true",
        help="send no writes: a steady world, to tell a leak from a growing engine",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="also print the summary as JSON")
    args = parser.parse_args()
    if not 0 < args.minutes <= 120 or not 0 < args.rate <= 500 or not 1 <= args.clients <= 64:
        parser.error("--minutes must be in (0, 120], --rate in (0, 500], --clients in [1, 64]")
    if not 1 <= args.cut_repeats <= 100:
        parser.error("--cut-repeats must be in [1, 100]")
    seconds = args.minutes * 60.0
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    var_dir = root / f"var-{args.database}"
    # Every run has a new database, so it starts a new service folder too: the audit seals
    # and keys kept beside an earlier database would rightly call the new one tampered, and
    # the stand-in models are registered anew so that the swaps start from a known champion.
    # Only the reference-data cache is kept.
    if var_dir.is_dir():
        for entry in var_dir.iterdir():
            if entry.name == "cache":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    with soak_database(args.database, args.postgres_url, root) as (url, pg_name):
        try:
            prepared = prepare(args.world, url, var_dir, (args.seekers, args.vacancies))
        except Exception as error:
            raise SetupError(f"preparing the soak failed: {error!r}") from error
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server_log = root / f"server-{args.database}.log"
        server = start_server(var_dir, url, port, args.workers, server_log)
        record = Record()
        faults: list[Fault] = []
        memory: dict[int, list[tuple[float, float]]] = defaultdict(list)
        try:
            try:
                ready_s = wait_ready(server, base, args.workers, 600.0, server_log)
            except (RuntimeError, TimeoutError) as error:
                raise SetupError(str(error)) from error
            log(
                f"server pid {server.pid} on {base}, workers {worker_pids(server)}, "
                f"ready in {ready_s:.0f} s; soaking for {seconds:.0f} s"
            )
            _, audit_before = audit_counts(url, 0)
            pools = Pools(prepared)
            pools.audit_after = audit_before
            record = Record()
            tokens = dict(prepared.tokens)
            threads = [
                threading.Thread(
                    target=client_thread,
                    args=(
                        base,
                        tokens,
                        pools,
                        record,
                        seconds,
                        args.rate / args.clients,
                        args.seed + i,
                        args.timeout,
                        args.reads_only,
                    ),
                    name=f"client-{i}",
                    daemon=True,
                )
                for i in range(args.clients)
            ]
            for thread in threads:
                thread.start()
            stop_sampling = threading.Event()
            sampler = threading.Thread(
                target=sample_memory,
                args=(server, record, memory, stop_sampling),
                name="memory",
                daemon=True,
            )
            sampler.start()
            plan = schedule(seconds, args.database)
            turns: Counter[str] = Counter()
            while record.now() < seconds:
                if plan and record.now() >= plan[0][0]:
                    _, kind = plan.pop(0)
                    turn = turns[kind]
                    turns[kind] += 1
                    if kind == "kill":
                        fault = kill_worker(server, port, record, turn)
                    elif kind == "swap":
                        fault = swap_model(base, tokens["admin"], prepared, record, turn)
                    else:
                        fault = cut_connections(
                            args.postgres_url, pg_name or "", record, args.cut_repeats
                        )
                    faults.append(fault)
                    log(f"  +{fault.at:6.1f} s {fault.kind}: {fault.detail} {fault.recovery}")
                    continue
                time.sleep(0.2)
            for thread in threads:
                thread.join(args.timeout + 5.0)
            stop_sampling.set()
            sampler.join()
            elapsed = record.now()
            verify = api_verify(base, tokens["admin"])
        finally:
            stop_server(server)
        log(f"server stopped (pid {server.pid}, exit {server.returncode}); log in {server_log}")
        written, _ = audit_counts(url, audit_before)
        verify["cli_exit"], verify["cli"] = cli_verify(url, var_dir)

    answers = record.snapshot()
    settle(faults, answers, elapsed)
    setup = {
        "database": args.database,
        "workers": args.workers,
        "clients": args.clients,
        "rate": args.rate,
        "minutes": args.minutes,
        "models": prepared.versions,
        "roles": sorted(prepared.tokens),
    }
    summary = summarise(
        answers, faults, written, dict(memory), verify, elapsed, setup, args.allow_cut_503
    )
    report(summary)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    return 0 if all(summary["verdict"].values()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SetupError as problem:
        log(f"bench_soak: {problem}")
        sys.exit(2)
