"""Time every page of the web application, and the JSON route each mirrors, in-process.

    python bench/bench_pages.py [--world national|small] [--database sqlite|postgresql]
                                [--requests 200] [--budget 20] [--sample 20] [--http]
                                [--only PATHS] [--profile PATHS]

Prepares once: the national world (300,000 jobseekers / 100,000 vacancies) is
``bench/bench_service.py``'s SQLite database under ``var/bench/service/`` (its ``prepare``
builds it the first time, about three minutes with the world's generation); ``--database
postgresql`` bulk-loads the same world into the database ``kohtaanto_bench_pages_<world>`` on
the server of ``--postgres`` once (kept while the world's fingerprint is unchanged);
``--world small`` is a 3,000 / 3,000 world under ``var/bench/pages/small``. Each run migrates
the database to head (new revisions add tables and indexes; nothing is rebuilt).

Picks the heaviest subjects of each role: the employment service with the largest caseload,
the employer organisation with the most vacancies, the procurement unit with the most
contracts, and an operator; creates one user for each (a password for the web sign-in and a
bearer token for the JSON peers), seeds a few consented proposals from the coach's caseload
to the employer's vacancies so the proposals pages have rows, and registers a challenger
model (never promoted) for the model card page. Builds the application once (``create_app``:
the matching engine over the whole world) and signs each user in through ``/app/sign-in``
like a browser.

Then requests every GET page under ``/app/`` that the application routes (path parameters
filled from a seeded sample of the subjects' people, vacancies, contracts and assessments;
the caseload also with a name search, each kind of filter and each order; the searches with
short and long queries), ``--requests`` times each in a shuffled order within ``--budget``
seconds, through Starlette's TestClient in this process, and the JSON route the page
mirrors right after it; ``/healthz`` is the floor (routing, middleware, the in-process client).

Prints per route: p50, p95, p99 and max in milliseconds, the median body size and the non-200
answers; then the slowest pages against the targets of issue 13 (every page p95 <= 100 ms,
the skill search <= 30 ms), with the machine's load average (other work inflates every
figure). ``--profile`` runs cProfile over every thread serving a few requests of the pages
named. ``--http`` repeats the pages (at most 50 requests each) over HTTP against
``kohtaanto serve`` (two workers on loopback, stopped by its process id at the end).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_service import prepare as prepare_service_world  # noqa: E402

PAGE_TARGET_P95_MS = 100.0
SEARCH_TARGET_MS = 30.0
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_DATABASE = "kohtaanto_bench_pages"
PASSWORD = "bench pages password 13"
SMALL_SIZE = (3000, 3000)
NATIONAL_SIZE = (300_000, 100_000)


# ---------------------------------------------------------------------------- preparation


@dataclass(frozen=True)
class Database:
    url: str
    world_dir: Path
    var_dir: Path
    as_of: str
    #: A challenger in the service's registry (never promoted: the rules keep serving).
    model_version: str


def prepare_database(world: str, database: str, postgres: str) -> Database:
    """The world's database, migrated to head; built the first time only."""
    from service.storage.database import upgrade_to_head

    if world == "national":
        world_dir, root, size = REPO / "var/bench/world", REPO / "var/bench/service", NATIONAL_SIZE
    else:
        world_dir, root = REPO / "var/bench/pages/small-world", REPO / "var/bench/pages/small"
        size = SMALL_SIZE
    # bench_service's preparation: the world (generated when missing) in a SQLite file, and
    # its reference-data cache. Its users and query ids are not used here.
    prepared = prepare_service_world(world_dir, root, size, 300, seed=7)
    if database == "sqlite":
        url = f"sqlite:///{prepared.database.resolve()}"
        # The service's folder beside that database (bench_service serves from it too): the
        # same audit seal key and pseudonym key for every process writing to the database.
        var_dir = root
    else:
        url = _prepare_postgres(world_dir, postgres, f"{POSTGRES_DATABASE}_{world}")
        var_dir = REPO / "var/bench/pages" / f"{world}-{database}"
        var_dir.mkdir(parents=True, exist_ok=True)
        cache = var_dir / "cache"
        if not cache.exists():
            cache.symlink_to((root / "cache").resolve(), target_is_directory=True)
    started = time.perf_counter()
    upgrade_to_head(url)
    print(f"database {_safe(url)}: at head ({time.perf_counter() - started:.1f} s)")
    return Database(url, world_dir, var_dir, prepared.as_of, _challenger(var_dir / "models"))


