"""Move a generated world into the service database and read it back as DataFrames.

:func:`load_world_into_database` bulk-loads every world table in one transaction: on SQLite
as ``executemany`` over pre-formatted rows, on PostgreSQL with ``COPY ... FROM STDIN`` and
the foreign keys of the world tables dropped during the copy and added back at the end
(one validating join per key instead of one trigger call per row, ~3x faster; the
transaction keeps the database unchanged if any of it fails).

:func:`read_world_tables` is the inverse: it returns a :class:`~features.world_store.
WorldTables` whose frames have exactly the dtypes :func:`~features.world_store.load_world`
gives, so :func:`service.composition.build_engine` runs unchanged on a database. Two
differences remain, both documented: rows come back in primary-key order (the generator's
order for every table but ``organisations``), and categorical columns list the values
present, sorted, where a Parquet world carries the generator's whole vocabulary.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, Table, delete, exists, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import AddConstraint, DropConstraint, ForeignKeyConstraint

from features.world_store import (
    SCHEMAS,
    TABLES,
    WorldTables,
    empty_world_frame,
    plain_schema,
    world_frame,
)
from service.storage.tables import WORLD_RECORDS, MetaEntry

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "META_AS_OF",
    "META_WORLD_FINGERPRINT",
    "META_WORLD_MANIFEST",
    "DatabaseNotEmptyError",
    "LoadReport",
    "Progress",
    "WorldLoadError",
    "load_world_into_database",
    "read_meta",
    "read_world_tables",
    "world_fingerprint",
]

logger = logging.getLogger(__name__)

#: Rows per executemany / progress step; large enough to amortise, small enough to report.
DEFAULT_CHUNK_ROWS = 50_000
META_AS_OF = "as_of"
META_WORLD_FINGERPRINT = "world_fingerprint"
META_WORLD_MANIFEST = "world_manifest"
META_WORLD_LOADED_AT = "world_loaded_at"

#: ``progress(table, rows_done, rows_total)``, called after every chunk.
Progress = Callable[[str, int, int], None]


class DatabaseNotEmptyError(RuntimeError):
    """A world was to be loaded into a database whose world tables already hold rows."""

    def __init__(self, tables: Sequence[str]) -> None:
        self.tables = tuple(tables)
        super().__init__(
            f"the database already holds world data (in {', '.join(self.tables)}); "
            "load a world into a freshly migrated database"
        )


class WorldLoadError(RuntimeError):
    """The database refused a world (a duplicate key, a missing reference...)."""


@dataclass(frozen=True)
class LoadReport:
    rows: dict[str, int]
    seconds: dict[str, float]
    total_seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def world_fingerprint(manifest: dict[str, Any]) -> str:
    """sha256 over the (path, sha256) pairs of the manifest's files.

    The same formula as :func:`training.pipeline.training_fingerprint`, so a model trained
    on the Parquet world and the database loaded from it name the same data.
    """
    files = sorted((str(f.get("path")), str(f.get("sha256"))) for f in manifest.get("files", []))
    return hashlib.sha256(json.dumps(files).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_world_into_database(
    world: WorldTables,
    engine: Engine,
    progress: Progress | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> LoadReport:
    """Bulk-load every table of ``world`` plus ``meta.as_of`` in one transaction.

    The database must be migrated (:func:`~service.storage.database.upgrade_to_head`) and its
    world tables empty, else :class:`DatabaseNotEmptyError`. A row the database refuses
    raises :class:`WorldLoadError` and leaves the database as it was.
    """
    dialect = engine.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"bulk loading supports SQLite and PostgreSQL, not {dialect}")
    driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with engine.begin() as connection:
        occupied = [name for name in TABLES if _has_rows(connection, _table(name))]
        if occupied:
            raise DatabaseNotEmptyError(occupied)
        foreign_keys = _world_foreign_keys() if dialect == "postgresql" else []
        for constraint in foreign_keys:
            connection.execute(DropConstraint(constraint))
        for name in TABLES:
            table_started = time.perf_counter()
            frame = world.table(name)
            try:
                _copy_table(connection, name, frame, chunk_rows, progress)
            except driver_error as error:  # the copy runs on the driver's own cursor
                raise WorldLoadError(f"loading {name} failed: {error}") from error
            rows[name] = len(frame)
            seconds[name] = time.perf_counter() - table_started
            logger.info("loaded %s: %d rows in %.2f s", name, len(frame), seconds[name])
        if foreign_keys:
            checked = time.perf_counter()
            for constraint in foreign_keys:
                try:
                    connection.execute(AddConstraint(constraint))
                except DBAPIError as error:
                    raise WorldLoadError(f"{constraint.table.name}: {error.orig}") from error
            for name in TABLES:
                connection.exec_driver_sql(f"ANALYZE {name}")
            seconds["foreign keys"] = time.perf_counter() - checked
        _write_meta(connection, world)
    return LoadReport(rows, seconds, time.perf_counter() - started)


def _table(name: str) -> Table:
    table = WORLD_RECORDS[name].__table__
    assert isinstance(table, Table)
    return table


def _has_rows(connection: Connection, table: Table) -> bool:
    return bool(connection.execute(select(exists().select_from(table))).scalar())


def _world_foreign_keys() -> list[ForeignKeyConstraint]:
    return [
        constraint
        for name in TABLES
        for constraint in sorted(_table(name).foreign_key_constraints, key=lambda c: str(c.name))
    ]


def _copy_table(
    connection: Connection,
    name: str,
    frame: pd.DataFrame,
    chunk_rows: int,
    progress: Progress | None,
) -> None:
    dialect = connection.dialect.name
    columns = list(SCHEMAS[name].names)
    total = len(frame)
    if progress is not None:
        progress(name, 0, total)
    if total == 0:
        return
    values = _wire_columns(frame, name, dialect)
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        done = 0
        for chunk in _chunks(zip(*values, strict=True), chunk_rows):
            if dialect == "postgresql":
                with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            else:
                placeholders = ", ".join("?" for _ in columns)
                cursor.executemany(
                    f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({placeholders})", chunk
                )
            done += len(chunk)
            if progress is not None:
                progress(name, done, total)
    finally:
        cursor.close()


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _wire_columns(frame: pd.DataFrame, name: str, dialect: str) -> list[list[Any]]:
    """Every column as Python values in the text form the database stores.

    Formatting in Arrow (dates, instants) and passing strings bypasses per-value type
    processing, which is most of the cost of an ORM insert. The SQLite forms are exactly
    what SQLAlchemy writes itself, so values read back through the ORM are the same.
    """
    schema = plain_schema(SCHEMAS[name])
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    columns: list[list[Any]] = []
    for field in schema:
        column = table.column(field.name)
        if pa.types.is_date(field.type):
            column = column.cast(pa.string())
        elif pa.types.is_timestamp(field.type):
            # SQLite: SQLAlchemy's naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff'; PostgreSQL: with
            # an explicit +0000 so the server's time zone setting cannot shift it.
            micros = column.cast(pa.timestamp("us", tz="UTC"))
            pattern = "%Y-%m-%d %H:%M:%S%z" if dialect == "postgresql" else "%Y-%m-%d %H:%M:%S"
            column = pc.strftime(micros, format=pattern)
        values = column.to_pylist()
        if pa.types.is_list(field.type):
            values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        columns.append(values)
    return columns


def _write_meta(connection: Connection, world: WorldTables) -> None:
    entries = {
        META_AS_OF: world.as_of.isoformat(),
        META_WORLD_FINGERPRINT: world_fingerprint(world.manifest),
        META_WORLD_MANIFEST: json.dumps(world.manifest, sort_keys=True, default=str),
        META_WORLD_LOADED_AT: pd.Timestamp.now(tz="UTC").isoformat(),
    }
    connection.execute(delete(MetaEntry).where(MetaEntry.key.in_(entries)))
    connection.execute(insert(MetaEntry), [{"key": k, "value": v} for k, v in entries.items()])


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_meta(engine: Engine | Connection) -> dict[str, str]:
    """Every ``meta`` entry as a dict."""
    statement = select(MetaEntry.key, MetaEntry.value)
    if isinstance(engine, Connection):
        return {key: value for key, value in engine.execute(statement)}
    with engine.connect() as connection:
        return {key: value for key, value in connection.execute(statement)}


def read_world_tables(engine: Engine, tables: Iterable[str] | None = None) -> WorldTables:
    """The world in the database as DataFrames with :func:`load_world`'s dtypes.

    ``tables`` limits what is read, as in :func:`~features.world_store.load_world`. The
    manifest is the one stored by :func:`load_world_into_database`; ``as_of`` comes from
    ``meta`` and is today when no world was ever loaded (a database filled by CSV import).
    """
    wanted = set(TABLES if tables is None else tables)
    unknown = wanted - set(TABLES)
    if unknown:
        raise KeyError(f"unknown world tables {sorted(unknown)}; known: {', '.join(TABLES)}")
    # One read transaction, so the tables are a consistent snapshot on PostgreSQL.
    with engine.connect() as connection, connection.begin():
        meta = read_meta(connection)
        frames = {
            name: _read_table(connection, name) if name in wanted else empty_world_frame(name)
            for name in TABLES
        }
    manifest: dict[str, Any] = json.loads(meta.get(META_WORLD_MANIFEST, "{}"))
    manifest["as_of"] = meta.get(META_AS_OF, date.today().isoformat())
    return WorldTables(root=_source(engine), manifest=manifest, **frames)


def _source(engine: Engine) -> Path:
    """What :attr:`WorldTables.root` says of a database: its file, or its URL sans password."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database)
    return Path(url.render_as_string(hide_password=True))


def _read_table(connection: Connection, name: str) -> pd.DataFrame:
    table = _table(name)
    schema = plain_schema(SCHEMAS[name])
    statement = select(*(table.c[column] for column in schema.names)).order_by(
        *table.primary_key.columns
    )
    result = connection.execute(statement).all()
    values: list[Sequence[Any]] = list(zip(*result, strict=True)) or [[] for _ in schema]
    arrays = [
        pa.array(column, type=field.type) for column, field in zip(values, schema, strict=True)
    ]
    frame = world_frame(pa.Table.from_arrays(arrays, schema=schema), name)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            categories = frame[column].cat.categories
            frame[column] = frame[column].cat.reorder_categories(sorted(categories))
    return frame
