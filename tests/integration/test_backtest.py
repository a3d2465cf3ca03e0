"""The advisor's backtest on a generated world: it reads nothing dated on or after a start.

The no-future test runs the backtest for one past contract, then adds rows dated on or after
the contract's start — hires of people near its place, assessments that raise their skills,
a new contract of the same CPV division with a large vacancy at the place, and hires that
fulfil the contract itself — and checks that its predicted feasibility and every intermediate
(occupation mix, fill probabilities, hiring rates, supply counts and profiles, the
baselines) are unchanged. As a control, each change dated *before* the start changes
something, so the test can fail.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from features.geography import Geography
from features.taxonomy import Taxonomy
from features.world_store import SCHEMAS, WorldTables, plain_schema, world_frame
from matching.domain import JobForm, OutcomeStage
from reporting.facts import build_facts
from service.cli import app
from targeting.advisor import AdvisorContext
from targeting.backtest import (
    PastContract,
    Replayed,
    advisor_contexts,
    backtest_table,
    baseline_predictions,
    past_contracts,
    realised_fulfilment,
    replay,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Fill-curve horizons (days) at which the fill model is compared.
HORIZONS = (30, 90, 180, 365)
#: People near the place whose rows the changes add.
NEAR_KM = 30.0
CHANGED_PEOPLE = 40


# --------------------------------------------------------------------------------------------
# Helpers: the contract, a snapshot of everything the backtest derived, rows to add
# --------------------------------------------------------------------------------------------


def _chosen(world: WorldTables) -> PastContract:
    """An unfulfilled past contract with history before it, at the place where most
    jobseekers live (so that every change below has people to act on)."""
    population, _ = past_contracts(world)
    realised = realised_fulfilment(build_facts(world), [c.condition_id for c in population])
    homes = world.jobseekers["home_municipality"].astype(str).value_counts()
    # Not on the first of a month, so that a month's context and the day's differ.
    later = [
        c
        for c in population
        if c.line.starts_on >= date(2025, 4, 1)
        and c.line.starts_on.day > 1
        and not realised.loc[c.condition_id, "fulfilled"]
    ]
    assert later, "the small world has no unfulfilled contract starting after its first year"
    return max(later, key=lambda c: (int(homes.get(c.line.municipality, 0)), c.condition_id))


def _run(
    world: WorldTables, contract: PastContract, taxonomy: Taxonomy, geography: Geography
) -> tuple[Replayed, AdvisorContext]:
    """The contract replayed as of its start day, and the context it was assessed with."""
    contexts = advisor_contexts(world, taxonomy, geography, None)
    seen: list[AdvisorContext] = []

    def recording(day: date, places: Collection[str]) -> AdvisorContext:
        seen.append(contexts(day, places))
        return seen[-1]

    [item], _ = replay([contract], recording, per="day")
    return item, seen[0]


def _snapshot(
    world: WorldTables,
    contract: PastContract,
    taxonomy: Taxonomy,
    geography: Geography,
) -> dict[str, Any]:
    """Every figure the backtest derives for ``contract`` from ``world``, by name."""
    item, context = _run(world, contract, taxonomy, geography)
    advice = item.advice
    place = contract.line.municipality
    facts = build_facts(world)
    population, _ = past_contracts(world)
    baselines = baseline_predictions(facts, population, [contract], "day")
    return {
        "feasibility": advice.feasibility,
        "expected_hires": advice.expected_hires,
        "hires_interval": advice.hires_interval,
        "occupation_mix": advice.occupations,
        "fill_probability": item.fill,
        "supply_factor": item.supply_factor,
        "openings": item.openings,
        "fill_curves": tuple(
            tuple(context.fill.fill_curve(share.isco_code, place, HORIZONS)[0].tolist())
            for share in advice.occupations
        ),
        "retention": tuple(
            context.fill.retention(share.isco_code, place) for share in advice.occupations
        ),
        "hiring_rates": context.rates,
        "supply": advice.supply,
        "admissible": tuple(s.admissible for s in advice.supply),
        "well_ranked": tuple(s.well_ranked for s in advice.supply),
        "by_target_group": tuple(tuple(sorted(s.by_target_group.items())) for s in advice.supply),
        "competing_openings": tuple(s.competing_openings for s in advice.supply),
        "impact": tuple(sorted(advice.expected_impact_eur.items())),
        "baselines": tuple(baselines.iloc[0].tolist()),
    }


def _with_rows(world: WorldTables, table: str, rows: list[dict[str, Any]]) -> WorldTables:
    """``world`` with ``rows`` appended to ``table``, in the loader's dtypes."""
    schema = plain_schema(SCHEMAS[table])
    old = pa.Table.from_pandas(getattr(world, table), preserve_index=False)
    old = old.select(schema.names).cast(schema)
    new = pa.Table.from_pylist(rows, schema=schema)
    frame = world_frame(pa.concat_tables([old, new]), table)
    return dataclasses.replace(world, **{table: frame})


