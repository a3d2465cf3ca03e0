"""Ranking metrics over grouped queries, as pure functions of arrays.

Every ranking metric takes the same three parallel inputs, in the layout LightGBM uses:

``scores``
    The model's score for each row (higher ranks first); finite floats.
``labels``
    Graded relevance of each row, non-negative integers (0..4 in Kohtaanto, see
    :mod:`training.dataset`).
``groups``
    Sizes of consecutive query groups: the first ``groups[0]`` rows are the first query, the
    next ``groups[1]`` rows the second, and so on. The sizes must sum to ``len(scores)``.

Within a query, rows are ranked by a *stable* sort on ``-score``, so ties in score are broken
by original row order and every metric is deterministic.

Queries without any relevant row contribute nothing: the per-query functions return NaN for
them, and the means skip them. A mean over no qualifying query at all is NaN.

The two remaining functions summarise a recommender beyond single queries:
:func:`catalogue_coverage` (the share of the catalogue ever recommended) and
:func:`disparity_ratio` (worst over best of a metric across population groups).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "average_precision",
    "catalogue_coverage",
    "disparity_ratio",
    "mean_average_precision",
    "ndcg_at_k",
    "per_query_ndcg",
    "recall_at_k",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _as_1d(values: npt.ArrayLike, name: str) -> npt.NDArray[np.generic]:
    """Return ``values`` as a 1-D array, or raise naming the argument."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _as_int_array(values: npt.ArrayLike, name: str) -> IntArray:
    """Return integer-valued, non-negative ``values`` as an int64 array."""
    array = _as_1d(values, name)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must hold integers, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.integer):
        as_float = array.astype(np.float64)
        if not np.all(np.isfinite(as_float)) or not np.all(as_float == np.round(as_float)):
            raise ValueError(f"{name} must hold whole numbers")
    ints = array.astype(np.int64)
    if np.any(ints < 0):
        raise ValueError(f"{name} must be non-negative")
    return ints


def _validate(
    scores: npt.ArrayLike, labels: npt.ArrayLike, groups: npt.ArrayLike
) -> tuple[FloatArray, IntArray, IntArray]:
    """Check the common inputs and return them as ``(scores, labels, group offsets)``.

    Parameters
    ----------
    scores, labels, groups
        As described in the module docstring.

    Returns
    -------
    tuple of numpy.ndarray
        Scores as float64, labels as int64, and the ``len(groups) + 1`` offsets at which
        the query groups start (the last offset is ``len(scores)``).

    Raises
    ------
    ValueError
        If an input is not 1-D, ``labels`` or ``groups`` is not non-negative integers,
        ``scores`` is not finite, the lengths differ or the group sizes do not sum to the
        number of rows.
    """
    score_array = _as_1d(scores, "scores")
    if score_array.size and not np.issubdtype(score_array.dtype, np.number):
        raise ValueError(f"scores must be numeric, got dtype {score_array.dtype}")
    score_floats = score_array.astype(np.float64)
    if not np.all(np.isfinite(score_floats)):
        raise ValueError("scores must be finite (no NaN or infinity)")
    label_ints = _as_int_array(labels, "labels")
    sizes = _as_int_array(groups, "groups")
    if label_ints.size != score_floats.size:
        raise ValueError(
            f"labels has length {label_ints.size} but scores has length {score_floats.size}"
        )
    total = int(sizes.sum())
    if total != score_floats.size:
        raise ValueError(f"groups sum to {total} but there are {score_floats.size} rows")
    offsets = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return score_floats, label_ints, offsets


def _check_k(k: int) -> None:
    """Raise unless ``k`` is an integer of at least 1."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")


def _check_threshold(threshold: int) -> None:
    """Raise unless ``threshold`` is an integer of at least 1 (label 0 is never relevant)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer) or threshold < 1:
        raise ValueError(f"threshold must be an integer >= 1, got {threshold!r}")


def _ranking(scores: FloatArray) -> npt.NDArray[np.intp]:
    """Row indices of one query from best to worst; ties keep row order."""
    return np.argsort(-scores, kind="stable")


def _discounts(length: int) -> FloatArray:
    """``1 / log2(rank + 1)`` for ranks ``1..length``."""
    return 1.0 / np.log2(np.arange(2, length + 2, dtype=np.float64))


