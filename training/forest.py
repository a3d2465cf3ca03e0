"""A LightGBM model's trees as flat arrays, scored and explained by compiled loops.

Why: a request scores a few hundred candidates and explains twenty with a served model of
about two hundred trees. LightGBM's TreeSHAP for twenty rows took most of a request's CPU
(about 6 ms of 12 on the national benchmark) and its ``predict`` pays per call and per
branch. Here:

* TreeSHAP of a tree depends on a row only through the child each node sends it to; its
  work is a sequence of additions into the row's contributions. The sequence is memoised per
  tree and pattern of decisions and replayed for the next row with that pattern (about 98 %
  of rows on real candidates): the same additions of the same numbers in the same order;
* scores descend the trees without branches, four rows at a time;
* no per-call parameter parsing, thread set-up or allocation per tree.

The answers must not change, so the loops repeat LightGBM's own arithmetic operation for
operation (``Tree::Predict``, ``Tree::PredictContrib``/``TreeSHAP`` and the path helpers of
``src/io/tree.cpp``, the dense-row reading of ``c_api.cpp``): same decisions, same order of
summation, same expressions, in double precision, without fast-math. :meth:`CompiledForest.
from_booster` checks the result on rows built around every threshold of the model, bit for
bit against the booster, and gives ``None`` (the caller keeps the booster) when a model uses
what the loops do not implement (categorical splits, linear trees, several classes, an output
transform) or when the check finds any difference.

The loops are generic (the model is data), so a new model version compiles nothing: numba
compiles the loops once per machine and caches the machine code on disk (``cache=True``).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

try:  # numba is a serving accelerator: without it the booster serves, slower, the same.
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; kept for a broken install
    njit = None  # type: ignore[assignment]

FloatArray = npt.NDArray[np.float64]
#: LightGBM's ``kZeroThreshold`` (a float): dense inputs at most this small read as zero.
_ZERO_FLOAT32 = np.float32(1e-35)
_ZERO = float(_ZERO_FLOAT32)
#: Bits of LightGBM's ``decision_type``.
_CATEGORICAL_MASK = 1
#: Objectives whose ``predict`` is the raw sum of the trees (no sigmoid or exp after it).
_RAW_OBJECTIVES = ("lambdarank", "rank_xendcg", "regression", "regression_l1", "huber")


@dataclass(frozen=True)
class _Trees:
    """All trees' nodes and leaves, concatenated; tree ``t`` starts at ``node_start[t]``."""

    node_start: npt.NDArray[np.int32]
    leaf_start: npt.NDArray[np.int32]
    num_leaves: npt.NDArray[np.int32]
    feature: npt.NDArray[np.int32]
    threshold: FloatArray
    kind: npt.NDArray[np.int32]  # LightGBM's decision_type
    left: npt.NDArray[np.int32]
    right: npt.NDArray[np.int32]
    internal_count: FloatArray
    leaf_value: FloatArray
    leaf_count: FloatArray
    expected: FloatArray  # per tree, LightGBM's ExpectedValue()
    max_depth: int
    num_features: int


def _numbers(text: str, kind: Callable[[str], Any]) -> list[Any]:
    return [kind(x) for x in text.split()] if text else []


