"""The CPV -> occupation mix, learned from a hand-built history, and its fallback table."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from targeting.history import history_as_of
from targeting.occupation_mix import FallbackRow, learn_occupation_mix, load_fallback_table
from tests.world_builder import WorldBuilder

pytestmark = pytest.mark.unit

AS_OF = date(2026, 6, 1)


def uri(taxonomy: Taxonomy, label: str) -> str:
    occupations = taxonomy.occupations
    return str(occupations.loc[occupations["label"] == label, "uri"].iloc[0])


def vacancy(
    b: WorldBuilder, vacancy_id: str, contract: str | None, occupation: str, opens: date, n: int
) -> None:
    b.vacancy(
        vacancy_id,
        contract=contract,
        condition=None,
        municipality="091",
        job_form="employment",
        opens=opens,
        openings=n,
    )
    b.rows["vacancies"][-1]["occupation_uri"] = occupation


@pytest.fixture
def world(taxonomy: Taxonomy) -> WorldTables:
    """Cleaning (90) has four past vacancies, construction (45) one, and a later contract of
    division 55 and a vacancy opened after the day must not count."""
    b = WorldBuilder(as_of=AS_OF)
    buyer = b.buyer("091", "Helsinki")
    b.contract(
        "C90", buyer=buyer, municipality="091", starts=date(2025, 1, 1), value=1e5, cpv="90910000-9"
    )
    b.contract(
        "C45", buyer=buyer, municipality="091", starts=date(2025, 1, 1), value=1e5, cpv="45000000-7"
    )
    b.contract(
        "C55", buyer=buyer, municipality="091", starts=date(2026, 7, 1), value=1e5, cpv="55520000-1"
    )
    cleaner, groomer = uri(taxonomy, "building cleaner"), uri(taxonomy, "aircraft groomer")
    caretaker = uri(taxonomy, "building caretaker")
    vacancy(b, "V1", "C90", cleaner, date(2025, 2, 1), 3)
    vacancy(b, "V2", "C90", groomer, date(2025, 3, 1), 1)
    vacancy(b, "V3", "C90", caretaker, date(2025, 4, 1), 2)
    vacancy(b, "V4", "C90", caretaker, date(2026, 6, 1), 10)  # opens on the day: unknown
    vacancy(b, "V5", "C45", uri(taxonomy, "electrician"), date(2025, 2, 1), 1)
    vacancy(b, "V6", "C55", uri(taxonomy, "cook"), date(2026, 3, 1), 5)  # contract not started
    vacancy(b, "V7", None, uri(taxonomy, "bricklayer"), date(2025, 5, 1), 4)  # no contract
    return b.build()


def fallback(taxonomy: Taxonomy) -> list[FallbackRow]:
    return [
        FallbackRow("45", "9313", 0.5, uri(taxonomy, "building construction worker"), "labour"),
        FallbackRow("45", "7112", 0.3, uri(taxonomy, "bricklayer"), "masonry"),
        FallbackRow("45", "7411", 0.2, uri(taxonomy, "electrician"), "electrical"),
        FallbackRow("55", "5120", 1.0, uri(taxonomy, "cook"), "kitchen"),
    ]


def test_learned_mix_weights_openings_and_represents_a_group_by_its_most_opened_job(
    world: WorldTables, taxonomy: Taxonomy
) -> None:
    history = history_as_of(world, AS_OF)
    mix = learn_occupation_mix(history, taxonomy, min_vacancies=3, fallback=fallback(taxonomy))
    cleaning = mix.for_division("90")
    # 9112: building cleaner 3 + aircraft groomer 1 openings; 5153: caretaker 2 (V4 unknown).
    assert [(s.isco_code, s.share, s.source) for s in cleaning] == [
        ("9112", pytest.approx(4 / 6), "history"),
        ("5153", pytest.approx(2 / 6), "history"),
    ]
    assert cleaning[0].occupation_uri == uri(taxonomy, "building cleaner")
    assert mix.vacancies["90"] == 3
    assert mix.label(cleaning[1].occupation_uri) == "building caretaker"


def test_a_division_with_too_few_vacancies_uses_the_fallback_table(
    world: WorldTables, taxonomy: Taxonomy
) -> None:
    history = history_as_of(world, AS_OF)
    mix = learn_occupation_mix(
        history, taxonomy, min_vacancies=3, top=2, fallback=fallback(taxonomy)
    )
    construction = mix.for_division("45")
    # One past vacancy < 3: the table's two largest rows, renormalised to 0.5 / 0.8 ...
    assert [(s.isco_code, s.share, s.source) for s in construction] == [
        ("9313", pytest.approx(0.5 / 0.8), "fallback"),
        ("7112", pytest.approx(0.3 / 0.8), "fallback"),
    ]
    # ... and a fallback group suppliers advertised before is represented by what they used
    # (the bricklayer vacancy V7), else by the table's occupation.
    assert construction[1].occupation_uri == uri(taxonomy, "bricklayer")
    # Division 55's only contract starts after the day: the table, not its vacancy.
    assert [s.source for s in mix.for_division("55")] == ["fallback"]
    assert mix.for_division("03") == ()
    assert mix.for_cpv(["03000000-1"]) == ()


def test_several_cpv_codes_weigh_the_main_code_twice(
    world: WorldTables, taxonomy: Taxonomy
) -> None:
    history = history_as_of(world, AS_OF)
    mix = learn_occupation_mix(history, taxonomy, min_vacancies=3, fallback=fallback(taxonomy))
    combined = mix.for_cpv(["55520000-1", "90910000-9", "90911200-8"])
    shares = {s.isco_code: s.share for s in combined}
    # Divisions 55 (main, weight 2) and 90 (weight 1, counted once for its two codes).
    assert shares == pytest.approx({"5120": 2 / 3, "9112": 4 / 6 / 3, "5153": 2 / 6 / 3})
    assert sum(shares.values()) == pytest.approx(1.0)


def test_history_as_of_drops_what_was_not_known(world: WorldTables) -> None:
    history = history_as_of(world, AS_OF)
    assert set(history.contracts["contract_id"]) == {"C90", "C45"}
    assert "V4" not in set(history.vacancies["vacancy_id"])
    # V6 opened before the day, under a contract that had not started: no division yet.
    divisions = history.vacancies.set_index("vacancy_id")["cpv_division"]
    assert divisions.isna()["V6"]
    assert divisions["V1"] == "90"


def test_shipped_fallback_table_is_valid_and_covers_employment_condition_divisions(
    taxonomy: Taxonomy,
) -> None:
    rows = load_fallback_table(taxonomy)
    divisions = {row.cpv_division for row in rows}
    assert {"45", "50", "55", "60", "72", "77", "79", "80", "85", "90"} <= divisions
    isco = taxonomy.occupations.set_index("uri")["isco_code"]
    assert all(isco[row.occupation_uri] == row.isco_code for row in rows)
    assert all(row.rationale for row in rows)


def test_fallback_table_errors_name_line_and_field(tmp_path: Path, taxonomy: Taxonomy) -> None:
    header = "cpv_division,isco_code,share,esco_occupation,rationale\n"
    bad_label = tmp_path / "label.csv"
    bad_label.write_text(header + "90,9112,1.0,cook,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"label\.csv:2: esco_occupation: 'cook'"):
        load_fallback_table(taxonomy, bad_label)
    bad_sum = tmp_path / "sum.csv"
    bad_sum.write_text(header + "90,9112,0.6,building cleaner,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"division 90 sums to 0\.6"):
        load_fallback_table(taxonomy, bad_sum)
