"""Figures that judge a ranking by what it would bring, not by how it resembles the log.

Logged labels come through the coaches' policy: a shown person the coach did not propose has
grade 0 whatever they would have done. A ranking that imitates the coaches scores well on
logged NDCG without ranking better by outcome. The figures here look at outcomes:

``outcome NDCG@k``
    NDCG over the *proposed* rows of each query, graded by what happened after the proposal
    (interviewed 1, hired 2, still employed after six months 3). Coaches chose whom to
    propose on what they could see, so among proposed rows the outcome depends on the pair,
    and a ranking that orders them by their chances scores high.
``IPS / SNIPS hires@k``
    Off-policy estimates of the hires a list's top ``k`` would bring if every one of them
    were proposed: each proposed row stands for ``1 / propensity`` shown rows (clipped at
    ``clip``); self-normalised (SNIPS) divides by the weights' sum instead of the count,
    trading a little bias for much less variance. Unshown rows have no propensity and count
    as bringing nothing.
``true NDCG@k`` and ``true hires@k``
    On generated worlds only: the same lists scored against the hidden model's probability of
    a hire (the oracle), over every row including the unshown ones.

:func:`paired_bootstrap` tells whether one ranking beats another by more than the test
queries' noise; :func:`steering_gap` measures whether recommendations steer people by sex.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = [
    "BootstrapResult",
    "OffPolicyEstimate",
    "gain_ndcg",
    "off_policy_hires",
    "paired_bootstrap",
    "steering_gap",
    "top_k_mask",
]


def _offsets(groups: npt.ArrayLike) -> IntArray:
    sizes = np.asarray(groups, np.int64)
    offsets = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return offsets


def top_k_mask(scores: npt.ArrayLike, groups: npt.ArrayLike, k: int) -> npt.NDArray[np.bool_]:
    """Rows among their query's ``k`` best scores (stable on ties, like the metrics)."""
    values = np.asarray(scores, np.float64)
    offsets = _offsets(groups)
    mask = np.zeros(len(values), bool)
    for start, stop in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
        order = np.argsort(-values[start:stop], kind="stable")[:k]
        mask[start + order] = True
    return mask


def gain_ndcg(
    scores: npt.ArrayLike,
    gains: npt.ArrayLike,
    groups: npt.ArrayLike,
    k: int,
    include: npt.ArrayLike | None = None,
) -> FloatArray:
    """NDCG@k per query with real-valued gains (NaN where a query has no positive gain).

    ``include`` restricts each query to some of its rows (e.g. the proposed ones).
    """
    values = np.asarray(scores, np.float64)
    gain = np.asarray(gains, np.float64)
    keep = np.ones(len(values), bool) if include is None else np.asarray(include, bool)
    offsets = _offsets(groups)
    discounts = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    result = np.full(len(offsets) - 1, np.nan)
    for query, (start, stop) in enumerate(
        zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
    ):
        rows = np.flatnonzero(keep[start:stop]) + start
        if len(rows) == 0:
            continue
        g = gain[rows]
        cut = min(k, len(rows))
        ideal = float(np.sort(g)[::-1][:cut] @ discounts[:cut])
        if ideal <= 0:
            continue
        ranked = g[np.argsort(-values[rows], kind="stable")][:cut]
        result[query] = float(ranked @ discounts[:cut]) / ideal
    return result


@dataclass(frozen=True)
class OffPolicyEstimate:
    """Estimated hires in the top ``k`` per query."""

    ips: float
    snips: float
    #: Per query, the clipped-IPS sum over its top k (for bootstrapping).
    per_query: FloatArray


def off_policy_hires(
    scores: npt.ArrayLike,
    hired: npt.ArrayLike,
    proposed: npt.ArrayLike,
    propensity: npt.ArrayLike,
    groups: npt.ArrayLike,
    k: int = 10,
    clip: float = 20.0,
) -> OffPolicyEstimate:
    """Clipped IPS and SNIPS estimates of the hires the top ``k`` of each query would bring."""
    top = top_k_mask(scores, groups, k)
    p = np.asarray(propensity, np.float64)
    shown = ~np.isnan(p)
    weight = np.where(
        np.asarray(proposed, bool) & shown, np.minimum(1.0 / np.maximum(p, 1e-9), clip), 0.0
    )
    reward = np.asarray(hired, np.float64)
    sizes = np.asarray(groups, np.int64)
    query = np.repeat(np.arange(len(sizes)), sizes)
    per_query: FloatArray = np.bincount(
        query, weights=top * weight * reward, minlength=len(sizes)
    ).astype(np.float64)
    if len(sizes) == 0:
        return OffPolicyEstimate(math.nan, math.nan, per_query)
    ips = float(per_query.mean())
    # Self-normalised: reward per unit of weight, times the shown slots of the top k.
    weight_sum = float((top * weight).sum())
    slots = float((top & shown).sum())
    snips = (
        float((top * weight * reward).sum()) / weight_sum * slots / len(sizes)
        if weight_sum > 0
        else math.nan
    )
    return OffPolicyEstimate(ips=ips, snips=snips, per_query=per_query)