def _challenger(root: Path) -> str:
    """A tiny challenger in the registry, for the model card page (registered once)."""
    import lightgbm as lgb

    from features.schema import FEATURE_NAMES
    from matching.scoring import DIRECTIONS
    from training.ranker import RankerConfig
    from training.registry import ModelRegistry, gate_notes

    registry = ModelRegistry(root)
    existing = registry.list()
    if existing:
        return existing[-1].version
    rng = np.random.default_rng(13)
    features = rng.random((200, len(FEATURE_NAMES)), dtype=np.float32)
    labels = (features[:, 0] > 0.7).astype(int)
    data = lgb.Dataset(features, label=labels, group=[20] * 10, feature_name=list(FEATURE_NAMES))
    params = {"objective": "lambdarank", "num_leaves": 4, "verbosity": -1, "num_threads": 1}
    booster = lgb.train(params, data, num_boost_round=3)
    record = registry.register(
        dict.fromkeys(DIRECTIONS, booster),
        config=RankerConfig(num_threads=1),
        metrics={"shortlist/ndcg@10": 0.5},
        training_fingerprint="bench-pages",
        notes=gate_notes(False, ["a bench challenger on random data, never promoted"]),
        card_sections="## Bench\n\nRegistered by bench/bench_pages.py for the model card page.",
    )
    return record.version


def _safe(url: str) -> str:
    from service.storage.database import normalise_url

    return normalise_url(url).render_as_string(hide_password=True)


