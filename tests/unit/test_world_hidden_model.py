"""Properties of the hidden outcome model on hand-built jobseekers and vacancies."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from features.world_store import SCHEMAS, TRUTH_SCHEMA
from training.synthetic.hidden_model import (
    EMPLOYER_REASONS,
    JOBSEEKER_REASONS,
    HiddenModel,
    HiddenModelParams,
    PairContext,
)

pytestmark = pytest.mark.unit

SKILL = "http://data.europa.eu/esco/skill/{:08d}-0000-4000-8000-000000000000"
OCCUPATION = "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000001"
MUNICIPALITIES = pa.array(["091", "049", "698"])  # Helsinki, Espoo, Rovaniemi
DISTANCE = np.array([[0, 15, 700], [15, 0, 700], [700, 700, 0]], dtype=np.float32)
ALL_FORMS = ["employment", "apprenticeship", "work_trial", "pay_subsidised"]


def _person(jobseeker_id: str, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "jobseeker_id": jobseeker_id,
        "first_name": "Aino",
        "last_name": "Virtanen",
        "email": "a@example.com",
        "phone": "+358 40 000 0000",
        "home_municipality": "091",
        "birth_year": 1980,
        "sex": "female",
        "migrant_background": False,
        "unemployment_start": None,
        "driving_licence": True,
        "max_hours_per_week": None,
        "restrictions": [],
        "preferred_occupations": [OCCUPATION],
        "max_commute_km": 30.0,
        "willing_to_relocate": False,
        "accepted_job_forms": ALL_FORMS,
        "languages": [{"language": "fi", "level": "native"}],
        "coach_id": "CO000001",
        "organisation_id": "ES-FI-EA-01",
    }
    row.update(changes)
    return row


def _vacancy(vacancy_id: str = "VA0000001", **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "vacancy_id": vacancy_id,
        "supplier_id": "SU000001",
        "contract_id": "CT0000001",
        "condition_id": "EC0000001",
        "occupation_uri": OCCUPATION,
        "title": "Building cleaner",
        "municipality": "091",
        "job_form": "employment",
        "opens_on": None,
        "closes_on": None,
        "remote_share": 0.0,
        "hours_per_week": 37.5,
        "shift_work": False,
        "night_work": False,
        "physical_demand": "light",
        "languages": [{"language": "fi", "level": "B1"}],
        "driving_licence_required": False,
        "openings": 1,
    }
    row.update(changes)
    return row


def _skills(vacancy_id: str = "VA0000001") -> list[dict[str, Any]]:
    required = [
        {"vacancy_id": vacancy_id, "skill_uri": SKILL.format(i), "required": True, "min_level": 2}
        for i in range(4)
    ]
    optional = [
        {"vacancy_id": vacancy_id, "skill_uri": SKILL.format(9), "required": False, "min_level": 1}
    ]
    return required + optional


def _truth(jobseeker_id: str, skills: range, level: int = 3) -> list[dict[str, Any]]:
    return [
        {"jobseeker_id": jobseeker_id, "skill_uri": SKILL.format(i), "level": level} for i in skills
    ]


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def _context(
    people: list[dict[str, Any]],
    truth: list[dict[str, Any]],
    vacancies: list[dict[str, Any]] | None = None,
    skills: list[dict[str, Any]] | None = None,
) -> PairContext:
    vacancies = vacancies or [_vacancy()]
    skills = skills if skills is not None else _skills()
    return PairContext.from_arrow(
        _table(people, SCHEMAS["jobseekers"]),
        _table(vacancies, SCHEMAS["vacancies"]),
        _table(skills, SCHEMAS["vacancy_skills"]),
        _table(truth, TRUTH_SCHEMA),
        MUNICIPALITIES,
        DISTANCE,
    )


def _utility(model: HiddenModel, context: PairContext, n: int) -> np.ndarray:
    js = np.arange(n)
    return model.utility(model.features(context, js, np.zeros(n, dtype=np.int64)))


def test_utility_rises_with_true_skill_coverage() -> None:
    people = [_person("JS1"), _person("JS2"), _person("JS3"), _person("JS4")]
    truth = [
        *_truth("JS1", range(4)),
        *_truth("JS2", range(2)),
        *_truth("JS3", range(4), level=1),  # held, but below the minimum level 2
    ]
    context = _context(people, truth)
    model = HiddenModel()
    features = model.features(context, np.arange(4), np.zeros(4, dtype=np.int64))
    assert features.required_coverage.tolist() == [1.0, 0.5, 0.5, 0.0]
    utility = model.utility(features)
    assert utility[0] > utility[1] >= utility[2] > utility[3]
    assert utility[0] - utility[3] == pytest.approx(HiddenModelParams().required_skills)
    oracle = model.hire_probability(features)
    assert np.all((oracle > 0) & (oracle < 1))
    assert oracle[0] > oracle[1] > oracle[3]


def test_utility_falls_with_distance_beyond_the_commute_radius() -> None:
    people = [
        _person("JS1"),
        _person("JS2", home_municipality="049"),  # 15 km, inside the 30 km radius
        _person("JS3", home_municipality="698"),  # 700 km away
        _person("JS4", home_municipality="698", willing_to_relocate=True),
    ]
    truth = [t for p in ("JS1", "JS2", "JS3", "JS4") for t in _truth(p, range(4))]
    model = HiddenModel()
    context = _context(people, truth)
    features = model.features(context, np.arange(4), np.zeros(4, dtype=np.int64))
    assert features.commute_excess[:2].tolist() == [0.0, 0.0]
    assert features.commute_excess[2] > 0
    utility = model.utility(features)
    assert utility[0] > utility[1] > utility[3] > utility[2]
    # Remote work shortens the effective distance.
    remote = _context(people, truth, vacancies=[_vacancy(remote_share=0.99)])
    assert _utility(model, remote, 4)[2] > utility[2]


def test_sex_age_and_origin_do_not_change_utility_or_oracle() -> None:
    truth = [t for p in ("JS1", "JS2") for t in _truth(p, range(3))]
    base = [_person("JS1"), _person("JS2", home_municipality="049")]
    changed = [
        _person("JS1", sex="male", birth_year=1999, migrant_background=True),
        _person("JS2", home_municipality="049", sex="other", birth_year=1962),
    ]
    model = HiddenModel()
    js, vac = np.arange(2), np.zeros(2, dtype=np.int64)
    first = model.features(_context(base, truth), js, vac)
    second = model.features(_context(changed, truth), js, vac)
    np.testing.assert_array_equal(model.utility(first), model.utility(second))
    np.testing.assert_array_equal(model.hire_probability(first), model.hire_probability(second))
    # The context does not even need those columns.
    stripped = _table(base, SCHEMAS["jobseekers"]).drop_columns(
        ["sex", "birth_year", "migrant_background", "unemployment_start"]
    )
    context = PairContext.from_arrow(
        stripped,
        _table([_vacancy()], SCHEMAS["vacancies"]),
        _table(_skills(), SCHEMAS["vacancy_skills"]),
        _table(truth, TRUTH_SCHEMA),
        MUNICIPALITIES,
        DISTANCE,
    )
    np.testing.assert_array_equal(
        model.utility(model.features(context, js, vac)), model.utility(first)
    )


def test_work_ability_conflicts_cost_utility_and_retention_more() -> None:
    people = [
        _person("JS1"),
        _person("JS2", restrictions=["no_heavy_lifting", "no_night_work"]),
        _person("JS3", max_hours_per_week=20.0),
    ]
    truth = [t for p in ("JS1", "JS2", "JS3") for t in _truth(p, range(4))]
    vacancy = _vacancy(physical_demand="heavy", night_work=True)
    model = HiddenModel()
    features = model.features(
        _context(people, truth, vacancies=[vacancy]), np.arange(3), np.zeros(3, dtype=np.int64)
    )
    assert features.work_conflicts.tolist() == [0.0, 2.0, 0.0]
    assert features.hours_excess[2] == pytest.approx((37.5 - 20.0) / 37.5)
    utility = model.utility(features)
    assert utility[0] > utility[1]
    assert utility[0] > utility[2]
    logits = model.stage_logits(features)
    assert logits.retain[0] - logits.retain[1] == pytest.approx(
        2 * HiddenModelParams().retain_conflicts
    )


def test_language_gap_licence_and_job_form() -> None:
    people = [
        _person("JS1"),
        _person(
            "JS2",
            languages=[{"language": "ar", "level": "native"}, {"language": "fi", "level": "A1"}],
        ),
        _person("JS3", driving_licence=False, accepted_job_forms=["work_trial"]),
    ]
    truth = [t for p in ("JS1", "JS2", "JS3") for t in _truth(p, range(4))]
    vacancy = _vacancy(driving_licence_required=True)
    model = HiddenModel()
    features = model.features(
        _context(people, truth, vacancies=[vacancy]), np.arange(3), np.zeros(3, dtype=np.int64)
    )
    assert features.language_gap.tolist() == [0.0, 2.0, 0.0]  # B1 (3) - A1 (1)
    assert features.licence_missing.tolist() == [0.0, 0.0, 1.0]
    assert features.form_not_accepted.tolist() == [0.0, 0.0, 1.0]


def test_decline_reasons_only_name_what_is_wrong() -> None:
    people = [_person("JS1"), _person("JS2", home_municipality="698")]
    truth = _truth("JS1", range(4)) + _truth("JS2", range(4))
    model = HiddenModel()
    features = model.features(_context(people, truth), np.arange(2), np.zeros(2, dtype=np.int64))
    jobseeker = model.decline_reason_weights(features, by_employer=False)
    employer = model.decline_reason_weights(features, by_employer=True)
    commute_js = [r.value for r in JOBSEEKER_REASONS].index("commute")
    language_emp = [r.value for r in EMPLOYER_REASONS].index("language")
    assert jobseeker[0, commute_js] == 0.0
    assert jobseeker[1, commute_js] > 0.0
    assert (employer[:, language_emp] == 0.0).all()
    assert (jobseeker >= 0).all()
    assert (employer >= 0).all()


def test_rows_reject_unknown_ids() -> None:
    context = _context([_person("JS1")], _truth("JS1", range(2)))
    js, vac = context.rows(["JS1"], ["VA0000001"])
    assert js.tolist() == [0]
    assert vac.tolist() == [0]
    with pytest.raises(KeyError, match="JS9"):
        context.rows(["JS9"], ["VA0000001"])
    with pytest.raises(ValueError, match="1 jobseeker ids but 2 vacancy ids"):
        context.rows(["JS1"], ["VA0000001", "VA0000001"])


def test_document_describes_every_parameter_and_excludes_protected_attributes() -> None:
    document = HiddenModel().to_dict()
    assert set(document["terms"]) == set(document["parameters"])
    assert all(text.strip() for text in document["terms"].values())
    assert {"sex", "birth_year", "migrant_background"} <= set(document["excluded"])
    markdown = HiddenModel().markdown()
    assert "| `required_skills` | 3 |" in markdown