@dataclass(frozen=True)
class BootstrapResult:
    """Mean of ``a - b`` over queries and its two-sided ``confidence`` interval."""

    difference: float
    low: float
    high: float
    queries: int


def paired_bootstrap(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    confidence: float = 0.9,
    resamples: int = 1000,
    seed: int = 0,
) -> BootstrapResult:
    """Paired bootstrap over queries of per-query figures (NaN queries are skipped)."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    both = ~(np.isnan(x) | np.isnan(y))
    diff = x[both] - y[both]
    return weighted_bootstrap(
        diff, np.ones(len(diff)), confidence=confidence, resamples=resamples, seed=seed
    )


def weighted_bootstrap(
    values: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    confidence: float = 0.9,
    resamples: int = 1000,
    seed: int = 0,
) -> BootstrapResult:
    """A weighted mean over groups and its two-sided ``confidence`` interval, the groups
    drawn again with replacement (every bootstrap of this module is one of these)."""
    value = np.asarray(values, np.float64)
    weight = np.asarray(weights, np.float64)
    if len(value) == 0 or weight.sum() == 0:
        return BootstrapResult(math.nan, math.nan, math.nan, 0)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(value), size=(resamples, len(value)))
    drawn = (value[picks] * weight[picks]).sum(axis=1) / weight[picks].sum(axis=1)
    tail = (1.0 - confidence) / 2.0
    return BootstrapResult(
        difference=float(np.average(value, weights=weight)),
        low=float(np.quantile(drawn, tail)),
        high=float(np.quantile(drawn, 1.0 - tail)),
        queries=len(value),
    )


def _stratum_gaps(
    recommended: pd.DataFrame, female_share: Mapping[str, float], dominance: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per stratum holding both sexes: the gap toward own-sex occupations and its people
    (indexed by stratum); and the per-person shares."""
    frame = recommended[recommended["sex"].isin(["female", "male"])].copy()
    share = frame["occupation_group"].map(female_share)
    frame = frame[share.notna()].assign(share=share[share.notna()])
    own = np.array(
        [g in p for g, p in zip(frame["occupation_group"], frame["preferred_groups"], strict=True)],
        bool,
    )
    frame = frame[~own]
    frame = frame.assign(
        female_dominated=(frame["share"] >= dominance).astype(np.float64),
        male_dominated=(frame["share"] <= 1 - dominance).astype(np.float64),
    )
    per_person = (
        frame.groupby(["stratum", "person", "sex"])[["female_dominated", "male_dominated"]]
        .mean()
        .reset_index()
    )
    gaps: dict[str, tuple[float, int]] = {}
    for key, stratum in per_person.groupby("stratum"):
        women = stratum[stratum["sex"] == "female"]
        men = stratum[stratum["sex"] == "male"]
        if women.empty or men.empty:
            continue
        toward_own = (
            women["female_dominated"].mean()
            - men["female_dominated"].mean()
            + men["male_dominated"].mean()
            - women["male_dominated"].mean()
        ) / 2
        gaps[str(key)] = (float(toward_own), len(stratum))
    table = pd.DataFrame.from_dict(gaps, orient="index", columns=["gap", "people"])
    return table, per_person