def _nan_mean(values: FloatArray) -> float:
    """Mean of the non-NaN entries, NaN when there are none (without a warning)."""
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return math.nan
    return float(kept.mean())


def per_query_ndcg(
    scores: npt.ArrayLike, labels: npt.ArrayLike, groups: npt.ArrayLike, k: int
) -> FloatArray:
    """NDCG@k of each query, NaN for queries without a positive label.

    The gain of a row with label ``l`` is ``2**l - 1`` and the row at rank ``r`` (from 1) is
    discounted by ``1 / log2(r + 1)``. DCG@k sums the discounted gains of the ``k`` best
    scored rows; IDCG@k is the same for the rows sorted by label. A query shorter than ``k``
    uses all its rows.

    Parameters
    ----------
    scores, labels, groups
        As described in the module docstring.
    k
        Rank cutoff, at least 1.

    Returns
    -------
    numpy.ndarray
        One float per query in group order, in ``[0, 1]``, or NaN where every label is 0.

    Raises
    ------
    ValueError
        If the inputs are inconsistent (see the module docstring) or ``k < 1``.
    """
    _check_k(k)
    score_floats, label_ints, offsets = _validate(scores, labels, groups)
    n_queries = offsets.size - 1
    result = np.full(n_queries, np.nan, dtype=np.float64)
    gains = np.exp2(label_ints.astype(np.float64)) - 1.0
    max_size = int(np.diff(offsets).max()) if n_queries else 0
    discounts = _discounts(min(int(k), max_size))
    for query in range(n_queries):
        start, stop = int(offsets[query]), int(offsets[query + 1])
        query_gains = gains[start:stop]
        cut = min(int(k), stop - start)
        ideal = np.sort(query_gains)[::-1][:cut]
        idcg = float(ideal @ discounts[:cut])
        if idcg <= 0.0:
            continue
        ranked = query_gains[_ranking(score_floats[start:stop])][:cut]
        result[query] = float(ranked @ discounts[:cut]) / idcg
    return result


def ndcg_at_k(scores: npt.ArrayLike, labels: npt.ArrayLike, groups: npt.ArrayLike, k: int) -> float:
    """Mean NDCG@k over the queries that have at least one positive label.

    Parameters
    ----------
    scores, labels, groups
        As described in the module docstring.
    k
        Rank cutoff, at least 1.

    Returns
    -------
    float
        The mean of :func:`per_query_ndcg` over queries with a positive label, in ``[0, 1]``;
        NaN when no query has one.

    Raises
    ------
    ValueError
        If the inputs are inconsistent (see the module docstring) or ``k < 1``.
    """
    return _nan_mean(per_query_ndcg(scores, labels, groups, k))


def _per_query_recall(
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    groups: npt.ArrayLike,
    k: int,
    threshold: int,
) -> FloatArray:
    """Recall@k of each query, NaN for queries without a relevant row."""
    _check_k(k)
    _check_threshold(threshold)
    score_floats, label_ints, offsets = _validate(scores, labels, groups)
    relevant = label_ints >= threshold
    n_queries = offsets.size - 1
    result = np.full(n_queries, np.nan, dtype=np.float64)
    for query in range(n_queries):
        start, stop = int(offsets[query]), int(offsets[query + 1])
        query_relevant = relevant[start:stop]
        n_relevant = int(query_relevant.sum())
        if n_relevant == 0:
            continue
        top = _ranking(score_floats[start:stop])[: int(k)]
        result[query] = int(query_relevant[top].sum()) / n_relevant
    return result


def recall_at_k(
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    groups: npt.ArrayLike,
    k: int,
    threshold: int = 1,
) -> float:
    """Mean recall@k over the queries that have at least one relevant row.

    A row is relevant when its label is at least ``threshold``. The recall of a query is the
    number of relevant rows among its ``k`` best scored rows over all its relevant rows.

    Parameters
    ----------
    scores, labels, groups
        As described in the module docstring.
    k
        Rank cutoff, at least 1.
    threshold
        Smallest relevant label, at least 1.

    Returns
    -------
    float
        Mean recall in ``[0, 1]``; NaN when no query has a relevant row.

    Raises
    ------
    ValueError
        If the inputs are inconsistent, ``k < 1`` or ``threshold < 1``.
    """
    return _nan_mean(_per_query_recall(scores, labels, groups, k, threshold))


