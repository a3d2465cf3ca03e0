"""Two years of shortlists (exposures) under the coaches' rules, and the outcomes they led to.

Shortlists
----------
A few days after a vacancy opens, coaches look at a candidate pool and a shortlist of
``shown_min``–``shown_max`` people is shown (logged as exposures). Candidates come mostly from
the vacancy's labour-market area — half of them people whose work history or preferences are
in the vacancy's ISCO unit group, some from the same ISCO minor group, some anyone in the
area — and some from further: the same unit group anywhere in the country, or the region.
Only people already unemployed on that day are in anybody's caseload.

The logged policy ("coach_rules")
---------------------------------
Coaches order the list by a rule score and propose each shown person with probability

``propensity = clip(σ(c₀ + c_cov·assessed_coverage + c_pref·preferred_match
+ c_near·within_radius − c_unemp·log(1 + years_unemployed) + c_elig·eligible
− c_pos·log(position)), 0.02, 0.95)``

where ``assessed_coverage`` is the share of the vacancy's required skills that coaches had
*recorded* (any method, at or above the minimum level, dated on or before that day) — not
the true skills —, ``preferred_match`` whether the vacancy's ISCO group is among the person's
preferred occupations, ``within_radius`` whether the job (less its remote share) is within
the person's stated commute radius, and ``eligible`` whether the person belongs to one of
the condition's target groups that day. The propensity is logged with the exposure, for
inverse-propensity weighting. Preferring short unemployment and well-documented skills is the
selection bias.

Outcomes
--------
Each proposal then follows the hidden model (:mod:`training.synthetic.hidden_model`):
declined by the jobseeker, declined by the employer, interviewed, hired (at most ``openings``
per vacancy, else ``position_filled``) and retained six months. Stages are days to weeks
apart, with screening and interviews around the application deadline (``closes_on``); events
on or after ``as_of`` have not happened yet and are not written, so open
vacancies carry censored, in-progress histories. A hire whose six months have passed without
a ``retained_6m`` event was not retained. Of those retained six months, a share
``σ(retain logit + RETAIN_12M_SHIFT)`` is still employed twelve months after the hire
(``retained_12m``, written when that day is before ``as_of``): the pair features that keep
people six months keep them a year, and most who stayed half a year stay on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from matching.domain import OutcomeStage, ReasonCode, TargetGroup
from training.synthetic._common import (
    SECONDS_PER_DAY,
    BoolArray,
    FloatArray,
    IntArray,
    categorical,
    contains,
    day_number,
    expand_ranges,
    first_of_runs,
    ids,
    rank_in_group,
    take,
    timestamps,
)
from training.synthetic.config import WorldConfig
from training.synthetic.hidden_model import (
    EMPLOYER_REASONS,
    JOBSEEKER_REASONS,
    HiddenModel,
    PairContext,
    PairFeatures,
)
from training.synthetic.people import Population
from training.synthetic.procurement import Procurement
from training.synthetic.skills import Recognition

STAGES = tuple(s.value for s in OutcomeStage)
REASONS = tuple(r.value for r in ReasonCode)
_STAGE = {s: i for i, s in enumerate(OutcomeStage)}
_REASON = {r: i for i, r in enumerate(ReasonCode)}
_TG = {g: i for i, g in enumerate(TargetGroup)}

#: Where shortlist candidates come from: same area and ISCO unit group, same area and ISCO
#: minor group, anyone in the area, same unit group anywhere in the country, same region.
POOL_SOURCES = (0.50, 0.15, 0.20, 0.07, 0.08)
OVERSAMPLE = 2.5
WORKDAY_START, WORKDAY_END = 6 * 3600, 14 * 3600  # UTC, i.e. office hours in FI and SE
RETENTION_DAYS = 183
RETENTION_12M_DAYS = 365
#: Log-odds added to the six-month retention logit for staying on to twelve months.
RETAIN_12M_SHIFT = 0.5


@dataclass(frozen=True)
class CoachPolicyParams:
    """The logged coach-rules policy (see the module docstring)."""

    intercept: float = -1.5
    assessed_coverage: float = 2.5
    preferred_match: float = 0.8
    within_radius: float = 0.6
    unemployment_years: float = 0.7
    eligible: float = 1.0
    position: float = 0.35
    rank_noise_sd: float = 0.5
    min_propensity: float = 0.02
    max_propensity: float = 0.95


POLICY_TERMS = {
    "intercept": "Log-odds of proposing a shown candidate before the terms below.",
    "assessed_coverage": "Per unit of the share of required skills coaches had RECORDED "
    "at or above the minimum level by that day (not the true skills).",
    "preferred_match": "When the vacancy's ISCO group is among the person's preferred occupations.",
    "within_radius": "When the job, less its remote share, is within the person's stated "
    "commute radius.",
    "unemployment_years": "Penalty per log(1 + years unemployed): coaches favour short spells "
    "(selection bias; unemployment is not in the hidden model).",
    "eligible": "When the person belongs to one of the condition's target groups that day.",
    "position": "Penalty per log(position) in the shown list.",
    "rank_noise_sd": "Noise of the rule score that orders the shown list.",
    "min_propensity": "Lower clip of the propensity (every shown person has a chance).",
    "max_propensity": "Upper clip of the propensity.",
}


def policy_document(params: CoachPolicyParams) -> dict[str, object]:
    """The logged policy's description for hidden_model.json and HIDDEN_MODEL.md."""
    return {
        "policy": "coach_rules",
        "description": (
            "Coaches propose a shown candidate with propensity clip(sigmoid(intercept + "
            "assessed_coverage*coverage + preferred_match*match + within_radius*near - "
            "unemployment_years*"
            "log1p(years) + eligible*eligible - position*log(position)), min, max). The "
            "propensity is logged with each exposure."
        ),
        "parameters": asdict(params),
        "terms": POLICY_TERMS,
    }