def _at(day: date) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


def _near_people(world: WorldTables, place: str, geography: Geography) -> list[str]:
    """Up to CHANGED_PEOPLE jobseekers living within NEAR_KM of ``place``, nearest first."""
    homes = world.jobseekers["home_municipality"].astype(str)
    column = geography.index(place)
    distance = np.array(
        [geography.distance_km[geography.index(code), column] for code in homes], np.float64
    )
    order = np.argsort(distance, kind="stable")
    near = [i for i in order if distance[i] <= NEAR_KM][:CHANGED_PEOPLE]
    assert len(near) >= 5, f"too few people near {place}"
    return world.jobseekers["jobseeker_id"].astype(str).iloc[near].tolist()


def _mix_vacancies(world: WorldTables, contract: PastContract, day: date) -> pd.DataFrame:
    """Vacancies of the contract's CPV division opened before ``day``."""
    division = contract.line.cpv_codes[0][:2]
    contracts = world.contracts
    same = contracts.loc[contracts["cpv_code"].astype(str).str[:2] == division, "contract_id"]
    vacancies = world.vacancies
    chosen = vacancies["contract_id"].astype(str).isin(set(same.astype(str))) & (
        pd.to_datetime(vacancies["opens_on"]) < pd.Timestamp(day)
    )
    found = vacancies[chosen.to_numpy()]
    assert len(found), f"no vacancy of CPV division {division} before {day}"
    return found