def average_precision(
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    groups: npt.ArrayLike,
    threshold: int = 1,
) -> FloatArray:
    """Average precision of each query, NaN for queries without a relevant row.

    Relevance is binary: a row is relevant when its label is at least ``threshold``. The
    average precision of a query is the mean, over its relevant rows, of the precision of
    the ranking cut just after that row (over the whole ranking, no cutoff).

    Parameters
    ----------
    scores, labels, groups
        As described in the module docstring.
    threshold
        Smallest relevant label, at least 1.

    Returns
    -------
    numpy.ndarray
        One float per query in group order, in ``[0, 1]``, or NaN where no row is relevant.

    Raises
    ------
    ValueError
        If the inputs are inconsistent or ``threshold < 1``.
    """
    _check_threshold(threshold)
    score_floats, label_ints, offsets = _validate(scores, labels, groups)
    relevant = label_ints >= threshold
    n_queries = offsets.size - 1
    result = np.full(n_queries, np.nan, dtype=np.float64)
    for query in range(n_queries):
        start, stop = int(offsets[query]), int(offsets[query + 1])
        hits = relevant[start:stop][_ranking(score_floats[start:stop])]
        n_relevant = int(hits.sum())
        if n_relevant == 0:
            continue
        ranks = np.flatnonzero(hits) + 1
        precision_at_hits = np.arange(1, n_relevant + 1, dtype=np.float64) / ranks
        result[query] = float(precision_at_hits.mean())
    return result


def mean_average_precision(
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    groups: npt.ArrayLike,
    threshold: int = 1,
) -> float:
    """Mean of :func:`average_precision` over the queries that have a relevant row.

    Parameters
    ----------
    scores, labels, groups
        As described in the module docstring.
    threshold
        Smallest relevant label, at least 1.

    Returns
    -------
    float
        MAP in ``[0, 1]``; NaN when no query has a relevant row.

    Raises
    ------
    ValueError
        If the inputs are inconsistent or ``threshold < 1``.
    """
    return _nan_mean(average_precision(scores, labels, groups, threshold))


def catalogue_coverage(top_items: Sequence[Sequence[str]], catalogue_size: int) -> float:
    """Share of the catalogue that appears in at least one recommendation list.

    Parameters
    ----------
    top_items
        One list of recommended item ids per query (for example the top-k vacancies shown
        to each jobseeker).
    catalogue_size
        Number of items that could have been recommended, at least 1.

    Returns
    -------
    float
        Distinct recommended items over ``catalogue_size``, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If ``catalogue_size < 1`` or more distinct items were recommended than the
        catalogue holds.
    TypeError
        If an entry of ``top_items`` is a bare string rather than a list of ids.
    """
    if (
        isinstance(catalogue_size, bool)
        or not isinstance(catalogue_size, int | np.integer)
        or catalogue_size < 1
    ):
        raise ValueError(f"catalogue_size must be an integer >= 1, got {catalogue_size!r}")
    distinct: set[str] = set()
    for position, items in enumerate(top_items):
        if isinstance(items, str):
            raise TypeError(f"top_items[{position}] is a string; expected a sequence of item ids")
        distinct.update(items)
    if len(distinct) > catalogue_size:
        raise ValueError(
            f"top_items holds {len(distinct)} distinct items, more than "
            f"catalogue_size {catalogue_size}"
        )
    return len(distinct) / int(catalogue_size)


def disparity_ratio(values_by_group: Mapping[str, float]) -> float:
    """Ratio of the smallest to the largest metric value across groups.

    Non-finite values (NaN, typically a group with no qualifying query) are ignored. A ratio
    of 1.0 means parity; smaller values mean the worst-served group gets a smaller share.

    Parameters
    ----------
    values_by_group
        A non-negative metric value (e.g. NDCG@10) per group name.

    Returns
    -------
    float
        ``min / max`` over the finite values, in ``[0, 1]``; 1.0 when fewer than two groups
        have a finite value or every finite value is 0.

    Raises
    ------
    ValueError
        If a finite value is negative.
    """
    finite = {name: float(v) for name, v in values_by_group.items() if math.isfinite(float(v))}
    negative = sorted(name for name, v in finite.items() if v < 0.0)
    if negative:
        raise ValueError(f"values_by_group must be non-negative; negative for {negative}")
    if len(finite) < 2:
        return 1.0
    largest = max(finite.values())
    if largest == 0.0:
        return 1.0
    return min(finite.values()) / largest
