"""SparseRowStore.lookup against the dense matrix, base and overlay rows alike."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from matching.sparse_store import SparseRowStore


def test_lookup_reads_what_the_dense_matrix_holds() -> None:
    rng = np.random.default_rng(2)
    dense = (rng.random((300, 50)) < 0.15) * rng.random((300, 50))
    second = (dense > 0) * rng.random((300, 50))  # a second channel, same pattern
    store = SparseRowStore.from_csr([sp.csr_matrix(dense), sp.csr_matrix(second)])
    # Overlay: rows replaced, deleted and added after the base was built.
    for row in (3, 17, 299, 300):
        columns = np.sort(rng.choice(50, 6, replace=False))
        values = rng.random((6, 2))
        store.set_row(row, columns[::-1], values[::-1])  # any order: the store sorts them
        if row == 300:
            dense = np.vstack([dense, np.zeros(50)])
            second = np.vstack([second, np.zeros(50)])
        dense[row], second[row] = 0.0, 0.0
        dense[row, columns], second[row, columns] = values[:, 0], values[:, 1]
    store.delete_row(40)
    dense[40], second[40] = 0.0, 0.0
    rows = rng.integers(0, 301, 5000)
    columns = rng.integers(0, 50, 5000)
    found = store.lookup(rows, columns)
    expected = np.column_stack([dense[rows, columns], second[rows, columns]]).astype(np.float32)
    assert np.array_equal(found, expected)
    assert (found[:, 0] > 0).sum() > 500  # the pairs do hit stored entries


def test_one_row_many_times_reads_as_the_row_repeated() -> None:
    rng = np.random.default_rng(4)
    dense = (rng.random((40, 30)) < 0.3) * rng.random((40, 30))
    store = SparseRowStore.from_csr([sp.csr_matrix(dense)])
    store.set_row(5, [1, 7, 3], [[0.5], [0.25], [0.75]])
    store.delete_row(6)
    for row in (0, 5, 6, 39):
        alone = store.rows([row])
        repeated = store.rows([row] * 7)
        size = len(alone.columns)
        assert np.array_equal(repeated.indptr, np.arange(8) * size)
        assert np.array_equal(repeated.columns, np.tile(alone.columns, 7))
        assert np.array_equal(repeated.values, np.tile(alone.values, (7, 1)))
        # The same entries as the general path gives them, beside another row.
        mixed = store.rows([row] * 7 + [1])
        assert np.array_equal(mixed.columns[: 7 * size], repeated.columns)
        assert np.array_equal(mixed.values[: 7 * size], repeated.values)
