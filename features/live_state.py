"""Live state derived from outcome events: who is in work, which vacancies are filled.

One truth for every reader. The world format has no status columns: the engine build (as of
today), the change feed (one person or vacancy at a time), the training replay (as of each
logged exposure's day) and the statistics all derive status from the ``outcomes`` table with
the functions below, so a hire reaches every one of them alike.

Employment
----------
A ``hired`` event starts an employment on its day. The employment ends on the first of:

* an ``employment_ended`` event of the same (person, vacancy) on or after the hire day;
* the person's next hire (a new job replaces the old one);
* the person's ``unemployment_start`` when it is after the hire day (the person registered
  as unemployed again);

and is still running when none of these exists. A person is *employed* on day ``d`` when an
employment started on or before ``d`` and had not ended by ``d`` (an employment ending on ``d``
leaves the person available on ``d``). A missing ``retained_6m`` event alone does not bring
anybody back: the day the job ended is unknown until it is recorded.

Unemployment spell
------------------
The spell running on day ``d`` started on the latest of the person's ``unemployment_start``
(when on or before ``d``) and the end of an employment (on or before ``d``). A person is
*available* for matching on ``d`` when not employed and either a spell has started or no
``unemployment_start`` is recorded at all (a registered jobseeker whose spell is unknown).

Vacancies
---------
The hires of a vacancy on day ``d`` are the distinct people hired there on or before ``d``.
A vacancy is *open* on ``d`` when ``opens_on <= d <= closes_on`` and it has fewer hires than
openings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from matching.domain import OutcomeStage
from matching.engine import vacancy_open  # the one definition of an open vacancy

__all__ = [
    "Employments",
    "SeekerStatus",
    "condition_hires",
    "employments",
    "seeker_status",
    "vacancy_hires",
    "vacancy_open",
]

Days = npt.NDArray[np.datetime64]
_NAT = np.datetime64("NaT", "D")
#: Day keys are ``owner * _SPAN + days since 1970``; 2**22 days reach beyond the year 13000.
_SPAN = np.int64(1 << 22)
_OFFSET = np.int64(1 << 21)  # days before 1970 (down to the year -3800) stay positive


def _day_numbers(days: npt.ArrayLike) -> npt.NDArray[np.int64]:
    values = np.asarray(days, dtype="datetime64[D]")
    return values.astype(np.int64) + _OFFSET


def _event_days(outcomes: pd.DataFrame, stage: OutcomeStage) -> pd.DataFrame:
    """(jobseeker_id, vacancy_id, day) of every event of ``stage``."""
    rows = outcomes[outcomes["stage"].astype(str) == stage.value]
    occurred = pd.to_datetime(rows["occurred_at"], utc=True)
    return pd.DataFrame(
        {
            "jobseeker_id": rows["jobseeker_id"].astype(str).to_numpy(),
            "vacancy_id": rows["vacancy_id"].astype(str).to_numpy(),
            "day": occurred.dt.tz_localize(None).to_numpy("datetime64[D]"),
        }
    )


@dataclass(frozen=True)
class Employments:
    """Employment periods, one per hire, sorted by (person, start).

    ``ended`` is NaT while the employment is running. Periods of one person never overlap.
    """

    jobseeker_id: npt.NDArray[np.object_]
    vacancy_id: npt.NDArray[np.object_]
    started: Days
    ended: Days

    def __len__(self) -> int:
        return len(self.jobseeker_id)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "jobseeker_id": self.jobseeker_id,
                "vacancy_id": self.vacancy_id,
                "started": self.started,
                "ended": self.ended,
            }
        )

    def running_on(self, day: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Per period: running on ``day`` (one day, or one per period)."""
        on = np.asarray(day, dtype="datetime64[D]")
        running: npt.NDArray[np.bool_] = (self.started <= on) & (
            np.isnat(self.ended) | (self.ended > on)
        )
        return running


