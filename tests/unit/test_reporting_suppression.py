"""Small-cell suppression: properties on random tables, and bounds by linear programming."""

from __future__ import annotations

from random import Random

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporting.suppression import (
    Block,
    LinkedTable,
    cell_bounds,
    determined_cells,
    primary_suppression,
    protect_linked,
    protect_table,
)

pytestmark = pytest.mark.unit

SMALL_COUNTS = st.sampled_from([0, 0, 1, 2, 3, 4, 5, 7, 12, 30])


def with_margins(inner: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The table with a total column and a total row appended."""
    rows = np.column_stack([inner, inner.sum(axis=1)])
    return np.vstack([rows, rows.sum(axis=0)])


@st.composite
def tables(draw: st.DrawFn, max_side: int = 6) -> npt.NDArray[np.float64]:
    n_rows = draw(st.integers(1, max_side))
    n_cols = draw(st.integers(1, max_side))
    cells = draw(st.lists(SMALL_COUNTS, min_size=n_rows * n_cols, max_size=n_rows * n_cols))
    return with_margins(np.array(cells, dtype=np.float64).reshape(n_rows, n_cols))


def one_block(full: npt.NDArray[np.float64]) -> LinkedTable:
    names = tuple(f"c{i}" for i in range(full.shape[1]))
    return LinkedTable(columns=names, values=full, blocks=(Block(names[:-1], names[-1]),))


def test_primary_hides_one_to_four_people() -> None:
    assert primary_suppression([0, 1, 4, 5, 12]).tolist() == [False, True, True, False, False]
    assert primary_suppression([3], minimum=3).tolist() == [False]


def test_a_lone_small_cell_gets_the_smallest_complement_in_its_row_and_column() -> None:
    full = with_margins(np.array([[2.0, 9.0, 6.0], [8.0, 20.0, 7.0], [10.0, 11.0, 12.0]]))
    hidden = protect_table(full, primary_suppression(full), row_totals=True, col_totals=True)
    # 2 is primary; the cheapest cycle through it uses 6 (row), 8 (column) and 7.
    expected = np.zeros_like(full, dtype=bool)
    expected[0, 0] = expected[0, 2] = expected[1, 0] = expected[1, 2] = True
    assert np.array_equal(hidden, expected)


def test_zero_cells_and_unconstrained_tables_are_left_alone() -> None:
    full = with_margins(np.array([[0.0, 3.0], [0.0, 9.0]]))
    hidden = protect_table(full, primary_suppression(full), row_totals=True, col_totals=True)
    assert not hidden[:, 0].any()
    free = protect_table(full, primary_suppression(full), row_totals=False, col_totals=False)
    assert np.array_equal(free, primary_suppression(full))


def test_bad_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        protect_table(np.array([[-1.0]]), np.array([[False]]), row_totals=True, col_totals=True)
    with pytest.raises(ValueError, match="one shape"):
        protect_table(np.zeros((2, 2)), np.zeros((3, 2), bool), row_totals=True, col_totals=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_no_line_has_exactly_one_hidden_cell(full: npt.NDArray[np.float64]) -> None:
    primary = primary_suppression(full)
    hidden = protect_table(full, primary, row_totals=True, col_totals=True)
    assert (hidden >= primary).all()
    assert not hidden[full == 0].any()
    assert set(hidden.sum(axis=0).tolist()) <= {0} | set(range(2, 100))
    assert set(hidden.sum(axis=1).tolist()) <= {0} | set(range(2, 100))
    assert not determined_cells(one_block(full), hidden).any()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(max_side=4))
def test_linear_programming_cannot_pin_a_hidden_cell(full: npt.NDArray[np.float64]) -> None:
    hidden = protect_table(full, primary_suppression(full), row_totals=True, col_totals=True)
    low, high = cell_bounds(one_block(full), hidden)
    assert (low[hidden] <= full[hidden] + 1e-9).all()
    assert (high[hidden] >= full[hidden] - 1e-9).all()
    # Every hidden cell can move by at least one in both directions.
    assert (high[hidden] - low[hidden] >= 2 - 1e-6).all()


@st.composite
def linked_tables(draw: st.DrawFn) -> npt.NDArray[np.float64]:
    """Rows of (3 target groups, hires, 2 job forms, an unrelated count) and a total row."""
    n = draw(st.integers(1, 5))
    rows = []
    for _ in range(n):
        groups = [draw(SMALL_COUNTS) for _ in range(3)]
        hires = sum(groups)
        first = draw(st.integers(0, hires))
        rows.append([*groups, hires, first, hires - first, draw(SMALL_COUNTS)])
    body = np.array(rows, dtype=np.float64)
    return np.vstack([body, body.sum(axis=0)])


LINKED_COLUMNS = ("g1", "g2", "g3", "hires", "f1", "f2", "other")
LINKED_BLOCKS = (Block(("g1", "g2", "g3"), "hires"), Block(("f1", "f2"), "hires"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linked_tables())
def test_linked_blocks_protect_shared_totals(full: npt.NDArray[np.float64]) -> None:
    table = LinkedTable(columns=LINKED_COLUMNS, values=full, blocks=LINKED_BLOCKS)
    hidden = protect_linked(table, primary_suppression(full))
    low, high = cell_bounds(table, hidden)
    assert (high[hidden] - low[hidden] >= 1 - 1e-6).all()
    assert not determined_cells(table, hidden).any()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linked_tables(), st.randoms(use_true_random=False))
def test_determined_cells_agrees_with_linear_programming(
    full: npt.NDArray[np.float64], random: Random
) -> None:
    table = LinkedTable(columns=LINKED_COLUMNS, values=full, blocks=LINKED_BLOCKS)
    hidden = np.array([[random.random() < 0.4 for _ in row] for row in full]) & (full > 0)
    low, high = cell_bounds(table, hidden)
    pinned = np.zeros_like(hidden)
    pinned[hidden] = high[hidden] - low[hidden] < 1e-7
    assert np.array_equal(determined_cells(table, hidden), pinned)


def test_a_single_column_follows_the_one_dimensional_rule() -> None:
    column = np.array([[3.0], [10.0], [6.0], [19.0]])  # last row: the total
    hidden = protect_table(column, primary_suppression(column), row_totals=False, col_totals=True)
    assert hidden[:, 0].tolist() == [True, False, True, False]  # 6 is the smallest complement