class Changes:
    """Rows added to the world, each dated on a day the test chooses."""

    def __init__(self, world: WorldTables, contract: PastContract, geography: Geography) -> None:
        self.world = world
        self.contract = contract
        self.people = _near_people(world, contract.line.municipality, geography)
        self.start = contract.line.starts_on
        self.reference = _mix_vacancies(world, contract, self.start)

    def hires(self, world: WorldTables, day: date) -> WorldTables:
        """The people near the place hired, on ``day``, to a vacancy of the division."""
        vacancy = str(self.reference["vacancy_id"].iloc[0])
        rows = [
            {
                "event_id": f"BT-HIRE-{n}",
                "jobseeker_id": person,
                "vacancy_id": vacancy,
                "stage": OutcomeStage.HIRED.value,
                "reason": None,
                "occurred_at": _at(day),
            }
            for n, person in enumerate(self.people)
        ]
        return _with_rows(world, "outcomes", rows)

    def assessments(self, world: WorldTables, day: date) -> WorldTables:
        """A work-trial assessment on ``day`` of every person near the place, at level 5
        in every skill the division's vacancies require."""
        skills = self.world.vacancy_skills
        wanted = (
            skills["vacancy_id"].astype(str).isin(set(self.reference["vacancy_id"].astype(str)))
        )
        uris = sorted(set(skills.loc[wanted.to_numpy(), "skill_uri"].astype(str)))
        assert uris, "the division's vacancies require no skills"
        assessments = []
        observations = []
        for n, person in enumerate(self.people):
            assessment = f"BT-AS-{n}"
            coach = str(self.world.jobseekers.set_index("jobseeker_id").loc[person, "coach_id"])
            assessments.append(
                {
                    "assessment_id": assessment,
                    "jobseeker_id": person,
                    "coach_id": coach,
                    "assessed_on": day,
                    "method": "work_trial",
                    "note": "",
                }
            )
            observations.extend(
                {
                    "assessment_id": assessment,
                    "jobseeker_id": person,
                    "skill_uri": uri,
                    "level": 5,
                    "confidence": 1.0,
                }
                for uri in uris
            )
        world = _with_rows(world, "assessments", assessments)
        return _with_rows(world, "skill_observations", observations)

    def vacancy(self, world: WorldTables, day: date) -> WorldTables:
        """A new contract of the same CPV code starting on ``day``, with a 60-opening vacancy
        at the place in the division's least advertised occupation, opened the same day."""
        line = self.contract.line
        counts = self.reference["occupation_uri"].astype(str).value_counts()
        occupation = str(counts.index[-1])
        world = _with_rows(
            world,
            "contracts",
            [
                {
                    "contract_id": "BT-K",
                    "buyer_id": line.buyer,
                    "buyer_kind": self.contract.buyer_kind,
                    "buyer_municipality": None
                    if self.contract.buyer_kind != "municipality"
                    else line.municipality,
                    "supplier_id": str(self.world.suppliers["supplier_id"].iloc[0]),
                    "cpv_code": line.cpv_codes[0],
                    "title": "Backtest probe",
                    "starts_on": day,
                    "ends_on": day + timedelta(days=900),
                    "value_eur": 500_000.0,
                }
            ],
        )
        world = _with_rows(
            world,
            "employment_conditions",
            [
                {
                    "condition_id": "BT-EC",
                    "contract_id": "BT-K",
                    "target_groups": list(self.contract.condition.target_groups),
                    "hires_required": 30,
                    "deadline": day + timedelta(days=800),
                    "allowed_job_forms": [JobForm.EMPLOYMENT.value],
                    "performance_based": False,
                }
            ],
        )
        template = self.reference[self.reference["occupation_uri"].astype(str) == occupation]
        row = {name: template[name].iloc[0] for name in plain_schema(SCHEMAS["vacancies"]).names}
        row.update(
            vacancy_id="BT-V",
            contract_id="BT-K",
            condition_id="BT-EC",
            municipality=line.municipality,
            job_form=JobForm.EMPLOYMENT.value,
            opens_on=day,
            closes_on=day + timedelta(days=400),
            openings=60,
            languages=list(row["languages"]),
        )
        world = _with_rows(world, "vacancies", [row])
        skills = self.world.vacancy_skills
        copied = skills[skills["vacancy_id"].astype(str) == str(template["vacancy_id"].iloc[0])]
        rows = [
            {**record, "vacancy_id": "BT-V"} for record in copied.astype(object).to_dict("records")
        ]
        return _with_rows(world, "vacancy_skills", rows) if rows else world

    def own_fulfilment(self, world: WorldTables) -> WorldTables:
        """Hires of eligible people to the contract's own vacancies after its start, enough
        to fulfil it (the outcome the prediction must not see)."""
        allowed = set(self.contract.condition.job_forms)
        vacancies = world.vacancies
        own = vacancies[
            (vacancies["condition_id"].astype("string") == self.contract.condition_id).to_numpy()
            & vacancies["job_form"].astype(str).isin(allowed).to_numpy()
        ]
        assert len(own), "the contract has no vacancy of an allowed job form"
        vacancy = str(own["vacancy_id"].iloc[0])
        opens = pd.Timestamp(own["opens_on"].iloc[0]).date()
        day = max(opens, self.start) + timedelta(days=1)
        # Many people: enough of them belong to one of the condition's target groups.
        candidates = world.jobseekers["jobseeker_id"].astype(str)
        rows = [
            {
                "event_id": f"BT-OWN-{n}",
                "jobseeker_id": person,
                "vacancy_id": vacancy,
                "stage": OutcomeStage.HIRED.value,
                "reason": None,
                "occurred_at": _at(day),
            }
            for n, person in enumerate(candidates.iloc[:400])
        ]
        return _with_rows(world, "outcomes", rows)


