"""Small-cell suppression for count tables whose totals are published.

**Primary suppression.** A cell resting on 1–4 people (:data:`MIN_PEOPLE` − 1) is hidden.
Zero cells are published: "nobody" discloses nobody.

**Secondary suppression.** Published totals let a reader recover a lone hidden cell of a row
or column by subtraction. The classic rule — every row and column with a hidden cell has at
least two — is necessary but not sufficient: hidden cells can still be pinned down through a
chain of rows and columns. Here a table is a graph: one node per published equation (a row
or a column with its total), one edge per cell joining its row and column. A hidden cell's
value is determined by the published figures exactly when its edge is a *bridge* of the
graph of hidden cells (no cycle of hidden cells runs through it); otherwise adding and
subtracting along the cycle changes it without changing any total. So the protection adds,
for each bridge, the cheapest path of complementary cells that closes a cycle through it
(Dijkstra; a cell costs its value, so small cells are chosen first, and totals cost more than
inner cells), and repeats until no bridge is left. Complementary cells are never zero, so
every hidden cell lies on a cycle of cells of at least 1, and its feasible range given the
published figures and non-negativity is at least ``[v - 1, v + 1]``: the tests check this
with linear programming.

Rows or columns without a published total impose no equation: their cells join a common
"ground" node, which turns a single column with its total into the 1-D rule (0 or at least 2
hidden cells). Tables whose blocks share cells (target groups and job forms both break
down the same hires) are protected block by block until nothing changes, then audited as a
whole: a hidden cell is determined by the union of all equations exactly when its unit vector
lies in their row space (leverage 1), and any such cell gets another complement.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog

from reporting.definitions import MIN_PEOPLE

__all__ = [
    "Block",
    "LinkedTable",
    "cell_bounds",
    "determined_cells",
    "primary_suppression",
    "protect_linked",
    "protect_table",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: A complementary total costs this many times its value (inner cells are hidden first).
TOTAL_PENALTY = 4.0
#: Added to every complementary cell's cost so that, at equal value, fewer cells are hidden.
CELL_COST = 0.01
_GROUND = 0


def primary_suppression(people: npt.ArrayLike, minimum: int = MIN_PEOPLE) -> BoolArray:
    """Cells resting on 1 .. ``minimum`` − 1 people."""
    counts = np.asarray(people)
    result: BoolArray = (counts >= 1) & (counts < minimum)
    return result


def _bridges(n_nodes: int, ends: npt.NDArray[np.int64], edges: Sequence[int]) -> list[int]:
    """Bridges among ``edges`` of a multigraph (Tarjan, iterative; self-loops ignored)."""
    adjacency = _adjacency(n_nodes, ends, edges)
    discovered = [-1] * n_nodes
    low = [0] * n_nodes
    clock = 0
    bridges: list[int] = []
    for root in range(n_nodes):
        if discovered[root] != -1 or not adjacency[root]:
            continue
        discovered[root] = low[root] = clock
        clock += 1
        stack = [(root, -1, iter(adjacency[root]))]
        while stack:
            node, via, neighbours = stack[-1]
            for nxt, e in neighbours:
                if e == via:
                    continue
                if discovered[nxt] == -1:
                    discovered[nxt] = low[nxt] = clock
                    clock += 1
                    stack.append((nxt, e, iter(adjacency[nxt])))
                    break
                low[node] = min(low[node], discovered[nxt])
            else:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > discovered[parent]:
                        bridges.append(via)
    return bridges


def _adjacency(
    n_nodes: int, ends: npt.NDArray[np.int64], edges: Sequence[int]
) -> list[list[tuple[int, int]]]:
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]
    for e in edges:
        u, v = int(ends[e, 0]), int(ends[e, 1])
        if u != v:
            adjacency[u].append((v, e))
            adjacency[v].append((u, e))
    return adjacency


def _cheapest_cycle(
    adjacency: list[list[tuple[int, int]]],
    ends: npt.NDArray[np.int64],
    cost: FloatArray,
    hidden: BoolArray,
    bridge: int,
) -> list[int] | None:
    """Edges of the cheapest path between the bridge's ends that avoids the bridge.

    Hidden edges cost nothing; ``adjacency`` holds every non-zero cell.
    """
    n_nodes = len(adjacency)
    source, target = int(ends[bridge, 0]), int(ends[bridge, 1])
    best = [np.inf] * n_nodes
    via: list[int] = [-1] * n_nodes
    best[source] = 0.0
    queue = [(0.0, source)]
    while queue:
        distance, node = heapq.heappop(queue)
        if distance > best[node]:
            continue
        if node == target:
            break
        for nxt, e in adjacency[node]:
            if e == bridge:
                continue
            step = 0.0 if hidden[e] else float(cost[e])
            if distance + step < best[nxt]:
                best[nxt] = distance + step
                via[nxt] = e
                heapq.heappush(queue, (distance + step, nxt))
    if not np.isfinite(best[target]):
        return None
    path, node = [], target
    while node != source:
        e = via[node]
        path.append(e)
        u, v = int(ends[e, 0]), int(ends[e, 1])
        node = u if v == node else v
    return path


def _line_rule(
    values: FloatArray, mask: BoolArray, cost: FloatArray, row_totals: bool, col_totals: bool
) -> None:
    """The classic rule, vectorised: a line with one hidden cell hides its cheapest other.

    Fixes most bridges (a lone hidden cell of a row or column) at numpy speed before the
    graph search handles the rest; ``mask`` is updated in place.
    """
    open_cost = np.where(~mask & (values > 0), cost, np.inf)
    while True:
        changed = False
        for axis, applies in ((1, row_totals), (0, col_totals)):
            if not applies:
                continue
            lone = np.flatnonzero(mask.sum(axis=axis) == 1)
            if len(lone) == 0:
                continue
            costs = open_cost[lone, :] if axis == 1 else open_cost[:, lone].T
            pick = np.argmin(costs, axis=1)
            found = np.isfinite(costs[np.arange(len(lone)), pick])
            rows, cols = (lone, pick) if axis == 1 else (pick, lone)
            rows, cols = rows[found], cols[found]
            if len(rows):
                mask[rows, cols] = True
                open_cost[rows, cols] = np.inf
                changed = True
        if not changed:
            return


def protect_table(
    values: npt.ArrayLike,
    hidden: npt.ArrayLike,
    *,
    row_totals: bool,
    col_totals: bool,
) -> BoolArray:
    """Secondary suppression of one table whose margins are part of ``values``.

    Parameters
    ----------
    values
        Non-negative counts, shape (rows, columns). With ``row_totals`` the last column is
        each row's total; with ``col_totals`` the last row is each column's total.
    hidden
        Cells already hidden (primary suppression), same shape.

    Returns
    -------
    The hidden cells after protection: ``hidden`` plus complementary cells, chosen so that
    no hidden cell is determined by the published cells (see the module docstring).
    """
    table = np.asarray(values, dtype=np.float64)
    mask = np.array(hidden, dtype=bool, copy=True)
    if table.ndim != 2 or mask.shape != table.shape:
        raise ValueError(f"values and hidden must be 2-D of one shape, got {table.shape}")
    if np.any(table < 0) or not np.all(np.isfinite(table)):
        raise ValueError("values must be finite and non-negative")
    mask &= table > 0
    n_rows, n_cols = table.shape
    if not (row_totals or col_totals) or not mask.any():
        return mask
    rows = np.arange(n_rows)
    cols = np.arange(n_cols)
    row_node = rows + 1 if row_totals else np.zeros(n_rows, np.int64)
    col_node = (
        cols + 1 + (n_rows if row_totals else 0) if col_totals else np.zeros(n_cols, np.int64)
    )
    n_nodes = 1 + (n_rows if row_totals else 0) + (n_cols if col_totals else 0)
    ii, jj = np.meshgrid(rows, cols, indexing="ij")
    ends = np.stack([row_node[ii.ravel()], col_node[jj.ravel()]], axis=1).astype(np.int64)
    flat_values = table.ravel()
    margin = np.zeros_like(table, dtype=bool)
    if row_totals:
        margin[:, -1] = True
    if col_totals:
        margin[-1, :] = True
    cost_table = table * np.where(margin, TOTAL_PENALTY, 1.0) + CELL_COST
    _line_rule(table, mask, cost_table, row_totals, col_totals)
    cost = cost_table.ravel()
    flat_mask = mask.ravel().copy()
    adjacency: list[list[tuple[int, int]]] | None = None
    while True:
        bridges = _bridges(n_nodes, ends, np.flatnonzero(flat_mask).tolist())
        if not bridges:
            break
        if adjacency is None:
            adjacency = _adjacency(n_nodes, ends, np.flatnonzero(flat_values > 0).tolist())
        # One batch per bridge search: a bridge closed by an earlier path of the batch finds
        # a free path of hidden cells and adds nothing.
        for bridge in sorted(bridges):
            path = _cheapest_cycle(adjacency, ends, cost, flat_mask, bridge)
            if path is None:  # pragma: no cover - impossible when the totals add up
                raise ValueError("the table's totals do not add up; cannot protect it")
            flat_mask[path] = True
    result: BoolArray = flat_mask.reshape(table.shape)
    return result


@dataclass(frozen=True)
class Block:
    """Columns that add up to a total column in every row (``total`` None: no row total)."""

    cells: tuple[str, ...]
    total: str | None = None


@dataclass
class LinkedTable:
    """Count columns over rows whose last row is the column totals, with additive blocks.

    Every column not in a block is protected on its own against the totals row.
    """

    columns: tuple[str, ...]
    values: FloatArray
    blocks: tuple[Block, ...] = ()
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.values.shape[1] != len(self.columns):
            raise ValueError("one column name per column of values")
        self._index = {name: i for i, name in enumerate(self.columns)}
        for block in self.blocks:
            for name in (*block.cells, *([block.total] if block.total else [])):
                if name not in self._index:
                    raise KeyError(f"block column {name!r} is not a table column")

    def col(self, name: str) -> int:
        return self._index[name]

    def block_columns(self, block: Block) -> list[int]:
        names = [*block.cells, *([block.total] if block.total else [])]
        return [self._index[n] for n in names]

    @property
    def singles(self) -> list[int]:
        """Columns protected only against the totals row."""
        in_blocks = {c for b in self.blocks for c in self.block_columns(b)}
        return [i for i in range(len(self.columns)) if i not in in_blocks]

    def equations(self) -> list[list[tuple[int, int, float]]]:
        """Every published equation as (row, column, coefficient) terms summing to zero."""
        n_rows = self.values.shape[0]
        total_row = n_rows - 1
        out: list[list[tuple[int, int, float]]] = []
        columns: set[int] = set(self.singles)
        for block in self.blocks:
            cols = self.block_columns(block)
            columns.update(cols)
            if block.total is not None:
                for r in range(n_rows):
                    terms = [(r, c, 1.0) for c in cols[:-1]]
                    out.append([*terms, (r, cols[-1], -1.0)])
        for c in sorted(columns):
            out.append([*((r, c, 1.0) for r in range(total_row)), (total_row, c, -1.0)])
        return out


def _null_basis(matrix: FloatArray, n: int) -> FloatArray:
    """Orthonormal basis (n x k) of the null space of ``matrix`` (rows x n)."""
    if matrix.size == 0 or not matrix.any():
        return np.eye(n)
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9 * max(1.0, float(singular.max(initial=0.0)))).sum())
    basis: FloatArray = vt[rank:].T
    return basis


def determined_cells(table: LinkedTable, hidden: BoolArray) -> BoolArray:
    """Hidden cells whose value follows exactly from the published cells and equations.

    A hidden cell is determined when every change of the hidden cells that keeps all
    published equations true leaves it unchanged. The equations are of two kinds: block
    rows (within one row) and column totals (across rows). Each row's changes that keep its
    own block equations form a small null space; the column equations then couple the rows
    through at most one equation per column, so the test needs one small SVD per row and one
    SVD of (columns x free directions) — linear in the number of rows, for national tables.
    """
    n_rows, n_cols = hidden.shape
    total_row = n_rows - 1
    result = np.zeros_like(hidden, dtype=bool)
    row_equations = []
    for block in table.blocks:
        if block.total is not None:
            coef = np.zeros(n_cols)
            cols = table.block_columns(block)
            coef[cols[:-1]] = 1.0
            coef[cols[-1]] = -1.0
            row_equations.append(coef)
    with_column_total = sorted(
        {c for b in table.blocks for c in table.block_columns(b)} | set(table.singles)
    )
    column_index = {int(c): i for i, c in enumerate(with_column_total)}
    local: list[tuple[int, npt.NDArray[np.intp], FloatArray]] = []
    couplings = []
    for r in range(n_rows):
        cells = np.flatnonzero(hidden[r])
        if len(cells) == 0:
            continue
        equations = np.array([e[cells] for e in row_equations]).reshape(-1, len(cells))
        basis = _null_basis(equations, len(cells))
        coupling = np.zeros((len(with_column_total), len(cells)))
        sign = -1.0 if r == total_row else 1.0
        for i, c in enumerate(cells):
            if int(c) in column_index:
                coupling[column_index[int(c)], i] = sign
        local.append((r, cells, basis))
        couplings.append(coupling @ basis)
    coupled = np.hstack(couplings) if couplings else np.zeros((0, 0))
    # Orthonormal basis of the coupled directions' row space (what the totals pin down).
    if coupled.size and coupled.any():
        _, singular, vt = np.linalg.svd(coupled, full_matrices=False)
        rank = int((singular > 1e-9 * max(1.0, float(singular.max()))).sum())
        pinned = vt[:rank].T
    else:
        pinned = np.zeros((coupled.shape[1] if coupled.size else 0, 0))
    offset = 0
    for r, cells, basis in local:
        width = basis.shape[1]
        part = pinned[offset : offset + width]
        offset += width
        for i, c in enumerate(cells):
            w = basis[i]
            norm = float(w @ w)
            if norm < 1e-12 or norm - float(np.sum((part.T @ w) ** 2)) < 1e-9 * max(1.0, norm):
                result[r, c] = True
    return result


def _complement(table: LinkedTable, hidden: BoolArray, row: int, col: int) -> bool:
    """Hide the smallest published non-zero cell beside (row, col); False if there is none."""
    values = table.values
    candidates: list[tuple[float, int, int]] = []
    for block in table.blocks:
        cols = table.block_columns(block)
        if col in cols:
            candidates += [(values[row, c], row, c) for c in cols if c != col]
    total_row = values.shape[0] - 1
    candidates += [(values[r, col], r, col) for r in range(total_row) if r != row]
    usable = [(v, r, c) for v, r, c in candidates if v > 0 and not hidden[r, c]]
    if not usable:
        return False
    _, r, c = min(usable)
    hidden[r, c] = True
    return True


def protect_linked(table: LinkedTable, primary: npt.ArrayLike) -> BoolArray:
    """Protect every block and single column, repeat until stable, then audit the whole.

    The last row of ``table.values`` is the totals row.
    """
    hidden = np.array(primary, dtype=bool, copy=True) & (table.values > 0)
    for _ in range(10_000):
        before = hidden.copy()
        for block in table.blocks:
            cols = table.block_columns(block)
            hidden[:, cols] = protect_table(
                table.values[:, cols],
                hidden[:, cols],
                row_totals=block.total is not None,
                col_totals=True,
            )
        for c in table.singles:
            column = protect_table(
                table.values[:, [c]], hidden[:, [c]], row_totals=False, col_totals=True
            )
            hidden[:, c] = column[:, 0]
        if np.array_equal(before, hidden):
            stuck = np.argwhere(determined_cells(table, hidden))
            if len(stuck) == 0:
                return hidden
            if not any(_complement(table, hidden, int(r), int(c)) for r, c in stuck):
                return hidden  # pragma: no cover - everything around is already hidden
    raise RuntimeError("suppression did not converge")  # pragma: no cover


def cell_bounds(table: LinkedTable, hidden: BoolArray) -> tuple[FloatArray, FloatArray]:
    """Smallest and largest value of each hidden cell given everything published.

    Solves two linear programmes per hidden cell (scipy's HiGHS): the hidden cells are the
    unknowns, non-negative, subject to every published equation with the published cells
    fixed. Returns arrays of the table's shape, NaN where a cell is published; +inf where
    the published figures do not bound the cell.
    """
    positions = [tuple(int(x) for x in p) for p in np.argwhere(hidden)]
    low = np.full(table.values.shape, np.nan)
    high = np.full(table.values.shape, np.nan)
    if not positions:
        return low, high
    variable = {p: k for k, p in enumerate(positions)}
    a_rows, b = [], []
    for equation in table.equations():
        row = np.zeros(len(positions))
        rhs = 0.0
        for r, c, coef in equation:
            k = variable.get((r, c))
            if k is None:
                rhs -= coef * table.values[r, c]
            else:
                row[k] += coef
        if row.any():
            a_rows.append(row)
            b.append(rhs)
    a_eq = np.vstack(a_rows) if a_rows else None
    b_eq = np.asarray(b) if a_rows else None
    for k, p in enumerate(positions):
        objective = np.zeros(len(positions))
        objective[k] = 1.0
        for sign, out in ((1.0, low), (-1.0, high)):
            result = linprog(
                sign * objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs"
            )
            if result.status == 3:  # only a maximum can be unbounded (cells are >= 0)
                out[p] = np.inf
            elif result.status != 0:  # pragma: no cover - the true values are feasible
                raise RuntimeError(f"bounds of cell {p}: {result.message}")
            else:
                out[p] = sign * result.fun
    return low, high
    variable = {p: k for k, p in enumerate(positions)}
    a_rows, b = [], []
    for equation in table.equations():
        row = np.zeros(len(positions))
        rhs = 0.0
        for r, c, coef in equation:
            k = variable.get((r, c))
            if k is None:
                rhs -= coef * table.values[r, c]
            else:
                row[k] += coef
        if row.any():
            a_rows.append(row)
            b.append(rhs)
    a_eq = np.vstack(a_rows) if a_rows else None
    b_eq = np.asarray(b) if a_rows else None
    for k, p in enumerate(positions):
        objective = np.zeros(len(positions))
        objective[k] = 1.0
        for sign, out in ((1.0, low), (-1.0, high)):
            result = linprog(
                sign * objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs"
            )
            if result.status == 3:  # unbounded
                out[p] = -np.inf * sign if sign < 0 else 0.0
                if sign < 0:
                    out[p] = np.inf
            else:
                out[p] = sign * result.fun
    return low, high
