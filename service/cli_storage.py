"""``kohtaanto db``, ``kohtaanto load`` and ``kohtaanto users``: the service database.

Registered on the main command by :func:`register`. Heavy imports (SQLAlchemy, the storage
package, reference data) happen inside the commands so ``kohtaanto --help`` stays quick.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.cli_paths import fail
from service.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from service.storage.csv_import import CsvFiles
    from service.storage.tables import User

console = Console()

db_app = typer.Typer(
    name="db", help="The service database: schema migrations.", no_args_is_help=True
)
users_app = typer.Typer(
    name="users",
    help="Users: bearer tokens for the API, passwords for the web pages.",
    no_args_is_help=True,
)

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL; default: the settings' database_url (KOHTAANTO_DATABASE_URL).",
    ),
]


def _csv_option(what: str) -> typer.models.OptionInfo:
    return typer.Option(exists=True, dir_okay=False, readable=True, help=f"CSV file of {what}.")


def register(app: typer.Typer) -> None:
    """Add the storage commands to the ``kohtaanto`` command."""
    app.add_typer(db_app, name="db")
    app.add_typer(users_app, name="users")
    app.command("load")(load)


def _url(database_url: str | None) -> str:
    return database_url or get_settings().database_url


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _migrated_engine(database_url: str | None) -> Engine:
    """An engine on a database at the newest migration; exits 2 otherwise."""
    from sqlalchemy.exc import OperationalError

    from service.storage.database import current_revision, head_revision, make_engine

    url = _url(database_url)
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
    except OperationalError as error:
        fail(f"cannot open the database {_shown(url)}: {error.orig}")
    if revision != head_revision():
        engine.dispose()
        fail(
            f"the database {_shown(url)} is at revision {revision or 'none'}, not "
            f"{head_revision()}: run `kohtaanto db upgrade` first"
        )
    return engine


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrlOption = None) -> None:
    """Create or migrate the database schema to the newest revision."""
    from sqlalchemy.exc import OperationalError

    from service.storage.database import current_revision, make_engine, upgrade_to_head

    url = _url(database_url)
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        upgrade_to_head(engine)
        after = current_revision(engine)
    except OperationalError as error:
        fail(f"cannot migrate the database {_shown(url)}: {error.orig}")
    finally:
        engine.dispose()
    console.print(
        f"Database {escape(_shown(url))} is at revision [bold]{after}[/] (was {before or 'none'}).",
        soft_wrap=True,
    )


def load(
    world: Annotated[
        Path | None, typer.Option(help="A folder written by `kohtaanto generate`.")
    ] = None,
    jobseekers: Annotated[Path | None, _csv_option("jobseekers")] = None,
    assessments: Annotated[Path | None, _csv_option("coaching assessments")] = None,
    skill_observations: Annotated[Path | None, _csv_option("assessed skills")] = None,
    vacancies: Annotated[Path | None, _csv_option("vacancies")] = None,
    vacancy_skills: Annotated[Path | None, _csv_option("vacancies' skills")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Load a generated world, or import CSV files (docs/csv-import.md), into the database.

    A world goes into an empty database, in one transaction.
    CSV rows are all checked first; problems are printed as file:line: field: message,
    nothing is imported and the exit status is 2.
    """
    csv_given = any(
        path is not None
        for path in (jobseekers, assessments, skill_observations, vacancies, vacancy_skills)
    )
    if (world is None) == (not csv_given):
        fail("give either --world DIR or CSV files (--jobseekers, --vacancies, ...), not both")
    engine = _migrated_engine(database_url)
    try:
        if world is not None:
            _load_world(world, engine)
        else:
            from service.storage.csv_import import CsvFiles as Files

            _import_csv(
                Files(jobseekers, assessments, skill_observations, vacancies, vacancy_skills),
                engine,
            )
    finally:
        engine.dispose()