def _parse(model: str) -> _Trees | None:
    """The trees of a LightGBM model text; ``None`` when it uses what the loops lack."""
    header, *blocks = model.split("\nTree=")
    fields = dict(line.split("=", 1) for line in header.splitlines() if "=" in line)
    objective = fields.get("objective", "").split(" ")[0]
    if (
        fields.get("num_class", "1") != "1"
        or fields.get("num_tree_per_iteration", "1") != "1"
        or objective not in _RAW_OBJECTIVES
        or "average_output" in header.splitlines()
    ):
        log.info("compiled trees do not implement this model (objective %r)", objective)
        return None
    num_features = int(fields["max_feature_idx"]) + 1
    node_start, leaf_start, num_leaves, expected = [0], [0], [], []
    feature: list[int] = []
    threshold: list[float] = []
    decision: list[int] = []
    left: list[int] = []
    right: list[int] = []
    internal_count: list[float] = []
    leaf_value: list[float] = []
    leaf_count: list[float] = []
    max_depth = 0
    for block in blocks:
        lines = block.split("\nend of trees")[0].splitlines()[1:]  # after "Tree=<index>"
        tree = dict(line.split("=", 1) for line in lines if "=" in line)
        if int(tree.get("num_cat", "0")) or tree.get("is_linear", "0") != "0":
            log.info("compiled trees do not implement categorical splits or linear trees")
            return None
        leaves = int(tree["num_leaves"])
        values = _numbers(tree["leaf_value"], float)
        counts = _numbers(tree.get("leaf_count", ""), float)
        inner_counts = _numbers(tree.get("internal_count", ""), float)
        if leaves > 1:
            kinds = _numbers(tree["decision_type"], int)
            if any(k & _CATEGORICAL_MASK for k in kinds):
                return None
            tree_left = _numbers(tree["left_child"], int)
            tree_right = _numbers(tree["right_child"], int)
            feature += _numbers(tree["split_feature"], int)
            threshold += _numbers(tree["threshold"], float)
            decision += kinds
            left += tree_left
            right += tree_right
            internal_count += inner_counts
            max_depth = max(max_depth, _depth(tree_left, tree_right))
            # Tree::ExpectedValue, in its order of operations.
            total = inner_counts[0]
            value = 0.0
            for i in range(leaves):
                value += (counts[i] / total) * values[i]
            expected.append(value)
        else:
            counts = counts or [0.0]
            expected.append(values[0])
        leaf_value += values
        leaf_count += counts[:leaves] + [0.0] * (leaves - len(counts))
        num_leaves.append(leaves)
        node_start.append(len(feature))
        leaf_start.append(len(leaf_value))
    if not num_leaves:
        return None
    return _Trees(
        # 32-bit indices: half the cache lines of 64-bit ones, and visibly faster.
        node_start=np.asarray(node_start, np.int32),
        leaf_start=np.asarray(leaf_start, np.int32),
        num_leaves=np.asarray(num_leaves, np.int32),
        feature=np.asarray(feature, np.int32),
        threshold=np.asarray(threshold, np.float64),
        kind=np.asarray(decision, np.int32),
        left=np.asarray(left, np.int32),
        right=np.asarray(right, np.int32),
        internal_count=np.asarray(internal_count, np.float64),
        leaf_value=np.asarray(leaf_value, np.float64),
        leaf_count=np.asarray(leaf_count, np.float64),
        expected=np.asarray(expected, np.float64),
        max_depth=max_depth,
        num_features=num_features,
    )


def _depth(left: list[int], right: list[int]) -> int:
    """Edges on the longest root-to-leaf path."""
    deepest, stack = 0, [(0, 0)]
    while stack:
        node, depth = stack.pop()
        if node < 0:
            deepest = max(deepest, depth)
            continue
        stack += [(left[node], depth + 1), (right[node], depth + 1)]
    return deepest


# ------------------------------------------------------------------------------ the loops


def _compile(function: Callable[..., Any]) -> Callable[..., Any]:
    if njit is None:  # pragma: no cover
        return function
    compiled: Callable[..., Any] = njit(cache=True, nogil=True)(function)
    return compiled


# The loops are written out in one function each, helpers inlined by hand: a call to a
# compiled helper with a dozen arrays costs more than the node it decides.


@_compile
def _missing_decision(value, kind, threshold, left, right):  # type: ignore[no-untyped-def]
    """Tree::NumericalDecision for a node that treats missing values (zero or NaN) apart;
    ``kind`` is its ``decision_type`` (bit 1: default left; bits 2-3: the missing type)."""
    missing = (kind >> 2) & 3
    if math.isnan(value) and missing != 2:
        value = 0.0
    if (missing == 1 and -_ZERO <= value <= _ZERO) or (missing == 2 and math.isnan(value)):
        return left if kind & 2 else right
    return left if value <= threshold else right


