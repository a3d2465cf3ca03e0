"""A sparse row store with incremental updates, and the inverted index over it.

Skill profiles (jobseeker × skill) and requirement vectors (vacancy × skill) are large sparse
matrices that change a few rows at a time. :class:`SparseRowStore` keeps a compact CSR *base*
plus an *overlay* of replaced, added and deleted rows; reads see the overlay, and
:meth:`SparseRowStore.compact` folds it into a new base when it grows. Each stored entry has
several value *channels* (e.g. weight, required flag and minimum level of a vacancy skill), so
aligned matrices share one sparsity pattern.

:class:`InvertedIndex` answers "which rows share these columns, and how strongly" from posting
lists (the transposed base) plus a scan of the overlay, so a query touches only the postings
of its own skills rather than the whole matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from numba import njit

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

#: Fold the overlay into the base once it holds this share of the rows.
COMPACT_SHARE = 0.05


@dataclass(frozen=True)
class RowEntries:
    """Entries of several rows laid end to end: row ``i`` owns ``indptr[i]:indptr[i+1]``."""

    indptr: IntArray
    columns: IntArray
    values: FloatArray  # (entries, channels)

    @property
    def owner(self) -> IntArray:
        """For each entry, the position of its row in the request."""
        return np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))


class SparseRowStore:
    """Rows of sparse vectors over ``n_columns`` columns with ``channels`` values per entry."""

    def __init__(self, n_columns: int, channels: int) -> None:
        self.n_columns = n_columns
        self.channels = channels
        self._indptr: IntArray = np.zeros(1, np.int64)
        self._columns: IntArray = np.zeros(0, np.int64)
        self._values: FloatArray = np.zeros((0, channels), np.float32)
        self._overlay: dict[int, tuple[IntArray, FloatArray]] = {}
        self._deleted: set[int] = set()
        self._shadowed = np.zeros(0, bool)  # base rows replaced or deleted
        self.n_rows = 0

    # ---------------------------------------------------------------- building and updating
    @classmethod
    def from_csr(cls, matrices: list[sp.csr_matrix]) -> SparseRowStore:
        """A store whose channels are the ``data`` of CSR matrices with one sparsity pattern."""
        first = matrices[0].tocsr()
        first.sort_indices()
        store = cls(first.shape[1], len(matrices))
        for other in matrices[1:]:
            if other.nnz != first.nnz or not np.array_equal(other.indptr, first.indptr):
                raise ValueError("channel matrices must share one sparsity pattern")
        values = np.column_stack([m.tocsr().data for m in matrices]).astype(np.float32)
        store._set_base(
            first.indptr.astype(np.int64), first.indices.astype(np.int64), values, first.shape[0]
        )
        return store

    def _set_base(self, indptr: IntArray, columns: IntArray, values: FloatArray, n: int) -> None:
        # Each row's columns are sorted (lookup searches within a row).
        self._indptr, self._columns, self._values = indptr, columns, values
        self._overlay.clear()
        self._deleted.clear()
        self._shadowed = np.zeros(n, bool)
        self.n_rows = n

    @property
    def base_rows(self) -> int:
        return len(self._indptr) - 1

    def set_row(self, row: int, columns: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Replace (or add, when ``row == n_rows``) one row."""
        if not 0 <= row <= self.n_rows:
            raise IndexError(f"row {row} is outside 0..{self.n_rows}")
        cols = np.asarray(columns, np.int64)
        vals = np.asarray(values, np.float32).reshape(len(cols), self.channels)
        if len(cols) and (cols.min() < 0 or cols.max() >= self.n_columns):
            raise IndexError(f"a column is outside 0..{self.n_columns - 1}")
        order = np.argsort(cols, kind="stable")
        self._overlay[row] = (cols[order], vals[order])
        self._deleted.discard(row)
        if row < self.base_rows:
            self._shadowed[row] = True
        self.n_rows = max(self.n_rows, row + 1)

    def delete_row(self, row: int) -> None:
        """Empty a row; its number stays reserved."""
        self._overlay.pop(row, None)
        self._deleted.add(row)
        if row < self.base_rows:
            self._shadowed[row] = True

    @property
    def overlay_rows(self) -> int:
        return len(self._overlay) + len(self._deleted)

    def needs_compaction(self) -> bool:
        return self.overlay_rows > max(64, COMPACT_SHARE * max(self.n_rows, 1))

    def compact(self) -> None:
        """Fold the overlay into a new base (a few hundred ms for a national-size store)."""
        entries = self.rows(np.arange(self.n_rows))
        self._set_base(entries.indptr, entries.columns, entries.values, self.n_rows)

    def take(self, rows: npt.ArrayLike) -> SparseRowStore:
        """A new store whose row ``i`` is this store's row ``rows[i]`` (repeats allowed)."""
        entries = self.rows(rows)
        taken = SparseRowStore(self.n_columns, self.channels)
        taken._set_base(entries.indptr, entries.columns, entries.values, len(entries.indptr) - 1)
        return taken

    def to_csr(self, channel: int = 0) -> sp.csr_matrix:
        entries = self.rows(np.arange(self.n_rows))
        return sp.csr_matrix(
            (entries.values[:, channel], entries.columns, entries.indptr),
            shape=(self.n_rows, self.n_columns),
        )

    # ---------------------------------------------------------------- reading
    def rows(self, rows: npt.ArrayLike) -> RowEntries:
        """The entries of ``rows`` (any order, repeats allowed), overlay applied."""
        wanted = np.asarray(rows, np.int64)
        if len(wanted) > 1 and wanted[0] == wanted[-1] and (wanted == wanted[0]).all():
            # One row many times (a shortlist's vacancy beside each candidate): read it once.
            one = self.rows(wanted[:1])
            size = len(one.columns)
            return RowEntries(
                indptr=np.arange(len(wanted) + 1, dtype=np.int64) * size,
                columns=np.tile(one.columns, len(wanted)),
                values=np.tile(one.values, (len(wanted), 1)),
            )
        in_base = wanted < self.base_rows
        plain = in_base.copy()
        plain[in_base] = ~self._shadowed[wanted[in_base]]
        safe = np.where(plain, wanted, 0)
        starts = self._indptr[safe]
        lengths = np.where(plain, self._indptr[safe + 1] - starts, 0)
        special = np.flatnonzero(~plain)
        for i in special:
            cols, _ = self._overlay.get(int(wanted[i]), (np.zeros(0, np.int64), None))
            lengths[i] = len(cols)
        indptr = np.zeros(len(wanted) + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        total = int(indptr[-1])
        # Positions in the base arrays for plain rows: start + offset within the row.
        owner = np.repeat(np.arange(len(wanted)), lengths)
        offset = np.arange(total, dtype=np.int64) - indptr[owner]
        source = starts[owner] + offset
        columns = np.empty(total, np.int64)
        values = np.empty((total, self.channels), np.float32)
        from_base = plain[owner]
        columns[from_base] = self._columns[source[from_base]]
        values[from_base] = self._values[source[from_base]]
        for i in special:
            entry = self._overlay.get(int(wanted[i]))
            if entry is not None:
                a, b = indptr[i], indptr[i + 1]
                columns[a:b], values[a:b] = entry
        return RowEntries(indptr=indptr, columns=columns, values=values)

    def lookup(self, rows: npt.ArrayLike, columns: npt.ArrayLike) -> FloatArray:
        """Values at (row, column) pairs; zeros where nothing is stored."""
        r = np.asarray(rows, np.int64)
        c = np.asarray(columns, np.int64)
        out = np.zeros((len(r), self.channels), np.float32)
        in_base = r < self.base_rows
        plain = in_base.copy()
        plain[in_base] = ~self._shadowed[r[in_base]]
        if len(self._columns):
            # Within each row's own sorted columns: a request's pairs touch a few cache lines
            # per person instead of a search through every stored entry.
            _lookup_in_rows(self._indptr, self._columns, self._values, r, c, plain, out)
        for i in np.flatnonzero(~plain):
            entry = self._overlay.get(int(r[i]))
            if entry is None:
                continue
            cols, vals = entry
            j = np.searchsorted(cols, c[i])
            if j < len(cols) and cols[j] == c[i]:
                out[i] = vals[j]
        return out

    def is_deleted(self, row: int) -> bool:
        return row in self._deleted


@njit(cache=True, nogil=True)
def _lookup_in_rows(  # type: ignore[no-untyped-def]
    indptr, columns, values, rows, wanted, plain, out
):
    """``out[i] = values[entry]`` where row ``rows[i]`` of the base stores column
    ``wanted[i]`` (a binary search in the row's sorted columns); other rows are left alone."""
    for i in range(rows.shape[0]):
        if not plain[i]:
            continue
        low, high = indptr[rows[i]], indptr[rows[i] + 1]
        column = wanted[i]
        while low < high:
            middle = (low + high) // 2
            if columns[middle] < column:
                low = middle + 1
            else:
                high = middle
        if low < indptr[rows[i] + 1] and columns[low] == column:
            for channel in range(out.shape[1]):
                out[i, channel] = values[low, channel]


class InvertedIndex:
    """Posting lists column → rows over a :class:`SparseRowStore`, for one value channel."""

    def __init__(self, store: SparseRowStore, channel: int = 0) -> None:
        self.store = store
        self.channel = channel
        self._built_for = -1
        self._postings: sp.csc_matrix = sp.csc_matrix((0, store.n_columns), dtype=np.float32)
        self.rebuild()

    def rebuild(self) -> None:
        """Rebuild the postings from the store's base (after :meth:`SparseRowStore.compact`)."""
        store = self.store
        base = sp.csr_matrix(
            (store._values[:, self.channel], store._columns, store._indptr),
            shape=(store.base_rows, store.n_columns),
        )
        self._postings = base.tocsc()
        self._postings.sort_indices()
        self._built_for = store.base_rows

    @property
    def postings(self) -> sp.csc_matrix:
        """The base posting lists (column ``c``'s rows: ``indices[indptr[c]:indptr[c+1]]``)."""
        return self._postings

    def scores(self, columns: npt.ArrayLike, weights: npt.ArrayLike) -> FloatArray:
        """For every row: Σ weight[c] × value[row, c] over the query's columns.

        Reads only the postings of the query columns, then corrects for overlay rows.
        """
        store = self.store
        cols = np.asarray(columns, np.int64)
        w = np.asarray(weights, np.float32)
        post = self._postings
        starts, ends = post.indptr[cols], post.indptr[cols + 1]
        lengths = ends - starts
        owner = np.repeat(np.arange(len(cols)), lengths)
        offset = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(
            np.cumsum(lengths) - lengths, lengths
        )
        positions = np.repeat(starts, lengths) + offset
        rows = post.indices[positions]
        contributions = post.data[positions] * w[owner]
        out = np.bincount(rows, contributions, minlength=store.n_rows).astype(np.float32)
        if store.overlay_rows:
            self._apply_overlay(out, cols, w)
        return out

    def _apply_overlay(self, out: FloatArray, cols: IntArray, w: FloatArray) -> None:
        store = self.store
        # Base postings of replaced or deleted rows are stale; rows past the base have none.
        out[np.flatnonzero(store._shadowed)] = 0.0
        query = dict(zip(cols.tolist(), w.tolist(), strict=True))
        for row, (row_cols, row_vals) in store._overlay.items():
            total = 0.0
            for c, v in zip(row_cols.tolist(), row_vals[:, self.channel].tolist(), strict=True):
                weight = query.get(c)
                if weight is not None:
                    total += weight * v
            out[row] = total
