"""The family of hidden models on hand-built pairs: each form acts as its docstring says."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from features.world_store import SCHEMAS, TRUTH_SCHEMA
from training.synthetic import HIDDEN_MODEL_NAMES
from training.synthetic.hidden_model import HiddenModel, PairContext, PairFeatures
from training.synthetic.variant_interactions import InteractionParams
from training.synthetic.variant_thresholds import ThresholdParams
from training.synthetic.variants import variant_from_json, world_variant

pytestmark = pytest.mark.unit

SKILL = "http://data.europa.eu/esco/skill/{:08d}-0000-4000-8000-000000000000"
CLEANER = "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000001"
CASHIER = "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000002"
OCCUPATION_ISCO = (pa.array([CLEANER, CASHIER]), np.array([9112, 5230], dtype=np.int64))
MUNICIPALITIES = pa.array(["091", "049", "092", "698"])  # Helsinki, Espoo, Vantaa, Rovaniemi
DISTANCE = np.array(
    [[0, 15, 16, 700], [15, 0, 25, 700], [16, 25, 0, 700], [700, 700, 700, 0]], dtype=np.float32
)
ALL_FORMS = ["employment", "apprenticeship", "work_trial", "pay_subsidised"]
AS_OF = date(2026, 11, 1)


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
        "unemployment_start": date(2026, 5, 1),
        "driving_licence": True,
        "max_hours_per_week": None,
        "restrictions": [],
        "preferred_occupations": [CLEANER],
        "max_commute_km": 10.0,
        "willing_to_relocate": False,
        "accepted_job_forms": ALL_FORMS,
        "languages": [{"language": "fi", "level": "native"}],
        "coach_id": "CO000001",
        "organisation_id": "ES-FI-EA-01",
    }
    row.update(changes)
    return row


def _vacancy(vacancy_id: str, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "vacancy_id": vacancy_id,
        "supplier_id": "SU000001",
        "contract_id": "CT0000001",
        "condition_id": "EC0000001",
        "occupation_uri": CLEANER,
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
        "languages": [{"language": "fi", "level": "B2"}],
        "driving_licence_required": False,
        "openings": 1,
    }
    row.update(changes)
    return row


def _skills(vacancy_id: str) -> list[dict[str, Any]]:
    return [
        {"vacancy_id": vacancy_id, "skill_uri": SKILL.format(i), "required": True, "min_level": 2}
        for i in range(4)
    ]


def _truth(jobseeker_id: str, levels: list[int]) -> list[dict[str, Any]]:
    return [
        {"jobseeker_id": jobseeker_id, "skill_uri": SKILL.format(i), "level": level}
        for i, level in enumerate(levels)
        if level > 0
    ]


def _context(
    people: list[dict[str, Any]],
    truth: list[dict[str, Any]],
    vacancies: list[dict[str, Any]] | None = None,
    drop: tuple[str, ...] = (),
) -> PairContext:
    vacancies = vacancies or [_vacancy("VA1")]
    skills = [row for v in vacancies for row in _skills(v["vacancy_id"])]
    jobseekers = pa.Table.from_pylist(people, schema=SCHEMAS["jobseekers"]).drop_columns(list(drop))
    return PairContext.from_arrow(
        jobseekers,
        pa.Table.from_pylist(vacancies, schema=SCHEMAS["vacancies"]),
        pa.Table.from_pylist(skills, schema=SCHEMAS["vacancy_skills"]),
        pa.Table.from_pylist(truth, schema=TRUTH_SCHEMA),
        MUNICIPALITIES,
        DISTANCE,
        occupation_isco=OCCUPATION_ISCO,
        as_of=AS_OF,
    )


def _features(model: HiddenModel, context: PairContext, js: list[int], vac: list[int]) -> Any:
    return model.features(context, np.asarray(js), np.asarray(vac))


def test_every_name_has_a_model_of_that_family() -> None:
    assert HIDDEN_MODEL_NAMES == ("additive", "thresholds", "interactions")
    for name in HIDDEN_MODEL_NAMES:
        variant = world_variant(name)
        assert variant.model.family == name
    assert HiddenModel().family == "additive"
    assert {world_variant(n).policy.name for n in HIDDEN_MODEL_NAMES} == {
        "coach_rules",
        "coach_checklist",
        "coach_outreach",
    }
    with pytest.raises(ValueError, match="unknown hidden model"):
        world_variant("linear")


def test_skill_margins_are_computed_from_true_levels() -> None:
    people = [_person("JS1"), _person("JS2"), _person("JS3")]
    truth = _truth("JS1", [3, 3, 3, 3]) + _truth("JS2", [4, 4, 4, 1]) + _truth("JS3", [0, 2])
    features = _features(HiddenModel(), _context(people, truth), [0, 1, 2], [0, 0, 0])
    assert features.required_met.tolist() == [1.0, 0.75, 0.25]
    assert features.required_held.tolist() == [1.0, 1.0, 0.25]
    assert features.weakest_margin.tolist() == [1.0, -1.0, 0.0]
    assert features.mean_margin.tolist() == [1.0, 1.25, 0.0]
    # Additive half credit: three met, one held below the minimum.
    assert features.required_coverage[1] == pytest.approx(3.5 / 4)


def test_thresholds_weakest_link_costs_more_than_in_the_additive_model() -> None:
    people = [_person("JS1"), _person("JS2")]
    truth = _truth("JS1", [3, 3, 3, 3]) + _truth("JS2", [4, 4, 4, 1])
    context = _context(people, truth)
    additive, thresholds = HiddenModel(), HiddenModel(ThresholdParams())
    gap_additive = np.subtract(*additive.utility(_features(additive, context, [0, 1], [0, 0])))
    u = thresholds.utility(_features(thresholds, context, [0, 1], [0, 0]))
    p = ThresholdParams()
    # One skill below its minimum: a quarter of the coverage and a level of shortfall.
    assert u[0] - u[1] == pytest.approx(p.required_skills / 4 + p.weakest_shortfall)
    assert u[0] - u[1] > gap_additive


def test_thresholds_commute_is_a_cliff_and_hours_a_veto() -> None:
    people = [
        _person("JS1"),  # 0 km
        _person("JS2", home_municipality="049"),  # 15 km: beyond 10 km, before the cliff
        _person("JS3", home_municipality="092", max_commute_km=8.0),  # 16 km: beyond the cliff
        _person("JS4", max_hours_per_week=30.0),
    ]
    truth = [row for p in ("JS1", "JS2", "JS3", "JS4") for row in _truth(p, [3, 3, 3, 3])]
    model = HiddenModel(ThresholdParams())
    features = _features(model, _context(people, truth), [0, 1, 2, 3], [0, 0, 0, 0])
    u = model.utility(features)
    p = ThresholdParams()
    assert u[0] == pytest.approx(u[1])  # no cost before the cliff, unlike additive
    assert u[0] - u[2] == pytest.approx(p.commute_cliff)
    assert u[0] - u[3] == pytest.approx(p.hours_veto)
    additive = HiddenModel()
    assert (
        np.diff(additive.utility(_features(additive, _context(people, truth), [0, 1], [0, 0])))[0]
        < 0
    )


def test_thresholds_language_counts_from_two_steps_and_long_spells_scar() -> None:
    people = [
        _person("JS1"),
        _person("JS2", languages=[{"language": "fi", "level": "B1"}]),  # 1 step short of B2
        _person("JS3", languages=[{"language": "fi", "level": "A2"}]),  # 2 steps short
        _person("JS4", unemployment_start=date(2024, 5, 1)),  # 2.5 years on as_of
    ]
    truth = [row for p in ("JS1", "JS2", "JS3", "JS4") for row in _truth(p, [3, 3, 3, 3])]
    model = HiddenModel(ThresholdParams())
    features = _features(model, _context(people, truth), [0, 1, 2, 3], [0, 0, 0, 0])
    u = model.utility(features)
    assert u[0] == pytest.approx(u[1])
    assert u[0] - u[2] == pytest.approx(ThresholdParams().language_penalty)
    logits = model.stage_logits(features)
    assert logits.hire[0] - logits.hire[3] == pytest.approx(ThresholdParams().scar_hire)
    assert logits.accept[0] == pytest.approx(logits.accept[3])


def test_interactions_skills_multiply_with_fit_and_decay_with_distance() -> None:
    people = [
        _person("JS1"),
        _person("JS2"),
        _person("JS3", restrictions=["no_night_work"]),
        _person("JS4", restrictions=["no_night_work"]),
        _person("JS5", home_municipality="698", max_commute_km=1000.0),
    ]
    truth = (
        _truth("JS1", [3, 3, 3, 3])
        + _truth("JS2", [3, 3, 0, 0])
        + _truth("JS3", [3, 3, 3, 3])
        + _truth("JS4", [3, 3, 0, 0])
        + _truth("JS5", [3, 3, 3, 3])
    )
    vacancy = _vacancy("VA1", night_work=True)
    model = HiddenModel(InteractionParams())
    u = model.utility(
        _features(model, _context(people, truth, [vacancy]), [0, 1, 2, 3, 4], [0] * 5)
    )
    # JS1/JS2 have no restriction, so the night work does not matter to them.
    skills_fit, skills_unfit = u[0] - u[1], u[2] - u[3]
    assert skills_unfit == pytest.approx(skills_fit * np.exp(-InteractionParams().fit_conflicts))
    # 700 km away, within an unlimited radius: still worth far less (decay ignores radius).
    assert u[4] < u[0] * (InteractionParams().reach_floor + 0.01)


def test_interactions_language_matters_only_with_customers() -> None:
    people = [_person("JS1"), _person("JS2", languages=[{"language": "fi", "level": "A2"}])]
    truth = _truth("JS1", [3, 3, 3, 3]) + _truth("JS2", [3, 3, 3, 3])
    vacancies = [_vacancy("VA1"), _vacancy("VA2", occupation_uri=CASHIER)]
    model = HiddenModel(InteractionParams())
    context = _context(people, truth, vacancies)
    features = _features(model, context, [0, 1, 0, 1], [0, 0, 1, 1])
    assert features.customer_facing.tolist() == [0.0, 0.0, 1.0, 1.0]
    u = model.utility(features)
    assert u[0] == pytest.approx(u[1])
    assert u[2] - u[3] == pytest.approx(2 * InteractionParams().language_gap)


def test_interactions_long_unemployment_raises_acceptance_and_lowers_retention() -> None:
    people = [_person("JS1"), _person("JS2", unemployment_start=date(2022, 11, 1))]
    truth = _truth("JS1", [3, 3, 3, 3]) + _truth("JS2", [3, 3, 3, 3])
    model = HiddenModel(InteractionParams())
    features = _features(model, _context(people, truth), [0, 1], [0, 0])
    assert features.unemployed_years[1] == pytest.approx(4.0, abs=0.01)
    logits = model.stage_logits(features)
    assert logits.accept[1] > logits.accept[0]
    assert logits.retain[1] < logits.retain[0]
    assert logits.hire[1] == pytest.approx(logits.hire[0])
    # Judged on another day, the spell is another length.
    earlier = model.features(
        _context(people, truth), np.array([1]), np.array([0]), days=date(2023, 11, 1)
    )
    assert earlier.unemployed_years[0] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("name", HIDDEN_MODEL_NAMES)
def test_sex_age_and_origin_change_nothing_in_any_family(name: str) -> None:
    truth = _truth("JS1", [3, 3, 1, 0]) + _truth("JS2", [4, 2, 2, 2])
    base = [_person("JS1"), _person("JS2", home_municipality="049", restrictions=["no_shift_work"])]
    changed = [
        _person("JS1", sex="male", birth_year=1999, migrant_background=True),
        _person(
            "JS2",
            home_municipality="049",
            restrictions=["no_shift_work"],
            sex="other",
            birth_year=1962,
        ),
    ]
    model = world_variant(name).model
    first = _features(model, _context(base, truth), [0, 1], [0, 0])
    second = _features(model, _context(changed, truth), [0, 1], [0, 0])
    stripped = _features(
        model,
        _context(base, truth, drop=("sex", "birth_year", "migrant_background")),
        [0, 1],
        [0, 0],
    )
    for other in (second, stripped):
        np.testing.assert_array_equal(model.hire_probability(first), model.hire_probability(other))
        np.testing.assert_array_equal(
            model.lasting_probability(first), model.lasting_probability(other)
        )
    assert {"sex", "birth_year", "migrant_background"} <= set(model.to_dict()["excluded"])


def _closed_form_grade(model: HiddenModel, features: PairFeatures) -> np.ndarray:
    logits = model.stage_logits(features)

    def p(x: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-x)))

    return np.asarray(
        1.0
        + p(logits.accept) * p(logits.interview) * (1.0 + p(logits.hire) * (1.0 + p(logits.retain)))
    )


@pytest.mark.parametrize("name", HIDDEN_MODEL_NAMES)
def test_expected_grade_and_lasting_hire_integrate_the_chemistry(name: str) -> None:
    people = [_person("JS1"), _person("JS2", home_municipality="049"), _person("JS3")]
    truth = _truth("JS1", [3, 3, 3, 3]) + _truth("JS2", [2, 2, 0, 0]) + _truth("JS3", [1])
    context = _context(people, truth)
    model = world_variant(name).model
    features = _features(model, context, [0, 1, 2], [0, 0, 0])
    hire = model.hire_probability(features)
    lasting = model.lasting_probability(features)
    assert np.all((lasting > 0) & (lasting < hire))
    # Without chemistry the expectations are the plain products.
    flat = HiddenModel(replace(model.params, chemistry_sd=0.0))
    np.testing.assert_allclose(
        flat.grade_after_proposal(features), _closed_form_grade(flat, features)
    )
    logits = flat.stage_logits(features)

    def p(x: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-x)))

    np.testing.assert_allclose(
        flat.lasting_probability(features),
        p(logits.accept) * p(logits.interview) * p(logits.hire) * p(logits.retain),
    )
    # With chemistry, the quadrature agrees with drawing ε (one shared draw per stage chain).
    logits = model.stage_logits(features)
    load_interview, load_hire, load_retain = model.form.chemistry_loadings()
    shock = np.random.default_rng(0).normal(0.0, model.form.chemistry_sd, (200_000, 1))
    both = p(logits.interview + load_interview * shock) * p(logits.hire + load_hire * shock)
    np.testing.assert_allclose(hire, p(logits.accept) * both.mean(axis=0), rtol=0.01)
    chain = both * p(logits.retain + load_retain * shock)
    np.testing.assert_allclose(lasting, p(logits.accept) * chain.mean(axis=0), rtol=0.01)


@pytest.mark.parametrize("name", HIDDEN_MODEL_NAMES)
def test_json_round_trip_rebuilds_the_same_world(name: str, tmp_path: Path) -> None:
    variant = world_variant(name)
    variant.save(tmp_path / "hidden_model.json")
    again = variant_from_json(tmp_path)
    assert again.model.family == name
    assert asdict(again.model.params) == asdict(variant.model.params)
    assert again.noise == variant.noise
    assert again.policy == variant.policy
    document = HiddenModel.read_document(tmp_path)
    assert document["family"] == name
    assert set(document["terms"]) == set(document["parameters"])
    assert all(text.strip() for text in document["terms"].values())
    markdown = variant.markdown()
    assert f"`{name}`" in markdown
    assert variant.policy.name in markdown
    for parameter in document["parameters"]:
        assert f"| `{parameter}` |" in markdown


def test_from_json_rejects_unknown_families_and_parameters(tmp_path: Path) -> None:
    path = tmp_path / "hidden_model.json"
    world_variant("thresholds").save(path)
    text = path.read_text()
    path.write_text(text.replace('"family": "thresholds"', '"family": "quadratic"'))
    with pytest.raises(ValueError, match="quadratic"):
        HiddenModel.from_json(path)
    path.write_text(text.replace('"scar_hire"', '"scar_hiring"'))
    with pytest.raises(ValueError, match="scar_hiring"):
        HiddenModel.from_json(path)
