"""Move a generated world into the service database and read it back as DataFrames.

:func:`load_world_into_database` bulk-loads every world table in one transaction: rows are
formatted in Arrow (dates, instants and JSON lists as text) and written with
``executemany`` on SQLite and ``COPY ... FROM STDIN`` on PostgreSQL, with the secondary
indexes (and on PostgreSQL the foreign and unique keys) built after the copy rather than
maintained row by row. If any of it fails the transaction leaves the database unchanged.

:func:`read_world_tables` is the inverse (the driver's cursor on SQLite, ``COPY ... TO
STDOUT`` parsed by Arrow's CSV reader on PostgreSQL). Its frames have exactly the dtypes
:func:`~features.world_store.load_world` gives, so :func:`service.composition.build_engine`
runs unchanged on a database. Two differences remain: rows come back in primary-key order
(the generator's order for every table but ``organisations``), and a categorical column's
categories are the values present, sorted, where a Parquet world carries the generator's
whole vocabulary (every municipality, every ESCO skill).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, Table, delete, exists, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import (
    AddConstraint,
    Constraint,
    CreateIndex,
    DropConstraint,
    DropIndex,
    ForeignKeyConstraint,
    Index,
    UniqueConstraint,
)

from features.world_store import (
    SCHEMAS,
    TABLES,
    WorldTables,
    empty_world_frame,
    load_world,
    plain_schema,
    world_frame,
)
from service.storage.database import make_engine
from service.storage.tables import WORLD_RECORDS, MetaEntry, utc_now

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

_Named = TypeVar("_Named", Index, Constraint)

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
        deferred = _DeferredChecks(connection)
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
        finishing = time.perf_counter()
        deferred.restore()
        seconds["indexes and keys"] = time.perf_counter() - finishing
        _write_meta(connection, world)
    return LoadReport(rows, seconds, time.perf_counter() - started)


class _DeferredChecks:
    """Drops the world tables' secondary indexes (and on PostgreSQL their foreign and unique
    keys) for the copy, and builds them again afterwards, all inside the load's transaction.

    An index built once from sorted data is several times faster than millions of random
    inserts into it (952,550 outcomes into SQLite: 12.5 s with the indexes, 4.8 s without
    plus the rebuild), and one validating join per foreign key beats one trigger call per
    row. SQLite keeps its unique constraints (they cannot be dropped without rebuilding the
    table) and checks foreign keys per row, which costs little there.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.indexes = [index for name in TABLES for index in _sorted(_table(name).indexes)]
        self.constraints: list[ForeignKeyConstraint | UniqueConstraint] = []
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            for name in TABLES:
                constraints = _sorted(_table(name).constraints)
                self.constraints += [c for c in constraints if isinstance(c, UniqueConstraint)]
                self.constraints += [c for c in constraints if isinstance(c, ForeignKeyConstraint)]
        for constraint in reversed(self.constraints):
            connection.execute(DropConstraint(constraint))
        for index in self.indexes:
            connection.execute(DropIndex(index))

    def restore(self) -> None:
        for index in self.indexes:
            self.connection.execute(CreateIndex(index))
        for constraint in self.constraints:
            try:
                self.connection.execute(AddConstraint(constraint))
            except DBAPIError as error:
                table = constraint.table.name
                raise WorldLoadError(f"{table}: {error.orig}".strip()) from error
        if self.connection.dialect.name == "postgresql":
            for name in TABLES:
                self.connection.exec_driver_sql(f"ANALYZE {name}")


def _sorted(items: Iterable[_Named]) -> list[_Named]:
    return sorted(items, key=lambda item: str(item.name))


def _table(name: str) -> Table:
    table = WORLD_RECORDS[name].__table__
    assert isinstance(table, Table)
    return table


def _has_rows(connection: Connection, table: Table) -> bool:
    return bool(connection.execute(select(exists().select_from(table))).scalar())