def _prepare_postgres(world_dir: Path, admin_url: str, name: str) -> str:
    """The world bulk-loaded into PostgreSQL database ``name``, kept between runs."""
    from sqlalchemy import text

    from features.world_store import load_world
    from service.storage.database import make_engine, normalise_url, upgrade_to_head
    from service.storage.world_io import (
        META_WORLD_FINGERPRINT,
        load_world_into_database,
        read_meta,
        world_fingerprint,
    )

    manifest = json.loads((world_dir / "world.json").read_text(encoding="utf-8"))
    fingerprint = world_fingerprint(manifest)
    url = normalise_url(admin_url).set(database=name).render_as_string(hide_password=False)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if exists:
                engine = make_engine(url)
                try:
                    loaded = read_meta(engine).get(META_WORLD_FINGERPRINT)
                except Exception:  # an interrupted load: no meta table or no row
                    loaded = None
                finally:
                    engine.dispose()
                if loaded == fingerprint:
                    return url
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    print(f"loading {world_dir} into PostgreSQL database {name} ...")
    started = time.perf_counter()
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        report = load_world_into_database(load_world(world_dir), engine)
    finally:
        engine.dispose()
    # Statistics for the planner and the visibility map for index-only scans, as autovacuum
    # would leave a database that has been running for a while.
    maintenance = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as connection:
            connection.execute(text("VACUUM (ANALYZE)"))
    finally:
        maintenance.dispose()
    gc.collect()
    print(
        f"  {report.total_rows:,} rows bulk-loaded, vacuumed and analysed in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return url


# ---------------------------------------------------------------------------- subjects


@dataclass
class Subjects:
    """The heaviest organisation of each role and a seeded sample of what it owns."""

    coach_org: str
    caseload: int
    employer_org: str
    vacancies_owned: int
    buyer_org: str
    contracts_owned: int
    jobseekers: list[str]
    vacancies: list[str]
    contracts: list[str]
    assessments: dict[str, str]
    #: role -> (username, bearer token)
    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    proposals: dict[str, str] = field(default_factory=dict)


def pick_subjects(url: str, as_of: str, sample: int, seed: int) -> Subjects:
    """Find the subjects, create one user per role (password and token), seed proposals."""
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from service.operations import accounts
    from service.settings import WebSettings
    from service.storage.database import make_engine, make_session_factory
    from service.storage.tables import (
        AssessmentRecord,
        ContractRecord,
        JobseekerRecord,
        Proposal,
        SupplierRecord,
        VacancyRecord,
    )
    from service.storage.users import create_user

    rng = np.random.default_rng(seed)
    engine = make_engine(url)
    day = datetime.fromisoformat(as_of).date()
    try:
        with make_session_factory(engine)() as session:
            count = func.count().label("n")
            coach_org, caseload = session.execute(
                select(JobseekerRecord.organisation_id, count)
                .group_by(JobseekerRecord.organisation_id)
                .order_by(count.desc(), JobseekerRecord.organisation_id)
                .limit(1)
            ).one()
            employer_org, owned = session.execute(
                select(SupplierRecord.organisation_id, count)
                .join(VacancyRecord, VacancyRecord.supplier_id == SupplierRecord.supplier_id)
                .group_by(SupplierRecord.organisation_id)
                .order_by(count.desc(), SupplierRecord.organisation_id)
                .limit(1)
            ).one()
            buyer_org, contracts_owned = session.execute(
                select(ContractRecord.buyer_id, count)
                .group_by(ContractRecord.buyer_id)
                .order_by(count.desc(), ContractRecord.buyer_id)
                .limit(1)
            ).one()
            people = sorted(
                session.scalars(
                    select(JobseekerRecord.jobseeker_id).where(
                        JobseekerRecord.organisation_id == coach_org
                    )
                )
            )
            jobseekers = sorted(rng.choice(people, min(sample, len(people)), replace=False))
            mine = (
                select(VacancyRecord.vacancy_id, VacancyRecord.opens_on, VacancyRecord.closes_on)
                .join(SupplierRecord, SupplierRecord.supplier_id == VacancyRecord.supplier_id)
                .where(SupplierRecord.organisation_id == employer_org)
                .order_by(VacancyRecord.vacancy_id)
            )
            rows = session.execute(mine).all()
            open_now = [r.vacancy_id for r in rows if r.opens_on <= day <= r.closes_on]
            pool = open_now if len(open_now) >= min(sample, len(rows)) else [r[0] for r in rows]
            vacancies = sorted(rng.choice(pool, min(sample, len(pool)), replace=False))
            owned_contracts = sorted(
                session.scalars(
                    select(ContractRecord.contract_id).where(ContractRecord.buyer_id == buyer_org)
                )
            )
            contracts = sorted(
                rng.choice(owned_contracts, min(sample, len(owned_contracts)), replace=False)
            )
            assessments = {
                jid: aid
                for jid, aid in session.execute(
                    select(AssessmentRecord.jobseeker_id, func.max(AssessmentRecord.assessment_id))
                    .where(AssessmentRecord.jobseeker_id.in_(jobseekers))
                    .group_by(AssessmentRecord.jobseeker_id)
                )
            }
            subjects = Subjects(
                coach_org,
                caseload,
                employer_org,
                owned,
                buyer_org,
                contracts_owned,
                [str(j) for j in jobseekers],
                [str(v) for v in vacancies],
                [str(c) for c in contracts],
                assessments,
            )
            stamp = f"{int(time.time())}-{os.getpid()}"
            user_ids: dict[str, int] = {}
            for role, organisation in (
                ("coach", coach_org),
                ("employer", employer_org),
                ("procurement", buyer_org),
                ("operator", coach_org),
                ("admin", coach_org),
            ):
                username = f"bench-pages-{role}-{stamp}"
                created = create_user(
                    session,
                    name=f"bench pages {role}",
                    role=role,
                    organisation_id=organisation,
                    username=username,
                )
                subjects.users[role] = (username, created.token)
                session.flush()
                user_ids[role] = created.user.user_id
            session.commit()
            settings = WebSettings()
            for username, _token in subjects.users.values():
                accounts.set_password(session, settings, username, PASSWORD)
            # Consented proposals from the caseload to the sampled vacancies, so that the
            # proposals pages and the shortlists' proposed rows have something to show.
            proposer = user_ids["coach"]
            now = datetime.now(UTC)
            taken: set[tuple[str, str]] = set()
            for proposal_id, person_id, vacancy_id in session.execute(
                select(Proposal.proposal_id, Proposal.jobseeker_id, Proposal.vacancy_id).where(
                    Proposal.vacancy_id.in_(subjects.vacancies)
                )
            ):
                taken.add((person_id, vacancy_id))
                subjects.proposals.setdefault(vacancy_id, proposal_id)
            proposed = {vacancy for _person, vacancy in taken}
            for n, vacancy_id in enumerate(subjects.vacancies):
                if vacancy_id in proposed:  # seeded by an earlier run
                    continue
                for person in rng.choice(people, 3, replace=False):
                    if (str(person), vacancy_id) in taken:
                        continue
                    taken.add((str(person), vacancy_id))
                    proposal_id = f"P-BENCH-{stamp}-{n}-{person}"
                    session.add(
                        Proposal(
                            proposal_id=proposal_id,
                            jobseeker_id=str(person),
                            vacancy_id=vacancy_id,
                            proposed_by=proposer,
                            consent_given_at=now,
                            consent_method="written",
                            note="bench",
                        )
                    )
                    subjects.proposals.setdefault(vacancy_id, proposal_id)
            session.commit()
    finally:
        engine.dispose()
    return subjects


# ---------------------------------------------------------------------------- what to request

#: Query strings each caseload page is also timed with (the coach's heavy cases).
CASELOAD_VARIANTS = (
    "q=ann",
    "q=anna+berg",
    "group=long_term_unemployed",
    "group=partial_work_capacity",
    "eligibility=now",
    "eligibility=soon",
    "sort=name",
    "sort=days_asc",
    "page=40",
)
#: The skill search as a coach types: a few letters, then whole phrases.
SHORT_QUERIES = ("we", "ca", "dri", "man", "sal", "cle", "fo", "co")
LONG_QUERIES = (
    "manage staff",
    "provide customer service",
    "operate forklift",
    "use spreadsheets software",
    "clean rooms",
    "prepare food",
    "drive vehicles",
    "assist with personal hygiene",
)
#: Page path templates -> the JSON route they mirror (``None``: no JSON peer).
PEERS: dict[str, str | None] = {
    "/app/coach/": "/api/v1/coach/jobseekers?limit=50",
    "/app/coach/jobseekers/{jobseeker_id}": "/api/v1/coach/jobseekers/{jobseeker_id}",
    "/app/coach/jobseekers/{jobseeker_id}/assessments/new": None,
    "/app/coach/jobseekers/{jobseeker_id}/assessments/{assessment_id}": (
        "/api/v1/coach/jobseekers/{jobseeker_id}/assessments"
    ),
    "/app/coach/jobseekers/{jobseeker_id}/matches": (
        "/api/v1/coach/jobseekers/{jobseeker_id}/matches?k=20"
    ),
    "/app/coach/jobseekers/{jobseeker_id}/plan": (
        "/api/v1/coach/jobseekers/{jobseeker_id}/matches?k=50&factors=false"
    ),
    "/app/coach/jobseekers/{jobseeker_id}/outcomes": (
        "/api/v1/coach/jobseekers/{jobseeker_id}/outcome-claims"
    ),
    "/app/coach/jobseekers/{jobseeker_id}/vacancies/{vacancy_id}/propose": (
        "/api/v1/coach/jobseekers/{jobseeker_id}/proposals"
    ),
    "/app/coach/skill-search": "/api/v1/reference/skills?q={q}",
    "/app/employer/": "/api/v1/employer/vacancies?limit=50",
    "/app/employer/occupation-search": "/api/v1/reference/occupations?q={q}",
    "/app/employer/vacancies/new": "/api/v1/employer/contracts",
    "/app/employer/vacancies/{vacancy_id}": (
        "/api/v1/employer/vacancies/{vacancy_id}/shortlist?k=20"
    ),
    "/app/employer/vacancies/{vacancy_id}/proposals": (
        "/api/v1/employer/vacancies/{vacancy_id}/proposals"
    ),
    "/app/procurement/": "/api/v1/procurement/contracts?limit=50",
    "/app/procurement/contracts/{contract_id}": (
        "/api/v1/procurement/contracts/{contract_id}/ledger"
    ),
    "/app/procurement/statistics": "/api/v1/statistics/indicators",
    "/app/operator/": "/api/v1/admin/models",
    "/app/operator/audit": "/api/v1/admin/audit?limit=50",
    "/app/operator/audit/verify": "/api/v1/admin/audit/verify",
    "/app/operator/models/{version}": "/api/v1/admin/models/{version}",
}
SECTIONS = ("coach", "employer", "procurement", "operator")
_PARAM = re.compile(r"{([a-z_]+)(?::path)?}")


@dataclass
class Target:
    """One timed route: a page or its JSON peer, with the URLs it is requested with."""

    label: str
    role: str
    kind: str  # "page", "json", "search", "floor"
    urls: list[str]
    peer_of: str | None = None
    latencies: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def row(self) -> tuple[float, float, float, float, float]:
        ms = np.asarray(self.latencies) * 1000
        p50, p95, p99 = np.percentile(ms, [50, 95, 99]) if len(ms) else (np.nan,) * 3
        size = float(np.median(self.sizes)) if self.sizes else np.nan
        return float(p50), float(p95), float(p99), float(ms.max()) if len(ms) else np.nan, size

    @property
    def failures(self) -> int:
        return sum(n for code, n in self.statuses.items() if code != 200)


def _role_of(path: str) -> str:
    for section in SECTIONS:
        if path.startswith(f"/app/{section}"):
            return section
    return "coach"


def _literal_values(route: Any, name: str) -> list[str]:
    """The values of a path parameter typed as a Literal (e.g. a chart's name)."""
    import typing

    for param in route.dependant.path_params:
        if param.name == name:
            annotation = getattr(param, "type_", None) or param.field_info.annotation
            return [str(v) for v in typing.get_args(annotation)]
    return []


def _flat_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(prefix, route) of every route, through included routers (FastAPI keeps those lazily)."""
    found: list[tuple[str, Any]] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found += _flat_routes(included.routes, prefix + route.include_context.prefix)
        else:
            found.append((prefix, route))
    return found


def _fill(template: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values[m.group(1)], template)


def plan_targets(
    app: Any, subjects: Subjects, requests: int, seed: int, version: str
) -> tuple[list[Target], list[str]]:
    """Every GET page under /app/ with its URLs, its JSON peer; the routes left out and why."""
    from fastapi.routing import APIRoute

    rng = np.random.default_rng(seed)
    with_assessment = [j for j in subjects.jobseekers if j in subjects.assessments]
    with_proposal = [v for v in subjects.vacancies if v in subjects.proposals]
    targets: list[Target] = []
    skipped: list[str] = []
    for prefix, route in _flat_routes(app.routes):
        if not isinstance(route, APIRoute) or "GET" not in (route.methods or ()):
            continue
        path = prefix + route.path
        if not path.startswith("/app/") or path in ("/app/", "/app/sign-in"):
            continue
        names = _PARAM.findall(path)
        rows: list[dict[str, str]] = []
        for i in range(requests):
            values: dict[str, str] = {}
            people = with_assessment if "assessment_id" in names else subjects.jobseekers
            vacancies = with_proposal if "proposal_id" in names else subjects.vacancies
            values["jobseeker_id"] = people[i % len(people)] if people else ""
            values["assessment_id"] = subjects.assessments.get(values["jobseeker_id"], "")
            values["vacancy_id"] = vacancies[i % len(vacancies)] if vacancies else ""
            values["proposal_id"] = subjects.proposals.get(values["vacancy_id"], "")
            values["contract_id"] = subjects.contracts[i % len(subjects.contracts)]
            values["version"] = version
            for name in names:
                literal = _literal_values(route, name)
                if literal:
                    values[name] = literal[i % len(literal)]
            rows.append(values)
        missing = [n for n in names if not rows or not rows[0].get(n)]
        if missing:
            skipped.append(f"{path} (no sample for {', '.join(missing)})")
            continue
        search = path.endswith("-search")
        role = _role_of(path)
        variants: list[tuple[str, list[str]]] = []
        if search:
            for kind, words in (("short", SHORT_QUERIES), ("long", LONG_QUERIES)):
                variants.append((f"{path}?q= ({kind})", [f"q={w}" for w in words]))
        else:
            variants.append((path, [""]))
        if path == "/app/coach/":
            variants += [(f"{path}?{query}", [query]) for query in CASELOAD_VARIANTS]
        for label, options in variants:
            urls, peers = [], []
            peer = PEERS.get(path) if "?" not in label or search else None
            for i, values in enumerate(rows):
                query = options[i % len(options)]
                url = _fill(path, values) + (f"?{query}" if query else "")
                urls.append(url)
                if peer:
                    q = query.removeprefix("q=").replace("+", " ")
                    peers.append(_fill(peer.replace("{q}", q), values))
            order = rng.permutation(len(urls))
            page = Target(label, role, "search" if search else "page", [urls[i] for i in order])
            targets.append(page)
            if peer:
                targets.append(
                    Target(
                        peer.split("?")[0] + (" (same queries)" if search else ""),
                        role,
                        "json",
                        [peers[i] for i in order],
                        peer_of=label,
                    )
                )
    return targets, skipped


# ---------------------------------------------------------------------------- measuring

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_settings(database: Database) -> Any:
    from service.settings import PathSettings, ServiceSettings, Settings

    return Settings(
        database_url=database.url,
        paths=PathSettings(var_dir=database.var_dir),
        service=ServiceSettings(access_log=False, log_level="warning", metrics_port=0),
    )


def sign_in(client: Any, username: str) -> None:
    """Sign in through the form, like a browser: the pre-session CSRF cookie, then POST."""
    form = client.get("/app/sign-in")
    token = _CSRF.search(form.text)
    if form.status_code != 200 or token is None:
        raise RuntimeError(f"/app/sign-in answered {form.status_code} without a form token")
    answer = client.post(
        "/app/sign-in",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    if answer.status_code != 303 or "kohtaanto_session" not in client.cookies:
        raise RuntimeError(f"signing in as {username} failed: {answer.status_code}")


def time_target(client: Any, target: Target, headers: dict[str, str], budget: float) -> None:
    """Request every URL of ``target`` in turn (stopping after ``budget`` seconds)."""
    for url in target.urls[:3]:  # warm-up: first-use caches, indexes, templates
        client.get(url, headers=headers)
    started = time.perf_counter()
    for url in target.urls:
        t0 = time.perf_counter()
        answer = client.get(url, headers=headers)
        target.latencies.append(time.perf_counter() - t0)
        target.sizes.append(len(answer.content))
        target.statuses[answer.status_code] = target.statuses.get(answer.status_code, 0) + 1
        if time.perf_counter() - started > budget:
            break


def _audit_entries(url: str) -> int:
    from sqlalchemy import func, select

    from service.storage.database import make_engine
    from service.storage.tables import AuditLogEntry

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(AuditLogEntry)) or 0)
    finally:
        engine.dispose()


def print_table(targets: list[Target]) -> None:
    header = (
        f"{'route':66} {'role':11} {'n':>4} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>6} "
        f"{'KiB':>6} {'non-200':>8}"
    )
    print(header)
    print("-" * len(header))
    for t in targets:
        p50, p95, p99, worst, size = t.row()
        label = ("  json " if t.kind == "json" else "") + t.label
        bad = ",".join(f"{c}x{n}" for c, n in sorted(t.statuses.items()) if c != 200)
        flag = " *" if t.kind in ("page", "search") and p95 > PAGE_TARGET_P95_MS else ""
        print(
            f"{label[:66]:66} {t.role:11} {len(t.latencies):>4} {p50:6.1f} {p95:6.1f} "
            f"{p99:6.1f} {worst:6.1f} {size / 1024:6.1f} {bad or '-':>8}{flag}"
        )


def profile_target(app: Any, target: Target, username: str, requests: int) -> None:
    """cProfile over every thread that serves ``requests`` of one page, top functions."""
    import cProfile
    import pstats
    import threading

    from fastapi.testclient import TestClient

    profiles: list[cProfile.Profile] = []

    def start(*_args: Any) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()

    # A new client has a new event loop and so new worker threads: each starts a profile.
    threading.setprofile(start)
    try:
        with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
            sign_in(client, username)
            for url in target.urls[:requests]:
                client.get(url)
    finally:
        threading.setprofile(None)
        for profile in profiles:
            profile.disable()
    if not profiles:
        print(f"no thread was profiled for {target.label}")
        return
    stats = pstats.Stats(*profiles)
    print(f"\nprofile of {target.label}, {requests} requests (cumulative, every thread):")
    stats.sort_stats("cumulative").print_stats(r"kohtaanto|main/(service|features|matching)", 30)


def http_pages(database: Database, targets: list[Target], subjects: Subjects, count: int) -> None:
    """The pages again over HTTP, against ``kohtaanto serve`` (2 workers, loopback)."""
    import httpx
    from bench_service import free_port, start_server, stop_server, wait_ready

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = database.var_dir / "server.log"
    server = start_server(database.var_dir, database.url, port, 2, log)
    try:
        ready = wait_ready(server, base, 2, 900.0, log)
        print(f"\nover HTTP: kohtaanto serve pid {server.pid} on {base}, ready in {ready:.0f} s")
        clients: dict[str, httpx.Client] = {}
        for role, (username, _token) in subjects.users.items():
            clients[role] = httpx.Client(base_url=base, timeout=30.0, follow_redirects=False)
            sign_in(clients[role], username)
        over_http = [
            Target(t.label, t.role, t.kind, t.urls[:count]) for t in targets if t.kind != "json"
        ]
        for target in over_http:
            time_target(clients[target.role], target, {}, 30.0)
        for client in clients.values():
            client.close()
        print_table(over_http)
    finally:
        stop_server(server)
        print(f"server stopped (pid {server.pid}, exit {server.returncode})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--world", choices=("national", "small"), default="national")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--postgres", default=os.environ.get("KOHTAANTO_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--requests", type=int, default=200, help="per page and per JSON peer")
    parser.add_argument("--sample", type=int, default=20, help="people, vacancies, contracts")
    parser.add_argument(
        "--budget", type=float, default=20.0, help="seconds per route at most (bounds a run)"
    )
    parser.add_argument(
        "--only",
        default="",
        help="time only these pages (comma-separated parts of paths), their peers",
    )
    parser.add_argument("--profile", default="", help="cProfile these pages (comma-separated)")
    parser.add_argument("--profile-requests", type=int, default=10)
    parser.add_argument("--http", action="store_true", help="also over HTTP (kohtaanto serve)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from service.api.app import create_app

    database = prepare_database(args.world, args.database, args.postgres)
    subjects = pick_subjects(database.url, database.as_of, args.sample, args.seed)
    print(
        f"subjects: coach {subjects.coach_org} ({subjects.caseload:,} jobseekers), employer "
        f"{subjects.employer_org} ({subjects.vacancies_owned} vacancies), procurement "
        f"{subjects.buyer_org} ({subjects.contracts_owned:,} contracts); a sample of "
        f"{len(subjects.jobseekers)} people, {len(subjects.vacancies)} vacancies, "
        f"{len(subjects.contracts)} contracts"
    )
    app = create_app(make_settings(database))
    started = time.perf_counter()
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as first:
        print(f"application built in {time.perf_counter() - started:.0f} s (engine over the world)")
        clients = {"coach": first}
        for role in subjects.users:
            if role != "coach":
                clients[role] = TestClient(
                    app, follow_redirects=False, raise_server_exceptions=False
                ).__enter__()
        for role, (username, _token) in subjects.users.items():
            sign_in(clients[role], username)
        targets, skipped = plan_targets(
            app, subjects, args.requests, args.seed, database.model_version
        )
        floor = Target("/healthz (floor)", "coach", "floor", ["/healthz"] * args.requests)
        targets = [floor, *targets]
        if args.only:
            wanted = args.only.split(",")
            targets = [
                t
                for t in targets
                if t.kind == "floor" or any(w in (t.peer_of or t.label) for w in wanted)
            ]
        load_before = os.getloadavg()[0]
        run_started = time.perf_counter()
        for target in targets:
            headers = (
                {"Authorization": f"Bearer {subjects.users[target.role][1]}"}
                if target.kind == "json"
                else {}
            )
            time_target(clients[target.role], target, headers, args.budget)
            p50, p95, _p99, _worst, _size = target.row()
            print(f"  {target.label[:70]:70} p50 {p50:6.1f}  p95 {p95:6.1f} ms", flush=True)
        run_s = time.perf_counter() - run_started
        load_after = os.getloadavg()[0]
        entries = _audit_entries(database.url)
        for role, client in clients.items():
            if role != "coach":
                client.__exit__(None, None, None)
        if args.profile:
            for target in targets:
                wanted = args.profile.split(",")
                if target.kind in ("page", "search") and any(w in target.label for w in wanted):
                    profile_target(
                        app, target, subjects.users[target.role][0], args.profile_requests
                    )

    print(
        f"\n{args.world} world on {args.database}, in-process (Starlette TestClient; /healthz is "
        f"the floor), {args.requests} requests per route at most ({args.budget:.0f} s budget), "
        f"{run_s:.0f} s; milliseconds; KiB is the median body; * marks a page over "
        f"{PAGE_TARGET_P95_MS:.0f} ms p95"
    )
    print(
        f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before and "
        f"{load_after:.1f} after the run (anything else running inflates every figure; "
        f"compare a page with /healthz and with its JSON peer); the audit log holds "
        f"{entries:,} entries (its verification reads them all)"
    )
    print_table(targets)
    if skipped:
        print("not timed: " + "; ".join(skipped))
    pages = [t for t in targets if t.kind == "page" and t.latencies]
    searches = [t for t in targets if t.kind == "search" and t.latencies]
    slow = sorted(pages, key=lambda t: -t.row()[1])[:5]
    print("\nslowest pages (p95): " + ", ".join(f"{t.label} {t.row()[1]:.0f} ms" for t in slow))
    skill = [t for t in searches if "skill" in t.label]
    checks = [
        (
            f"every page p95 <= {PAGE_TARGET_P95_MS:.0f} ms",
            all(t.row()[1] <= PAGE_TARGET_P95_MS for t in pages),
        ),
        ("every page answered 200", all(t.failures == 0 for t in targets)),
    ]
    if skill:
        worst = max(t.row()[2] for t in skill)
        checks.append(
            (
                f"skill search p99 <= {SEARCH_TARGET_MS:.0f} ms ({worst:.0f})",
                worst <= SEARCH_TARGET_MS,
            )
        )
    print("\n".join(f"  [{'met' if ok else 'MISSED'}] {name}" for name, ok in checks))
    if args.http:
        http_pages(database, targets, subjects, min(args.requests, 50))


if __name__ == "__main__":
    main()
