"""A table built from whole columns adds rows in place (workers share its columns)."""

from __future__ import annotations

import numpy as np
import pytest

from matching.entities import EntityTable

pytestmark = pytest.mark.unit

SPEC = {"age": ("int32", ()), "where": ("float32", (2,))}


def test_a_built_table_adds_a_row_without_copying_its_columns() -> None:
    """A worker forked from the built engine shares its columns copy-on-write: growing (a new
    array per column) would copy them all into the worker that adds the first person."""
    ids = [f"P{i}" for i in range(1000)]
    table = EntityTable.from_columns(
        SPEC, ids, {"age": np.arange(1000), "where": np.ones((1000, 2))}
    )
    columns = {name: table._data[name] for name in SPEC}
    row = table.upsert("NEW", {"age": 42, "where": [0.5, 0.25]})
    assert row == 1000 and len(table) == 1001
    assert all(table._data[name] is columns[name] for name in SPEC)  # not reallocated
    assert table["age"][-1] == 42 and table["where"][-1].tolist() == [0.5, 0.25]
    assert table["age"][:1000].tolist() == list(range(1000))
