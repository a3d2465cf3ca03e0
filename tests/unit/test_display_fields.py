"""The worker's memory of vacancy and person fields: read once, dropped by the change feed,
and never refilled with what a read started before a change saw."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy.orm import Session

from service.api.display import DisplayFields, PersonFields, VacancyFields


class FakeSession:
    """Answers every query with the rows it holds; counts the queries; may run a callback
    while a query is in flight (a change applied by another thread meanwhile)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.queries = 0
        self.during: Callable[[], None] | None = None

    def execute(self, statement: object) -> SimpleNamespace:
        self.queries += 1
        if self.during is not None:
            self.during()
        rows = [SimpleNamespace(**row) for row in self.rows]
        return SimpleNamespace(all=lambda: rows)


def vacancy_row(vacancy_id: str, title: str) -> dict[str, Any]:
    return {
        "vacancy_id": vacancy_id,
        "title": title,
        "job_form": "employment",
        "municipality": "091",
        "closes_on": date(2026, 12, 31),
        "organisation_id": "ORG-1",
    }


def test_fields_are_read_once_until_the_feed_drops_them() -> None:
    fake = FakeSession([vacancy_row("VA-1", "Cook")])
    session = cast(Session, fake)
    fields = DisplayFields()
    first = fields.vacancies(session, ["VA-1"])
    assert first == {
        "VA-1": VacancyFields("Cook", "employment", "091", date(2026, 12, 31), "ORG-1")
    }
    assert fields.vacancies(session, ["VA-1"]) == first
    assert fake.queries == 1

    fake.rows = [vacancy_row("VA-1", "Chef")]
    fields.forget_vacancy("VA-1")
    assert fields.vacancies(session, ["VA-1"])["VA-1"].title == "Chef"
    assert fake.queries == 2


def test_a_read_overtaken_by_a_change_is_not_remembered() -> None:
    fake = FakeSession([vacancy_row("VA-1", "Cook")])
    session = cast(Session, fake)
    fields = DisplayFields()
    # The feed applies a change to the vacancy while the read is in flight: what the read
    # saw may predate it, so it answers this request but is not kept.
    fake.during = lambda: fields.forget_vacancy("VA-1")
    assert fields.vacancies(session, ["VA-1"])["VA-1"].title == "Cook"
    fake.during = None
    fake.rows = [vacancy_row("VA-1", "Chef")]
    assert fields.vacancies(session, ["VA-1"])["VA-1"].title == "Chef"
    assert fake.queries == 2


def test_missing_ids_are_not_remembered_and_people_are_dropped_alone() -> None:
    fake = FakeSession(
        [{"jobseeker_id": "JS-1", "organisation_id": "ORG-1", "accepted_job_forms": ["work"]}]
    )
    session = cast(Session, fake)
    fields = DisplayFields()
    assert fields.people(session, ["JS-1", "JS-2"]) == {"JS-1": PersonFields("ORG-1", ("work",))}
    fields.forget_vacancy("VA-9")  # another entity: the person stays remembered...
    fake.rows = []
    assert fields.people(session, ["JS-1"]) == {"JS-1": PersonFields("ORG-1", ("work",))}
    assert fake.queries == 1
    # ...while the missing one is asked again, and the dropped one read again.
    assert fields.people(session, ["JS-2"]) == {}
    fields.forget_person("JS-1")
    assert fields.people(session, ["JS-1"]) == {}
    assert fake.queries == 3


def test_memory_is_bounded() -> None:
    fields = DisplayFields(max_entries=2)
    fake = FakeSession([vacancy_row("VA-1", "a"), vacancy_row("VA-2", "b")])
    fields.vacancies(cast(Session, fake), ["VA-1", "VA-2"])
    fake.rows = [vacancy_row("VA-3", "c")]
    fields.vacancies(cast(Session, fake), ["VA-3"])  # full: cleared, then VA-3 kept
    fake.rows = []
    assert fields.vacancies(cast(Session, fake), ["VA-3"])["VA-3"].title == "c"
    assert fields.vacancies(cast(Session, fake), ["VA-1"]) == {}
    assert fake.queries == 3