def _load_world(folder: Path, engine: Engine) -> None:
    from features.world_store import TABLES, load_world
    from service.storage.world_io import (
        DatabaseNotEmptyError,
        WorldLoadError,
        load_world_into_database,
    )

    started = time.perf_counter()
    try:
        with console.status(f"Reading {escape(str(folder))}..."):
            world = load_world(folder)
    except FileNotFoundError as error:
        fail(str(error))
    total = sum(len(world.table(name)) for name in TABLES)
    with Progress(
        TextColumn("[bold]{task.description:<26}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} rows"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("loading", total=total)
        loaded_before: dict[str, int] = {}

        def on_progress(table: str, done: int, _table_total: int) -> None:
            loaded_before[table] = done
            progress.update(task, description=table, completed=sum(loaded_before.values()))

        try:
            report = load_world_into_database(world, engine, on_progress)
        except (DatabaseNotEmptyError, WorldLoadError) as error:
            progress.stop()
            fail(str(error))
        progress.update(task, description="done", completed=total)
    elapsed = time.perf_counter() - started
    console.print(
        f"Loaded {report.total_rows:,} rows into {engine.url.render_as_string(hide_password=True)} "
        f"in {report.total_seconds:.1f} s ({elapsed:.1f} s with reading the world); "
        f"as_of {world.as_of.isoformat()}.",
        soft_wrap=True,
        markup=False,
    )


def _import_csv(files: CsvFiles, engine: Engine) -> None:
    from features.geography import load_geography
    from features.taxonomy import load_taxonomy
    from service.storage.csv_import import CsvImportError, import_csv

    settings = get_settings()
    with console.status("Reading the ESCO taxonomy and municipalities..."):
        taxonomy = load_taxonomy(settings.paths.data_dir, settings.paths.cache_dir)
        geography = load_geography(settings.paths.data_dir, settings.paths.cache_dir)
    try:
        result = import_csv(engine, files, taxonomy, geography)
    except CsvImportError as error:
        for problem in error.problems:
            console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        fail(f"{len(error.problems)} problem(s); nothing was imported.")
    console.print(f"Imported {result.summary()}.", soft_wrap=True, highlight=False)


@users_app.command("create")
def users_create(
    role: Annotated[str, typer.Option(help="coach, employer, procurement, admin or operator.")],
    org: Annotated[str, typer.Option(help="The user's organisation_id (must exist).")],
    name: Annotated[str, typer.Option(help="The user's name.")],
    expires_in_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=3650,
            help="Days the token stays valid; default: the settings' token_lifetime_days (90).",
        ),
    ] = None,
    username: Annotated[
        str | None,
        typer.Option(
            help="What the user types to sign in to the web pages; default: the name "
            "(or name-<id> when taken). Give a password with `users set-password`."
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a user and print their bearer token (once: only its hash is stored)."""
    from service.storage.database import make_session_factory
    from service.storage.users import create_user

    lifetime = expires_in_days or get_settings().service.token_lifetime_days
    engine = _migrated_engine(database_url)
    try:
        with make_session_factory(engine).begin() as session:
            created = create_user(
                session,
                name=name,
                role=role,
                organisation_id=org,
                lifetime_days=lifetime,
                username=username,
            )
            user_id = created.user.user_id
            signs_in_as = created.user.username
            expires = created.user.token_expires_at
    except ValueError as error:
        fail(str(error))
    finally:
        engine.dispose()
    console.print(
        f"Created user {user_id} ({name}, {role}, {org}; signs in to the pages as "
        f"{signs_in_as}); the token expires "
        f"{_instant(expires)}. Their token, shown only now:",
        markup=False,
        soft_wrap=True,
        highlight=False,
    )
    console.print(created.token, markup=False, highlight=False, soft_wrap=True)


UserIdArgument = Annotated[int, typer.Argument(min=1, help="The user's id (`users list`).")]


def _instant(value: datetime | None) -> str:
    return "never" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def _change_user(
    database_url: str | None, change: Callable[[Session], User]
) -> tuple[int, str, str]:
    """Apply ``change`` to one user in one transaction: (user id, name, expiry shown)."""
    from service.storage.database import make_session_factory
    from service.storage.users import UnknownUserError

    engine = _migrated_engine(database_url)
    try:
        with make_session_factory(engine).begin() as session:
            user = change(session)
            return user.user_id, user.name, _instant(user.token_expires_at)
    except (UnknownUserError, ValueError) as error:
        fail(str(error))
    finally:
        engine.dispose()


#: What the running service needs before it refuses a changed token everywhere.
CACHE_WINDOW_NOTE = (
    "A running service refuses the old token within token_cache_seconds ({seconds:g} s)."
)


@users_app.command("disable")
def users_disable(user_id: UserIdArgument, database_url: DatabaseUrlOption = None) -> None:
    """Refuse a user's token from now on (the token is kept; `enable` accepts it again)."""
    from service.storage.users import set_active

    shown_id, name, _ = _change_user(
        database_url, lambda session: set_active(session, user_id, False)
    )
    console.print(f"Disabled user {shown_id} ({name}).", markup=False, highlight=False)
    seconds = get_settings().service.token_cache_seconds
    console.print(CACHE_WINDOW_NOTE.format(seconds=seconds), markup=False, highlight=False)


@users_app.command("enable")
def users_enable(user_id: UserIdArgument, database_url: DatabaseUrlOption = None) -> None:
    """Accept a disabled user's token again (an expired token stays expired: rotate it)."""
    from service.storage.users import set_active

    shown_id, name, expires = _change_user(
        database_url, lambda session: set_active(session, user_id, True)
    )
    console.print(
        f"Enabled user {shown_id} ({name}); the token expires {expires}.",
        markup=False,
        highlight=False,
    )


@users_app.command("rotate")
def users_rotate(
    user_id: UserIdArgument,
    expires_in_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=3650,
            help="Days the new token stays valid; default: the settings' token_lifetime_days.",
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Give a user a new token and print it once; the old token stops working."""
    from service.storage.users import rotate_token

    settings = get_settings()
    lifetime = expires_in_days or settings.service.token_lifetime_days
    tokens: list[str] = []

    def rotate(session: Session) -> User:
        rotated = rotate_token(session, user_id, lifetime_days=lifetime)
        tokens.append(rotated.token)
        return rotated.user

    shown_id, name, expires = _change_user(database_url, rotate)
    console.print(
        f"New token of user {shown_id} ({name}), expires {expires}; shown only now:",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(tokens[0], markup=False, highlight=False, soft_wrap=True)
    seconds = settings.service.token_cache_seconds
    console.print(CACHE_WINDOW_NOTE.format(seconds=seconds), markup=False, highlight=False)


@users_app.command("list")
def users_list(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array instead of a table.")
    ] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List the users (never their tokens), with whether and until when each token works."""
    from service.storage.database import make_session_factory
    from service.storage.tables import utc_now
    from service.storage.users import list_users

    engine = _migrated_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            users = list_users(session)
    finally:
        engine.dispose()
    if as_json:
        rows = [
            {
                "user_id": user.user_id,
                "name": user.name,
                "username": user.username,
                "role": user.role,
                "organisation_id": user.organisation_id,
                "active": user.active,
                "created_at": user.created_at.isoformat(),
                "token_expires_at": (
                    user.token_expires_at.isoformat() if user.token_expires_at else None
                ),
            }
            for user in users
        ]
        print_json(rows)
        return
    if not users:
        console.print("No users yet: `kohtaanto users create --role ... --org ... --name ...`.")
        return
    now = utc_now()
    table = Table(title="Users")
    # Dates only (UTC), so that names keep room in 80 columns; `--json` has the instants.
    for column in ("Id", "Name", "Role", "Organisation", "Active", "Created", "Expires"):
        table.add_column(column, no_wrap=column != "Name", min_width=12 if column == "Name" else 0)
    for user in users:
        expires = user.token_expires_at
        # User data is printed as it is: a name like "[red]" is not Rich markup.
        table.add_row(
            str(user.user_id),
            escape(user.name),
            escape(user.role),
            escape(user.organisation_id),
            "yes" if user.active else "no",
            f"{user.created_at:%Y-%m-%d}",
            "never"
            if expires is None
            else f"{expires:%Y-%m-%d}" + (" expired" if expires <= now else ""),
        )
    console.print(table)


@users_app.command("set-password")
def users_set_password(
    username: Annotated[str, typer.Argument(help="The username the person signs in with.")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input (for scripts) "
            "instead of asking for it twice.",
        ),
    ] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Set the password a person signs in to the web pages with (ends their sessions).

    At least the settings' ``web.password_min_length`` (12) characters, not the username.
    Only its argon2id hash is stored; a locked account is unlocked.
    """
    from service.operations.accounts import check_password, set_password
    from service.operations.errors import InvalidError, NotFoundError
    from service.storage.database import make_session_factory

    settings = get_settings().web
    if password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    else:
        password = typer.prompt("New password", hide_input=True)
        if typer.prompt("The same password again", hide_input=True) != password:
            fail("The two passwords differ; nothing was changed.")
    try:
        check_password(settings, username, password)
    except InvalidError as error:
        fail(f"Refused: {error.message}; nothing was changed.")
    engine = _migrated_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            user = set_password(session, settings, username, password)
            user_id = user.user_id
    except NotFoundError:
        fail(f"There is no user with the username {username!r} (see `users list`).")
    finally:
        engine.dispose()
    console.print(
        f"Set the password of user {user_id} ({username}); their sessions were signed out.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def print_json(value: object) -> None:
    """``value`` as JSON on standard output, unstyled (for scripts: `--json` options)."""
    import json

    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
