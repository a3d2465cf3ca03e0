"""Fill rates: Kaplan-Meier with censoring, shrinkage toward wider cells, retention, by hand."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from features.geography import Geography
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from targeting.fill_rates import fill_model, kaplan_meier
from targeting.history import history_as_of
from tests.world_builder import WorldBuilder

pytestmark = pytest.mark.unit

AS_OF = date(2026, 6, 1)


def test_kaplan_meier_by_hand() -> None:
    # Filled on days 5, 10 and 20; one censored on day 10 (still at risk on day 10).
    curve = kaplan_meier([10, 5, 20, 10], [True, True, True, False])
    # At risk 4, 3, 1: S = 3/4, 3/4 * 2/3, 0.
    assert curve.n == 4
    assert curve.at([0, 4, 5, 9, 10, 19, 20, 400]) == pytest.approx(
        [0.0, 0.0, 0.25, 0.25, 0.5, 0.5, 1.0, 1.0]
    )
    never = kaplan_meier([3, 7], [False, False])
    assert never.at([100]) == pytest.approx([0.0])
    assert kaplan_meier([], []).n == 0


def uri(taxonomy: Taxonomy, label: str) -> str:
    occupations = taxonomy.occupations
    return str(occupations.loc[occupations["label"] == label, "uri"].iloc[0])


def build(taxonomy: Taxonomy) -> WorldTables:
    """Helsinki (091): cleaners V1-V3 filled after 10, 30 days and never (opened 100 days
    before the day, watched 100 days), V4 opened 5 days before the day (censored at 5).
    Cooks (ISCO 5120, another major group) V5-V6 filled after 2 and 4 days."""
    b = WorldBuilder(as_of=AS_OF)
    cleaner, cook = uri(taxonomy, "building cleaner"), uri(taxonomy, "cook")
    opened = AS_OF - timedelta(days=100)
    rows = [
        ("V1", cleaner, opened, 10),
        ("V2", cleaner, opened, 30),
        ("V3", cleaner, opened, None),
        ("V4", cleaner, AS_OF - timedelta(days=5), None),
        ("V5", cook, opened, 2),
        ("V6", cook, opened, 4),
    ]
    for index, (vacancy_id, occupation, opens, days) in enumerate(rows):
        b.vacancy(
            vacancy_id,
            contract=None,
            condition=None,
            municipality="091",
            job_form="employment",
            opens=opens,
            closes=opens + timedelta(days=20),
        )
        b.rows["vacancies"][-1]["occupation_uri"] = occupation
        if days is not None:
            b.person(f"P{index}", coach="C1")
            b.event(f"P{index}", vacancy_id, "hired", opens + timedelta(days=days))
    # A hire on the day itself is not known yet: V3 stays unfilled.
    b.person("P9", coach="C1")
    b.event("P9", "V3", "hired", AS_OF)
    return b.build()


def test_unfilled_vacancies_are_censored_not_failures(
    taxonomy: Taxonomy, geography: Geography
) -> None:
    history = history_as_of(build(taxonomy), AS_OF)
    model = fill_model(history, geography, taxonomy, prior_strength=0.0)
    # Cleaners: durations 10, 30 (filled), 100 (V3), 5 (V4) censored. At risk on day 10:
    # 3 (V4 left on day 5) -> F(10) = 1/3; day 30: 2 at risk -> F = 1 - 2/3 * 1/2 = 2/3.
    p10, n = model.fill_probability("9112", "091", 10)
    assert (p10, n) == (pytest.approx(1 / 3), 4)
    assert model.fill_probability("9112", "091", 30)[0] == pytest.approx(2 / 3)
    assert model.fill_probability("9112", "091", 99)[0] == pytest.approx(2 / 3)
    # Counting V4 as a failure would give 1/4 on day 10: it was only watched for 5 days.
    assert model.fill_probability("9112", "091", 4)[0] == 0.0
    assert model.time_to_fill("9112", "091", (0.25, 0.5, 0.9)) == (10, 30, None)


def test_cells_shrink_toward_wider_cells_by_counts(
    taxonomy: Taxonomy, geography: Geography
) -> None:
    history = history_as_of(build(taxonomy), AS_OF)
    k = 2.0
    model = fill_model(history, geography, taxonomy, prior_strength=k)
    t = 10
    # Everything (one country): durations 10, 30, 100c, 5c (cleaners), 2, 4 (cooks).
    everything = kaplan_meier([10, 30, 100, 5, 2, 4], [1, 1, 0, 0, 1, 1]).at([t])[0]
    cleaners = 1 / 3
    # The uninformed curve (0.5 filled evenly over 60 days) -> ALL -> country (the same six)
    # -> major group 9 (the four cleaners) -> unit 9112 in FI -> 9112 in the Helsinki
    # employment area (the same four).
    prior = 0.5 * t / 60
    root = (6 * everything + k * prior) / (6 + k)
    country = (6 * everything + k * root) / (6 + k)
    major = (4 * cleaners + k * country) / (4 + k)
    unit = (4 * cleaners + k * major) / (4 + k)
    area = (4 * cleaners + k * unit) / (4 + k)
    assert model.fill_probability("9112", "091", t)[0] == pytest.approx(area)
    # An occupation of a major group never seen (8: drivers) leans on the country alone.
    unseen, n = model.fill_probability("8322", "091", t)
    assert n == 0
    assert unseen == pytest.approx(country)
    curve, _ = model.fill_curve("9112", "091", np.arange(0, 200))
    assert np.all(np.diff(curve) >= -1e-12)  # a fill curve never falls
    # Without any history the uninformed curve answers, not "never filled".
    empty = fill_model(history_as_of(WorldBuilder(AS_OF).build(), AS_OF), geography, taxonomy)
    assert empty.fill_probability("9112", "091", 30) == (pytest.approx(0.25), 0)


def test_retention_counts_only_hires_old_enough(taxonomy: Taxonomy, geography: Geography) -> None:
    b = WorldBuilder(as_of=AS_OF)
    cleaner = uri(taxonomy, "building cleaner")
    hired = AS_OF - timedelta(days=400)
    for i in range(5):
        b.vacancy(
            f"V{i}",
            contract=None,
            condition=None,
            municipality="091",
            job_form="employment",
            opens=hired - timedelta(days=10),
        )
        b.rows["vacancies"][-1]["occupation_uri"] = cleaner
        b.person(f"P{i}", coach="C1")
    for i in range(4):
        b.event(f"P{i}", f"V{i}", "hired", hired)
    for i in range(3):
        b.event(f"P{i}", f"V{i}", "retained_6m", hired + timedelta(days=183))
    b.event("P0", "V0", "retained_12m", hired + timedelta(days=365))
    # A hire 100 days ago tells nothing about 6 months yet.
    b.event("P4", "V4", "hired", AS_OF - timedelta(days=100))
    model = fill_model(history_as_of(b.build(), AS_OF), geography, taxonomy, prior_strength=0.0)
    retention = model.retention("9112", "091")
    assert (retention.after_6m, retention.after_12m) == (pytest.approx(0.75), pytest.approx(0.25))
    assert (retention.hires_6m, retention.hires_12m) == (4, 4)
