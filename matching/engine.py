"""Two-way matching: the best vacancies for a jobseeker, the best candidates for a vacancy.

Every request runs the same steps:

1. **retrieve** candidates from the inverted skill index (the posting lists of the query's
   skills) plus the region (everything within the commute radius, from per-municipality
   lists); when no more than ``exhaustive_limit`` pass the filters all are scored, otherwise
   the best ``candidate_pool`` by skill, the nearest quarter of that and the best
   ``prior_pool`` by a first-stage linear prior fitted to the model's scores (per direction);
2. **hard filters**: the person is in matching (not employed, not erased) and the vacancy
   open that day and not filled (:mod:`features.live_state`); within reach of the commute
   radius (a preference with some slack, :mod:`matching.commute`) unless the job is mostly
   remote or the person will relocate; no work-ability conflict (night work, heavy lifting,
   shift work against a recorded restriction, more weekly hours than the person can do);
   eligibility when the vacancy's employment condition requires it; the request's filters;
3. compute the candidates' **pair features**;
4. **rank** with the scorer (LightGBM when loaded, else the rule-based score);
5. **re-rank**: pairs that meet every stated requirement on evidence (each required skill
   observed by a coach at the level, within the commute radius, languages and licence met)
   come first, each tier in the model's order; in shortlists a jobseeker already on more
   than ``exposure_cap`` open shortlists is pushed down, so the same few people are not
   proposed everywhere;
6. **explain** the top ``k``: matched required skills with evidence, missing ones (the skill
   gap for the employment plan), distance and region, the eligibility rule, and the feature
   contributions in plain words.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from matching.commute import commute_fit, effective_distance, reach
from matching.domain import AssessmentMethod, PhysicalDemand, WorkRestriction
from matching.eligibility import DEFAULT_RULES, pair_eligibility
from matching.entities import (
    JOB_FORMS,
    PHYSICAL_DEMANDS,
    PROFILE_LAST_DAY,
    PROFILE_LEVEL,
    PROFILE_METHOD,
    PROFILE_STRENGTH,
    PROFILE_VALUE,
    REQ_MIN_LEVEL,
    REQ_REQUIRED,
    REQ_WEIGHT,
    RESTRICTIONS,
    MatchingData,
    RowUpdate,
    bitmask,
    has_bit,
)
from matching.scoring import (
    RankingModel,
    RuleBasedScorer,
    Scorer,
    as_ranking_model,
)
from matching.sparse_store import InvertedIndex, RowEntries
from matching.stages import stage

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Featurizer = Callable[[MatchingData, IntArray, IntArray, date], npt.NDArray[np.float32]]
_HEAVY = PHYSICAL_DEMANDS.index(PhysicalDemand.HEAVY)
_METHODS = tuple(AssessmentMethod)
_EPOCH = date(1970, 1, 1)


def _pack_bits(flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint32]:
    """Rows of up to 32 booleans (one per target-group rule) as one word each (bit j = column j)."""
    if flags.shape[1] > 32:
        raise ValueError(f"{flags.shape[1]} rules do not fit the 32 membership bits")
    weights = (np.uint64(1) << np.arange(flags.shape[1], dtype=np.uint64)).astype(np.uint64)
    return (flags.astype(np.uint64) @ weights).astype(np.uint32)


def _bits_on(
    starts: npt.NDArray[np.datetime64], ends: npt.NDArray[np.datetime64], day: date
) -> npt.NDArray[np.uint32]:
    """Membership bits of each row's rule periods on ``day``."""
    today = np.datetime64(day, "D")
    member = ~np.isnat(starts) & (starts <= today) & (ends >= today)
    return _pack_bits(member)


#: Explanation factors compare a result with at least this many rows of its list.
FACTOR_REFERENCE = 20

#: Features the first-stage prior uses (exactly computable per pair from columns, for tens of
#: thousands of candidates: of people for a shortlist, of vacancies for matches).
PRIOR_FEATURES = (
    "skill_cosine",
    "distance_km",
    "within_commute",
    "unemployment_days",
    "language_gap",
    "job_form_accepted",
    "hours_fit",
    "occupation_preferred",
    "commute_fit",
    "same_labour_area",
)


def vacancy_open(
    opens_on: npt.ArrayLike,
    closes_on: npt.ArrayLike,
    openings: npt.ArrayLike,
    hires: npt.ArrayLike,
    days: npt.ArrayLike,
) -> npt.NDArray[np.bool_]:
    """Per vacancy: open for applications on the day and not yet filled (hires < openings).

    The one definition of an open vacancy: the engine's filters and the live state derived
    from outcome events (:mod:`features.live_state`) both use it.
    """
    on = np.asarray(days, dtype="datetime64[D]")
    opens = np.asarray(opens_on, dtype="datetime64[D]")
    closes = np.asarray(closes_on, dtype="datetime64[D]")
    open_now: npt.NDArray[np.bool_] = (
        (opens <= on)
        & (np.isnat(closes) | (closes >= on))
        & (np.asarray(hires) < np.asarray(openings))
    )
    return open_now


def within_reach(
    distance_km: npt.ArrayLike,
    remote_share: npt.ArrayLike,
    radius_km: npt.ArrayLike,
    relocate: npt.ArrayLike,
    config: MatchingConfig,
) -> npt.NDArray[np.bool_]:
    """The commute filter: effective distance within the radius plus its slack, unless the
    job is mostly remote or the person will relocate (:mod:`matching.commute`)."""
    remote = np.asarray(remote_share)
    near = effective_distance(distance_km, remote) <= reach(
        radius_km, config.commute_slack_share, config.commute_slack_km
    )
    ok: npt.NDArray[np.bool_] = near | (remote >= config.remote_threshold) | np.asarray(relocate)
    return ok