def _differences(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    return [name for name in first if first[name] != second[name]]


# --------------------------------------------------------------------------------------------
# The no-future test and its controls
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> tuple[PastContract, Changes, dict[str, Any]]:
    contract = _chosen(small_world)
    changes = Changes(small_world, contract, geography)
    return contract, changes, _snapshot(small_world, contract, taxonomy, geography)


def test_the_probe_contract_has_something_to_lose(
    probe: tuple[PastContract, Changes, dict[str, Any]],
) -> None:
    _, _, before = probe
    # A mix learned from history, people within reach and a real fill curve: otherwise the
    # controls below could not change anything and the no-future test would prove nothing.
    assert {share.source for share in before["occupation_mix"]} == {"history"}
    assert sum(before["admissible"]) > 0
    assert any(0 < value < 1 for curve in before["fill_curves"] for value in curve)
    assert 0.0 <= before["feasibility"] <= 1.0


def test_rows_dated_on_or_after_the_start_change_nothing(
    small_world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    probe: tuple[PastContract, Changes, dict[str, Any]],
) -> None:
    contract, changes, before = probe
    start = contract.line.starts_on
    world = changes.hires(small_world, start)
    world = changes.assessments(world, start)
    world = changes.vacancy(world, start)
    world = changes.own_fulfilment(world)
    after = _snapshot(world, contract, taxonomy, geography)
    assert _differences(before, after) == []
    # The realised outcome did change: the prediction cannot have followed it.
    realised_before = realised_fulfilment(build_facts(small_world), [contract.condition_id])
    realised_after = realised_fulfilment(build_facts(world), [contract.condition_id])
    assert bool(realised_after["fulfilled"].iloc[0])
    assert realised_after["hires_credited"].iloc[0] > realised_before["hires_credited"].iloc[0]


@pytest.mark.parametrize("change", ["hires", "assessments", "vacancy"])
def test_the_same_rows_dated_before_the_start_do_change_something(
    change: str,
    small_world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    probe: tuple[PastContract, Changes, dict[str, Any]],
) -> None:
    contract, changes, before = probe
    earlier = contract.line.starts_on - timedelta(days=20)
    world = getattr(changes, change)(small_world, earlier)
    after = _snapshot(world, contract, taxonomy, geography)
    assert _differences(before, after) != []


def test_a_day_context_and_a_month_context_agree_on_what_precedes_the_month(
    small_world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    probe: tuple[PastContract, Changes, dict[str, Any]],
) -> None:
    # Rows dated between the first of the start month and the start reach a per-day context
    # but not a per-month one: the month context knows no more than the day's.
    contract, changes, _ = probe
    first = contract.line.starts_on.replace(day=1)
    contexts = advisor_contexts(small_world, taxonomy, geography, None)
    [month], _ = replay([contract], contexts, per="month")
    changed = changes.hires(small_world, first)
    [month_after], _ = replay(
        [contract], advisor_contexts(changed, taxonomy, geography, None), per="month"
    )
    assert month.context_day == first
    assert month_after.advice == month.advice


def test_the_earliest_contracts_are_advised_from_an_empty_history(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    # A world's first contracts start before any vacancy opened or condition fell due: the
    # advisor then answers from its fallback table and defaults, and the backtest keeps them.
    population, _ = past_contracts(small_world)
    first = min(population, key=lambda c: (c.line.starts_on, c.condition_id))
    opened = pd.to_datetime(small_world.vacancies["opens_on"]).min().date()
    assert first.line.starts_on.replace(day=1) < opened
    [item], _ = replay([first], advisor_contexts(small_world, taxonomy, geography, None))
    assert {share.source for share in item.advice.occupations} <= {"fallback"}
    assert 0.0 <= item.advice.feasibility <= 1.0


# --------------------------------------------------------------------------------------------
# The table, the baselines and the command
# --------------------------------------------------------------------------------------------


def test_realised_fulfilment_matches_the_credited_hires_by_hand(small_world: WorldTables) -> None:
    facts = build_facts(small_world)
    population, _ = past_contracts(small_world)
    ids = [c.condition_id for c in population]
    realised = realised_fulfilment(facts, ids)
    hires = facts.hires
    for condition_id in ids:
        required = int(
            facts.conditions.set_index("condition_id").loc[condition_id, "hires_required"]
        )
        mine = hires[(hires["condition_id"] == condition_id) & hires["on_time"].astype(bool)]
        credited = min(len(mine), required)
        row = realised.loc[condition_id]
        assert row["hires_credited"] == credited
        assert row["fulfilled"] == (credited >= required)
        assert row["credited_share"] == pytest.approx(credited / required)
    with pytest.raises(KeyError, match="NOPE"):
        realised_fulfilment(facts, ["NOPE"])


def test_past_contracts_are_due_quota_conditions_as_signed(small_world: WorldTables) -> None:
    population, left_out = past_contracts(small_world)
    conditions = small_world.employment_conditions.set_index("condition_id")
    contracts = small_world.contracts.set_index("contract_id")
    due = pd.to_datetime(conditions["deadline"]) < pd.Timestamp(small_world.as_of)
    performance = conditions["performance_based"].astype(bool)
    assert len(population) == int((due & ~performance).sum())
    assert left_out == int((due & performance).sum())
    seats = small_world.organisations.set_index("organisation_id")["municipality"].astype(str)
    for contract in population:
        signed = contracts.loc[contract.contract_id]
        assert contract.line.starts_on == pd.Timestamp(signed["starts_on"]).date()
        expected_place = (
            seats[contract.line.buyer]
            if contract.buyer_kind == "central_purchasing_body"
            else str(signed["buyer_municipality"])
        )
        assert contract.line.municipality == expected_place
        assert contract.condition.hires == int(
            conditions.loc[contract.condition_id, "hires_required"]
        )


def test_baselines_use_only_conditions_due_before_the_day(small_world: WorldTables) -> None:
    facts = build_facts(small_world)
    population, _ = past_contracts(small_world)
    realised = realised_fulfilment(facts, [c.condition_id for c in population])
    baselines = baseline_predictions(facts, population, population, "day")
    for contract in population:
        due = [c.condition_id for c in population if c.condition.deadline < contract.line.starts_on]
        fulfilled = int(realised.loc[due, "fulfilled"].sum()) if due else 0
        expected = (fulfilled + 1) / (len(due) + 2)
        assert baselines.loc[contract.condition_id, "baseline_overall"] == pytest.approx(expected)
        # Bands of hires required: 1, 2, 3-4, 5-8, 9+; 5 pseudo-conditions at the overall rate.
        band = _band(contract.condition.hires)
        same = [i for i in due if _band(int(realised.loc[i, "hires_required"])) == band]
        band_fulfilled = int(realised.loc[same, "fulfilled"].sum()) if same else 0
        expected_band = (band_fulfilled + 5 * expected) / (len(same) + 5)
        assert baselines.loc[contract.condition_id, "baseline_size"] == pytest.approx(expected_band)


def _band(hires: int) -> int:
    return 0 if hires == 1 else 1 if hires == 2 else 2 if hires <= 4 else 3 if hires <= 8 else 4


def test_backtest_table_joins_predictions_to_their_own_outcomes(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    population, _ = past_contracts(small_world)
    chosen = [c for c in population if c.line.starts_on >= date(2025, 1, 1)][:6]
    replayed, timings = replay(chosen, advisor_contexts(small_world, taxonomy, geography, None))
    assert set(timings) == {"contexts", "assessing"}
    facts = build_facts(small_world)
    ids = [c.condition_id for c in chosen]
    realised = realised_fulfilment(facts, ids)
    # The realised table in reverse order: the join must go by id, not by position.
    table = backtest_table(
        replayed, realised.iloc[::-1], baseline_predictions(facts, population, chosen, "month")
    )
    assert table["condition_id"].tolist() == ids
    assert table["hires_credited"].tolist() == realised["hires_credited"].tolist()
    assert table["feasibility"].tolist() == [r.advice.feasibility for r in replayed]
    assert table["feasibility"].between(0, 1).all()
    for column in ("jobseeker_id", "first_name", "last_name", "sex", "birth_year"):
        assert column not in table.columns
    assert all(not math.isnan(v) for v in table["fill_probability"])


def test_the_command_writes_the_table_calibration_chart_and_report(
    small_world_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "backtest"
    result = CliRunner().invoke(
        app,
        [
            "target-backtest",
            "--world",
            str(small_world_dir),
            "--out",
            str(out),
            "--rules",
            "--sample",
            "8",
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "backtest.csv", dtype={"condition_id": str})
    assert len(table) == 8
    calibration = pd.read_csv(out / "calibration.csv")
    assert calibration["contracts"].sum() == 8
    assert (out / "backtest-chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "backtest.md").read_text(encoding="utf-8")
    assert "## Figures" in report and "calibration error" in report
    assert "Performance-based conditions left out" in report
    assert "Spearman" in result.output


def test_the_command_names_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["target-backtest", "--world", str(tmp_path), "--rules"])
    assert missing.exit_code == 2
    assert "not a complete generated world" in missing.output
    per = runner.invoke(
        app, ["target-backtest", "--world", str(tmp_path), "--per", "week", "--rules"]
    )
    assert per.exit_code == 2
    assert "--per" in per.output
    both = runner.invoke(
        app, ["target-backtest", "--world", str(tmp_path), "--rules", "--champion"]
    )
    assert both.exit_code == 2
    assert "one of --rules, --champion" in both.output