def employments(outcomes: pd.DataFrame, jobseekers: pd.DataFrame | None = None) -> Employments:
    """Every employment that a ``hired`` event started, with its end (see the module doc).

    ``jobseekers`` (columns ``jobseeker_id``, ``unemployment_start``) lets a later
    registration end an employment; without it only events end them.
    """
    hires = _event_days(outcomes, OutcomeStage.HIRED)
    # One employment per (person, vacancy): the first hire there.
    hires = hires.sort_values(["jobseeker_id", "day", "vacancy_id"], kind="stable")
    hires = hires.drop_duplicates(["jobseeker_id", "vacancy_id"], keep="first")
    hires = hires.reset_index(drop=True)
    n = len(hires)
    person = hires["jobseeker_id"].to_numpy(object)
    started = hires["day"].to_numpy("datetime64[D]")
    ended = np.full(n, _NAT)
    if n == 0:
        return Employments(person, hires["vacancy_id"].to_numpy(object), started, ended)

    # The next hire of the same person ends the previous employment.
    same_next = np.r_[person[1:] == person[:-1], False]
    next_start = np.r_[started[1:], _NAT]
    ended = np.where(same_next, next_start, ended)

    # An employment_ended event of the pair, on or after the hire day.
    ends = _event_days(outcomes, OutcomeStage.EMPLOYMENT_ENDED)
    if len(ends):
        pairs = hires[["jobseeker_id", "vacancy_id", "day"]].assign(position=np.arange(n))
        joined = pairs.merge(
            ends.rename(columns={"day": "end"}), on=["jobseeker_id", "vacancy_id"], how="inner"
        )
        joined = joined[joined["end"] >= joined["day"]]
        first_end = joined.groupby("position")["end"].min()
        position = first_end.index.to_numpy(np.int64)
        candidate = first_end.to_numpy("datetime64[D]")
        current = ended[position]
        ended[position] = np.where(
            np.isnat(current), candidate, np.minimum(current, candidate)
        ).astype("datetime64[D]")

    # Registering as unemployed again after the hire ends the employment.
    if jobseekers is not None and len(jobseekers):
        start_of = pd.Series(
            pd.to_datetime(jobseekers["unemployment_start"]).to_numpy("datetime64[D]"),
            index=jobseekers["jobseeker_id"].astype(str).to_numpy(),
        )
        registered = start_of.reindex(person).to_numpy("datetime64[D]")
        later = ~np.isnat(registered) & (registered > started)
        # Only the employment running when the person registered again ends there.
        before_next = ~same_next | (registered <= next_start) | np.isnat(next_start)
        use = later & before_next
        ended = np.where(use & (np.isnat(ended) | (registered < ended)), registered, ended).astype(
            "datetime64[D]"
        )
    return Employments(person, hires["vacancy_id"].to_numpy(object), started, ended)


@dataclass(frozen=True)
class SeekerStatus:
    """Per asked (person, day): employed, the running spell's start, available for matching."""

    employed: npt.NDArray[np.bool_]
    spell_start: Days  # NaT when no spell is known on the day
    available: npt.NDArray[np.bool_]