@_compile
def _predict(  # type: ignore[no-untyped-def]
    rows, node_start, leaf_start, num_leaves, feature, threshold, kind, left, right,
    leaf_value, plain, out,
):  # fmt: skip
    """GBDT::PredictRaw per row: the leaf values of the trees summed in tree order."""
    for r in range(rows.shape[0]):
        row = rows[r]
        total = 0.0
        for t in range(num_leaves.shape[0]):
            first_node, first_leaf = node_start[t], leaf_start[t]
            if num_leaves[t] > 1:
                node = 0
                while node >= 0:
                    i = first_node + node
                    value = row[feature[i]]
                    if plain:
                        node = left[i] if value <= threshold[i] else right[i]
                    else:
                        node = _missing_decision(value, kind[i], threshold[i], left[i], right[i])
                total += leaf_value[first_leaf + ~node]
            else:
                total += leaf_value[first_leaf]
        out[r] = total


@dataclass(frozen=True)
class _Paired:
    """The trees laid out for branch-free descent: the children of a node are neighbours
    (``child[node]`` the left, ``+ 1`` the right) and a leaf is its own child under an
    infinite threshold, so ``depth[t]`` steps from ``root[t]`` end on a leaf of every row."""

    feature: npt.NDArray[np.int32]
    threshold: FloatArray
    child: npt.NDArray[np.int32]
    value: FloatArray
    root: npt.NDArray[np.int32]
    depth: npt.NDArray[np.int32]


def _paired(trees: _Trees) -> _Paired:
    feature: list[int] = []
    threshold: list[float] = []
    child: list[int] = []
    value: list[float] = []
    roots: list[int] = []
    depths: list[int] = []

    def new_node() -> int:
        feature.append(0)
        threshold.append(math.inf)
        child.append(len(child))  # a leaf until it is given children
        value.append(0.0)
        return len(feature) - 1

    for t in range(len(trees.num_leaves)):
        first_node, first_leaf = int(trees.node_start[t]), int(trees.leaf_start[t])
        root = new_node()
        roots.append(root)
        if trees.num_leaves[t] == 1:
            value[root] = float(trees.leaf_value[first_leaf])
            depths.append(0)
            continue
        deepest = 0
        queue = [(0, root, 0)]  # LightGBM's reference (~leaf when negative), new node, depth
        while queue:
            reference, node, depth = queue.pop()
            deepest = max(deepest, depth)
            if reference < 0:
                value[node] = float(trees.leaf_value[first_leaf + ~reference])
                continue
            i = first_node + reference
            left_node, right_node = new_node(), new_node()
            feature[node], threshold[node], child[node] = (
                int(trees.feature[i]),
                float(trees.threshold[i]),
                left_node,
            )
            queue += [(int(trees.left[i]), left_node, depth + 1)]
            queue += [(int(trees.right[i]), right_node, depth + 1)]
        depths.append(deepest)
    return _Paired(
        feature=np.asarray(feature, np.int32),
        threshold=np.asarray(threshold, np.float64),
        child=np.asarray(child, np.int32),
        value=np.asarray(value, np.float64),
        root=np.asarray(roots, np.int32),
        depth=np.asarray(depths, np.int32),
    )