def admissible_pairs(
    data: MatchingData,
    config: MatchingConfig,
    s: IntArray,
    v: IntArray,
    days: npt.ArrayLike,
) -> npt.NDArray[np.bool_]:
    """The engine's hard filters for aligned pairs, each on its own day.

    The same rules as a request (:meth:`MatchingEngine._vacancy_filter` and
    ``_seeker_filter``, a test checks they agree), without the request's own filters: used
    to replay which candidates the engine could have offered on a past day.
    """
    seekers, vacancies = data.seekers, data.vacancies
    day = np.broadcast_to(np.asarray(days, dtype="datetime64[D]"), s.shape)
    ok = seekers["active"][s] & vacancies["active"][v]
    ok &= vacancy_open(
        vacancies["opens_on"][v],
        vacancies["closes_on"][v],
        vacancies["openings"][v],
        vacancies["hires"][v],
        day,
    )
    distance = data.distance_km[seekers["home"][s], vacancies["municipality"][v]]
    ok &= within_reach(
        distance,
        vacancies["remote_share"][v],
        seekers["max_commute_km"][s],
        seekers["relocate"][s],
        config,
    )
    ok &= ~work_conflicts(data, s, v)
    eligible, _, _ = pair_eligibility(
        seekers["eligible_from"][s],
        seekers["eligible_until"][s],
        vacancies["condition_rules"][v],
        # datetime64 + timedelta64 is datetime64 (numpy's stubs say timedelta64).
        day + np.timedelta64(config.eligibility_horizon_days, "D"),  # type: ignore[arg-type]
    )
    has_condition = vacancies["has_condition"][v] & vacancies["condition_rules"][v].any(axis=1)
    ok &= ~has_condition | eligible
    result: npt.NDArray[np.bool_] = ok
    return result


def qualified(
    features: npt.NDArray[np.float32], feature_names: tuple[str, ...]
) -> npt.NDArray[np.float64]:
    """A shortlist's first tier (``MatchingConfig.qualified_first``): 1 where the pair meets
    every stated requirement on evidence: each required skill observed by a coach at the
    required level, the commute within the person's radius, the languages at the level asked,
    a required driving licence held."""
    column = {name: i for i, name in enumerate(feature_names)}
    needed = ("assessed_coverage", "within_commute", "language_gap", "driving_licence_missing")
    if any(name not in column for name in needed):
        return np.zeros(len(features))
    met = (
        (features[:, column["assessed_coverage"]] >= 1.0)
        & (features[:, column["within_commute"]] > 0)
        & (features[:, column["language_gap"]] <= 0)
        & (features[:, column["driving_licence_missing"]] <= 0)
    )
    return met.astype(np.float64)


def work_conflicts(data: MatchingData, s: IntArray, v: IntArray) -> npt.NDArray[np.bool_]:
    """Work that the person's recorded work ability rules out: night work, heavy lifting
    or shift work against a restriction, and more weekly hours than the person can do."""
    restrictions = data.seekers["restrictions"][s]
    vacancies = data.vacancies
    night = vacancies["night_work"][v] & has_bit(
        restrictions, WorkRestriction.NO_NIGHT_WORK, RESTRICTIONS
    )
    heavy = (vacancies["physical_demand"][v] == _HEAVY) & has_bit(
        restrictions, WorkRestriction.NO_HEAVY_LIFTING, RESTRICTIONS
    )
    shift = vacancies["shift_work"][v] & has_bit(
        restrictions, WorkRestriction.NO_SHIFT_WORK, RESTRICTIONS
    )
    # More weekly hours than the person's recorded capacity (inf when full time).
    hours = vacancies["hours"][v] > data.seekers["max_hours"][s]
    conflicts: npt.NDArray[np.bool_] = night | heavy | shift | hours
    return conflicts


class UnknownEntityError(KeyError):
    """The jobseeker or vacancy asked about is not in the engine."""


@dataclass(frozen=True)
class MatchingConfig:
    """Tunable knobs of the engine (documented defaults)."""

    candidate_pool: int = 400
    exhaustive_limit: int = 1500  # at most this many within reach: score them all
    prior_pool: int = 600  # candidates taken by the first-stage prior (both directions)
    remote_threshold: float = 0.5  # at least this share of remote work: distance is no filter
    # The commute radius is a preference: jobs up to the radius plus this share of it (at
    # least commute_slack_km) stay possible, at a cost (matching.commute).
    commute_slack_share: float = 0.5
    commute_slack_km: float = 10.0
    eligibility_horizon_days: int = 0  # also admit people who become eligible this soon
    exposure_cap: int = 5  # open shortlists a person may be on before being down-weighted
    exposure_weight: float = 0.25  # per shortlist over the cap, in standard deviations of score
    explain_factors: int = 3
    # Pairs that meet every stated requirement on evidence (see _qualified) come first, each
    # tier in the model's order: a person who has shown every required skill at the level,
    # nearby, is never listed below people who have not.
    qualified_first: bool = True
    covered_share: float = 0.75  # a required skill counts as held at this share of its level


@dataclass(frozen=True)
class MatchFilters:
    """Optional filters of a request (``municipality`` is a row of the geography)."""

    municipality: int | None = None
    max_distance_km: float | None = None
    job_forms: frozenset[str] | None = None


@dataclass(frozen=True)
class SkillEvidence:
    skill: int
    label: str
    required_level: int
    level: float
    strength: float
    method: str | None  # None: credited through related skills, not observed
    last_assessed: date | None


@dataclass(frozen=True)
class Factor:
    feature: str
    #: Words true of this pair (the feature's description, or its "absent" wording when the
    #: feature is a yes/no that does not hold here).
    description: str
    contribution: float

    @property
    def sentence(self) -> str:
        # Contributions are measured against the rest of the list (see _explain).
        direction = "in its favour" if self.contribution >= 0 else "against it"
        return (
            f"{self.description}: {direction} compared with the rest of the list "
            f"({self.contribution:+.3f})"
        )


@dataclass(frozen=True)
class Explanation:
    matched_skills: tuple[SkillEvidence, ...]
    missing_skills: tuple[SkillEvidence, ...]
    distance_km: float
    within_commute: bool
    same_labour_area: bool
    labour_area: str
    workplace: str
    eligible: bool | None  # None: the vacancy has no employment condition
    eligibility_rule: str | None
    eligibility_description: str | None
    days_until_eligible: float | None
    factors: tuple[Factor, ...]


@dataclass(frozen=True)
class Match:
    jobseeker_id: str
    vacancy_id: str
    rank: int
    score: float  # the ranking score (what orders the list)
    explanation: Explanation
    #: The calibrated probability of a hire lasting six months if proposed (None when the
    #: serving model is not calibrated, e.g. the rule-based score).
    probability: float | None = None


