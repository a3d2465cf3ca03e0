"""Live state from outcome events: employments, availability, spells, filled vacancies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.live_state import (
    condition_hires,
    employments,
    seeker_status,
    vacancy_hires,
    vacancy_open,
)


def outcomes(*events: tuple[str, str, str, date]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "jobseeker_id": [e[0] for e in events],
            "vacancy_id": [e[1] for e in events],
            "stage": [e[2] for e in events],
            "occurred_at": [
                datetime(e[3].year, e[3].month, e[3].day, 10, tzinfo=UTC) for e in events
            ],
        }
    )


def people(**starts: date | None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "jobseeker_id": list(starts),
            "unemployment_start": pd.to_datetime(list(starts.values())),
        }
    )


def status_on(events: pd.DataFrame, persons: pd.DataFrame, who: str, day: date):  # type: ignore[no-untyped-def]
    start = persons.set_index("jobseeker_id").loc[[who], "unemployment_start"]
    return seeker_status(
        np.array([who], object),
        start.to_numpy("datetime64[D]"),
        employments(events, persons),
        np.datetime64(day, "D"),
    )


def test_a_hire_takes_the_person_out_until_the_employment_ends() -> None:
    events = outcomes(
        ("A", "V1", "proposed", date(2026, 1, 2)),
        ("A", "V1", "hired", date(2026, 1, 10)),
        ("A", "V1", "employment_ended", date(2026, 3, 1)),
    )
    persons = people(A=date(2025, 1, 1))
    assert status_on(events, persons, "A", date(2026, 1, 9)).available[0]
    assert not status_on(events, persons, "A", date(2026, 1, 10)).available[0]
    assert status_on(events, persons, "A", date(2026, 2, 28)).employed[0]
    back = status_on(events, persons, "A", date(2026, 3, 1))
    assert back.available[0] and not back.employed[0]
    # The new spell starts when the employment ended.
    assert back.spell_start[0] == np.datetime64("2026-03-01")


def test_a_later_registration_ends_an_employment_without_an_event() -> None:
    events = outcomes(("B", "V2", "hired", date(2025, 6, 1)))
    assert not status_on(events, people(B=date(2025, 1, 1)), "B", date(2026, 1, 1)).available[0]
    again = status_on(events, people(B=date(2025, 9, 1)), "B", date(2026, 1, 1))
    assert again.available[0]
    assert again.spell_start[0] == np.datetime64("2025-09-01")


def test_a_missing_retention_event_alone_does_not_bring_anyone_back() -> None:
    events = outcomes(("C", "V3", "hired", date(2024, 1, 1)))
    assert status_on(events, people(C=date(2023, 1, 1)), "C", date(2026, 1, 1)).employed[0]


def test_a_new_hire_replaces_the_previous_job() -> None:
    events = outcomes(
        ("D", "V1", "hired", date(2025, 1, 1)), ("D", "V2", "hired", date(2025, 6, 1))
    )
    history = employments(events, people(D=date(2024, 1, 1)))
    frame = history.frame()
    assert frame["ended"].iloc[0] == pd.Timestamp("2025-06-01")
    assert pd.isna(frame["ended"].iloc[1])


def test_nobody_is_available_before_their_spell_starts_unless_it_is_unknown() -> None:
    events = outcomes()
    persons = people(E=date(2026, 5, 1), F=None)
    assert not status_on(events, persons, "E", date(2026, 4, 30)).available[0]
    assert status_on(events, persons, "E", date(2026, 5, 1)).available[0]
    assert status_on(events, persons, "F", date(2026, 4, 30)).available[0]


def test_vacancy_hires_count_people_once_and_fill_the_openings() -> None:
    events = outcomes(
        ("A", "V1", "hired", date(2026, 2, 1)),
        ("A", "V1", "hired", date(2026, 2, 3)),
        ("B", "V1", "hired", date(2026, 2, 5)),
        ("C", "V2", "interviewed", date(2026, 2, 5)),
    )
    days = np.array(["2026-01-31", "2026-02-01", "2026-02-04", "2026-02-05"], "datetime64[D]")
    counts = vacancy_hires(events, ["V1"] * 4, days)
    assert counts.tolist() == [0, 1, 1, 2]
    opened = vacancy_open(
        np.full(4, "2026-01-01", "datetime64[D]"),
        np.full(4, "2026-03-01", "datetime64[D]"),
        np.full(4, 2),
        counts,
        days,
    )
    assert opened.tolist() == [True, True, True, False]
    assert vacancy_hires(events, ["V2"], np.datetime64("2026-03-01")).tolist() == [0]


def test_condition_hires_count_before_the_day() -> None:
    events = outcomes(
        ("A", "V1", "hired", date(2026, 2, 1)), ("B", "V2", "hired", date(2026, 2, 5))
    )
    vacancies = pd.DataFrame({"vacancy_id": ["V1", "V2", "V3"], "condition_id": ["C1", "C1", None]})
    days = np.array(["2026-02-01", "2026-02-02", "2026-02-06"], "datetime64[D]")
    assert condition_hires(events, vacancies, ["C1"] * 3, days).tolist() == [0, 1, 2]
    assert condition_hires(events, vacancies, [None], days[:1]).tolist() == [0]


def _naive_status(
    hires: list[tuple[date, date | None]], registered: date | None, day: date
) -> tuple[bool, date | None]:
    """Employed?, spell start — straight from the definitions, one period at a time."""
    employed = any(start <= day and (end is None or end > day) for start, end in hires)
    ends = [end for start, end in hires if end is not None and end <= day and start <= day]
    starts = [registered] if registered is not None and registered <= day else []
    latest = max([*starts, *ends], default=None)
    return employed, None if employed else latest


@settings(max_examples=150, deadline=None)
@given(
    hire_days=st.lists(st.integers(0, 600), min_size=0, max_size=4, unique=True),
    end_after=st.lists(st.one_of(st.none(), st.integers(1, 200)), min_size=4, max_size=4),
    registered=st.one_of(st.none(), st.integers(-300, 500)),
    asked=st.lists(st.integers(-100, 900), min_size=1, max_size=8),
)
def test_vectorised_status_agrees_with_the_definitions(
    hire_days: list[int], end_after: list[int | None], registered: int | None, asked: list[int]
) -> None:
    origin = date(2025, 1, 1)
    events: list[tuple[str, str, str, date]] = []
    for i, offset in enumerate(sorted(hire_days)):
        events.append(("P", f"V{i}", "hired", origin + timedelta(days=offset)))
        if end_after[i] is not None:
            ended = origin + timedelta(days=offset + end_after[i])
            events.append(("P", f"V{i}", "employment_ended", ended))
    table = outcomes(*events) if events else outcomes()
    start = None if registered is None else origin + timedelta(days=registered)
    persons = people(P=start)
    history = employments(table, persons)
    periods = [
        (pd.Timestamp(s).date(), None if pd.isna(e) else pd.Timestamp(e).date())
        for s, e in zip(history.started, history.ended, strict=True)
    ]
    days = [origin + timedelta(days=d) for d in asked]
    status = seeker_status(
        np.array(["P"] * len(days), object),
        np.array([start or "NaT"] * len(days), "datetime64[D]"),
        history,
        np.array(days, "datetime64[D]"),
    )
    for i, day in enumerate(days):
        employed, spell = _naive_status(periods, start, day)
        assert status.employed[i] == employed
        got = status.spell_start[i]
        assert (None if np.isnat(got) else got.astype(date)) == spell
        assert status.available[i] == (not employed and (spell is not None or start is None))