def steering_gap(
    recommended: pd.DataFrame,
    female_share: Mapping[str, float],
    *,
    dominance: float = 0.6,
    resamples: int = 1000,
    seed: int = 0,
    reference: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Do recommendations steer women and men toward occupations of their own sex?

    ``recommended`` has one row per recommended (person, vacancy) with columns ``person``,
    ``sex`` (female / male; other values are left out), ``occupation_group`` of the vacancy,
    ``preferred_groups`` (the person's own preferred occupation groups, a set) and
    ``stratum`` (what the comparison is conditioned on: people with the same preferences).
    ``female_share`` is the share of women per occupation group; a group is dominated by one
    sex when that sex's share is at least ``dominance``.

    Recommendations in the person's own preferred groups follow the person's wish and are
    left out. Within each stratum holding both women and men, the share of each person's
    other recommendations in male-dominated and in female-dominated occupations is averaged
    per sex, and the gap is how much more women than men get female-dominated work plus how
    much more men than women get male-dominated work, halved: 0 when sex makes no difference
    among people with the same preferences, positive when each sex is steered toward its own
    occupations. Strata weigh by their people; ``gap_low`` and ``gap_high`` bound the 90 %
    interval of the gap over strata drawn again.

    ``reference`` (another ranking's recommendations for the same people, e.g. the rules')
    adds ``excess``: this gap minus the reference's over the strata both have, with its own
    paired interval (``excess_low``, ``excess_high``). Skills carry the segregation of past
    work, so any ranking by skills shows some gap in a segregated labour market; the excess
    is what the ranking adds to it.

    Also returned: the mean share of recommendations in occupations dominated by the other
    sex, for women and for men, and the people counted; NaN when no stratum holds both sexes.
    """
    table, per_person = _stratum_gaps(recommended, female_share, dominance)
    values, sizes = table["gap"].to_numpy(np.float64), table["people"].to_numpy(np.float64)
    spread = weighted_bootstrap(values, sizes, resamples=resamples, seed=seed)
    women_all = per_person[per_person["sex"] == "female"]["male_dominated"]
    men_all = per_person[per_person["sex"] == "male"]["female_dominated"]
    result = {
        "women": float(women_all.mean()) if len(women_all) else math.nan,
        "men": float(men_all.mean()) if len(men_all) else math.nan,
        "gap": spread.difference,
        "gap_low": spread.low,
        "gap_high": spread.high,
        "people": float(len(per_person)),
    }
    if reference is not None:
        other, _ = _stratum_gaps(reference, female_share, dominance)
        both = table.merge(
            other, left_index=True, right_index=True, how="inner", suffixes=("", "_reference")
        )
        difference = (both["gap"] - both["gap_reference"]).to_numpy(np.float64)
        weights = both["people"].to_numpy(np.float64)
        excess = weighted_bootstrap(difference, weights, resamples=resamples, seed=seed)
        result["excess"] = excess.difference
        result["excess_low"], result["excess_high"] = excess.low, excess.high
    return result


@dataclass(frozen=True)
class Concordance:
    """Pairs of proposals of one group (one vacancy, or one person) whose outcomes differ,
    and how many of them a ranking orders the right way round (ties count half)."""

    value: float
    concordant: FloatArray  # per group
    pairs: FloatArray  # per group

    def bootstrap(
        self, other: Concordance, *, confidence: float = 0.9, resamples: int = 1000, seed: int = 0
    ) -> BootstrapResult:
        """This minus ``other`` over the same groups, with a paired bootstrap interval."""
        keep = self.pairs > 0
        a, b, n = self.concordant[keep], other.concordant[keep], self.pairs[keep]
        # Pooled over groups: each group's difference in its share, weighted by its pairs.
        return weighted_bootstrap(
            (a - b) / np.where(n > 0, n, 1.0),
            n,
            confidence=confidence,
            resamples=resamples,
            seed=seed,
        )


def outcome_concordance(
    scores: npt.ArrayLike, grades: npt.ArrayLike, groups: npt.ArrayLike
) -> Concordance:
    """Share of a group's proposals with different outcomes that ``scores`` order rightly.

    ``grades`` order what followed each proposal (e.g. 0 declined by the jobseeker, 1 went
    on, 2 interviewed, 3 chosen); ``groups`` say which proposals compete (the same vacancy
    for shortlists, the same person for matches). Pooled over groups, weighted by pairs.
    """
    values = np.asarray(scores, np.float64)
    grade = np.asarray(grades, np.int64)
    codes, _ = pd.factorize(pd.Series(np.asarray(groups, dtype=object)))
    order = np.lexsort((values, codes))
    codes, values, grade = codes[order], values[order], grade[order]
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    concordant = np.zeros(n_groups)
    pairs = np.zeros(n_groups)
    starts: IntArray = (
        np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        if len(codes)
        else np.zeros(0, np.int64)
    )
    stops: IntArray = np.r_[starts[1:], len(codes)] if len(codes) else np.zeros(0, np.int64)
    for start, stop in zip(starts, stops, strict=True):
        if stop - start < 2:
            continue
        g, s = grade[start:stop], values[start:stop]
        higher = g[:, None] > g[None, :]
        if not higher.any():
            continue
        right = (s[:, None] > s[None, :]) + 0.5 * (s[:, None] == s[None, :])
        concordant[codes[start]] = float((right * higher).sum())
        pairs[codes[start]] = float(higher.sum())
    total = pairs.sum()
    return Concordance(
        value=float(concordant.sum() / total) if total else math.nan,
        concordant=concordant,
        pairs=pairs,
    )