@dataclass(frozen=True)
class MatchList:
    kind: Literal["matches", "shortlist"]
    query_id: str
    model_version: str
    on: date
    candidates: int  # candidates that passed the filters and were scored
    results: tuple[Match, ...]


@dataclass
class _Exposure:
    """How many open shortlists each jobseeker is on (the exposure cap's state)."""

    counts: npt.NDArray[np.float32]
    by_vacancy: dict[int, IntArray] = field(default_factory=dict)

    def replace(self, vacancy_row: int, seeker_rows: IntArray) -> None:
        previous = self.by_vacancy.pop(vacancy_row, None)
        if previous is not None:
            np.subtract.at(self.counts, previous, 1)
        self.by_vacancy[vacancy_row] = seeker_rows
        np.add.at(self.counts, seeker_rows, 1)

    def ensure(self, n: int) -> None:
        if len(self.counts) < n:
            grown = np.zeros(max(n, 2 * len(self.counts)), np.float32)
            grown[: len(self.counts)] = self.counts
            self.counts = grown


class MatchingEngine:
    """Matches over :class:`MatchingData`; thread-safe for concurrent reads and updates."""

    def __init__(
        self,
        data: MatchingData,
        featurizer: Featurizer,
        feature_names: tuple[str, ...],
        feature_descriptions: Mapping[str, str],
        scorer: Scorer | RankingModel | None = None,
        config: MatchingConfig | None = None,
        absent_descriptions: Mapping[str, str] | None = None,
    ) -> None:
        self.data = data
        self.featurizer = featurizer
        self.feature_names = feature_names
        self.feature_descriptions = dict(feature_descriptions)
        #: How to word a yes/no feature where it does not hold for the pair explained.
        self.absent_descriptions = dict(absent_descriptions or {})
        self.config = config or MatchingConfig()
        self._rules = RuleBasedScorer(feature_names)
        #: The serving model (a scorer per direction); the rule-based score by default.
        self.scorer: RankingModel = as_ranking_model(scorer) if scorer else self._rules
        self._check_scorer(self.scorer)
        self.vacancy_index = InvertedIndex(data.requirements, channel=REQ_WEIGHT)
        self.seeker_index = InvertedIndex(data.profiles, channel=PROFILE_VALUE)
        self._exposure = _Exposure(np.zeros(len(data.seekers), np.float32))
        self._bits_by_day: dict[date, npt.NDArray[np.uint32]] = {}
        self._vacancy_bits: npt.NDArray[np.uint32] | None = None
        self._region_cache: dict[str, tuple[IntArray, IntArray]] = {}
        #: Per (model, direction): the model and the weights of its first-stage prior.
        self._prior_cache: dict[tuple[int, str], tuple[RankingModel, FloatArray]] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ model
    def _check_scorer(self, scorer: RankingModel) -> None:
        if tuple(scorer.feature_names) != self.feature_names:
            raise ValueError(
                f"scorer {scorer.version} expects features {scorer.feature_names[:3]}..., "
                "not the engine's schema"
            )

    def set_scorer(self, scorer: Scorer | RankingModel | None) -> None:
        """Swap the ranking model; requests in flight finish with the one they started with."""
        chosen = as_ranking_model(scorer) if scorer else self._rules
        self._check_scorer(chosen)
        self.scorer = chosen

    # ------------------------------------------------------------------ queries
    def matches_for_jobseeker(
        self,
        jobseeker_id: str,
        k: int = 20,
        on: date | None = None,
        filters: MatchFilters | None = None,
        with_factors: bool = True,
    ) -> MatchList:
        """The ``k`` best open vacancies for a jobseeker.

        ``with_factors`` adds the model's feature contributions to each explanation (TreeSHAP,
        a few ms for 20 results); skills, gaps, distance and eligibility are always explained.
        """
        scorer = self.scorer
        on = on or date.today()
        with self._lock:
            s, v = self._candidates("matches", jobseeker_id, on, filters or MatchFilters())
            return self._rank("matches", jobseeker_id, s, v, k, on, scorer, with_factors)

    def shortlist_for_vacancy(
        self,
        vacancy_id: str,
        k: int = 20,
        on: date | None = None,
        filters: MatchFilters | None = None,
        record_exposure: bool = True,
        with_factors: bool = True,
    ) -> MatchList:
        """The ``k`` best active jobseekers for a vacancy, with the exposure cap applied."""
        scorer = self.scorer
        on = on or date.today()
        with self._lock:
            s, v = self._candidates("shortlist", vacancy_id, on, filters or MatchFilters())
            result = self._rank("shortlist", vacancy_id, s, v, k, on, scorer, with_factors)
            if record_exposure:
                rows = np.array(
                    [self.data.seekers.row_of[m.jobseeker_id] for m in result.results], np.int64
                )
                self._exposure.replace(self._vacancy_row(vacancy_id), rows)
            return result

    def explain_for_vacancy(
        self, vacancy_id: str, jobseeker_ids: Sequence[str], on: date
    ) -> tuple[Match, ...]:
        """Named people scored and explained for a vacancy, outside any ranking.

        For the people a coach proposed to the vacancy: a proposal stands whatever the
        ranking or the commute filter says, so no hard filter but availability applies. People
        not in matching (in work, erased, unknown) and a vacancy not open on ``on`` (closed,
        filled, unknown) give no result; ranks follow the order given, from 1; no exposure is
        recorded and no factors are computed.
        """
        scorer = self.scorer
        with self._lock:
            v = self.data.vacancies.row_of.get(vacancy_id)
            if v is None or not self._open(np.array([v], np.int64), on)[0]:
                return ()
            seekers = self.data.seekers
            rows = [seekers.row_of.get(person) for person in dict.fromkeys(jobseeker_ids)]
            s = np.array([r for r in rows if r is not None], np.int64)
            s = s[seekers["active"][s]]
            if not len(s):
                return ()
            vs = np.full(len(s), v, np.int64)
            with stage("features"):
                features = self.featurizer(self.data, s, vs, on)
            with stage("scoring"):
                scores = scorer.for_direction("shortlist").score(features)
                probabilities = scorer.probability("shortlist", scores)
            with stage("explanation"):
                explanations = self._explain(s, vs, on, features)
                return tuple(
                    Match(
                        jobseeker_id=seekers.ids[s[i]],
                        vacancy_id=vacancy_id,
                        rank=i + 1,
                        score=float(scores[i]),
                        explanation=explanation,
                        probability=None if probabilities is None else float(probabilities[i]),
                    )
                    for i, explanation in enumerate(explanations)
                )

    def _candidates(
        self, kind: Literal["matches", "shortlist"], query_id: str, on: date, filters: MatchFilters
    ) -> tuple[IntArray, IntArray]:
        """Aligned seeker and vacancy rows of a request's retrieved, admitted candidates."""
        if kind == "matches":
            s = self._seeker_row(query_id)
            if not self.data.seekers["active"][s]:
                # In work (or erased): out of matching in both directions.
                return np.zeros(0, np.int64), np.zeros(0, np.int64)
            vacancies = self._retrieve_vacancies(s, on, filters)
            return np.full(len(vacancies), s, np.int64), vacancies
        v = self._vacancy_row(query_id)
        seekers = self._retrieve_seekers(v, on, filters)
        return seekers, np.full(len(seekers), v, np.int64)

    def exhaustive_matches(self, jobseeker_id: str, k: int, on: date) -> list[str]:
        """Peer for benchmarks: score every open vacancy that passes the hard filters."""
        s = self._seeker_row(jobseeker_id)
        everything = np.arange(len(self.data.vacancies), dtype=np.int64)
        if not self.data.seekers["active"][s]:
            return []
        v = everything[self._vacancy_filter(s, everything, on, MatchFilters())]
        scorer = self.scorer.for_direction("matches")
        scores = scorer.score(self.featurizer(self.data, np.full(len(v), s), v, on))
        order = np.lexsort((v, -scores))[:k]
        return [self.data.vacancies.ids[i] for i in v[order]]

    def exhaustive_shortlist(self, vacancy_id: str, k: int, on: date) -> list[str]:
        """Peer for benchmarks: score every active jobseeker that passes the hard filters."""
        v = self._vacancy_row(vacancy_id)
        everything = np.arange(len(self.data.seekers), dtype=np.int64)
        s = everything[self._seeker_filter(v, everything, on, MatchFilters())]
        scorer = self.scorer.for_direction("shortlist")
        scores = scorer.score(self.featurizer(self.data, s, np.full(len(s), v), on))
        order = np.lexsort((s, -scores))[:k]
        return [self.data.seekers.ids[i] for i in s[order]]

    # ------------------------------------------------------------------ updates
    def upsert_seeker(self, update: RowUpdate) -> None:
        """Add or change one jobseeker; the skill index follows incrementally."""
        data = self.data
        with self._lock:
            row = data.seekers.upsert(update.entity_id, update.values)
            data.profiles.set_row(row, update.skill_columns, update.skill_values)
            if update.occupation_columns is not None:
                ones = np.ones((len(update.occupation_columns), 1), np.float32)
                data.occupations.set_row(row, update.occupation_columns, ones)
            if update.isco_columns is not None and update.isco_values is not None:
                data.isco.set_row(row, update.isco_columns, update.isco_values.reshape(-1, 1))
            self._exposure.ensure(len(data.seekers))
            self._region_cache.pop("seekers", None)
            for day in list(self._bits_by_day):
                bits = self._bits_by_day[day]
                if row < len(bits):
                    bits[row] = _bits_on(
                        data.seekers["eligible_from"][[row]],
                        data.seekers["eligible_until"][[row]],
                        day,
                    )[0]
                else:
                    del self._bits_by_day[day]
            self._maybe_compact()

    def upsert_vacancy(self, update: RowUpdate) -> None:
        """Add or change one vacancy; the skill index follows incrementally."""
        data = self.data
        with self._lock:
            row = data.vacancies.upsert(update.entity_id, update.values)
            data.requirements.set_row(row, update.skill_columns, update.skill_values)
            self._vacancy_bits = None
            self._region_cache.pop("vacancies", None)
            self._maybe_compact()

    def deactivate_seeker(self, jobseeker_id: str) -> None:
        """Take a jobseeker out of shortlists (employed, erased, or no longer served)."""
        with self._lock:
            row = self._seeker_row(jobseeker_id)
            self.data.seekers["active"][row] = False
            self.data.profiles.delete_row(row)

    def deactivate_vacancy(self, vacancy_id: str) -> None:
        with self._lock:
            row = self._vacancy_row(vacancy_id)
            self.data.vacancies["active"][row] = False
            self.data.requirements.delete_row(row)
            previous = self._exposure.by_vacancy.pop(row, None)
            if previous is not None:
                np.subtract.at(self._exposure.counts, previous, 1)

    def _maybe_compact(self) -> None:
        for store, index in (
            (self.data.profiles, self.seeker_index),
            (self.data.requirements, self.vacancy_index),
        ):
            if store.needs_compaction():
                store.compact()
                index.rebuild()

    # ------------------------------------------------------------------ internals
    def _seeker_row(self, jobseeker_id: str) -> int:
        row = self.data.seekers.row_of.get(jobseeker_id)
        if row is None:
            raise UnknownEntityError(f"jobseeker {jobseeker_id!r} is not known")
        return row

    def _vacancy_row(self, vacancy_id: str) -> int:
        row = self.data.vacancies.row_of.get(vacancy_id)
        if row is None:
            raise UnknownEntityError(f"vacancy {vacancy_id!r} is not known")
        return row

    def _eligible_day(self, on: date) -> date:
        return on + timedelta(days=self.config.eligibility_horizon_days)

    def _vacancy_filter(
        self, s: int, v: IntArray, on: date, filters: MatchFilters
    ) -> npt.NDArray[np.bool_]:
        """Hard filters for one jobseeker against vacancy rows ``v``."""
        data, seekers, vacancies = self.data, self.data.seekers, self.data.vacancies
        ok = self._open(v, on)
        distance = data.distance_km[seekers["home"][s], vacancies["municipality"][v]]
        ok &= within_reach(
            distance,
            vacancies["remote_share"][v],
            seekers["max_commute_km"][s],
            seekers["relocate"][s],
            self.config,
        )
        # The other rules only where these two hold (the same answer: every rule must hold),
        # as most candidates of the region are out of reach or closed.
        kept = np.flatnonzero(ok)
        rest = ~self._conflicts(np.full(len(kept), s), v[kept])
        rest &= self._eligible_or_free(np.full(len(kept), s), v[kept], on)
        rest &= self._request_filters(distance[kept], v[kept], filters)
        ok[kept] = rest
        return ok

    def _seeker_filter(
        self, v: int, s: IntArray, on: date, filters: MatchFilters
    ) -> npt.NDArray[np.bool_]:
        """Hard filters for one vacancy against jobseeker rows ``s``."""
        data, seekers, vacancies = self.data, self.data.seekers, self.data.vacancies
        ok = seekers["active"][s].copy()
        if not self._open(np.array([v], np.int64), on)[0]:
            return np.zeros(len(s), bool)  # closed or filled: nobody is shortlisted
        distance = data.distance_km[seekers["home"][s], vacancies["municipality"][v]]
        ok &= within_reach(
            distance,
            vacancies["remote_share"][v],
            seekers["max_commute_km"][s],
            seekers["relocate"][s],
            self.config,
        )
        # The other rules only for the people still in (the same answer: every rule must
        # hold), as most people of the region live beyond their own commute.
        kept = np.flatnonzero(ok)
        people = s[kept]
        rest = ~self._conflicts(people, np.full(len(people), v))
        rest &= self._eligible_or_free(people, np.full(len(people), v), on)
        if filters.municipality is not None:
            rest &= seekers["home"][people] == filters.municipality
        if filters.max_distance_km is not None:
            rest &= distance[kept] <= filters.max_distance_km
        if filters.job_forms is not None:
            wanted = bitmask(filters.job_forms, JOB_FORMS)
            rest &= (seekers["accepted_forms"][people] & wanted) != 0
        ok[kept] = rest
        return ok

    def _open(self, v: IntArray, on: date) -> npt.NDArray[np.bool_]:
        """Vacancies open for applications on ``on`` and not yet filled."""
        vacancies = self.data.vacancies
        ok: npt.NDArray[np.bool_] = vacancies["active"][v] & vacancy_open(
            vacancies["opens_on"][v],
            vacancies["closes_on"][v],
            vacancies["openings"][v],
            vacancies["hires"][v],
            np.datetime64(on, "D"),
        )
        return ok

    def _reach(self, radius_km: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return reach(radius_km, self.config.commute_slack_share, self.config.commute_slack_km)

    def _request_filters(
        self, distance: npt.NDArray[np.float32], v: IntArray, filters: MatchFilters
    ) -> npt.NDArray[np.bool_]:
        vacancies = self.data.vacancies
        ok = np.ones(len(v), bool)
        if filters.municipality is not None:
            ok &= vacancies["municipality"][v] == filters.municipality
        if filters.max_distance_km is not None:
            ok &= distance <= filters.max_distance_km
        if filters.job_forms is not None:
            forms = [JOB_FORMS.index(f) for f in JOB_FORMS if f.value in filters.job_forms]
            ok &= np.isin(vacancies["job_form"][v], forms)
        return ok

    def _conflicts(self, s: IntArray, v: IntArray) -> npt.NDArray[np.bool_]:
        return work_conflicts(self.data, s, v)

    def _membership_bits(self, day: date) -> npt.NDArray[np.uint32]:
        """Per jobseeker, the target-group rules they belong to on ``day`` as bits.

        Computed once per day for everybody (a few ms) and kept for the next requests;
        :meth:`upsert_seeker` refreshes the changed row in every cached day.
        """
        bits = self._bits_by_day.get(day)
        if bits is None or len(bits) < len(self.data.seekers):
            seekers = self.data.seekers
            bits = _bits_on(seekers["eligible_from"], seekers["eligible_until"], day)
            if len(self._bits_by_day) >= 4:
                self._bits_by_day.pop(next(iter(self._bits_by_day)))
            self._bits_by_day[day] = bits
        return bits

    def _condition_bits(self) -> npt.NDArray[np.uint32]:
        """Per vacancy, the rules its employment condition accepts as bits (0: no condition)."""
        vacancies = self.data.vacancies
        if self._vacancy_bits is None or len(self._vacancy_bits) != len(vacancies):
            rules = vacancies["condition_rules"] & vacancies["has_condition"][:, None]
            self._vacancy_bits = _pack_bits(rules)
        return self._vacancy_bits

    def _eligible_or_free(self, s: IntArray, v: IntArray, on: date) -> npt.NDArray[np.bool_]:
        """True where the vacancy has no condition or the person counts toward it."""
        accepted = self._condition_bits()[v]
        member = self._membership_bits(self._eligible_day(on))[s]
        result: npt.NDArray[np.bool_] = (accepted == 0) | ((accepted & member) != 0)
        return result

    def _top(self, scores: npt.NDArray[np.float32], rows: IntArray, n: int) -> IntArray:
        """The ``n`` best rows by score, ties broken by row number (deterministic)."""
        if len(rows) > n:
            keep = np.argpartition(-scores, n - 1)[:n]
            threshold = scores[keep].min()
            keep = np.flatnonzero(scores >= threshold)  # include every tie at the boundary
            rows, scores = rows[keep], scores[keep]
        order = np.lexsort((rows, -scores))[:n]
        return rows[order]

    def _regional_index(self, kind: Literal["vacancies", "seekers"]) -> tuple[IntArray, IntArray]:
        """Rows grouped by municipality: ``order[offsets[m]:offsets[m+1]]`` live in ``m``."""
        cached = self._region_cache.get(kind)
        if cached is None:
            table = self.data.vacancies if kind == "vacancies" else self.data.seekers
            places = table["municipality" if kind == "vacancies" else "home"]
            order = np.argsort(places, kind="stable").astype(np.int64)
            offsets = np.searchsorted(
                places[order], np.arange(len(self.data.distance_km) + 1)
            ).astype(np.int64)
            cached = (order, offsets)
            self._region_cache[kind] = cached
        return cached

    def _rows_in(self, kind: Literal["vacancies", "seekers"], places: IntArray) -> IntArray:
        order, offsets = self._regional_index(kind)
        starts, stops = offsets[places], offsets[places + 1]
        lengths = stops - starts
        first = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return order[np.arange(int(lengths.sum()), dtype=np.int64) + first]

    @staticmethod
    def _skill_scores(
        index: InvertedIndex, query: RowEntries, channel: int, n: int
    ) -> tuple[npt.NDArray[np.float32], IntArray]:
        """Retrieval scores from the posting lists of the query's skills, and the hits."""
        if not len(query.columns):
            return np.zeros(n, np.float32), np.zeros(0, np.int64)
        scores = index.scores(query.columns, query.values[:, channel])
        return scores, np.flatnonzero(scores > 0).astype(np.int64)

    def _prior_columns(
        self,
        s: IntArray | int,
        v: IntArray | int,
        skill_scores: npt.NDArray[np.float32],
        on: date,
    ) -> npt.NDArray[np.float64]:
        """Exact values of :data:`PRIOR_FEATURES` for the pairs of people ``s`` and vacancies ``v``.

        Either side may be one row (a shortlist: one vacancy; matches: one person). Cheap to
        compute for tens of thousands of pairs: gathers from columns, plus the retrieval score,
        which divided by the two norms *is* the skill cosine. A test checks these columns
        against the pair features.
        """
        data, seekers, vacancies = self.data, self.data.seekers, self.data.vacancies
        n = len(skill_scores)
        s_rows = np.ascontiguousarray(np.broadcast_to(np.asarray(s, dtype=np.int64), n))
        v_rows = np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=np.int64), n))
        distance = data.distance_km[seekers["home"][s_rows], vacancies["municipality"][v_rows]]
        norms = seekers["profile_norm"][s_rows] * vacancies["requirement_norm"][v_rows]
        cosine = np.divide(skill_scores, norms, out=np.zeros(n, np.float64), where=norms > 0)
        since = seekers["unemployed_since"][s_rows]
        spell = (np.datetime64(on, "D") - since).astype("timedelta64[D]").astype(np.float64)
        spell = np.where(np.isnat(since), 0.0, np.maximum(spell, 0.0))
        wanted = vacancies["languages"][v_rows].astype(np.int16)
        gap = wanted - seekers["languages"][s_rows].astype(np.int16)
        form_bit = np.left_shift(1, vacancies["job_form"][v_rows].astype(np.int64))
        hours = np.maximum(vacancies["hours"][v_rows].astype(np.float64), 1.0)
        preferred = data.occupations.lookup(s_rows, vacancies["occupation"][v_rows])[:, 0]
        home, workplace = seekers["home"][s_rows], vacancies["municipality"][v_rows]
        fit = commute_fit(
            distance,
            vacancies["remote_share"][v_rows],
            seekers["max_commute_km"][s_rows],
            seekers["relocate"][s_rows],
        )
        return np.column_stack(
            [
                cosine,
                distance,
                distance <= seekers["max_commute_km"][s_rows],
                np.minimum(spell, 3650.0),
                np.maximum(gap, 0).max(axis=1),
                (seekers["accepted_forms"][s_rows].astype(np.int64) & form_bit) != 0,
                np.minimum(1.0, seekers["max_hours"][s_rows] / hours),
                preferred,
                fit,
                data.labour_area[home] == data.labour_area[workplace],
                np.ones(n),
            ]
        ).astype(np.float64)

    def _prior_weights(
        self, kind: Literal["matches", "shortlist"] = "shortlist"
    ) -> npt.NDArray[np.float64] | None:
        """Least-squares weights of the prior of one direction for the current scorer.

        Fitted once per model on the candidates of a fixed sample of open vacancies (a
        shortlist) or of people admitted to them (matches), scores centred per query (only
        the order within one list matters).
        """
        model = self.scorer
        cached = self._prior_cache.get((id(model), kind))
        if cached is not None and cached[0] is model:
            return cached[1]
        scorer = model.for_direction(kind)
        index = [self.feature_names.index(n) for n in PRIOR_FEATURES if n in self.feature_names]
        if len(index) != len(PRIOR_FEATURES):
            return None
        data = self.data
        vacancies = data.vacancies
        rng = np.random.default_rng(0)
        live = np.flatnonzero(vacancies["active"])
        if len(live) == 0:
            return None
        designs, targets = [], []
        for v in rng.choice(live, min(40, len(live)), replace=False).tolist():
            on = date.fromisoformat(str(vacancies["opens_on"][v]))
            everyone = np.arange(len(data.seekers), dtype=np.int64)
            rows = everyone[self._seeker_filter(v, everyone, on, MatchFilters())]
            if kind == "matches":
                if len(rows) == 0:
                    continue
                s = int(rng.choice(rows))
                jobs = np.arange(len(vacancies), dtype=np.int64)
                jobs = jobs[self._vacancy_filter(s, jobs, on, MatchFilters())]
                if len(jobs) < 10:
                    continue
                jobs = rng.choice(jobs, min(500, len(jobs)), replace=False)
                s_rows, v_rows = np.full(len(jobs), s, np.int64), jobs
            else:
                if len(rows) < 10:
                    continue
                s_rows = rng.choice(rows, min(500, len(rows)), replace=False)
                v_rows = np.full(len(s_rows), v, np.int64)
            features = self.featurizer(data, s_rows, v_rows, on)
            score = scorer.score(features)
            design = np.column_stack([features[:, index], np.ones(len(s_rows))])
            designs.append(design - np.r_[design[:, :-1].mean(axis=0), 0.0])
            targets.append(score - score.mean())
        if not designs:
            return None
        weights, *_ = np.linalg.lstsq(np.vstack(designs), np.concatenate(targets), rcond=None)
        self._prior_cache = {
            key: value for key, value in self._prior_cache.items() if value[0] is model
        }
        self._prior_cache[(id(model), kind)] = (model, weights)
        return weights

    def _trim(
        self, rows: IntArray, scores: npt.NDArray[np.float32], distance: npt.NDArray[np.float32]
    ) -> IntArray:
        """All candidates when few; else the best by skill plus the nearest quarter as many."""
        cfg = self.config
        if len(rows) <= cfg.exhaustive_limit:
            return rows
        by_skill = self._top(scores[rows], rows, cfg.candidate_pool)
        nearest = rows[np.lexsort((rows, distance))][: cfg.candidate_pool // 4]
        return np.union1d(by_skill, nearest)

    def _retrieve_vacancies(self, s: int, on: date, filters: MatchFilters) -> IntArray:
        """Skill-index candidates plus everything within reach."""
        data, cfg = self.data, self.config
        seekers, vacancies = data.seekers, data.vacancies
        with stage("retrieval"):
            scores, skilled = self._skill_scores(
                self.vacancy_index, data.profiles.rows([s]), PROFILE_VALUE, len(vacancies)
            )
            home = seekers["home"][s]
            # Municipalities within reach; partly remote jobs farther away whose effective
            # distance is within reach come from the skill index.
            reachable = data.distance_km[home] <= self._reach(seekers["max_commute_km"][s])
            places = np.flatnonzero(reachable)
            mask = np.zeros(len(vacancies), bool)  # a mask is cheaper than set unions
            mask[skilled] = True
            mask[self._rows_in("vacancies", places.astype(np.int64))] = True
            mask |= vacancies["remote_share"] >= cfg.remote_threshold
            rows = np.flatnonzero(mask).astype(np.int64)
        with stage("filters"):
            rows = rows[self._vacancy_filter(s, rows, on, filters)]
        if len(rows) <= cfg.exhaustive_limit:
            return rows
        with stage("retrieval"):
            distance = data.distance_km[home, vacancies["municipality"][rows]]
            trimmed = self._trim(rows, scores, distance)
            weights = self._prior_weights("matches") if cfg.prior_pool else None
            if weights is None:
                return trimmed
            # The best by the first-stage prior too: near, accepted job form, hours that fit
            # and so on, which the skill score cannot see.
            prior = self._prior_columns(s, rows, scores[rows], on) @ weights
            by_prior = self._top(prior.astype(np.float32), rows, cfg.prior_pool)
            return np.union1d(trimmed, by_prior)

    def _retrieve_seekers(self, v: int, on: date, filters: MatchFilters) -> IntArray:
        """Skill-index candidates plus the people within their commute."""
        data, cfg = self.data, self.config
        seekers, vacancies = data.seekers, data.vacancies
        with stage("retrieval"):
            scores, skilled = self._skill_scores(
                self.seeker_index, data.requirements.rows([v]), REQ_WEIGHT, len(seekers)
            )
            workplace = vacancies["municipality"][v]
            if vacancies["remote_share"][v] >= cfg.remote_threshold:
                regional = np.zeros(0, np.int64)  # everybody qualifies: rely on skills
            else:
                farthest = (
                    float(self._reach(seekers["max_commute_km"].max())) if len(seekers) else 0.0
                )
                places = np.flatnonzero(data.distance_km[workplace] <= farthest).astype(np.int64)
                regional = self._rows_in("seekers", places)
            mask = np.zeros(len(seekers), bool)
            mask[skilled] = True
            mask[regional] = True
            rows = np.flatnonzero(mask).astype(np.int64)
        with stage("filters"):
            rows = rows[self._seeker_filter(v, rows, on, filters)]
        if len(rows) <= cfg.exhaustive_limit:
            return rows
        with stage("retrieval"):
            return self._retrieve_by_prior(v, rows, scores, on)

    def _retrieve_by_prior(
        self, v: int, rows: IntArray, scores: npt.NDArray[np.float32], on: date
    ) -> IntArray:
        """Of many admitted people, the best by skill plus the best by the first-stage prior."""
        data, cfg = self.data, self.config
        seekers, workplace = data.seekers, data.vacancies["municipality"][v]
        # Many people within reach: the best by skill plus the best by the first-stage prior,
        # which mimics the ranker on the person-level features skills cannot see.
        by_skill = self._top(scores[rows], rows, cfg.candidate_pool)
        weights = self._prior_weights("shortlist")
        if weights is None:
            return self._trim(rows, scores, data.distance_km[seekers["home"][rows], workplace])
        prior = self._prior_columns(rows, v, scores[rows], on) @ weights
        by_prior = self._top(prior.astype(np.float32), rows, cfg.prior_pool)
        return np.union1d(by_skill, by_prior)

    def _rank(
        self,
        kind: Literal["matches", "shortlist"],
        query_id: str,
        s: IntArray,
        v: IntArray,
        k: int,
        on: date,
        model: RankingModel,
        with_factors: bool = True,
    ) -> MatchList:
        scorer = model.for_direction(kind)
        features, scores, adjusted, ranking = self._order(kind, s, v, on, scorer)
        order = ranking[:k]
        with stage("scoring"):
            probabilities = model.probability(kind, scores[order]) if len(order) else None
        # Factors are what sets a result apart from the rest of its list: contributions are
        # compared with their mean over the list's top (at least FACTOR_REFERENCE rows).
        reference = ranking[: max(k, FACTOR_REFERENCE)]  # the results first
        contributions = None
        if with_factors and len(order) and self.config.explain_factors:
            with stage("factors"):
                contributions = self._factor_contributions(scorer, features[reference], len(order))
        with stage("explanation"):
            explanations = self._explain(s[order], v[order], on, features[order], contributions)
            results = tuple(
                Match(
                    jobseeker_id=self.data.seekers.ids[s[i]],
                    vacancy_id=self.data.vacancies.ids[v[i]],
                    rank=rank,
                    score=float(adjusted[i]),
                    explanation=explanation,
                    probability=None if probabilities is None else float(probabilities[rank - 1]),
                )
                for rank, (i, explanation) in enumerate(zip(order, explanations, strict=True), 1)
            )
        return MatchList(
            kind=kind,
            query_id=query_id,
            model_version=model.version,
            on=on,
            candidates=len(s),
            results=results,
        )

    def _order(
        self,
        kind: Literal["matches", "shortlist"],
        s: IntArray,
        v: IntArray,
        on: date,
        scorer: Scorer,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64], npt.NDArray[np.float64], IntArray]:
        """Features, scores, re-ranked scores and the served order of the candidates."""
        with stage("features"):
            features = self.featurizer(self.data, s, v, on)
        with stage("scoring"):
            scores = scorer.score(features) if len(s) else np.zeros(0)
            adjusted = scores
            if kind == "shortlist" and len(s):
                self._exposure.ensure(len(self.data.seekers))
                over = np.maximum(0.0, self._exposure.counts[s] - self.config.exposure_cap)
                spread = float(scores.std()) or 1.0
                adjusted = scores - self.config.exposure_weight * spread * over
            other = s if kind == "shortlist" else v
            tier = self._qualified(features) if self.config.qualified_first else np.zeros(len(s))
            # Qualified pairs first, then by score; ties are broken by the row number of the
            # other side: the same data always gives the same order.
            ranking = np.lexsort((other, -adjusted, -tier)).astype(np.int64)
        return features, scores, adjusted, ranking

    def ranked_ids(
        self, kind: Literal["matches", "shortlist"], query_id: str, k: int, on: date
    ) -> list[str]:
        """The ids a request would list, in order, without explaining them (for evaluations
        that look at many lists: the explanation is most of a request's work)."""
        with self._lock:
            s, v = self._candidates(kind, query_id, on, MatchFilters())
            scorer = self.scorer.for_direction(kind)
            ranking = self._order(kind, s, v, on, scorer)[3][:k]
            table = self.data.vacancies if kind == "matches" else self.data.seekers
            rows = v if kind == "matches" else s
            return [table.ids[i] for i in rows[ranking]]

    def _words(self, column: int, value: float) -> str:
        """What feature ``column`` says of a pair with ``value``."""
        name = self.feature_names[column]
        if value == 0 and name in self.absent_descriptions:
            return self.absent_descriptions[name]
        return self.feature_descriptions.get(name, name)

    def _qualified(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return qualified(features, self.feature_names)

    @staticmethod
    def _factor_contributions(
        scorer: Scorer, reference: npt.NDArray[np.float32], n: int
    ) -> npt.NDArray[np.float64]:
        """The first ``n`` rows' feature contributions, minus their mean over ``reference``.

        ``reference`` are the feature rows of the top of the list the results come from,
        beginning with the results themselves: a factor is a contribution minus its mean
        over them, so a feature that is the same for every row of the list (the vacancy's
        own hours in a shortlist, say) explains nothing.
        """
        raw = scorer.contributions(reference)[:, :-1]
        contributions = raw[:n] - raw.mean(axis=0)
        # Below this a contribution is rounding, not a reason.
        contributions[np.abs(contributions) < 1e-9] = 0.0
        return contributions

    def _explain(
        self,
        s: IntArray,
        v: IntArray,
        on: date,
        features: npt.NDArray[np.float32],
        contributions: npt.NDArray[np.float64] | None = None,
    ) -> list[Explanation]:
        """Explanations of the pairs (s[i], v[i]), computed together for the top results;
        with factors when ``contributions`` (see :meth:`_factor_contributions`) are given."""
        if len(s) == 0:
            return []
        data, seekers, vacancies = self.data, self.data.seekers, self.data.vacancies
        entries = data.requirements.rows(v)
        held = data.profiles.lookup(s[entries.owner], entries.columns)
        method = held[:, PROFILE_METHOD].astype(np.int64)
        level = np.where(method >= 0, held[:, PROFILE_LEVEL], held[:, PROFILE_VALUE] * 4)
        min_level = entries.values[:, REQ_MIN_LEVEL]
        covered = level >= self.config.covered_share * min_level
        required = entries.values[:, REQ_REQUIRED] > 0

        home, workplace = seekers["home"][s], vacancies["municipality"][v]
        distance = data.distance_km[home, workplace].astype(np.float64)
        within = distance <= seekers["max_commute_km"][s]
        same_area = data.labour_area[home] == data.labour_area[workplace]
        eligible, waits, deciding = pair_eligibility(
            seekers["eligible_from"][s],
            seekers["eligible_until"][s],
            vacancies["condition_rules"][v],
            on,
        )
        has_condition = vacancies["has_condition"][v]
        n_factors = self.config.explain_factors if contributions is not None else 0
        if contributions is None:
            contributions = np.zeros_like(features, dtype=np.float64)
        top_terms = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :n_factors]

        # Plain Python values once (a numpy scalar read per field cost more than the rest).
        indptr, columns = entries.indptr.tolist(), entries.columns.tolist()
        is_required, is_covered = required.tolist(), covered.tolist()
        methods, min_levels = method.tolist(), min_level.tolist()
        levels = held[:, PROFILE_LEVEL].tolist()
        strengths = held[:, PROFILE_STRENGTH].tolist()
        last_days = held[:, PROFILE_LAST_DAY].tolist()
        labels = data.skill_labels
        out: list[Explanation] = []
        for i in range(len(s)):
            matched: list[SkillEvidence] = []
            missing: list[SkillEvidence] = []
            for j in range(indptr[i], indptr[i + 1]):
                if not is_required[j]:
                    continue
                skill = columns[j]
                # Absent skills read as zeros in every channel (method 0 included): only a
                # skill with evidence strength was observed.
                observed = methods[j] >= 0 and strengths[j] > 0
                evidence = SkillEvidence(
                    skill=skill,
                    label=str(labels[skill]),
                    required_level=int(min_levels[j]),
                    level=levels[j],
                    strength=strengths[j],
                    method=_METHODS[methods[j]].value if observed else None,
                    last_assessed=(
                        _EPOCH + timedelta(days=int(last_days[j])) if observed else None
                    ),
                )
                (matched if is_covered[j] else missing).append(evidence)
            rule = DEFAULT_RULES[int(deciding[i])] if deciding[i] >= 0 else None
            factors = tuple(
                Factor(
                    feature=self.feature_names[t],
                    description=self._words(t, float(features[i, t])),
                    contribution=float(contributions[i, t]),
                )
                for t in top_terms[i].tolist()
                if contributions[i, t] != 0
            )
            condition = bool(has_condition[i])
            out.append(
                Explanation(
                    matched_skills=tuple(matched),
                    missing_skills=tuple(missing),
                    distance_km=float(distance[i]),
                    within_commute=bool(within[i]),
                    same_labour_area=bool(same_area[i]),
                    labour_area=str(data.labour_area_names[data.labour_area[workplace[i]]]),
                    workplace=str(data.municipality_names[workplace[i]]),
                    eligible=bool(eligible[i]) if condition else None,
                    eligibility_rule=rule.rule_id if condition and rule else None,
                    eligibility_description=rule.description if condition and rule else None,
                    days_until_eligible=float(waits[i]) if condition else None,
                    factors=factors,
                )
            )
        return out