def seeker_status(
    jobseeker_ids: npt.ArrayLike,
    unemployment_start: npt.ArrayLike,
    history: Employments,
    days: npt.ArrayLike,
) -> SeekerStatus:
    """Status of each person ``jobseeker_ids[i]`` on ``days[i]`` (or on one day for all).

    ``unemployment_start[i]`` is the person's recorded spell start (NaT when none).
    """
    ids = np.asarray(jobseeker_ids, dtype=object)
    n = len(ids)
    on = np.broadcast_to(np.asarray(days, dtype="datetime64[D]"), (n,))
    registered = np.broadcast_to(np.asarray(unemployment_start, dtype="datetime64[D]"), (n,))
    employed = np.zeros(n, bool)
    last_end = np.full(n, _NAT)
    if len(history) and n:
        codes, people = pd.factorize(pd.Index(history.jobseeker_id.astype(str)), sort=True)
        asked = people.get_indexer(pd.Index(ids.astype(str)))
        known = asked >= 0
        keys = codes.astype(np.int64) * _SPAN + _day_numbers(history.started)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        query = np.where(known, asked, 0).astype(np.int64) * _SPAN + _day_numbers(on)
        position = np.searchsorted(keys, query, side="right") - 1
        safe = np.maximum(position, 0)
        found = known & (position >= 0) & (keys[safe] // _SPAN == np.where(known, asked, -1))
        latest_end = history.ended[order][safe]
        running = found & (np.isnat(latest_end) | (latest_end > on))
        employed = running
        ended_before = found & ~running
        last_end = np.where(ended_before, latest_end, _NAT).astype("datetime64[D]")
    started = np.where(~np.isnat(registered) & (registered <= on), registered, _NAT)
    latest = np.where(
        np.isnat(started),
        last_end,
        np.where(np.isnat(last_end), started, np.maximum(started, last_end)),
    )
    spell = np.where(employed, _NAT, latest).astype("datetime64[D]")
    available = ~employed & (~np.isnat(spell) | np.isnat(registered))
    return SeekerStatus(employed=employed, spell_start=spell, available=available)


def _first_hires(outcomes: pd.DataFrame) -> pd.DataFrame:
    """The first hire day of every (person, vacancy) pair."""
    hires = _event_days(outcomes, OutcomeStage.HIRED)
    pairs = hires.groupby(["jobseeker_id", "vacancy_id"], sort=False, as_index=False)
    # as_index=False gives a frame; pandas-stubs type the column selection as a Series.
    return pairs["day"].min()  # type: ignore[return-value]


def _counts_on(
    owners: npt.NDArray[np.object_],
    event_days: Days,
    asked: npt.NDArray[np.object_],
    days: Days,
) -> npt.NDArray[np.int64]:
    """Per asked (owner, day): events of that owner on or before the day."""
    n = len(asked)
    if len(owners) == 0 or n == 0:
        return np.zeros(n, np.int64)
    codes, universe = pd.factorize(pd.Index(owners.astype(str)), sort=True)
    keys = np.sort(codes.astype(np.int64) * _SPAN + _day_numbers(event_days))
    which = universe.get_indexer(pd.Index(asked.astype(str)))
    known = which >= 0
    base = np.where(known, which, 0).astype(np.int64) * _SPAN
    upto = np.searchsorted(keys, base + _day_numbers(days), side="right")
    start = np.searchsorted(keys, base, side="left")
    return np.where(known, upto - start, 0).astype(np.int64)


def vacancy_hires(
    outcomes: pd.DataFrame, vacancy_ids: npt.ArrayLike, days: npt.ArrayLike
) -> npt.NDArray[np.int64]:
    """Distinct people hired at ``vacancy_ids[i]`` on or before ``days[i]`` (or one day)."""
    asked = np.asarray(vacancy_ids, dtype=object)
    on = np.broadcast_to(np.asarray(days, dtype="datetime64[D]"), (len(asked),))
    first = _first_hires(outcomes)
    return _counts_on(
        first["vacancy_id"].to_numpy(object), first["day"].to_numpy("datetime64[D]"), asked, on
    )


def condition_hires(
    outcomes: pd.DataFrame,
    vacancies: pd.DataFrame,
    condition_ids: npt.ArrayLike,
    days: npt.ArrayLike,
    *,
    strictly_before: bool = True,
) -> npt.NDArray[np.int64]:
    """Hires credited to ``condition_ids[i]`` before ``days[i]`` (people once per vacancy).

    ``strictly_before`` (the default) counts hires before the day, as a contract's ledger
    does for "hires owed today"; otherwise on or before.
    """
    asked = np.asarray(condition_ids, dtype=object)
    on = np.broadcast_to(np.asarray(days, dtype="datetime64[D]"), (len(asked),))
    if strictly_before:
        on = on - np.timedelta64(1, "D")
    first = _first_hires(outcomes)
    condition_of = pd.Series(
        vacancies["condition_id"].astype(object).to_numpy(),
        index=vacancies["vacancy_id"].astype(str).to_numpy(),
    )
    conditions = condition_of.reindex(first["vacancy_id"].to_numpy(object)).to_numpy(object)
    credited = pd.notna(conditions)
    return _counts_on(
        conditions[credited].astype(str),
        first["day"].to_numpy("datetime64[D]")[credited],
        np.where(pd.isna(asked), "", asked).astype(str).astype(object),
        on,
    )