@dataclass(frozen=True, eq=False)
class Shortlists:
    """Shown pairs (sorted by vacancy, position) and their logged policy decisions."""

    vacancy: IntArray
    jobseeker: IntArray
    shown_at: IntArray  # seconds since the epoch
    propensity: FloatArray
    proposed: BoolArray
    columns: dict[str, pa.Array]


class _Groups:
    """Members sorted by an integer key, for drawing a random member of a key's group."""

    def __init__(self, keys: IntArray, members: IntArray) -> None:
        order = np.argsort(keys, kind="stable")
        self.members = members[order]
        sorted_keys = keys[order]
        self.keys, self.start = np.unique(sorted_keys, return_index=True)
        self.stop = np.r_[self.start[1:], len(sorted_keys)]

    def draw(self, rng: np.random.Generator, wanted: IntArray) -> IntArray:
        """A random member of each wanted key's group; -1 where the group is empty."""
        if len(self.keys) == 0:
            return np.full(len(wanted), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        found = self.keys[pos] == wanted
        start, stop = self.start[pos], self.stop[pos]
        picked = start + (rng.random(len(wanted)) * (stop - start)).astype(np.int64)
        result: IntArray = np.where(
            found, self.members[np.minimum(picked, len(self.members) - 1)], -1
        )
        return result


def _later(rng: np.random.Generator, seconds: IntArray, low_days: int, high_days: int) -> IntArray:
    """A time of office hours ``low_days``..``high_days`` whole days after ``seconds``."""
    day = seconds // SECONDS_PER_DAY + rng.integers(low_days, high_days + 1, len(seconds))
    result: IntArray = day * SECONDS_PER_DAY + rng.integers(WORKDAY_START, WORKDAY_END, len(day))
    return result


def _on_day(rng: np.random.Generator, days: IntArray) -> IntArray:
    """A time of office hours on each given day."""
    result: IntArray = days * SECONDS_PER_DAY + rng.integers(WORKDAY_START, WORKDAY_END, len(days))
    return result


def _sigmoid(x: FloatArray) -> FloatArray:
    result: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return result


def _assessed_coverage(
    recognition: Recognition,
    procurement: Procurement,
    n_skills: int,
    js: IntArray,
    vac: IntArray,
    day: IntArray,
) -> FloatArray:
    """Share of each vacancy's required skills recorded at or above the minimum by ``day``."""
    obs_key = recognition.obs_owner * n_skills + recognition.obs_skill
    starts = np.flatnonzero(first_of_runs(obs_key))
    max_run = int(np.diff(np.r_[starts, len(obs_key)]).max()) if len(obs_key) else 0
    offsets = procurement.required_offsets
    coverage = np.zeros(len(js))
    chunk = 300_000
    for start in range(0, len(js), chunk):
        part = slice(start, min(start + chunk, len(js)))
        v = vac[part]
        owner, pos = expand_ranges(offsets[v], offsets[v + 1] - offsets[v])
        key = js[part][owner] * n_skills + procurement.required_skill[pos]
        low = np.searchsorted(obs_key, key, side="left")
        high = np.searchsorted(obs_key, key, side="right")
        best = np.zeros(len(key), dtype=np.int64)
        limit = day[part][owner]
        for r in range(max_run):
            idx = low + r
            valid = idx < high
            idx = np.minimum(idx, len(obs_key) - 1)
            valid &= recognition.obs_day[idx] <= limit
            best = np.maximum(best, np.where(valid, recognition.obs_level[idx], 0))
        met = best >= procurement.required_min_level[pos]
        count = np.bincount(owner, minlength=len(v)).astype(np.float64)
        hits = np.bincount(owner, weights=met, minlength=len(v))
        coverage[part] = np.divide(hits, count, out=np.zeros(len(v)), where=count > 0)
    return coverage


def build_shortlists(
    config: WorldConfig,
    people: Population,
    procurement: Procurement,
    recognition: Recognition,
    n_skills: int,
    occupation_isco: IntArray,
    distance_km: npt.NDArray[np.float32],
    rng: np.random.Generator,
    policy: CoachPolicyParams,
) -> Shortlists:
    """Draw who was shown for each vacancy and whether coaches proposed them."""
    as_of = day_number(config.as_of)
    n_vac = procurement.n
    shown_day = procurement.opens_day + rng.integers(1, 11, n_vac)
    shown_at = shown_day * SECONDS_PER_DAY + rng.integers(WORKDAY_START, WORKDAY_END, n_vac)
    has_list = np.flatnonzero(shown_day < as_of)
    target = rng.integers(config.shown_min, config.shown_max + 1, n_vac)

    # Occupational membership: unit groups of work history and preferences, deduplicated.
    m_owner = np.r_[people.history_owner, people.preferred_owner]
    m_isco = occupation_isco[np.r_[people.history_occupation, people.preferred_occupation]]
    m_key = np.unique(m_owner * 10_000 + m_isco)
    m_owner, m_isco = m_key // 10_000, m_key % 10_000
    minor_key = np.unique(m_owner * 1_000 + m_isco // 10)
    minor_owner, minor = minor_key // 1_000, minor_key % 1_000
    everyone = np.arange(people.n, dtype=np.int64)
    sources = [
        _Groups(people.area[m_owner] * 10_000 + m_isco, m_owner),
        _Groups(people.area[minor_owner] * 1_000 + minor, minor_owner),
        _Groups(people.area, everyone),
        _Groups(people.country[m_owner] * 10_000 + m_isco, m_owner),
        _Groups(people.region, everyone),
    ]
    by_area, by_country = sources[2], _Groups(people.country, everyone)

    slots = np.ceil(target[has_list] * OVERSAMPLE).astype(np.int64)
    slot_vac = np.repeat(has_list, slots)
    source = np.searchsorted(np.cumsum(POOL_SOURCES), rng.random(len(slot_vac)) * sum(POOL_SOURCES))
    wanted = [
        procurement.area[slot_vac] * 10_000 + procurement.isco[slot_vac],
        procurement.area[slot_vac] * 1_000 + procurement.isco[slot_vac] // 10,
        procurement.area[slot_vac],
        procurement.country[slot_vac] * 10_000 + procurement.isco[slot_vac],
        procurement.region[slot_vac],
    ]
    person = np.full(len(slot_vac), -1, dtype=np.int64)
    for k, group in enumerate(sources):
        members = np.flatnonzero(source == k)
        person[members] = group.draw(rng, wanted[k][members])
    empty = np.flatnonzero(person < 0)
    person[empty] = by_area.draw(rng, procurement.area[slot_vac[empty]])
    empty = np.flatnonzero(person < 0)
    person[empty] = by_country.draw(rng, procurement.country[slot_vac[empty]])

    # In the caseload that day, once per list, at most `target` per vacancy.
    keep = (person >= 0) & (people.unemployment_day[np.maximum(person, 0)] <= shown_day[slot_vac])
    slot_index = np.arange(len(slot_vac))
    vac, js, slot_index = slot_vac[keep], person[keep], slot_index[keep]
    order = np.lexsort((slot_index, js, vac))
    vac, js, slot_index = vac[order], js[order], slot_index[order]
    first = first_of_runs(vac, js)
    vac, js, slot_index = vac[first], js[first], slot_index[first]
    order = np.lexsort((slot_index, vac))
    vac, js = vac[order], js[order]
    keep = rank_in_group(vac) < target[vac]
    vac, js = vac[keep], js[keep]

    # What the coaches knew and believed that day.
    day = shown_day[vac]
    coverage = _assessed_coverage(recognition, procurement, n_skills, js, vac, day)
    pref_key = np.unique(
        people.preferred_owner * 10_000 + occupation_isco[people.preferred_occupation]
    )
    wanted_pref = js * 10_000 + procurement.isco[vac]
    preferred: FloatArray = contains(pref_key, wanted_pref).astype(np.float64)
    unemployed_days = day - people.unemployment_day[js]
    years: FloatArray = np.asarray(unemployed_days, dtype=np.float64) / 365.25
    year = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    age = year - people.birth_year[js]
    groups = np.zeros((len(js), len(_TG)), dtype=bool)
    groups[:, _TG[TargetGroup.UNEMPLOYED_3M]] = unemployed_days >= 91
    groups[:, _TG[TargetGroup.LONG_TERM_UNEMPLOYED]] = unemployed_days >= 365
    groups[:, _TG[TargetGroup.YOUNG]] = age < 30
    groups[:, _TG[TargetGroup.OLDER]] = age >= 55
    groups[:, _TG[TargetGroup.MIGRANT_BACKGROUND]] = people.migrant[js]
    groups[:, _TG[TargetGroup.PARTIAL_WORK_CAPACITY]] = people.partial[js]
    eligible: FloatArray = np.any(groups & procurement.target_mask[vac], axis=1).astype(np.float64)
    distance = distance_km[people.municipality[js], procurement.municipality[vac]]
    near: FloatArray = (
        distance * (1.0 - procurement.remote_share[vac]) <= people.commute_km[js]
    ).astype(np.float64)

    score = (
        2.0 * coverage
        + 0.8 * preferred
        + 0.5 * near
        - 0.3 * np.log1p(years)
        + 0.5 * eligible
        + rng.normal(0.0, policy.rank_noise_sd, len(js))
    )
    order = np.lexsort((-score, vac))
    vac, js = vac[order], js[order]
    coverage, preferred, near = coverage[order], preferred[order], near[order]
    years, eligible = years[order], eligible[order]
    position = rank_in_group(vac) + 1
    logit = (
        policy.intercept
        + policy.assessed_coverage * coverage
        + policy.preferred_match * preferred
        + policy.within_radius * near
        - policy.unemployment_years * np.log1p(years)
        + policy.eligible * eligible
        - policy.position * np.log(position)
    )
    clipped = np.clip(_sigmoid(logit), policy.min_propensity, policy.max_propensity)
    propensity: FloatArray = np.round(clipped, 6).astype(np.float64)
    proposed = rng.random(len(js)) < propensity

    times = shown_at[vac]
    order = np.lexsort((position, vac, times))
    vac, js, times = vac[order], js[order], times[order]
    position, propensity, proposed = position[order], propensity[order], proposed[order]
    n = len(js)
    vacancy_id = take(procurement.vacancy_ids, vac)
    columns = {
        "exposure_id": ids("EX", n, 10),
        "query_kind": categorical(np.zeros(n, np.int64), ("vacancy_shortlist",)),
        "query_id": vacancy_id,
        "jobseeker_id": take(people.jobseeker_ids, js),
        "vacancy_id": vacancy_id,
        "position": pa.array(position.astype(np.int16)),
        "shown_at": timestamps(times),
        "propensity": pa.array(propensity),
        "policy": categorical(np.zeros(n, np.int64), ("coach_rules",)),
    }
    return Shortlists(
        vacancy=vac,
        jobseeker=js,
        shown_at=times,
        propensity=propensity,
        proposed=proposed,
        columns=columns,
    )


def _reasons(
    rng: np.random.Generator, weights: FloatArray, codes: tuple[ReasonCode, ...]
) -> IntArray:
    """Draw a reason per row in proportion to the row's weights."""
    cumulative = np.cumsum(weights, axis=1)
    drawn = rng.random(len(weights))[:, None] * cumulative[:, -1:]
    column = np.minimum((drawn >= cumulative).sum(axis=1), len(codes) - 1)
    result: IntArray = np.asarray([_REASON[c] for c in codes])[column]
    return result


@dataclass(frozen=True, eq=False)
class Outcomes:
    """The outcome events and funnel counts."""

    columns: dict[str, pa.Array]
    funnel: dict[str, int]


def simulate_outcomes(
    config: WorldConfig,
    people: Population,
    procurement: Procurement,
    shortlists: Shortlists,
    model: HiddenModel,
    context: PairContext,
    rng: np.random.Generator,
) -> Outcomes:
    """Follow every proposal through the hidden model's stages."""
    cut = day_number(config.as_of) * SECONDS_PER_DAY
    chosen = np.flatnonzero(shortlists.proposed)
    js, vac = shortlists.jobseeker[chosen], shortlists.vacancy[chosen]
    n = len(chosen)
    features: PairFeatures = model.features(context, js, vac)
    logits = model.stage_logits(features)
    chemistry = rng.normal(0.0, model.params.chemistry_sd, n)
    accepted = rng.random(n) < _sigmoid(logits.accept)
    interviewed = accepted & (rng.random(n) < _sigmoid(logits.interview + chemistry))
    offered = interviewed & (rng.random(n) < _sigmoid(logits.hire + chemistry))
    retained = rng.random(n) < _sigmoid(logits.retain)

    # Coaches propose within days of the shortlist; employers screen and interview around
    # the application deadline (closes_on) and decide within three weeks of the interview.
    proposed_at = _later(rng, shortlists.shown_at[chosen], 1, 5)
    jobseeker_declined_at = _later(rng, proposed_at, 1, 4)
    proposed_day = proposed_at // SECONDS_PER_DAY
    closes = procurement.closes_day[vac]
    screened_day = np.maximum(proposed_day + 2, closes - 7) + rng.integers(0, 8, n)
    employer_declined_at = _on_day(rng, screened_day)
    interview_day = np.maximum(proposed_day + 4, closes - 10) + rng.integers(0, 15, n)
    interviewed_at = _on_day(rng, interview_day)
    decided_at = _later(rng, interviewed_at, 2, 21)

    # Openings limit hires: first offers (by time) fill the positions.
    offer = np.flatnonzero(offered)
    order = offer[np.lexsort((offer, decided_at[offer], vac[offer]))]
    fits = rank_in_group(vac[order]) < procurement.openings[vac[order]]
    hired = np.zeros(n, dtype=bool)
    hired[order[fits]] = True
    filled = offered & ~hired

    js_reason = _reasons(rng, model.decline_reason_weights(features, False), JOBSEEKER_REASONS)
    emp_reason = _reasons(rng, model.decline_reason_weights(features, True), EMPLOYER_REASONS)
    # Drawn after every other draw so that the earlier stages stay as they were.
    retained_12m = retained & (rng.random(n) < _sigmoid(logits.retain + RETAIN_12M_SHIFT))
    everyone = np.ones(n, dtype=bool)
    null = np.full(n, -1, dtype=np.int64)
    events: list[tuple[BoolArray, OutcomeStage, IntArray, IntArray]] = [
        (everyone, OutcomeStage.PROPOSED, proposed_at, null),
        (~accepted, OutcomeStage.DECLINED_BY_JOBSEEKER, jobseeker_declined_at, js_reason),
        (
            accepted & ~interviewed,
            OutcomeStage.DECLINED_BY_EMPLOYER,
            employer_declined_at,
            emp_reason,
        ),
        (interviewed, OutcomeStage.INTERVIEWED, interviewed_at, null),
        (interviewed & ~offered, OutcomeStage.DECLINED_BY_EMPLOYER, decided_at, emp_reason),
        (
            filled,
            OutcomeStage.DECLINED_BY_EMPLOYER,
            decided_at,
            np.full(n, _REASON[ReasonCode.POSITION_FILLED]),
        ),
        (hired, OutcomeStage.HIRED, decided_at, null),
        (
            hired & retained,
            OutcomeStage.RETAINED_6M,
            decided_at + RETENTION_DAYS * SECONDS_PER_DAY,
            null,
        ),
        (
            hired & retained_12m,
            OutcomeStage.RETAINED_12M,
            decided_at + RETENTION_12M_DAYS * SECONDS_PER_DAY,
            null,
        ),
    ]
    pair_parts, stage_parts, time_parts, reason_parts = [], [], [], []
    for mask, event_stage, event_at, event_reason in events:
        happened = mask & (event_at < cut)
        pair_parts.append(np.flatnonzero(happened))
        stage_parts.append(np.full(int(happened.sum()), _STAGE[event_stage]))
        time_parts.append(event_at[happened])
        reason_parts.append(event_reason[happened])
    pair = np.concatenate(pair_parts)
    stage = np.concatenate(stage_parts)
    at = np.concatenate(time_parts)
    reason = np.concatenate(reason_parts)
    order = np.lexsort((stage, pair, at))
    pair, stage, at, reason = pair[order], stage[order], at[order], reason[order]

    count = {s: int(np.count_nonzero(stage == _STAGE[s])) for s in OutcomeStage}
    funnel = {
        "exposures": len(shortlists.jobseeker),
        "proposed": count[OutcomeStage.PROPOSED],
        "declined_by_jobseeker": count[OutcomeStage.DECLINED_BY_JOBSEEKER],
        "declined_by_employer": count[OutcomeStage.DECLINED_BY_EMPLOYER],
        "interviewed": count[OutcomeStage.INTERVIEWED],
        "hired": count[OutcomeStage.HIRED],
        "retained_6m": count[OutcomeStage.RETAINED_6M],
        "retained_12m": count[OutcomeStage.RETAINED_12M],
        "position_filled": int(np.count_nonzero(reason == _REASON[ReasonCode.POSITION_FILLED])),
    }
    m = len(pair)
    columns = {
        "event_id": ids("EV", m, 10),
        "jobseeker_id": take(people.jobseeker_ids, js[pair]),
        "vacancy_id": take(procurement.vacancy_ids, vac[pair]),
        "stage": categorical(stage, STAGES),
        "reason": categorical(reason, REASONS),
        "occurred_at": timestamps(at),
    }
    return Outcomes(columns=columns, funnel=funnel)
