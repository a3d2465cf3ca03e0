"""Shared helpers of the generator: random streams, Arrow column builders, Parquet output."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_EPOCH = date(1970, 1, 1)
SECONDS_PER_DAY = 86_400


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per named step, so steps do not shift each other."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key])))


def day_number(day: date) -> int:
    """Days since 1970-01-01 (Arrow's date32 representation)."""
    return (day - _EPOCH).days


def choice(rng: np.random.Generator, weights: npt.ArrayLike, size: int) -> IntArray:
    """Draw ``size`` indices with probabilities proportional to ``weights``."""
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    if cumulative[-1] <= 0:
        raise ValueError("weights must have a positive sum")
    drawn = rng.random(size) * cumulative[-1]
    picked: IntArray = np.minimum(
        np.searchsorted(cumulative, drawn, side="right"), len(cumulative) - 1
    ).astype(np.int64)
    return picked


def group_offsets(sorted_keys: npt.NDArray[np.int64], n_groups: int) -> IntArray:
    """CSR-style offsets of sorted non-negative group keys (length ``n_groups + 1``)."""
    counts = np.bincount(sorted_keys, minlength=n_groups)
    offsets: IntArray = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def first_of_runs(*sorted_keys: npt.NDArray[np.generic]) -> BoolArray:
    """True where a row starts a new run of equal key tuples (rows sorted by the keys)."""
    n = len(sorted_keys[0])
    first = np.ones(n, dtype=bool)
    if n > 1:
        changed = np.zeros(n - 1, dtype=bool)
        for keys in sorted_keys:
            changed |= keys[1:] != keys[:-1]
        first[1:] = changed
    return first


def search_sorted(sorted_values: IntArray, wanted: IntArray, side: str = "left") -> IntArray:
    """``np.searchsorted`` for many unordered needles in a large array.

    Binary searches in needle order jump all over a large haystack (a cache miss per step);
    searching the needles in sorted order is several times faster, sort included.
    """
    wanted = np.asarray(wanted)
    if len(wanted) < 4096 or len(sorted_values) < 4096:
        small: IntArray = np.searchsorted(sorted_values, wanted, side=side)  # type: ignore[call-overload]
        return small
    order = np.argsort(wanted, kind="stable")
    result: IntArray = np.empty(len(wanted), dtype=np.int64)
    result[order] = np.searchsorted(sorted_values, wanted[order], side=side)  # type: ignore[call-overload]
    return result


def contains(sorted_values: IntArray, wanted: IntArray) -> BoolArray:
    """Whether each wanted value occurs in ``sorted_values``."""
    if len(sorted_values) == 0:
        return np.zeros(len(wanted), dtype=bool)
    pos = np.minimum(search_sorted(sorted_values, wanted), len(sorted_values) - 1)
    found: BoolArray = sorted_values[pos] == wanted
    return found


def rank_in_group(sorted_groups: npt.NDArray[np.int64]) -> IntArray:
    """0-based position of each element within its run of equal (sorted) group keys."""
    n = len(sorted_groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(first_of_runs(sorted_groups))
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    ranks: IntArray = np.arange(n, dtype=np.int64) - run_start
    return ranks


def expand_ranges(starts: IntArray, counts: IntArray) -> tuple[IntArray, IntArray]:
    """For each i, the positions ``starts[i] .. starts[i]+counts[i]-1``; returns (owner, pos)."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    first = np.zeros(len(counts), dtype=np.int64)
    if len(counts):
        np.cumsum(counts[:-1], out=first[1:])
    positions = np.asarray(starts, dtype=np.int64)[owner] + (
        np.arange(len(owner), dtype=np.int64) - first[owner]
    )
    return owner, positions


# --------------------------------------------------------------------------------------------
# Arrow columns
# --------------------------------------------------------------------------------------------


def ids(prefix: str, n: int, width: int, start: int = 1) -> pa.Array:
    """Identifiers ``prefix`` + zero-padded number, e.g. ``JS0000001``."""
    return numbered(prefix, np.arange(start, start + n, dtype=np.int64), width)


def numbered(prefix: str, numbers: npt.ArrayLike, width: int) -> pa.Array:
    """Identifiers ``prefix`` + each number zero-padded to ``width`` digits."""
    text = pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string())
    padded = pc.utf8_lpad(text, width=width, padding="0")
    joined: pa.Array = pc.binary_join_element_wise(prefix, padded, "")
    return joined


def categorical(codes: npt.ArrayLike, values: Sequence[str] | pa.Array) -> pa.DictionaryArray:
    """A dictionary-encoded string column; ``codes`` index ``values`` (-1 = null)."""
    index = np.asarray(codes, dtype=np.int32)
    dictionary = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    mask = index < 0
    indices = pa.array(np.where(mask, 0, index), type=pa.int32(), mask=mask if mask.any() else None)
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def take(values: pa.Array | Sequence[str], index: npt.ArrayLike) -> pa.Array:
    """Plain strings ``values[index]`` (C++ gather, no Python loop)."""
    array = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    taken: pa.Array = pc.take(array, pa.array(np.asarray(index, dtype=np.int64)))
    return taken


def string_list(
    owner: IntArray, codes: npt.ArrayLike, values: Sequence[str], n_rows: int
) -> pa.ListArray:
    """A ``list<string>`` column from (row, value code) pairs sorted by row."""
    owner = np.asarray(owner, dtype=np.int64)
    if len(owner) > 1 and np.any(np.diff(owner) < 0):
        raise ValueError("list items must be sorted by row")
    offsets = group_offsets(owner, n_rows).astype(np.int32)
    flat = take(values, codes)
    return pa.ListArray.from_arrays(pa.array(offsets), flat)


def language_list(
    owner: IntArray,
    language_codes: npt.ArrayLike,
    level_codes: npt.ArrayLike,
    languages: Sequence[str],
    levels: Sequence[str],
    n_rows: int,
) -> pa.ListArray:
    """A ``list<struct<language, level>>`` column from (row, language, level) triples."""
    owner = np.asarray(owner, dtype=np.int64)
    if len(owner) > 1 and np.any(np.diff(owner) < 0):
        raise ValueError("list items must be sorted by row")
    offsets = group_offsets(owner, n_rows).astype(np.int32)
    struct = pa.StructArray.from_arrays(
        [take(languages, language_codes), take(levels, level_codes)],
        names=["language", "level"],
    )
    return pa.ListArray.from_arrays(pa.array(offsets), struct)


def dates(days: npt.ArrayLike) -> pa.Array:
    """A date32 column from day numbers since 1970-01-01."""
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.int32()).cast(pa.date32())


def timestamps(seconds: npt.ArrayLike) -> pa.Array:
    """A UTC millisecond timestamp column from seconds since the epoch."""
    millis = np.asarray(seconds, dtype=np.int64) * 1000
    return pa.array(millis, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC"))


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenFile:
    """A file the generator wrote, for the manifest."""

    table: str
    path: str  # relative to the world folder, with forward slashes
    rows: int
    bytes: int
    sha256: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Rows per Parquet row group (and per chunk of a table written in chunks).
ROW_GROUP = 1 << 20


def _arrow_table(table_name: str, columns: dict[str, pa.Array], schema: pa.Schema) -> pa.Table:
    if list(columns) != schema.names:
        raise ValueError(f"{table_name}: columns {list(columns)} != schema {schema.names}")
    arrays = []
    for name, array in columns.items():
        expected = schema.field(name).type
        arrays.append(array if array.type == expected else array.cast(expected))
    return pa.Table.from_arrays(arrays, schema=schema)


def write_parquet(
    root: Path, relative: str, table_name: str, columns: dict[str, pa.Array], schema: pa.Schema
) -> WrittenFile:
    """Write ``columns`` (exactly the schema's columns) to ``root/relative`` as Parquet."""
    return write_parquet_chunks(root, relative, table_name, [columns], schema)


def write_parquet_chunks(
    root: Path,
    relative: str,
    table_name: str,
    chunks: Iterable[dict[str, pa.Array]],
    schema: pa.Schema,
) -> WrittenFile:
    """Write a table given as consecutive chunks of columns, holding one chunk at a time."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for columns in chunks:
            table = _arrow_table(table_name, columns, schema)
            writer.write_table(table, row_group_size=ROW_GROUP)
            rows += table.num_rows
    tmp.replace(path)
    return WrittenFile(
        table=table_name,
        path=relative,
        rows=rows,
        bytes=path.stat().st_size,
        sha256=sha256_of(path),
    )
