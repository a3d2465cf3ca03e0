"""Preparing the demo service `make run` ends with: database, first model, demo users.

Each step is idempotent, so `make run` can be repeated: the database is migrated, the demo
world is loaded only into an empty database, a first model is trained only when the registry
has no champion, and the demo users are created once — their tokens are kept in
``var/demo-tokens.json`` (readable by the owner only) because the database stores only hashes.
Each demo user also gets a random password for the web pages, kept in
``var/demo-sign-ins.json`` (owner-readable too) and reused when the demo is prepared again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from features.world_store import load_world
from service.operations.accounts import new_password, set_password
from service.settings import Settings
from service.storage.database import make_engine, make_session_factory, upgrade_to_head
from service.storage.tables import JobseekerRecord, OrganisationRecord, User
from service.storage.users import create_user
from service.storage.world_io import load_world_into_database
from training.ranker import RankerConfig
from training.registry import ModelRegistry

TOKENS_FILE = "demo-tokens.json"
SIGN_INS_FILE = "demo-sign-ins.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoService:
    tokens: dict[str, str]  # role -> bearer token
    #: role -> {"username": ..., "password": ...} for the web pages
    sign_ins: dict[str, dict[str, str]]
    jobseeker_id: str  # one of the demo coach's jobseekers
    vacancy_id: str  # one of the demo employer's open vacancies
    contract_id: str  # that vacancy's contract, followed by the demo procurement officer
    loaded_rows: int | None  # rows loaded this time (None: the database had the world)
    model: str  # what serves: a model version or the rule-based score


def _showcase_person(world_dir: Path, settings: Settings) -> str:
    """The person `kohtaanto demo` shows first: well assessed, with strong matches in reach."""
    from service.composition import build_engine
    from service.demo import _pick_people

    world = load_world(world_dir)
    picked = _pick_people(world, build_engine(world, settings), count=1, top=3)
    if not picked:
        raise ValueError(f"{world_dir}: no jobseeker has an open vacancy within reach")
    return picked[0]


def _demo_objects(world_dir: Path, settings: Settings) -> tuple[dict[str, str], str, str, str]:
    """Organisations of the demo users and an object each of them owns."""
    world = load_world(world_dir, ("jobseekers", "vacancies", "contracts", "suppliers"))
    as_of = world.as_of
    jobseeker = _showcase_person(world_dir, settings)
    people = world.jobseekers.set_index(world.jobseekers["jobseeker_id"].astype(str))
    coach_org = str(people.loc[jobseeker, "organisation_id"])
    vacancies = world.vacancies
    is_open = (vacancies["opens_on"].dt.date <= as_of) & (as_of <= vacancies["closes_on"].dt.date)
    open_now = vacancies[is_open & vacancies["contract_id"].notna()]
    vacancy = open_now.iloc[0]
    suppliers = world.suppliers.set_index("supplier_id")["organisation_id"].astype(str)
    contracts = world.contracts.set_index("contract_id")["buyer_id"].astype(str)
    organisations = {
        "coach": coach_org,
        "employer": str(suppliers[vacancy["supplier_id"]]),
        "procurement": str(contracts[vacancy["contract_id"]]),
        "admin": coach_org,
        # The platform operator reads every organisation's audit entries; it needs a home.
        "operator": coach_org,
    }
    return organisations, jobseeker, str(vacancy["vacancy_id"]), str(vacancy["contract_id"])


def prepare_demo_service(
    world_dir: Path, settings: Settings, ranker_config: RankerConfig | None = None
) -> DemoService:
    """Migrate, load, train a first model and create demo users, each only when missing."""
    upgrade_to_head(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    loaded: int | None = None
    try:
        with sessions() as session:
            empty = not session.scalar(select(func.count()).select_from(JobseekerRecord))
        if empty:
            loaded = load_world_into_database(load_world(world_dir), engine).total_rows

        registry = ModelRegistry(settings.paths.var_dir / "models")
        fallback = "the rule-based score (no model passed the gate)"
        if registry.champion_version() is None:
            from training.pipeline import retrain

            try:
                retrain(world_dir, registry, settings=settings, ranker_config=ranker_config)
            except ValueError as error:
                # Too small a world to learn from: the documented rules serve it.
                log.warning("no model trained on %s: %s", world_dir, error)
                fallback = f"the rule-based score (no model could be trained: {error})"
        model = registry.champion_version() or fallback

        organisations, jobseeker, vacancy, contract = _demo_objects(world_dir, settings)
        tokens_path = settings.paths.var_dir / TOKENS_FILE
        tokens: dict[str, str] = {}
        if tokens_path.exists():
            tokens = json.loads(tokens_path.read_text(encoding="utf-8"))
        # Only the roles without a token yet: a demo prepared before a role existed gains
        # that role's user, and keeps the others (and their tokens).
        missing = {role: org for role, org in organisations.items() if role not in tokens}
        if missing:
            with sessions() as session:
                for role, organisation in missing.items():
                    assert session.get(OrganisationRecord, organisation) is not None
                    created = create_user(
                        session,
                        name=f"demo {role}",
                        role=role,
                        organisation_id=organisation,
                        username=_free_username(session, f"demo-{role}"),
                    )
                    tokens[role] = created.token
                session.commit()
            tokens_path.parent.mkdir(parents=True, exist_ok=True)
            _write_private(tokens_path, tokens)
        sign_ins = _demo_sign_ins(sessions, settings, list(organisations))
    finally:
        engine.dispose()
    return DemoService(tokens, sign_ins, jobseeker, vacancy, contract, loaded, model)


def _write_private(path: Path, value: object) -> None:
    """``value`` as JSON in ``path``, readable by the owner only, replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    os.chmod(temporary, 0o600)
    temporary.replace(path)


def _free_username(session: Session, wanted: str) -> str | None:
    """``wanted`` when no user signs in with it yet, else None (the default is used)."""
    taken = session.scalar(select(User.user_id).where(User.username == wanted))
    return None if taken is not None else wanted


def _demo_sign_ins(
    sessions: sessionmaker[Session], settings: Settings, roles: list[str]
) -> dict[str, dict[str, str]]:
    """Each demo user's web sign-in; a password is made only for users without one.

    Passwords already given are kept (the file is their only plain copy, the database has
    only hashes), so that repeating `make run` does not change what people were told.
    """
    path = settings.paths.var_dir / SIGN_INS_FILE
    sign_ins: dict[str, dict[str, str]] = {}
    if path.exists():
        sign_ins = json.loads(path.read_text(encoding="utf-8"))
    changed = False
    with sessions() as session:
        for role in roles:
            user = session.scalars(
                select(User)
                .where(User.name == f"demo {role}", User.role == role)
                .order_by(User.user_id.desc())
            ).first()
            if user is None or user.username is None:
                continue
            known = sign_ins.get(role)
            if known is not None and known.get("username") == user.username and user.password_hash:
                continue
            password = new_password()
            set_password(session, settings.web, user.username, password)
            sign_ins[role] = {"username": user.username, "password": password}
            changed = True
    if changed:
        _write_private(path, sign_ins)
    return sign_ins