@_compile
def _predict_paired(rows, feature, threshold, child, value, root, depth, out):  # type: ignore[no-untyped-def]
    """GBDT::PredictRaw for models without missing-value rules (the rows read as LightGBM
    reads them, NaN as zero): the same leaves and the same sums in tree order, reached
    without branches, eight rows at a time (their descents overlap in the processor)."""
    n = rows.shape[0]
    nodes = np.empty(8, np.int64)
    totals = np.empty(8, np.float64)
    r = 0
    while r + 8 <= n:
        totals[:] = 0.0
        for t in range(root.shape[0]):
            nodes[:] = root[t]
            for _ in range(depth[t]):
                for j in range(8):
                    node = nodes[j]
                    step = 0 if rows[r + j, feature[node]] <= threshold[node] else 1
                    nodes[j] = child[node] + step
            for j in range(8):
                totals[j] += value[nodes[j]]
        out[r : r + 8] = totals
        r += 8
    while r < n:
        row = rows[r]
        total = 0.0
        for t in range(root.shape[0]):
            node = root[t]
            for _ in range(depth[t]):
                node = child[node] + (0 if row[feature[node]] <= threshold[node] else 1)
            total += value[node]
        out[r] = total
        r += 1


@_compile
def _contributions(  # type: ignore[no-untyped-def]
    rows, node_start, leaf_start, num_leaves, feature, threshold, kind, left, right,
    internal_count, leaf_value, leaf_count, expected, plain, path_size,
    memo_keys, memo_start, memo_length, memo_count, memo_feature, memo_term, memo_top, out,
):  # fmt: skip
    """GBDT::PredictContrib per row: each tree's expected value into the last column, then
    its TreeSHAP contributions, tree after tree.

    Tree::TreeSHAP is recursive; here its calls are a stack, visited in the same order (the
    hot child's subtree before the cold one's), and the path of each call sits where the
    recursion puts it (``parent_base + depth`` in one buffer), so every operation is the same.

    The memo: a tree's TreeSHAP visits every node and depends on the row only through the
    child each node sends it to; its work is a sequence of ``phi[feature] += term``. So the
    sequence is kept per tree and pattern of decisions (``memo_keys``, open addressing; the
    terms in ``memo_feature``/``memo_term`` from ``memo_start`` for ``memo_length``) and a
    row with a known pattern replays it: the same additions of the same numbers, in the same
    order. ``memo_top[0]`` is the store's fill and ``memo_count`` the patterns per tree; when
    a table is half full or a tree might not fit in the store, the memo starts afresh. Trees
    of more than 64 leaves are not memoised (a pattern is one 64-bit word); an empty
    ``memo_keys`` (no columns) turns the memo off.
    """
    path = np.empty(path_size, np.int32)
    fractions = np.empty((path_size, 3), np.float64)  # zero fraction, one fraction, weight
    # A call: node, depth, parent's base, feature; its zero and one fractions.
    calls_i = np.empty((2 * path_size + 2, 4), np.int32)
    calls_f = np.empty((2 * path_size + 2, 2), np.float64)
    bias = out.shape[1] - 1
    slots = memo_keys.shape[1]
    capacity = memo_term.shape[0]
    most_terms = path_size * (path_size + 1)  # more than one tree's sequence can hold
    for r in range(rows.shape[0]):
        row = rows[r]
        phi = out[r]
        for t in range(num_leaves.shape[0]):
            phi[bias] += expected[t]
            if num_leaves[t] <= 1:
                continue
            first_node, first_leaf = node_start[t], leaf_start[t]
            recording = False
            slot = -1
            if slots and num_leaves[t] <= 64:
                pattern = 0
                for n in range(num_leaves[t] - 1):
                    i = first_node + n
                    value = row[feature[i]]
                    if plain:
                        goes_left = value <= threshold[i]
                    else:
                        goes_left = (
                            _missing_decision(value, kind[i], threshold[i], left[i], right[i])
                            == left[i]
                        )
                    if goes_left:
                        pattern |= 1 << n
                slot = (pattern ^ (pattern >> 7) ^ (pattern >> 17)) % slots
                while memo_keys[t, slot] != -1 and memo_keys[t, slot] != pattern:
                    slot = (slot + 1) % slots
                if memo_keys[t, slot] == pattern:
                    for j in range(memo_start[t, slot], memo_start[t, slot] + memo_length[t, slot]):
                        phi[memo_feature[j]] += memo_term[j]
                    continue
                if memo_count[t] * 2 >= slots or memo_top[0] + most_terms > capacity:
                    memo_keys[:, :] = -1  # full: start afresh
                    memo_count[:] = 0
                    memo_top[0] = 0
                    slot = (pattern ^ (pattern >> 7) ^ (pattern >> 17)) % slots
                recording = True
                memo_keys[t, slot] = pattern
                memo_start[t, slot] = memo_top[0]
                memo_count[t] += 1
            recorded = memo_top[0]
            calls_i[0, 0], calls_i[0, 1], calls_i[0, 2], calls_i[0, 3] = 0, 0, 0, -1
            calls_f[0, 0], calls_f[0, 1] = 1.0, 1.0
            top = 1
            while top:
                top -= 1
                node, depth, parent_base = calls_i[top, 0], calls_i[top, 1], calls_i[top, 2]
                base = parent_base + depth
                for i in range(depth):  # the parent's path, copied
                    path[base + i] = path[parent_base + i]
                    fractions[base + i, 0] = fractions[parent_base + i, 0]
                    fractions[base + i, 1] = fractions[parent_base + i, 1]
                    fractions[base + i, 2] = fractions[parent_base + i, 2]
                # Tree::ExtendPath
                zero_fraction, one_fraction = calls_f[top, 0], calls_f[top, 1]
                path[base + depth] = calls_i[top, 3]
                fractions[base + depth, 0] = zero_fraction
                fractions[base + depth, 1] = one_fraction
                fractions[base + depth, 2] = 1.0 if depth == 0 else 0.0
                for i in range(depth - 1, -1, -1):
                    fractions[base + i + 1, 2] += (
                        one_fraction * fractions[base + i, 2] * (i + 1) / float(depth + 1)
                    )
                    fractions[base + i, 2] = (
                        zero_fraction * fractions[base + i, 2] * (depth - i) / float(depth + 1)
                    )
                if node < 0:
                    value = leaf_value[first_leaf + ~node]
                    for k in range(1, depth + 1):
                        # Tree::UnwoundPathSum(path, depth, k)
                        zero_k, one_k = fractions[base + k, 0], fractions[base + k, 1]
                        next_one_portion = fractions[base + depth, 2]
                        w = 0.0
                        for i in range(depth - 1, -1, -1):
                            if one_k != 0:
                                tmp = next_one_portion * (depth + 1) / float((i + 1) * one_k)
                                w += tmp
                                next_one_portion = fractions[base + i, 2] - tmp * zero_k * (
                                    (depth - i) / float(depth + 1)
                                )
                            else:
                                w += (fractions[base + i, 2] / zero_k) / (
                                    (depth - i) / float(depth + 1)
                                )
                        term = w * (one_k - zero_k) * value
                        phi[path[base + k]] += term
                        if recording:
                            memo_feature[memo_top[0]] = path[base + k]
                            memo_term[memo_top[0]] = term
                            memo_top[0] += 1
                    continue
                at = first_node + node
                split = feature[at]
                value = row[split]
                if plain:
                    hot = left[at] if value <= threshold[at] else right[at]
                else:
                    hot = _missing_decision(value, kind[at], threshold[at], left[at], right[at])
                cold = right[at] if hot == left[at] else left[at]
                w = internal_count[at]
                if hot >= 0:
                    hot_zero_fraction = internal_count[first_node + hot] / w
                else:
                    hot_zero_fraction = leaf_count[first_leaf + ~hot] / w
                if cold >= 0:
                    cold_zero_fraction = internal_count[first_node + cold] / w
                else:
                    cold_zero_fraction = leaf_count[first_leaf + ~cold] / w
                incoming_zero = 1.0
                incoming_one = 1.0
                path_index = 0
                while path_index <= depth:
                    if path[base + path_index] == split:
                        break
                    path_index += 1
                if path_index != depth + 1:
                    incoming_zero = fractions[base + path_index, 0]
                    incoming_one = fractions[base + path_index, 1]
                    # Tree::UnwindPath(path, depth, path_index)
                    next_one_portion = fractions[base + depth, 2]
                    for i in range(depth - 1, -1, -1):
                        if incoming_one != 0:
                            tmp = fractions[base + i, 2]
                            fractions[base + i, 2] = (
                                next_one_portion * (depth + 1) / float((i + 1) * incoming_one)
                            )
                            next_one_portion = tmp - fractions[base + i, 2] * incoming_zero * (
                                depth - i
                            ) / float(depth + 1)
                        else:
                            fractions[base + i, 2] = (fractions[base + i, 2] * (depth + 1)) / float(
                                incoming_zero * (depth - i)
                            )
                    for i in range(path_index, depth):
                        path[base + i] = path[base + i + 1]
                        fractions[base + i, 0] = fractions[base + i + 1, 0]
                        fractions[base + i, 1] = fractions[base + i + 1, 1]
                    depth -= 1
                # The cold call below the hot one: the hot subtree is visited first.
                calls_i[top, 0], calls_i[top, 1], calls_i[top, 2], calls_i[top, 3] = (
                    cold,
                    depth + 1,
                    base,
                    split,
                )
                calls_f[top, 0], calls_f[top, 1] = cold_zero_fraction * incoming_zero, 0.0
                top += 1
                calls_i[top, 0], calls_i[top, 1], calls_i[top, 2], calls_i[top, 3] = (
                    hot,
                    depth + 1,
                    base,
                    split,
                )
                calls_f[top, 0], calls_f[top, 1] = hot_zero_fraction * incoming_zero, incoming_one
                top += 1
            if recording:
                memo_length[t, slot] = memo_top[0] - recorded


