"""The sparse row store and inverted index agree with a dense matrix under any updates."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.sparse_store import InvertedIndex, SparseRowStore

pytestmark = pytest.mark.unit

N_COLUMNS = 12


def random_csr(rng: np.random.Generator, rows: int) -> sp.csr_matrix:
    dense = rng.random((rows, N_COLUMNS)) * (rng.random((rows, N_COLUMNS)) < 0.3)
    return sp.csr_matrix(dense.astype(np.float32))


updates = st.lists(
    st.tuples(
        st.sampled_from(["set", "add", "delete", "compact"]),
        st.integers(min_value=0, max_value=20),
        st.lists(st.integers(min_value=0, max_value=N_COLUMNS - 1), max_size=5, unique=True),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), ops=updates)
def test_store_and_index_match_dense_reference(seed: int, ops: list) -> None:
    rng = np.random.default_rng(seed)
    base = random_csr(rng, 8)
    second = base.copy()
    second.data = second.data * 2
    store = SparseRowStore.from_csr([base, second])
    index = InvertedIndex(store, channel=0)
    dense = base.toarray()
    for op, wanted_row, cols in ops:
        if op == "compact":
            store.compact()
            index.rebuild()
            continue
        if op == "add":
            dense = np.vstack([dense, np.zeros((1, N_COLUMNS), np.float32)])
            row = store.n_rows
        else:
            row = min(wanted_row, store.n_rows - 1)
        if op == "delete":
            store.delete_row(row)
            dense[row] = 0
            continue
        values = rng.random(len(cols)).astype(np.float32)
        store.set_row(row, cols, np.column_stack([values, 2 * values]))
        dense[row] = 0
        dense[row, cols] = values

    entries = store.rows(np.arange(store.n_rows))
    rebuilt = sp.csr_matrix(
        (entries.values[:, 0], entries.columns, entries.indptr), shape=dense.shape
    ).toarray()
    np.testing.assert_allclose(rebuilt, dense)
    np.testing.assert_allclose(entries.values[:, 1], 2 * entries.values[:, 0], rtol=1e-6)

    r = rng.integers(0, store.n_rows, 40)
    c = rng.integers(0, N_COLUMNS, 40)
    np.testing.assert_allclose(store.lookup(r, c)[:, 0], dense[r, c])

    query = rng.choice(N_COLUMNS, 4, replace=False)
    weights = rng.random(4).astype(np.float32)
    expected = dense[:, query] @ weights
    np.testing.assert_allclose(index.scores(query, weights), expected, rtol=1e-5, atol=1e-6)


def test_channels_must_share_a_pattern() -> None:
    a = sp.csr_matrix(np.eye(3, dtype=np.float32))
    b = sp.csr_matrix(np.ones((3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="share one sparsity pattern"):
        SparseRowStore.from_csr([a, b])


def test_set_row_rejects_out_of_range() -> None:
    store = SparseRowStore.from_csr([sp.csr_matrix(np.eye(3, dtype=np.float32))])
    with pytest.raises(IndexError, match=r"row 7 is outside 0\.\.3"):
        store.set_row(7, [0], [1.0])
    with pytest.raises(IndexError, match=r"a column is outside 0\.\.2"):
        store.set_row(1, [5], [1.0])
