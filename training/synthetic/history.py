"""The history: coaches' shortlists and searches, proposals and what became of them, week by week.

The history is simulated in steps of a week from the first vacancy's opening to ``as_of``.
Each step keeps the *live state* that :mod:`features.live_state` later derives from the
written events, so that nothing is shown that a reader of the world would call unavailable:

* a person is **available** on day *d* when their first unemployment spell has begun
  (``unemployment_start <= d``) and they are not in a job on *d*;
* a vacancy is **open** on *d* when ``opens_on <= d <= closes_on`` and it has fewer hires
  (on or before *d*) than ``openings``.

Each step, in this order:

1. **Offers** decided during the week are resolved in time order: a person holds at most one
   job, so an offer to somebody who has started another job since the proposal becomes
   ``declined_by_jobseeker`` (``not_interested``); a vacancy hires at most ``openings``
   people (later successful candidates get ``declined_by_employer``, ``position_filled``).
   A hire starts a job on its day. A hire not retained six months ends
   (``employment_ended``) 14–182 days later, one retained six but not twelve months on day
   184–364; after the end the person is available again, a new spell starting that day.
   Coaching stops during a job: assessments dated inside it are not written and no later
   decision of the coaches has seen them.
2. **Shortlists.** A few days after a vacancy opens (if it is still open), coaches look at a
   candidate pool and a shortlist of ``shown_min``–``shown_max`` available people is shown
   (``query_kind = "vacancy_shortlist"``, ``query_id`` = the vacancy). Candidates come
   mostly from the vacancy's labour-market area — people whose work history or preferences
   are in the vacancy's ISCO unit group, the same ISCO minor group, anyone in the area — and
   some from further: the same unit group anywhere in the country, or the region
   (``shortlist_sources`` of the policy).
3. **Coach searches.** About every 8–16 weeks (``search_interval_min_days`` to ``_max_days``)
   a coach searches vacancies for each available person of their caseload
   (``query_kind = "jobseeker_matches"``, ``query_id`` = ``CS`` + a number): 5–15
   (``search_shown_min`` to ``_max``) open, unfilled vacancies, drawn mostly from the person's
   labour-market area and the ISCO groups of their work history and preferences, some from
   the region or the same unit group nationally (``search_sources``). Where few are open,
   fewer are shown;
   a search that finds none is not logged. Like a saved search, it lists what is new: open
   vacancies the person has not been shown before, in a search or a shortlist.

Both lists are ordered by the coaches' rule score plus noise and each shown pair is proposed
with the logged policy's propensity (below). A (person, vacancy) pair is proposed at most
once: pairs already proposed are not shown again. Every proposal then follows the hidden
model's stages (:mod:`training.synthetic.hidden_model`): the coach proposes 1–4 days after
the list and by the deadline (the person gave consent), the jobseeker may decline within
days, employers screen
and interview around the application deadline (``closes_on``) and decide 3–21 days after the
interview. Once a person has started another job, the next event of each of their open
applications is their withdrawal (``declined_by_jobseeker``, ``not_interested``); a proposal
made on a day the person was already in work, or the vacancy already filled, never happened.
Events on or after ``as_of`` have not happened yet and are not written, so open vacancies
carry censored, in-progress histories.

The logged policy
-----------------
Both lists are ordered and proposed by the coaches' logged policy
(:mod:`training.synthetic.coach_policy`), whose propensity is logged with each exposure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from matching.domain import AssessmentMethod, OutcomeStage, ReasonCode, TargetGroup
from training.synthetic._common import (
    ROW_GROUP,
    SECONDS_PER_DAY,
    BoolArray,
    FloatArray,
    IntArray,
    categorical,
    contains,
    day_number,
    expand_ranges,
    first_of_runs,
    group_offsets,
    ids,
    numbered,
    rank_in_group,
    take,
    timestamps,
)
from training.synthetic.coach_policy import PROXIMITY_KM, CoachPolicyParams
from training.synthetic.config import WorldConfig
from training.synthetic.hidden_model import (
    EMPLOYER_REASONS,
    JOBSEEKER_REASONS,
    RETAIN_12M_SHIFT,
    HiddenModel,
    PairContext,
)
from training.synthetic.people import Population
from training.synthetic.procurement import Procurement
from training.synthetic.reference import Reference
from training.synthetic.skills import STRONG_METHODS, Recognition

STAGES = tuple(s.value for s in OutcomeStage)
REASONS = tuple(r.value for r in ReasonCode)
QUERY_KINDS = ("vacancy_shortlist", "jobseeker_matches")
SHORTLIST, SEARCH = 0, 1
_STAGE = {s: i for i, s in enumerate(OutcomeStage)}
_REASON = {r: i for i, r in enumerate(ReasonCode)}
_TG = {g: i for i, g in enumerate(TargetGroup)}
_STRONG = np.asarray([list(AssessmentMethod).index(m) for m in STRONG_METHODS])

STEP_DAYS = 7
OVERSAMPLE = 2.5
#: Searches draw more: their pools are small and partly seen before, and draws repeat.
SEARCH_OVERSAMPLE = 4.0
WORKDAY_START, WORKDAY_END = 6 * 3600, 14 * 3600  # UTC, i.e. office hours in FI and SE
RETENTION_DAYS = 183
RETENTION_12M_DAYS = 365
#: Days after the hire on which a job ends: not retained six months; retained six, not twelve.
SHORT_JOB_DAYS = (14, 182)
SECOND_HALF_YEAR_DAYS = (184, 364)
#: A day far beyond any history ("never"), and its negative ("long before").
NEVER = 1 << 40
#: Day numbers fit 16 bits until 2149; keys (owner, day) are owner * _SPAN + day.
_SPAN = 1 << 16
MAX_OPENINGS = 5


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


def _office_time(rng: np.random.Generator, days: IntArray) -> IntArray:
    """A time of office hours on each given day (seconds since the epoch)."""
    result: IntArray = days * SECONDS_PER_DAY + rng.integers(WORKDAY_START, WORKDAY_END, len(days))
    return result


def _sigmoid(x: FloatArray) -> FloatArray:
    result: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return result


def _reasons(
    rng: np.random.Generator, weights: FloatArray, codes: tuple[ReasonCode, ...]
) -> IntArray:
    """Draw a reason per row in proportion to the row's weights."""
    cumulative = np.cumsum(weights, axis=1)
    drawn = rng.random(len(weights))[:, None] * cumulative[:, -1:]
    column = np.minimum((drawn >= cumulative).sum(axis=1), len(codes) - 1)
    result: IntArray = np.asarray([_REASON[c] for c in codes])[column]
    return result