def _copy_table(
    connection: Connection,
    name: str,
    frame: pd.DataFrame,
    chunk_rows: int,
    progress: Progress | None,
) -> None:
    dialect = connection.dialect.name
    columns = ", ".join(SCHEMAS[name].names)
    total = len(frame)
    if progress is not None:
        progress(name, 0, total)
    if total == 0:
        return
    table = _wire_table(frame, name, dialect)
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, total, chunk_rows):
            chunk = table.slice(start, chunk_rows)
            if dialect == "postgresql":
                with cursor.copy(f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                    copy.write(_csv_bytes(chunk))
            else:
                # Python objects for one chunk at a time: 4.5 million skill observations
                # as Python strings at once would take gigabytes.
                placeholders = ", ".join("?" for _ in table.column_names)
                statement = f"INSERT INTO {name} ({columns}) VALUES ({placeholders})"
                cursor.executemany(statement, _rows(chunk))
            if progress is not None:
                progress(name, min(start + chunk_rows, total), total)
    finally:
        cursor.close()


def _csv_bytes(table: pa.Table) -> bytes:
    """Rows in PostgreSQL's CSV ``COPY`` format, written by Arrow without Python objects.

    Arrow quotes every string and leaves nulls empty and unquoted, which is exactly how
    ``COPY ... (FORMAT csv)`` tells an empty string from NULL; floats are written in their
    shortest exact form, booleans as true/false.
    """
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    return buffer.getvalue()


def _wire_table(frame: pd.DataFrame, name: str, dialect: str) -> pa.Table:
    """The table with dates, instants and lists as text in the form the database stores.

    Formatting in Arrow and passing strings bypasses per-value type processing, which is
    most of the cost of an ORM insert. The SQLite forms are exactly what SQLAlchemy writes
    itself, so values read back through the ORM are the same.
    """
    table = pa.Table.from_pandas(frame, schema=plain_schema(SCHEMAS[name]), preserve_index=False)
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if pa.types.is_date(field.type):
            text = column.cast(pa.string())
        elif pa.types.is_timestamp(field.type):
            # SQLAlchemy's SQLite form is naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff'; PostgreSQL
            # gets an explicit offset so the session's time zone cannot shift it. (Casting a
            # naive timestamp is 20x faster than strftime.)
            text = column.cast(pa.timestamp("us")).cast(pa.string())
            if dialect == "postgresql":
                text = pc.binary_join_element_wise(text, "+00:00", "")
        elif pa.types.is_list(field.type):
            text = _json_text(column)
        else:
            continue
        table = table.set_column(index, field.name, text)
    return table


#: Characters json.dumps would escape; a list holding one is dumped the slow way.
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def _json_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A list column as the JSON text ``json.dumps`` writes, built in Arrow.

    ``["a", "b"]`` for lists of strings, ``[{"language": "fi", "level": "B1"}]`` for lists
    of structs of strings; 300,000 jobseekers' four list columns take 0.3 s instead of 5 s.
    """
    chunks = []
    for chunk in column.chunks:
        items = chunk.values  # every item, addressed by the (unsliced) offsets
        if pa.types.is_struct(items.type):
            strings = [items.field(i) for i in range(items.type.num_fields)]
            parts: list[Any] = []
            for i, (kind, values) in enumerate(zip(items.type, strings, strict=True)):
                parts += [("{" if i == 0 else ", ") + f'"{kind.name}": "', values, '"']
            rendered = pc.binary_join_element_wise(*parts, "}", "")
        else:
            strings = [items]
            rendered = pc.binary_join_element_wise('"', items, '"', "")
        if any(
            s.null_count or pc.any(pc.match_substring_regex(s, _NEEDS_ESCAPE)).as_py()
            for s in strings
        ):
            values = chunk.to_pylist()
            dumped = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
            chunks.append(pa.array(dumped, pa.string()))
            continue
        joined = pc.binary_join(pa.ListArray.from_arrays(chunk.offsets, rendered), ", ")
        text = pc.binary_join_element_wise("[", joined, "]", "")
        chunks.append(pc.if_else(chunk.is_null(), pa.scalar(None, pa.string()), text))
    return pa.chunked_array(chunks, pa.string())


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """The rows as tuples of Python values."""
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def _write_meta(connection: Connection, world: WorldTables) -> None:
    entries = {
        META_AS_OF: world.as_of.isoformat(),
        META_WORLD_FINGERPRINT: world_fingerprint(world.manifest),
        META_WORLD_MANIFEST: json.dumps(world.manifest, sort_keys=True, default=str),
        META_WORLD_LOADED_AT: utc_now().isoformat(),
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
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        # One snapshot for every table (SQLite's read transaction is one already).
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    with connection, connection.begin():
        meta = read_meta(connection)
        frames = {
            name: _read_table(connection, name) if name in wanted else empty_world_frame(name)
            for name in TABLES
        }
    manifest: dict[str, Any] = json.loads(meta.get(META_WORLD_MANIFEST, "{}"))
    manifest["as_of"] = meta.get(META_AS_OF, date.today().isoformat())
    return WorldTables(root=_source(engine), manifest=manifest, **frames)


def world_from(
    world_dir: Path | None, database_url: str, tables: Iterable[str] | None = None
) -> WorldTables:
    """A generated world's folder when given, else the world in the database at
    ``database_url`` (what the reporting and planning commands read)."""
    if world_dir is not None:
        return load_world(world_dir, tables=tables)
    engine = make_engine(database_url)
    try:
        return read_world_tables(engine, tables)
    finally:
        engine.dispose()


def _source(engine: Engine) -> Path:
    """What :attr:`WorldTables.root` says of a database: its file, or its URL sans password."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database)
    return Path(url.render_as_string(hide_password=True))


def _read_table(connection: Connection, name: str) -> pd.DataFrame:
    if connection.dialect.name == "postgresql":
        arrow = _read_postgresql(connection, name)
    else:
        arrow = _read_sqlite(connection, name)
    frame = world_frame(arrow, name)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            categories = frame[column].cat.categories
            frame[column] = frame[column].cat.reorder_categories(sorted(categories))
    return frame


def _key_order(name: str) -> str:
    return ", ".join(column.name for column in _table(name).primary_key.columns)


def _read_sqlite(connection: Connection, name: str) -> pa.Table:
    """Rows through the driver's cursor, converted column-wise in Arrow.

    The stored text forms (dates, instants, JSON) are parsed by Arrow casts rather than by
    SQLAlchemy's per-value result processors, about three times faster.
    """
    schema = plain_schema(SCHEMAS[name])
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    batches = []
    try:
        cursor.execute(f"SELECT {', '.join(schema.names)} FROM {name} ORDER BY {_key_order(name)}")
        while rows := cursor.fetchmany(DEFAULT_CHUNK_ROWS):
            columns = zip(*rows, strict=True)
            arrays = [
                _from_sqlite(list(values), field.type)
                for values, field in zip(columns, schema, strict=True)
            ]
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    finally:
        cursor.close()
    return pa.Table.from_batches(batches, schema)


def _from_sqlite(values: list[Any], kind: pa.DataType) -> pa.Array:
    if pa.types.is_date(kind):
        return pa.array(values, pa.string()).cast(kind)
    if pa.types.is_timestamp(kind):
        # SQLAlchemy writes naive UTC with microseconds; the world keeps milliseconds.
        micros = pa.array(values, pa.string()).cast(pa.timestamp("us"))
        return micros.cast(pa.timestamp(kind.unit), safe=False).cast(kind)
    if pa.types.is_boolean(kind):
        return pa.array(values, pa.int8()).cast(kind)
    if pa.types.is_list(kind):
        return pa.array([None if v is None else json.loads(v) for v in values], kind)
    return pa.array(values, kind)


def _read_postgresql(connection: Connection, name: str) -> pa.Table:
    """``COPY (SELECT ...) TO STDOUT`` as CSV, parsed by Arrow's CSV reader.

    No Python object per value except for the JSON lists: 4.5 million skill observations
    stream in at Arrow's speed. Instants travel as epoch milliseconds, so neither the
    session's time zone nor its date style can change them.
    """
    schema = plain_schema(SCHEMAS[name])
    selected, types = [], {}
    for field in schema:
        if pa.types.is_timestamp(field.type):
            selected.append(f"floor(extract(epoch FROM {field.name}) * 1000)::bigint")
            types[field.name] = pa.int64()
        elif pa.types.is_list(field.type):
            selected.append(f"{field.name}::text")
            types[field.name] = pa.string()
        else:
            selected.append(field.name)
            types[field.name] = field.type
    connection.exec_driver_sql("SET LOCAL DateStyle = 'ISO'")
    connection.exec_driver_sql("SET LOCAL extra_float_digits = 1")  # shortest exact floats
    query = f"SELECT {', '.join(selected)} FROM {name} ORDER BY {_key_order(name)}"
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy:
            blocks = iter(copy)
            first = next(blocks, None)
            if first is None:
                return schema.empty_table()
            reader = pacsv.open_csv(
                io.BufferedReader(_BlockStream(first, blocks), buffer_size=1 << 20),
                read_options=pacsv.ReadOptions(column_names=schema.names),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,  # "" is an empty string, not NULL
                    true_values=["t"],
                    false_values=["f"],
                ),
            )
            table = reader.read_all()
    finally:
        cursor.close()
    for index, field in enumerate(schema):
        column = table.column(index)
        if pa.types.is_timestamp(field.type):
            table = table.set_column(index, field.name, column.cast(field.type))
        elif pa.types.is_list(field.type):
            parsed = [None if v is None else json.loads(v) for v in column.to_pylist()]
            table = table.set_column(index, field.name, pa.array(parsed, field.type))
    return table.cast(schema)


class _BlockStream(io.RawIOBase):
    """The blocks of a ``COPY ... TO STDOUT`` as a readable file for Arrow's CSV reader."""

    def __init__(self, first: bytes | memoryview, rest: Iterator[bytes | memoryview]) -> None:
        self._pending = memoryview(first)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not len(self._pending):
            block = next(self._rest, None)
            if block is None:
                return 0
            self._pending = memoryview(block)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
