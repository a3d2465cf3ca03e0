"""Domain types validate themselves and name the bad field and value."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching.domain import (
    CEFRLevel,
    CoachingAssessment,
    DomainValidationError,
    EmploymentCondition,
    JobForm,
    JobPreferences,
    Jobseeker,
    LanguageSkill,
    OutcomeEvent,
    OutcomeStage,
    ProcurementContract,
    ReasonCode,
    SkillObservation,
    TargetGroup,
    UnknownReferenceError,
    Vacancy,
    VacancySkill,
    WorkCapacity,
    WorkRestriction,
    check_references,
)

pytestmark = pytest.mark.unit

SKILL = "http://data.europa.eu/esco/skill/0005c151-5b5a-4a66-8aac-60e734beb1ab"
OTHER_SKILL = "http://data.europa.eu/esco/skill/fed5b267-73fa-461d-9f69-827c78beb39d"
OCCUPATION = "http://data.europa.eu/esco/occupation/00030d09-2b3a-4efd-87cc-c4ea39d27c34"


def make_jobseeker(**changes: object) -> Jobseeker:
    base: dict[str, object] = {
        "jobseeker_id": "JS0000001",
        "home_municipality": "091",
        "birth_year": 1980,
        "sex": "female",
        "coach_id": "C001",
        "organisation_id": "FI-EA-01",
        "languages": (LanguageSkill("fi", CEFRLevel.NATIVE), LanguageSkill("en", "B1")),
        "unemployment_start": date(2025, 3, 1),
    }
    base.update(changes)
    return Jobseeker(**base)  # type: ignore[arg-type]


def make_vacancy(**changes: object) -> Vacancy:
    base: dict[str, object] = {
        "vacancy_id": "V1",
        "supplier_id": "S1",
        "occupation_uri": OCCUPATION,
        "municipality": "837",
        "job_form": "employment",
        "opens_on": date(2026, 10, 1),
        "closes_on": date(2026, 12, 1),
        "skills": (VacancySkill(SKILL, required=True, min_level=2),),
    }
    base.update(changes)
    return Vacancy(**base)  # type: ignore[arg-type]


def test_valid_jobseeker_normalises_enums() -> None:
    person = make_jobseeker()
    assert person.sex == "female"
    assert person.language_level("en") is CEFRLevel.B1
    assert person.language_level("sv") is None


def test_bad_cefr_level_names_field_and_value() -> None:
    with pytest.raises(DomainValidationError, match=r"level: 'D1' is not one of: A1") as info:
        LanguageSkill("fi", "D1")  # type: ignore[arg-type]
    assert info.value.field == "level"
    assert info.value.value == "D1"


def test_cefr_steps_are_ordered() -> None:
    steps = [level.step for level in CEFRLevel]
    assert steps == sorted(steps) == list(range(1, 8))


@pytest.mark.parametrize("hours", [-5, 0, 61, float("nan"), float("inf")])
def test_work_capacity_rejects_impossible_hours(hours: float) -> None:
    with pytest.raises(DomainValidationError, match=r"max_hours_per_week"):
        WorkCapacity(max_hours_per_week=hours)


def test_partial_work_capacity() -> None:
    assert not WorkCapacity().is_partial
    assert WorkCapacity(max_hours_per_week=20).is_partial
    assert WorkCapacity(restrictions=frozenset({WorkRestriction.NO_NIGHT_WORK})).is_partial
    assert not WorkCapacity(max_hours_per_week=37.5).is_partial


def test_negative_vacancy_hours_rejected() -> None:
    with pytest.raises(DomainValidationError, match=r"hours_per_week: -1 must be between"):
        make_vacancy(hours_per_week=-1)


def test_municipality_code_keeps_leading_zeros() -> None:
    with pytest.raises(DomainValidationError, match=r"home_municipality: '91' is not a munic"):
        make_jobseeker(home_municipality="91")
    assert make_jobseeker(home_municipality="0114").home_municipality == "0114"


def test_malformed_esco_uri_rejected() -> None:
    with pytest.raises(DomainValidationError, match=r"skill_uri: 'cleaning' is not an ESCO URI"):
        SkillObservation("cleaning", level=2)


def test_skill_level_bounds() -> None:
    with pytest.raises(DomainValidationError, match=r"level: 5 must be between 1 and 4"):
        SkillObservation(SKILL, level=5)
    with pytest.raises(DomainValidationError, match=r"confidence: 1.5 must be between 0 and 1"):
        SkillObservation(SKILL, level=2, confidence=1.5)


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(DomainValidationError, match=r"birth_year: True must be a whole number"):
        make_jobseeker(birth_year=True)


def test_nul_bytes_in_text_rejected() -> None:
    with pytest.raises(DomainValidationError, match=r"note: .* contains a NUL character"):
        CoachingAssessment("A1", "JS1", "C1", date(2026, 1, 1), "test", note="ok\x00")


def test_duplicate_language_rejected() -> None:
    with pytest.raises(DomainValidationError, match=r"languages: \['fi', 'fi'\] lists a lang"):
        make_jobseeker(languages=(LanguageSkill("fi", "B1"), LanguageSkill("fi", "C1")))


def test_vacancy_dates_ordered() -> None:
    with pytest.raises(DomainValidationError, match=r"closes_on: .* is before opens_on"):
        make_vacancy(closes_on=date(2026, 9, 1))


def test_condition_needs_target_group() -> None:
    with pytest.raises(DomainValidationError, match=r"target_groups: \[\] must name"):
        EmploymentCondition("EC1", "K1", frozenset(), 3, date(2027, 1, 1))
    with pytest.raises(DomainValidationError, match=r"target_groups\[0\]: 'pensioners'"):
        EmploymentCondition("EC1", "K1", frozenset({"pensioners"}), 3, date(2027, 1, 1))  # type: ignore[arg-type]


def test_contract_with_municipal_buyer_needs_municipality() -> None:
    with pytest.raises(DomainValidationError, match=r"buyer_municipality: None is required"):
        ProcurementContract(
            "K1",
            "B1",
            "municipality",
            "S1",
            "90910000-9",
            "Cleaning",
            date(2026, 1, 1),
            date(2027, 1, 1),
            100_000.0,
        )
    with pytest.raises(DomainValidationError, match=r"cpv_code: '9091' is not a CPV code"):
        ProcurementContract(
            "K1",
            "B1",
            "central_purchasing_body",
            "S1",
            "9091",
            "Cleaning",
            date(2026, 1, 1),
            date(2027, 1, 1),
            1.0,
        )


def test_decline_needs_reason() -> None:
    with pytest.raises(DomainValidationError, match=r"reason: None is required"):
        OutcomeEvent("E1", "JS1", "V1", OutcomeStage.DECLINED_BY_EMPLOYER, datetime(2026, 1, 1))
    event = OutcomeEvent(
        "E1", "JS1", "V1", "declined_by_jobseeker", datetime(2026, 1, 1), ReasonCode.COMMUTE
    )
    assert event.stage is OutcomeStage.DECLINED_BY_JOBSEEKER


def test_replace_validates_again() -> None:
    person = make_jobseeker()
    with pytest.raises(DomainValidationError, match=r"sex: 'x' is not one of"):
        dataclasses.replace(person, sex="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        person.birth_year = 1990  # type: ignore[misc]


def test_preferences_need_a_job_form() -> None:
    with pytest.raises(DomainValidationError, match=r"accepted_job_forms: \[\] must accept"):
        JobPreferences(accepted_job_forms=frozenset())
    prefs = JobPreferences(accepted_job_forms=frozenset({"work_trial"}))  # type: ignore[arg-type]
    assert prefs.accepted_job_forms == {JobForm.WORK_TRIAL}


class FakeCatalog:
    """An in-memory reference catalog with one of each kind of concept."""

    def has_skill(self, uri: str) -> bool:
        return uri == SKILL

    def has_occupation(self, uri: str) -> bool:
        return uri == OCCUPATION

    def has_municipality(self, code: str) -> bool:
        return code in {"091", "837"}

    def has_cpv(self, code: str) -> bool:
        return code == "90910000-9"


def test_check_references_accepts_known_values() -> None:
    check_references(make_vacancy(), FakeCatalog())
    check_references(make_jobseeker(preferences=JobPreferences((OCCUPATION,))), FakeCatalog())


def test_unknown_esco_skill_names_nested_field() -> None:
    vacancy = make_vacancy(skills=(VacancySkill(SKILL), VacancySkill(OTHER_SKILL, required=False)))
    with pytest.raises(UnknownReferenceError, match=r"skills\[1\].skill_uri: .* not an ESCO sk"):
        check_references(vacancy, FakeCatalog())


def test_unknown_municipality_and_occupation() -> None:
    with pytest.raises(UnknownReferenceError, match=r"home_municipality: '999' is not a Finn"):
        check_references(make_jobseeker(home_municipality="999"), FakeCatalog())
    other = OCCUPATION.replace("00030d09", "11130d09")
    person = make_jobseeker(preferences=JobPreferences((OCCUPATION, other)))
    with pytest.raises(UnknownReferenceError, match=r"preferences.occupations\[1\]"):
        check_references(person, FakeCatalog())


def test_assessment_observation_references() -> None:
    assessment = CoachingAssessment(
        "A1",
        "JS1",
        "C1",
        date(2026, 1, 1),
        "work_trial",
        observations=(SkillObservation(SKILL, 3), SkillObservation(OTHER_SKILL, 2)),
    )
    with pytest.raises(UnknownReferenceError, match=r"observations\[1\].skill_uri"):
        check_references(assessment, FakeCatalog())


@given(
    hours=st.floats(min_value=1, max_value=60),
    groups=st.sets(st.sampled_from(list(TargetGroup)), min_size=1),
)
def test_valid_values_round_trip(hours: float, groups: set[TargetGroup]) -> None:
    assert make_vacancy(hours_per_week=hours).hours_per_week == hours
    condition = EmploymentCondition("EC1", "K1", frozenset(groups), 2, date(2027, 1, 1))
    assert condition.target_groups == groups
