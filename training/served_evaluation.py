"""How good are the lists the engine serves today? Judged against a generated world's truth.

Offline figures on logged queries (:mod:`training.evaluation`) look at the candidates the
coaches were shown. A served list is drawn from every candidate the engine admits today —
people who were never shown, people with no assessment yet, vacancies nobody searched — and
an evaluation that never looks there cannot see a model that lifts the wrong ones. This module
asks the question an outside evaluator asks: for a sample of open vacancies (and of people in
matching), rank *every* candidate that passes the engine's hard filters on the world's day and
score the top 10 against the hidden model's probability of a hire (``P(hired | proposed)``,
:meth:`training.synthetic.hidden_model.HiddenModel.oracle_scores`):

    NDCG@10 = Σ_{r ≤ 10} p(r) / log2(r + 1)  /  the same for the 10 highest p,

so 1 means the ten most likely hires, in order. Rankings compared: the served model (also
through the engine's own retrieval, ``served``), the rule-based score, skill cosine, and the
naive baseline an outsider would write — the share of required skills a coach recorded at the
required level (``assessed_coverage``), among candidates within commuting reach.
Only generated worlds have the truth; real data has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.schema import FEATURE_NAMES
from matching.engine import MatchFilters, MatchingEngine
from matching.scoring import Direction, RankingModel, RuleBasedScorer

K = 10


@dataclass(frozen=True)
class ServedFigures:
    """Mean NDCG@10 against the truth per ranking, and the expected hires of each top 10."""

    direction: Direction
    queries: int
    ndcg: dict[str, float]
    hires: dict[str, float]
    candidates: float  # mean candidates per query


def _dcg(gains: npt.NDArray[np.float64]) -> float:
    discounts = 1.0 / np.log2(np.arange(2, len(gains) + 2))
    return float(gains @ discounts)


def _ndcg(order_gains: npt.NDArray[np.float64], all_gains: npt.NDArray[np.float64]) -> float:
    ideal = _dcg(np.sort(all_gains)[::-1][:K])
    return float("nan") if ideal <= 0 else _dcg(order_gains[:K]) / ideal


def served_figures(
    engine: MatchingEngine,
    truth: object,
    world: object,
    model: RankingModel,
    direction: Direction,
    *,
    queries: int = 200,
    on: date | None = None,
    seed: int = 0,
) -> ServedFigures:
    """Sample ``queries`` open vacancies (``shortlist``) or people in matching (``matches``)
    and score every ranking's top 10 against ``truth`` (a hidden model with
    ``oracle_scores(world, jobseeker_ids, vacancy_ids)``)."""
    data = engine.data
    day = on or world.as_of  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    everyone_s = np.arange(len(data.seekers), dtype=np.int64)
    everyone_v = np.arange(len(data.vacancies), dtype=np.int64)
    if direction == "shortlist":
        pool = everyone_v[engine._open(everyone_v, day)]
    else:
        pool = everyone_s[data.seekers["active"]]
    picked = rng.choice(pool, min(queries, len(pool)), replace=False) if len(pool) else pool
    rules = RuleBasedScorer(FEATURE_NAMES)
    scorer = model.for_direction(direction)
    naive_column = FEATURE_NAMES.index("assessed_coverage")
    cosine_column = FEATURE_NAMES.index("skill_cosine")
    sums: dict[str, list[float]] = {}
    hires: dict[str, list[float]] = {}
    sizes = []
    serving = engine.scorer
    engine.set_scorer(model)
    try:
        for row in picked.tolist():
            if direction == "shortlist":
                s = everyone_s[engine._seeker_filter(row, everyone_s, day, MatchFilters())]
                v = np.full(len(s), row, np.int64)
                other = s
            else:
                v = everyone_v[engine._vacancy_filter(row, everyone_v, day, MatchFilters())]
                s = np.full(len(v), row, np.int64)
                other = v
            if len(s) < 2:
                continue
            seeker_ids = np.asarray(data.seekers.ids, dtype=object)[s]
            vacancy_ids = np.asarray(data.vacancies.ids, dtype=object)[v]
            gains = np.asarray(
                truth.oracle_scores(world, seeker_ids, vacancy_ids),  # type: ignore[attr-defined]
                np.float64,
            )
            features = engine.featurizer(data, s, v, day)
            rankings = {
                "model": scorer.score(features),
                "rules": rules.score(features),
                "skill_cosine": features[:, cosine_column].astype(np.float64),
                "assessed_overlap": features[:, naive_column].astype(np.float64),
                "oracle": gains,
            }
            for name, scores in rankings.items():
                order = np.lexsort((other, -scores))
                sums.setdefault(name, []).append(_ndcg(gains[order], gains))
                hires.setdefault(name, []).append(float(gains[order][:K].sum()))
            # Through the engine's own retrieval and filters, as a request would be.
            if direction == "shortlist":
                listed = engine.ranked_ids("shortlist", data.vacancies.ids[row], K, day)
                served = [data.seekers.row_of[i] for i in listed]
                position = pd.Index(s)
            else:
                listed = engine.ranked_ids("matches", data.seekers.ids[row], K, day)
                served = [data.vacancies.row_of[i] for i in listed]
                position = pd.Index(v)
            index = position.get_indexer(served)  # type: ignore[arg-type]  # a list is fine
            served_gains = np.where(index >= 0, gains[np.maximum(index, 0)], 0.0)
            sums.setdefault("served", []).append(_ndcg(served_gains, gains))
            hires.setdefault("served", []).append(float(served_gains.sum()))
            sizes.append(len(s))
    finally:
        engine.set_scorer(serving)
    return ServedFigures(
        direction=direction,
        queries=len(sizes),
        ndcg={name: float(np.nanmean(values)) for name, values in sums.items()},
        hires={name: float(np.mean(values)) for name, values in hires.items()},
        candidates=float(np.mean(sizes)) if sizes else 0.0,
    )


def served_table(figures: Mapping[str, ServedFigures]) -> pd.DataFrame:
    """One row per (label, ranking) with NDCG@10 and expected hires of the top 10."""
    rows = []
    for label, item in figures.items():
        for name, value in item.ndcg.items():
            rows.append(
                {
                    "world": label,
                    "direction": item.direction,
                    "ranking": name,
                    "ndcg@10": value,
                    "hires@10": item.hires[name],
                    "queries": item.queries,
                }
            )
    return pd.DataFrame(rows)