class History:
    """What the simulation wrote: exposures (in chunks), outcomes, dropped assessments."""

    def __init__(
        self,
        simulation: _Simulation,
        outcome_columns: dict[str, pa.Array],
        funnel: dict[str, int],
    ) -> None:
        self._simulation = simulation
        self.outcome_columns = outcome_columns
        self.dropped_assessments: BoolArray = simulation.dropped
        self.funnel = funnel

    def exposure_chunks(self) -> Iterator[dict[str, pa.Array]]:
        """The exposures table in consecutive chunks of columns (consumed as written)."""
        return self._simulation.exposure_chunks()


@dataclass(eq=False)
class _Shown:
    """Shown pairs of one list kind in one step, before and after the coaches' decision."""

    kind: int
    query: IntArray  # vacancy (shortlists) or search number (searches)
    js: IntArray
    vac: IntArray
    day: IntArray
    shown_at: IntArray
    position: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    propensity: FloatArray = field(default_factory=lambda: np.zeros(0))
    proposed: BoolArray = field(default_factory=lambda: np.zeros(0, bool))
    unemployed_days: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass(frozen=True, eq=False)
class _Logged:
    """A week's exposures in log order, in narrow types (national worlds log millions)."""

    kind: npt.NDArray[np.int8]
    query: npt.NDArray[np.int32]
    js: npt.NDArray[np.int32]
    vac: npt.NDArray[np.int32]
    shown_at: IntArray
    position: npt.NDArray[np.int16]
    propensity: FloatArray

    @staticmethod
    def of_week(lists: list[_Shown]) -> _Logged:
        kind = np.concatenate([np.full(len(s.js), s.kind, dtype=np.int8) for s in lists])
        query = np.concatenate([s.query for s in lists])
        shown_at = np.concatenate([s.shown_at for s in lists])
        position = np.concatenate([s.position for s in lists])
        # Weeks follow each other, so sorting within the week sorts the whole log.
        order = np.lexsort((position, query, kind, shown_at))
        return _Logged(
            kind=kind[order],
            query=query[order].astype(np.int32),
            js=np.concatenate([s.js for s in lists])[order].astype(np.int32),
            vac=np.concatenate([s.vac for s in lists])[order].astype(np.int32),
            shown_at=shown_at[order],
            position=position[order].astype(np.int16),
            propensity=np.concatenate([s.propensity for s in lists])[order],
        )

    def __len__(self) -> int:
        return len(self.js)


#: What is drawn for every proposal (``_Simulation.propose``); flags are booleans.
_PROPOSAL_FLAGS = ("accepted", "interviewed", "offered", "retained", "retained_12m")
_PROPOSAL_FIELDS = (
    "js",
    "vac",
    "kind",
    "proposed_at",
    "jobseeker_declined_at",
    "screened_at",
    "interviewed_at",
    "decided_at",
    *_PROPOSAL_FLAGS,
    "end",
    "js_reason",
    "emp_reason",
)