# ------------------------------------------------------------------------------ the model


class CompiledForest:
    """One LightGBM model's ``predict`` and ``pred_contrib``, bit for bit, without the
    booster's per-call overhead. Build it with :meth:`from_booster`."""

    def __init__(self, trees: _Trees, memo_slots: int = 1024, memo_terms: int = 4_000_000) -> None:
        """``memo_slots`` patterns per tree at most (half of them used), ``memo_terms`` kept
        additions (10 bytes each): about 44 MB for a model of 200 trees."""
        self._trees = trees
        n_trees = len(trees.num_leaves)
        self._memo_keys = np.full((n_trees, memo_slots), -1, np.int64)
        self._memo_start = np.zeros((n_trees, memo_slots), np.int64)
        self._memo_length = np.zeros((n_trees, memo_slots), np.int32)
        self._memo_count = np.zeros(n_trees, np.int64)
        self._memo_feature = np.zeros(
            memo_terms, np.int16 if trees.num_features < 2**15 else np.int32
        )
        self._memo_term = np.zeros(memo_terms, np.float64)
        self._memo_top = np.zeros(1, np.int64)
        # The memo is written by the loop: one caller at a time (the loop releases the GIL).
        self._memo_lock = threading.Lock()
        #: No node sends missing values (NaN, or zero) its own way: NaN reads as zero.
        self._plain = bool(np.all((trees.kind >> 2) & 3 == 0))
        self._paired = _paired(trees) if self._plain else None
        depth = trees.max_depth + 2  # the root's path element and one spare level
        self._path_size = depth * (depth + 1) // 2 + depth

    @classmethod
    def from_booster(cls, booster: Any, num_iteration: int | None = None) -> CompiledForest | None:
        """The booster's trees compiled, or ``None`` (logged) when they cannot stand in for
        it: numba missing, a model the loops do not implement, or any difference from the
        booster on rows around every threshold."""
        if njit is None:  # pragma: no cover
            log.warning("numba is not installed: the LightGBM booster scores (slower)")
            return None
        trees = _parse(booster.model_to_string(num_iteration=num_iteration))
        if trees is None or trees.num_features != booster.num_feature():
            return None
        forest = cls(trees)
        problem = forest._differs_from(booster, num_iteration)
        if problem:
            log.warning("compiled trees differ from the booster (%s): the booster scores", problem)
            return None
        return forest

    def _differs_from(self, booster: Any, num_iteration: int | None) -> str | None:
        """What differs between the loops and the booster on probing rows, if anything."""
        rows = probe_rows(self._trees, rows=256)
        scores = booster.predict(rows, num_iteration=num_iteration, num_threads=1)
        if not np.array_equal(self.predict(rows), scores):
            return "scores"
        sample = rows[:64]
        contributions = booster.predict(
            sample, num_iteration=num_iteration, pred_contrib=True, num_threads=1
        )
        if not np.array_equal(self.contributions(sample), contributions):
            return "contributions"
        return None

    def _dense(self, features: npt.NDArray[np.float32]) -> FloatArray:
        """Rows as LightGBM reads a dense float matrix: doubles, tiny values as zero."""
        values = np.ascontiguousarray(features, np.float32)
        rows = values.astype(np.float64)
        rows[np.abs(values) <= _ZERO_FLOAT32] = 0.0
        if self._plain:
            # What Tree::NumericalDecision does to NaN where no node treats it as missing.
            np.nan_to_num(rows, copy=False, nan=0.0, posinf=np.inf, neginf=-np.inf)
        return rows

    def predict(self, features: npt.NDArray[np.float32]) -> FloatArray:
        """The raw scores (``Booster.predict`` of a ranking model)."""
        t = self._trees
        out = np.empty(len(features), np.float64)
        if len(features) and self._paired is not None:
            p = self._paired
            _predict_paired(
                self._dense(features), p.feature, p.threshold, p.child, p.value, p.root,
                p.depth, out,
            )  # fmt: skip
        elif len(features):
            _predict(
                self._dense(features), t.node_start, t.leaf_start, t.num_leaves, t.feature,
                t.threshold, t.kind, t.left, t.right, t.leaf_value, self._plain, out,
            )  # fmt: skip
        return out

    def contributions(self, features: npt.NDArray[np.float32]) -> FloatArray:
        """Per-feature TreeSHAP contributions and the bias column (``pred_contrib=True``)."""
        t = self._trees
        out = np.zeros((len(features), t.num_features + 1), np.float64)
        if len(features):
            rows = self._dense(features)
            with self._memo_lock:
                _contributions(
                    rows, t.node_start, t.leaf_start, t.num_leaves, t.feature, t.threshold,
                    t.kind, t.left, t.right, t.internal_count, t.leaf_value, t.leaf_count,
                    t.expected, self._plain, self._path_size, self._memo_keys,
                    self._memo_start, self._memo_length, self._memo_count, self._memo_feature,
                    self._memo_term, self._memo_top, out,
                )  # fmt: skip
        return out


def probe_rows(trees: _Trees, rows: int, seed: int = 0) -> npt.NDArray[np.float32]:
    """Rows whose values sit on, just below and just above the model's thresholds (and at
    zero and NaN): every branch of every decision is taken by some row."""
    rng = np.random.default_rng(seed)
    out = np.zeros((rows, trees.num_features), np.float32)
    for column in range(trees.num_features):
        cuts = trees.threshold[trees.feature == column].astype(np.float32)
        candidates = np.concatenate(
            [
                cuts,
                np.nextafter(cuts, np.float32(-np.inf)),
                np.nextafter(cuts, np.float32(np.inf)),
                np.array([0.0, -1.0, 1.0, np.nan], np.float32),
            ]
        )
        out[:, column] = rng.choice(candidates, rows)
    return out