class _Simulation:
    """The state of the world during the history and the step that advances it."""

    def __init__(
        self,
        config: WorldConfig,
        people: Population,
        procurement: Procurement,
        recognition: Recognition,
        ref: Reference,
        model: HiddenModel,
        context: PairContext,
        policy: CoachPolicyParams,
        rng: np.random.Generator,
    ) -> None:
        self.config, self.people, self.vacancies = config, people, procurement
        self.recognition, self.model, self.context = recognition, model, context
        self.policy, self.rng = policy, rng
        self.n_skills = ref.n_skills
        self.distance_km = ref.geography.distance_km
        self.as_of = day_number(config.as_of)
        n, n_vac = people.n, procurement.n
        if int(procurement.openings.max(initial=1)) > MAX_OPENINGS:
            raise ValueError(f"a vacancy has more than {MAX_OPENINGS} openings")

        # People: the latest two jobs (slot 1 the latest; enough, as a job lasts two weeks
        # or more and a step one week), and when the coach searches for them next.
        self.job_start = np.full((n, 2), NEVER, dtype=np.int64)
        self.job_end = np.full((n, 2), -NEVER, dtype=np.int64)
        first_day = min(
            int(procurement.opens_day.min(initial=self.as_of)),
            self.as_of - round(365.25 * config.history_years),
        )
        self.first_day = first_day
        self.next_search = np.maximum(people.unemployment_day, first_day) + rng.integers(
            0, config.search_interval_max_days + 1, n
        )
        # Vacancies: hire times (seconds) per opening, and the day the last opening filled.
        self.hires_at = np.full((n_vac, MAX_OPENINGS), NEVER * SECONDS_PER_DAY, dtype=np.int64)
        self.hire_count = np.zeros(n_vac, dtype=np.int64)
        self.filled_day = np.full(n_vac, NEVER, dtype=np.int64)
        self.shortlist_day = procurement.opens_day + rng.integers(1, 11, n_vac)
        self.shortlist_at = _office_time(rng, self.shortlist_day)
        self.shortlist_size = rng.integers(config.shown_min, config.shown_max + 1, n_vac)

        # Who can be drawn for whom: occupational membership (unit groups of work history and
        # preferences, deduplicated) per person, and the candidate pools of shortlists.
        occupation_isco = ref.occupation_isco
        m_owner = np.r_[people.history_owner, people.preferred_owner]
        m_isco = occupation_isco[np.r_[people.history_occupation, people.preferred_occupation]]
        m_key = np.unique(m_owner * 10_000 + m_isco)
        self.member_owner, self.member_isco = m_key // 10_000, m_key % 10_000
        self.member_offsets = group_offsets(self.member_owner, n)
        minor_key = np.unique(self.member_owner * 1_000 + self.member_isco // 10)
        minor_owner, minor = minor_key // 1_000, minor_key % 1_000
        everyone = np.arange(n, dtype=np.int64)
        self.people_pools = [
            _Groups(people.area[self.member_owner] * 10_000 + self.member_isco, self.member_owner),
            _Groups(people.area[minor_owner] * 1_000 + minor, minor_owner),
            _Groups(people.area, everyone),
            _Groups(
                people.country[self.member_owner] * 10_000 + self.member_isco, self.member_owner
            ),
            _Groups(people.region, everyone),
        ]
        self.people_by_country = _Groups(people.country, everyone)
        self.preferred_keys = np.unique(
            people.preferred_owner * 10_000 + occupation_isco[people.preferred_occupation]
        )

        # Coaching: assessments per person (sorted by owner, day) and those dropped so far.
        self.assessment_offsets = group_offsets(recognition.assessment_owner, n)
        self.dropped = np.zeros(len(recognition.assessment_owner), dtype=bool)
        self.obs_strong = np.isin(
            recognition.assessment_method[recognition.obs_assessment], _STRONG
        )
        self.obs_key = recognition.obs_owner * self.n_skills + recognition.obs_skill
        starts = np.flatnonzero(first_of_runs(self.obs_key))
        self.obs_max_run = (
            int(np.diff(np.r_[starts, len(self.obs_key)]).max()) if len(starts) else 0
        )

        # Pairs (person * n_vacancies + vacancy) proposed, and shown, so far; sorted.
        self.proposed_keys = np.zeros(0, dtype=np.int64)
        self.seen_keys = np.zeros(0, dtype=np.int64)
        self.n_searches = 0
        self.logged: list[_Logged] = []
        self.proposals: list[dict[str, npt.NDArray[np.generic]]] = []
        self.n_proposals = 0
        self.pending: dict[str, IntArray] = {
            name: np.zeros(0, np.int64) for name in ("index", "js", "vac", "day", "at", "end")
        }
        self.resolved: list[tuple[IntArray, IntArray]] = []
        self.jobs: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []

    # ---- live state ----

    def available(self, js: IntArray, day: IntArray) -> BoolArray:
        """Whether each person is available (spell begun, not in a job) on the day."""
        on = day[:, None]
        employed = ((self.job_start[js] <= on) & (on < self.job_end[js])).any(axis=1)
        result: BoolArray = (self.people.unemployment_day[js] <= day) & ~employed
        return result

    def spell_start(self, js: IntArray, day: IntArray) -> IntArray:
        """Start of each available person's running spell: first spell or end of last job."""
        ends = self.job_end[js]
        ended = np.where(ends <= day[:, None], ends, -NEVER).max(axis=1)
        result: IntArray = np.maximum(self.people.unemployment_day[js], ended)
        return result

    def vacancy_open(self, vac: IntArray, day: IntArray) -> BoolArray:
        v = self.vacancies
        result: BoolArray = (
            (v.opens_day[vac] <= day) & (day <= v.closes_day[vac]) & (day < self.filled_day[vac])
        )
        return result

    def not_proposed(self, js: IntArray, vac: IntArray) -> BoolArray:
        result: BoolArray = ~contains(self.proposed_keys, js * self.vacancies.n + vac)
        return result

    def not_seen(self, js: IntArray, vac: IntArray) -> BoolArray:
        result: BoolArray = ~contains(self.seen_keys, js * self.vacancies.n + vac)
        return result

    def remember(self, shown: _Shown) -> None:
        """Add the shown pairs to those seen (merging sorted runs is a linear pass)."""
        keys = np.unique(shown.js * self.vacancies.n + shown.vac)
        keys = keys[~contains(self.seen_keys, keys)]
        self.seen_keys = np.sort(np.concatenate([self.seen_keys, keys]), kind="stable")

    # ---- the week ----

    def run(self) -> None:
        for t0 in range(self.first_day, self.as_of, STEP_DAYS):
            t1 = min(t0 + STEP_DAYS, self.as_of)
            self.resolve_offers(t1)
            # Searches are drawn after the shortlists' proposals, so that they skip those pairs.
            week = []
            for draw in (self.shortlists, self.searches):
                shown = draw(t0, t1)
                if len(shown.js):
                    self.decide(shown)
                    self.propose(shown)
                    self.remember(shown)
                    week.append(shown)
            if week:
                self.logged.append(_Logged.of_week(week))

    def resolve_offers(self, t1: int) -> None:
        """Resolve the offers decided before day ``t1``, in time order (module docstring).

        Rounds: reject offers whose person has started a job since the proposal or whose
        vacancy is full at the offer's time; accept every offer that is its person's first
        unresolved one and fits the openings even if all earlier unresolved offers of its
        vacancy are accepted. The earliest offer always resolves, so the rounds end, and the
        result is that of taking the offers one by one in time order.
        """
        pending = self.pending
        due = pending["at"] < t1 * SECONDS_PER_DAY
        if not due.any():
            return
        offer = {name: values[due] for name, values in pending.items()}
        self.pending = {name: values[~due] for name, values in pending.items()}
        order = np.lexsort((offer["index"], offer["at"]))
        offer = {name: values[order] for name, values in offer.items()}
        js, vac, at = offer["js"], offer["vac"], offer["at"]
        openings = self.vacancies.openings[vac]
        status = np.zeros(len(js), dtype=np.int64)  # 0 open, 1 hired, 2 has a job, 3 filled
        while True:
            u = np.flatnonzero(status == 0)
            if len(u) == 0:
                break
            busy = self.job_end[js[u], 1] > offer["day"][u]
            hired_by = (self.hires_at[vac[u]] <= at[u, None]).sum(axis=1)
            full = ~busy & (hired_by >= openings[u])
            status[u[busy]] = 2
            status[u[full]] = 3
            keep = ~busy & ~full
            r, hired_by = u[keep], hired_by[keep]
            # r is in time order: a person's first offer and a vacancy's rank among the rest.
            first_of_person = np.zeros(len(r), dtype=bool)
            first_of_person[np.unique(js[r], return_index=True)[1]] = True
            by_vacancy = np.argsort(vac[r], kind="stable")
            rank = np.empty(len(r), dtype=np.int64)
            rank[by_vacancy] = rank_in_group(vac[r][by_vacancy])
            safe = first_of_person & (hired_by + rank < openings[r])
            self._hire(r[safe], offer)
            status[r[safe]] = 1
        self.resolved.append((offer["index"], status))

    def _hire(self, rows: IntArray, offer: dict[str, IntArray]) -> None:
        """Start the jobs of accepted offers ``rows`` (at most one per person)."""
        if len(rows) == 0:
            return
        js, vac, at = offer["js"][rows], offer["vac"][rows], offer["at"][rows]
        start = at // SECONDS_PER_DAY
        end = start + offer["end"][rows]
        self.job_start[js, 0] = self.job_start[js, 1]
        self.job_end[js, 0] = self.job_end[js, 1]
        self.job_start[js, 1] = start
        self.job_end[js, 1] = end
        order = np.argsort(vac, kind="stable")
        slot = self.hire_count[vac[order]] + rank_in_group(vac[order])
        self.hires_at[vac[order], slot] = at[order]
        np.add.at(self.hire_count, vac, 1)
        touched = np.unique(vac)
        full = touched[self.hire_count[touched] >= self.vacancies.openings[touched]]
        if len(full):
            nth = self.vacancies.openings[full] - 1
            self.filled_day[full] = (
                np.sort(self.hires_at[full], axis=1)[np.arange(len(full)), nth] // SECONDS_PER_DAY
            )
        self.jobs.append((js, vac, start, end))
        # Coaching stops while the person is in work: drop assessments dated in the job.
        offsets = self.assessment_offsets
        owner, position = expand_ranges(offsets[js], offsets[js + 1] - offsets[js])
        day = self.recognition.assessment_day[position]
        inside = (day >= start[owner]) & (day < end[owner])
        self.dropped[position[inside]] = True

    def shortlists(self, t0: int, t1: int) -> _Shown:
        """Shortlists of the vacancies whose shortlist day falls in [t0, t1) and are open."""
        rng, v = self.rng, self.vacancies
        due = np.flatnonzero((self.shortlist_day >= t0) & (self.shortlist_day < t1))
        due = due[self.vacancy_open(due, self.shortlist_day[due])]
        slots = np.ceil(self.shortlist_size[due] * OVERSAMPLE).astype(np.int64)
        slot_vac = np.repeat(due, slots)
        shares = np.asarray(self.policy.shortlist_sources)
        source = np.searchsorted(np.cumsum(shares), rng.random(len(slot_vac)) * shares.sum())
        wanted = [
            v.area[slot_vac] * 10_000 + v.isco[slot_vac],
            v.area[slot_vac] * 1_000 + v.isco[slot_vac] // 10,
            v.area[slot_vac],
            v.country[slot_vac] * 10_000 + v.isco[slot_vac],
            v.region[slot_vac],
        ]
        person = np.full(len(slot_vac), -1, dtype=np.int64)
        for k, pool in enumerate(self.people_pools):
            members = np.flatnonzero(source == k)
            person[members] = pool.draw(rng, wanted[k][members])
        empty = np.flatnonzero(person < 0)
        person[empty] = self.people_pools[2].draw(rng, v.area[slot_vac[empty]])
        empty = np.flatnonzero(person < 0)
        person[empty] = self.people_by_country.draw(rng, v.country[slot_vac[empty]])

        day = self.shortlist_day[slot_vac]
        found = person >= 0
        keep = np.flatnonzero(found)
        keep = keep[self.available(person[keep], day[keep])]
        keep = keep[self.not_proposed(person[keep], slot_vac[keep])]
        vac, js = self._first_per_list(slot_vac[keep], person[keep], keep, self.shortlist_size)
        return _Shown(SHORTLIST, vac, js, vac, self.shortlist_day[vac], self.shortlist_at[vac])

    @staticmethod
    def _first_per_list(
        query: IntArray, item: IntArray, slot: IntArray, size: IntArray
    ) -> tuple[IntArray, IntArray]:
        """Per list, the distinct items in slot order, at most ``size[query]`` of them."""
        order = np.lexsort((slot, item, query))
        query, item, slot = query[order], item[order], slot[order]
        first = first_of_runs(query, item)
        query, item, slot = query[first], item[first], slot[first]
        order = np.lexsort((slot, query))
        query, item = query[order], item[order]
        keep = rank_in_group(query) < size[query]
        return query[keep], item[keep]

    def searches(self, t0: int, t1: int) -> _Shown:
        """Coaches' searches for the available people whose search day falls in [t0, t1)."""
        rng, v, people = self.rng, self.vacancies, self.people
        due = np.flatnonzero((self.next_search >= t0) & (self.next_search < t1))
        day = self.next_search[due]
        config = self.config
        self.next_search[due] += rng.integers(
            config.search_interval_min_days, config.search_interval_max_days + 1, len(due)
        )
        available = self.available(due, day)
        due, day = due[available], day[available]
        order = np.lexsort((due, day))
        due, day = due[order], day[order]
        size = rng.integers(config.search_shown_min, config.search_shown_max + 1, len(due))
        shown_at = _office_time(rng, day)

        # Vacancies open on some day of the week, by where and what they are.
        candidates = np.flatnonzero(
            (v.opens_day < t1) & (v.closes_day >= t0) & (self.filled_day > t0)
        )
        c_isco = v.isco[candidates]
        pools = [
            _Groups(v.area[candidates] * 10_000 + c_isco, candidates),
            _Groups(v.area[candidates] * 1_000 + c_isco // 10, candidates),
            _Groups(v.region[candidates] * 10_000 + c_isco, candidates),
            _Groups(v.region[candidates] * 1_000 + c_isco // 10, candidates),
            _Groups(v.country[candidates] * 10_000 + c_isco, candidates),
        ]
        slots = np.ceil(size * SEARCH_OVERSAMPLE).astype(np.int64)
        search = np.repeat(np.arange(len(due), dtype=np.int64), slots)
        js = due[search]
        shares = np.asarray(self.policy.search_sources)
        source = np.searchsorted(np.cumsum(shares), rng.random(len(search)) * shares.sum())
        # One of the person's ISCO unit groups per slot.
        first, count = self.member_offsets[js], np.diff(self.member_offsets)[js]
        pick = first + (rng.random(len(search)) * count).astype(np.int64)
        isco = np.where(
            count > 0, self.member_isco[np.minimum(pick, len(self.member_isco) - 1)], -1
        )
        wanted = [
            people.area[js] * 10_000 + isco,
            people.area[js] * 1_000 + isco // 10,
            people.region[js] * 10_000 + isco,
            people.region[js] * 1_000 + isco // 10,
            people.country[js] * 10_000 + isco,
        ]
        vac = np.full(len(search), -1, dtype=np.int64)
        for k, pool in enumerate(pools):
            members = np.flatnonzero(source == k)
            vac[members] = pool.draw(rng, wanted[k][members])
        keep = np.flatnonzero(vac >= 0)
        keep = keep[self.vacancy_open(vac[keep], day[search[keep]])]
        keep = keep[self.not_seen(js[keep], vac[keep])]
        local, vac = self._first_per_list(search[keep], vac[keep], keep, size)
        # Number the searches that found something, in time order.
        found = np.unique(local)
        number = np.full(len(due), -1, dtype=np.int64)
        number[found] = self.n_searches + np.arange(len(found))
        self.n_searches += len(found)
        return _Shown(SEARCH, number[local], due[local], vac, day[local], shown_at[local])

    # ---- the coaches' decision and the proposals ----

    def _recorded_coverage(
        self, js: IntArray, vac: IntArray, day: IntArray
    ) -> tuple[FloatArray, FloatArray]:
        """Share of each vacancy's required skills recorded at or above the minimum by
        ``day`` in assessments still standing: by any method, and by strong evidence."""
        rec, v = self.recognition, self.vacancies
        obs_key = self.obs_key
        offsets = v.required_offsets
        coverage = np.zeros(len(js))
        evidence = np.zeros(len(js))
        chunk = 300_000
        for start in range(0, len(js), chunk):
            part = slice(start, min(start + chunk, len(js)))
            vv = vac[part]
            owner, pos = expand_ranges(offsets[vv], offsets[vv + 1] - offsets[vv])
            key = js[part][owner] * self.n_skills + v.required_skill[pos]
            # In key order the lookups below walk the observation arrays forwards.
            order = np.argsort(key, kind="stable")
            owner, pos, key = owner[order], pos[order], key[order]
            low = np.searchsorted(obs_key, key, side="left")
            high = np.searchsorted(obs_key, key, side="right")
            best = np.zeros(len(key), dtype=np.int64)
            best_strong = np.zeros(len(key), dtype=np.int64)
            limit = day[part][owner]
            for r in range(self.obs_max_run):
                idx = low + r
                valid = idx < high
                if not valid.any():
                    break
                idx = np.minimum(idx, len(obs_key) - 1)
                valid &= (rec.obs_day[idx] <= limit) & ~self.dropped[rec.obs_assessment[idx]]
                level = np.where(valid, rec.obs_level[idx], 0)
                best = np.maximum(best, level)
                best_strong = np.maximum(best_strong, np.where(self.obs_strong[idx], level, 0))
            minimum = v.required_min_level[pos]
            count = np.bincount(owner, minlength=len(vv)).astype(np.float64)
            for target, met in ((coverage, best >= minimum), (evidence, best_strong >= minimum)):
                hits = np.bincount(owner, weights=met, minlength=len(vv))
                target[part] = np.divide(hits, count, out=np.zeros(len(vv)), where=count > 0)
        return coverage, evidence

    def decide(self, shown: _Shown) -> None:
        """Order each list by the coaches' rule score; log and draw their proposals."""
        rng, policy, people, v = self.rng, self.policy, self.people, self.vacancies
        js, vac, day = shown.js, shown.vac, shown.day
        coverage, evidence = self._recorded_coverage(js, vac, day)
        preferred = contains(self.preferred_keys, js * 10_000 + v.isco[vac]).astype(np.float64)
        spell_days = day - self.spell_start(js, day)
        years = spell_days.astype(np.float64) / 365.25
        year = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
        age = year - people.birth_year[js]
        groups = np.zeros((len(js), len(_TG)), dtype=bool)
        groups[:, _TG[TargetGroup.REGISTERED_UNEMPLOYED]] = True
        groups[:, _TG[TargetGroup.UNEMPLOYED_3M]] = spell_days >= 91
        groups[:, _TG[TargetGroup.LONG_TERM_UNEMPLOYED]] = spell_days >= 365
        groups[:, _TG[TargetGroup.YOUNG]] = age < 30
        groups[:, _TG[TargetGroup.OLDER]] = age >= 55
        groups[:, _TG[TargetGroup.MIGRANT_BACKGROUND]] = people.migrant[js]
        groups[:, _TG[TargetGroup.PARTIAL_WORK_CAPACITY]] = people.partial[js]
        eligible = np.any(groups & v.target_mask[vac], axis=1).astype(np.float64)
        distance = self.distance_km[people.municipality[js], v.municipality[vac]]
        effective = distance * (1.0 - v.remote_share[vac])
        near = (effective <= people.commute_km[js]).astype(np.float64)
        proximity = np.exp(-effective / PROXIMITY_KM)
        log_years = np.log1p(years)

        score = (
            policy.rank_coverage * coverage
            + policy.rank_evidence * evidence
            + policy.rank_preferred * preferred
            + policy.rank_near * near
            + policy.rank_proximity * proximity
            - policy.rank_unemployment * log_years
            + policy.rank_eligible * eligible
            + rng.normal(0.0, policy.rank_noise_sd, len(js))
        )
        order = np.lexsort((-score, shown.query))
        position = np.empty(len(js), dtype=np.int64)
        position[order] = rank_in_group(shown.query[order]) + 1
        intercept = policy.intercept if shown.kind == SHORTLIST else policy.search_intercept
        logit = (
            intercept
            + policy.assessed_coverage * coverage
            + policy.coverage_threshold * (coverage >= 0.5)
            + policy.evidence_coverage * evidence
            + policy.preferred_match * preferred
            + policy.within_radius * near
            + policy.proximity * proximity
            - policy.unemployment_years * log_years
            + policy.eligible * eligible
            - policy.position * np.log(position)
        )
        clipped = np.clip(_sigmoid(logit), policy.min_propensity, policy.max_propensity)
        shown.position = position
        shown.propensity = np.round(clipped, 6).astype(np.float64)
        shown.proposed = rng.random(len(js)) < shown.propensity
        shown.unemployed_days = spell_days

    def propose(self, shown: _Shown) -> None:
        """Draw the hidden-model path of every new proposal; queue its offer if it gets one."""
        rng, model, v = self.rng, self.model, self.vacancies
        chosen = np.flatnonzero(shown.proposed)
        js, vac = shown.js[chosen], shown.vac[chosen]
        n = len(chosen)
        if n == 0:
            return
        # A pair is proposed at most once, so the new keys are new: merging two sorted runs
        # (a stable sort of their concatenation) costs a linear pass.
        keys = np.sort(js * v.n + vac)
        self.proposed_keys = np.sort(np.concatenate([self.proposed_keys, keys]), kind="stable")
        features = model.features(
            self.context, js, vac, unemployed_days=shown.unemployed_days[chosen]
        )
        logits = model.stage_logits(features)
        load_interview, load_hire, load_retain = model.form.chemistry_loadings()
        chemistry = rng.normal(0.0, model.form.chemistry_sd, n)
        accepted = rng.random(n) < _sigmoid(logits.accept)
        interviewed = accepted & (
            rng.random(n) < _sigmoid(logits.interview + load_interview * chemistry)
        )
        offered = interviewed & (rng.random(n) < _sigmoid(logits.hire + load_hire * chemistry))
        retain_logit = logits.retain + load_retain * chemistry
        retained = rng.random(n) < _sigmoid(retain_logit)
        retained_12m = retained & (rng.random(n) < _sigmoid(retain_logit + RETAIN_12M_SHIFT))
        end = np.where(
            retained_12m,
            NEVER,
            np.where(
                retained,
                rng.integers(SECOND_HALF_YEAR_DAYS[0], SECOND_HALF_YEAR_DAYS[1] + 1, n),
                rng.integers(SHORT_JOB_DAYS[0], SHORT_JOB_DAYS[1] + 1, n),
            ),
        )

        # Coaches propose 1-4 days after the list, by the deadline (closes_on);
        # employers screen and interview around the deadline and decide 3-21 days later.
        shown_day = shown.day[chosen]
        closes = v.closes_day[vac]
        proposed_day = np.minimum(shown_day + rng.integers(1, 5, n), closes)
        # On the deadline itself the coach proposes within hours of the list.
        same_day = proposed_day <= shown_day
        later_that_day = shown.shown_at[chosen] + rng.integers(600, 3 * 3600, n)
        proposed_at = np.where(same_day, later_that_day, _office_time(rng, proposed_day))
        jobseeker_declined_at = _office_time(rng, proposed_day + rng.integers(1, 5, n))
        screened_day = np.maximum(proposed_day + 2, closes - 7) + rng.integers(0, 8, n)
        interview_day = np.maximum(proposed_day + 4, closes - 10) + rng.integers(0, 15, n)
        decided_day = interview_day + rng.integers(3, 22, n)
        js_reason = _reasons(rng, model.decline_reason_weights(features, False), JOBSEEKER_REASONS)
        emp_reason = _reasons(rng, model.decline_reason_weights(features, True), EMPLOYER_REASONS)
        decided_at = _office_time(rng, decided_day)

        index = self.n_proposals + np.arange(n, dtype=np.int64)
        self.n_proposals += n
        self.proposals.append(
            {
                "js": js,
                "vac": vac,
                "kind": np.full(n, shown.kind, dtype=np.int64),
                "proposed_at": proposed_at,
                "jobseeker_declined_at": jobseeker_declined_at,
                "screened_at": _office_time(rng, screened_day),
                "interviewed_at": _office_time(rng, interview_day),
                "decided_at": decided_at,
                "accepted": accepted,
                "interviewed": interviewed,
                "offered": offered,
                "retained": retained,
                "retained_12m": retained_12m,
                "end": end,
                "js_reason": js_reason,
                "emp_reason": emp_reason,
            }
        )
        new = {
            "index": index[offered],
            "js": js[offered],
            "vac": vac[offered],
            "day": proposed_day[offered],
            "at": decided_at[offered],
            "end": end[offered],
        }
        self.pending = {
            name: np.concatenate([self.pending[name], new[name]]) for name in self.pending
        }

    # ---- output ----

    def result(self) -> History:
        proposals = {
            name: np.concatenate([part[name] for part in self.proposals])
            if self.proposals
            else np.zeros(0, dtype=bool if name in _PROPOSAL_FLAGS else np.int64)
            for name in _PROPOSAL_FIELDS
        }
        self.proposals = []
        outcomes, funnel = self._outcomes(proposals)
        by_kind = {SHORTLIST: 0, SEARCH: 0}
        for week in self.logged:
            for kind in by_kind:
                by_kind[kind] += int(np.count_nonzero(week.kind == kind))
        funnel = {
            "exposures": sum(by_kind.values()),
            "exposures_vacancy_shortlist": by_kind[SHORTLIST],
            "exposures_jobseeker_matches": by_kind[SEARCH],
            "searches": self.n_searches,
            **funnel,
        }
        return History(self, outcomes, funnel)

    def exposure_chunks(self) -> Iterator[dict[str, pa.Array]]:
        """Columns of the exposures table, ``ROW_GROUP`` rows at a time, freeing the weeks
        already written."""
        weeks, self.logged = self.logged, []
        written = 0
        buffer: list[_Logged] = []
        buffered = 0
        while weeks or buffered:
            while weeks and buffered < ROW_GROUP:
                week = weeks.pop(0)
                buffer.append(week)
                buffered += len(week)
            merged = {
                name: np.concatenate([getattr(week, name) for week in buffer])
                for name in ("kind", "query", "js", "vac", "shown_at", "position", "propensity")
            }
            take_rows = min(ROW_GROUP, buffered)
            chunk = {name: values[:take_rows] for name, values in merged.items()}
            rest = {name: values[take_rows:] for name, values in merged.items()}
            buffered -= take_rows
            buffer = [_Logged(**rest)] if buffered else []
            yield self._exposure_columns(chunk, written)
            written += take_rows

    def _exposure_columns(
        self, rows: dict[str, npt.NDArray[np.generic]], written: int
    ) -> dict[str, pa.Array]:
        n = len(rows["js"])
        kind = np.asarray(rows["kind"], dtype=np.int64)
        query = np.asarray(rows["query"], dtype=np.int64)
        vacancy_id = take(self.vacancies.vacancy_ids, np.asarray(rows["vac"], dtype=np.int64))
        is_search = kind == SEARCH
        query_id = pc.if_else(
            pa.array(is_search),
            numbered("CS", np.where(is_search, query + 1, 0), 9),
            vacancy_id,
        )
        return {
            "exposure_id": ids("EX", n, 10, start=written + 1),
            "query_kind": categorical(kind, QUERY_KINDS),
            "query_id": query_id,
            "jobseeker_id": take(self.people.jobseeker_ids, np.asarray(rows["js"], dtype=np.int64)),
            "vacancy_id": vacancy_id,
            "position": pa.array(np.asarray(rows["position"], dtype=np.int16)),
            "shown_at": timestamps(rows["shown_at"]),
            "propensity": pa.array(np.asarray(rows["propensity"], dtype=np.float64)),
            "policy": categorical(np.zeros(n, np.int64), (self.policy.name,)),
        }

    def _outcomes(
        self, p: dict[str, npt.NDArray[np.generic]]
    ) -> tuple[dict[str, pa.Array], dict[str, int]]:
        """The outcome events of every proposal under the final live state."""
        rng = self.rng
        n = len(p["js"])
        js = np.asarray(p["js"], dtype=np.int64)
        vac = np.asarray(p["vac"], dtype=np.int64)
        status = np.zeros(n, dtype=np.int64)
        for index, resolved in self.resolved:
            status[index] = resolved
        hired = status == 1

        # Every job, sorted by (person, start) and by (vacancy, start); a sentinel key ends
        # the person list so that "the next job" always has a row to look at.
        jobs = (
            [np.concatenate([job[k] for job in self.jobs]) for k in range(4)]
            if self.jobs
            else [np.zeros(0, np.int64)] * 4
        )
        job_js, job_vac, job_start, job_end = jobs
        by_person = np.lexsort((job_start, job_js))
        person_key = np.r_[job_js[by_person] * _SPAN + job_start[by_person], NEVER * _SPAN]
        person_end = np.r_[job_end[by_person], NEVER]
        vacancy_key = np.sort(job_vac * _SPAN + job_start)

        proposed_at = np.asarray(p["proposed_at"], dtype=np.int64)
        proposed_day = proposed_at // SECONDS_PER_DAY
        # The person's latest job started on or before the proposal day, and the next one.
        following = np.searchsorted(person_key, js * _SPAN + proposed_day, side="right")
        latest = np.maximum(following - 1, 0)
        in_work = (
            (following > 0)
            & (person_key[latest] // _SPAN == js)
            & (person_end[latest] > proposed_day)
        )
        next_is_theirs = person_key[following] // _SPAN == js
        withdraw_day = np.where(next_is_theirs & ~hired, person_key[following] % _SPAN, NEVER)
        hires_by_proposal = np.searchsorted(
            vacancy_key, vac * _SPAN + proposed_day, side="right"
        ) - np.searchsorted(vacancy_key, vac * _SPAN, side="left")
        filled = hires_by_proposal >= self.vacancies.openings[vac]
        happened = hired | ~(in_work | filled)

        accepted = np.asarray(p["accepted"], dtype=bool)
        interviewed = np.asarray(p["interviewed"], dtype=bool)
        offered = np.asarray(p["offered"], dtype=bool)
        retained = np.asarray(p["retained"], dtype=bool)
        retained_12m = np.asarray(p["retained_12m"], dtype=bool)
        js_reason = np.asarray(p["js_reason"], dtype=np.int64)
        emp_reason = np.asarray(p["emp_reason"], dtype=np.int64)
        declined_at = np.asarray(p["jobseeker_declined_at"], dtype=np.int64)
        screened_at = np.asarray(p["screened_at"], dtype=np.int64)
        interviewed_at = np.asarray(p["interviewed_at"], dtype=np.int64)
        decided_at = np.asarray(p["decided_at"], dtype=np.int64)
        end_day = decided_at // SECONDS_PER_DAY + np.asarray(p["end"], dtype=np.int64)

        def after_job(at: IntArray) -> BoolArray:
            """Whether the person had started another job by that event's day."""
            result: BoolArray = at // SECONDS_PER_DAY >= withdraw_day
            return result

        not_interested = np.full(n, _REASON[ReasonCode.NOT_INTERESTED])
        position_filled = np.full(n, _REASON[ReasonCode.POSITION_FILLED])
        null = np.full(n, -1, dtype=np.int64)
        withdrawn_early = ~accepted & after_job(declined_at)
        screened_out = accepted & ~interviewed
        interview_withdrawn = interviewed & after_job(interviewed_at)
        reaches_decision = interviewed & ~interview_withdrawn
        decision_withdrawn = reaches_decision & ~hired & after_job(decided_at)
        decision_withdrawn |= reaches_decision & offered & (status == 2)
        employer_says_no = reaches_decision & ~offered & ~decision_withdrawn
        too_late = reaches_decision & offered & (status == 3) & ~decision_withdrawn
        ended = hired & ~retained_12m
        # (who, stage, when, reason, a withdrawal after starting another job?)
        events: list[tuple[BoolArray, OutcomeStage, IntArray, IntArray, bool]] = [
            (happened, OutcomeStage.PROPOSED, proposed_at, null, False),
            (
                ~accepted & ~withdrawn_early,
                OutcomeStage.DECLINED_BY_JOBSEEKER,
                declined_at,
                js_reason,
                False,
            ),
            (
                withdrawn_early,
                OutcomeStage.DECLINED_BY_JOBSEEKER,
                declined_at,
                not_interested,
                True,
            ),
            (
                screened_out & after_job(screened_at),
                OutcomeStage.DECLINED_BY_JOBSEEKER,
                screened_at,
                not_interested,
                True,
            ),
            (
                screened_out & ~after_job(screened_at),
                OutcomeStage.DECLINED_BY_EMPLOYER,
                screened_at,
                emp_reason,
                False,
            ),
            (
                interview_withdrawn,
                OutcomeStage.DECLINED_BY_JOBSEEKER,
                interviewed_at,
                not_interested,
                True,
            ),
            (reaches_decision, OutcomeStage.INTERVIEWED, interviewed_at, null, False),
            (employer_says_no, OutcomeStage.DECLINED_BY_EMPLOYER, decided_at, emp_reason, False),
            (
                decision_withdrawn,
                OutcomeStage.DECLINED_BY_JOBSEEKER,
                decided_at,
                not_interested,
                True,
            ),
            (too_late, OutcomeStage.DECLINED_BY_EMPLOYER, decided_at, position_filled, False),
            (hired, OutcomeStage.HIRED, decided_at, null, False),
            (
                hired & retained,
                OutcomeStage.RETAINED_6M,
                decided_at + RETENTION_DAYS * SECONDS_PER_DAY,
                null,
                False,
            ),
            (
                hired & retained_12m,
                OutcomeStage.RETAINED_12M,
                decided_at + RETENTION_12M_DAYS * SECONDS_PER_DAY,
                null,
                False,
            ),
            (
                ended,
                OutcomeStage.EMPLOYMENT_ENDED,
                _office_time(rng, np.where(ended, end_day, 0)),
                null,
                False,
            ),
        ]
        cut = self.as_of * SECONDS_PER_DAY
        pair_parts, stage_parts, time_parts, reason_parts = [], [], [], []
        withdrawals = 0
        for mask, event_stage, event_at, event_reason, withdrawal in events:
            written = mask & happened & (event_at < cut)
            withdrawals += int(written.sum()) if withdrawal else 0
            pair_parts.append(np.flatnonzero(written))
            stage_parts.append(np.full(int(written.sum()), _STAGE[event_stage]))
            time_parts.append(event_at[written])
            reason_parts.append(event_reason[written])
        pair = np.concatenate(pair_parts)
        stage = np.concatenate(stage_parts)
        at = np.concatenate(time_parts)
        reason = np.concatenate(reason_parts)
        order = np.lexsort((stage, pair, at))
        pair, stage, at, reason = pair[order], stage[order], at[order], reason[order]

        count = {s: int(np.count_nonzero(stage == _STAGE[s])) for s in OutcomeStage}
        proposed_kind = np.asarray(p["kind"])[pair[stage == _STAGE[OutcomeStage.PROPOSED]]]
        funnel = {
            "proposed": count[OutcomeStage.PROPOSED],
            "proposed_from_shortlists": int(np.count_nonzero(proposed_kind == SHORTLIST)),
            "proposed_from_searches": int(np.count_nonzero(proposed_kind == SEARCH)),
            "declined_by_jobseeker": count[OutcomeStage.DECLINED_BY_JOBSEEKER],
            "declined_by_employer": count[OutcomeStage.DECLINED_BY_EMPLOYER],
            "interviewed": count[OutcomeStage.INTERVIEWED],
            "hired": count[OutcomeStage.HIRED],
            "retained_6m": count[OutcomeStage.RETAINED_6M],
            "retained_12m": count[OutcomeStage.RETAINED_12M],
            "employment_ended": count[OutcomeStage.EMPLOYMENT_ENDED],
            "position_filled": int(np.count_nonzero(reason == _REASON[ReasonCode.POSITION_FILLED])),
            "withdrawn_after_another_job": withdrawals,
            "proposals_that_never_happened": int(np.count_nonzero(~happened)),
        }
        m = len(pair)
        columns = {
            "event_id": ids("EV", m, 10),
            "jobseeker_id": take(self.people.jobseeker_ids, js[pair]),
            "vacancy_id": take(self.vacancies.vacancy_ids, vac[pair]),
            "stage": categorical(stage, STAGES),
            "reason": categorical(reason, REASONS),
            "occurred_at": timestamps(at),
        }
        return columns, funnel


def simulate_history(
    config: WorldConfig,
    people: Population,
    procurement: Procurement,
    recognition: Recognition,
    ref: Reference,
    model: HiddenModel,
    context: PairContext,
    policy: CoachPolicyParams,
    rng: np.random.Generator,
) -> History:
    """Simulate the history week by week (module docstring) and return what it wrote."""
    simulation = _Simulation(
        config, people, procurement, recognition, ref, model, context, policy, rng
    )
    simulation.run()
    return simulation.result()
