"""Hand-built worlds for tests: a few rows per table, in exactly the world schema.

:class:`WorldBuilder` collects rows with readable defaults and :meth:`WorldBuilder.build`
turns them into a :class:`~features.world_store.WorldTables` through the same Arrow schemas
the generator writes (:data:`features.world_store.SCHEMAS`), so the frames have the dtypes
``load_world`` gives (categoricals, ``datetime64[ms]``, UTC timestamps). No files are touched.

:func:`hand_parameters` is a complete, valid parameter set with round numbers for arithmetic
that can be checked by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from features.world_store import SCHEMAS, TABLES, WorldTables
from matching.domain import JobForm, TargetGroup
from reporting.impact_parameters import COUNTRY_PARAMETERS, ImpactParameters, parse_parameters

__all__ = ["AS_OF", "WorldBuilder", "hand_parameter_dict", "hand_parameters", "hand_world"]

_ALL_FORMS = tuple(f.value for f in JobForm)


class WorldBuilder:
    """Collects rows table by table; ids are given by the test so expectations can name them."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        self._events = 0

    def buyer(self, municipality: str, name: str, country: str = "FI") -> str:
        """A municipality as buyer; returns its organisation id ``MUN-<code>``."""
        organisation = f"MUN-{municipality}"
        self.rows["organisations"].append(
            {
                "organisation_id": organisation,
                "kind": "buyer",
                "name": f"{name} (kunta)",
                "country": country,
                "municipality": municipality,
            }
        )
        return organisation

    def central_body(self, organisation: str, name: str, country: str, seat: str) -> str:
        self.rows["organisations"].append(
            {
                "organisation_id": organisation,
                "kind": "central_purchasing_body",
                "name": name,
                "country": country,
                "municipality": seat,
            }
        )
        return organisation

    def coach(self, coach_id: str, municipality: str) -> None:
        self.rows["coaches"].append(
            {
                "coach_id": coach_id,
                "organisation_id": "ES-1",
                "first_name": "Coach",
                "last_name": coach_id,
                "municipality": municipality,
            }
        )

    def person(
        self,
        jobseeker_id: str,
        *,
        coach: str,
        birth_year: int = 1980,
        unemployed_since: date | None = date(2020, 1, 1),
        migrant: bool = False,
        max_hours: float | None = None,
        restrictions: tuple[str, ...] = (),
        home: str = "091",
    ) -> None:
        self.rows["jobseekers"].append(
            {
                "jobseeker_id": jobseeker_id,
                "first_name": "First",
                "last_name": jobseeker_id,
                "email": f"{jobseeker_id.lower()}@example.org",
                "phone": "+358 40 000 0000",
                "home_municipality": home,
                "birth_year": birth_year,
                "sex": "unknown",
                "migrant_background": migrant,
                "unemployment_start": unemployed_since,
                "driving_licence": False,
                "max_hours_per_week": max_hours,
                "restrictions": list(restrictions),
                "preferred_occupations": [],
                "max_commute_km": 30.0,
                "willing_to_relocate": False,
                "accepted_job_forms": list(_ALL_FORMS),
                "languages": [],
                "coach_id": coach,
                "organisation_id": "ES-1",
            }
        )

    def contract(
        self,
        contract_id: str,
        *,
        buyer: str,
        municipality: str | None,
        starts: date,
        value: float,
        cpv: str = "45000000-7",
        ends: date = date(2028, 12, 31),
    ) -> None:
        self.rows["contracts"].append(
            {
                "contract_id": contract_id,
                "buyer_id": buyer,
                "buyer_kind": "municipality" if municipality else "central_purchasing_body",
                "buyer_municipality": municipality,
                "supplier_id": "SU1",
                "cpv_code": cpv,
                "title": f"Contract {contract_id}",
                "starts_on": starts,
                "ends_on": ends,
                "value_eur": value,
            }
        )

    def condition(
        self,
        condition_id: str,
        contract_id: str,
        *,
        groups: tuple[str, ...],
        required: int,
        deadline: date,
        forms: tuple[str, ...] = _ALL_FORMS,
        performance: bool = False,
    ) -> None:
        self.rows["employment_conditions"].append(
            {
                "condition_id": condition_id,
                "contract_id": contract_id,
                "target_groups": list(groups),
                "hires_required": required,
                "deadline": deadline,
                "allowed_job_forms": list(forms),
                "performance_based": performance,
            }
        )

    def performance_terms(
        self,
        condition_id: str,
        *,
        price: float,
        cap: float,
        points: tuple[float, float, float] = (1.0, 1.0, 2.0),
        group_weights: dict[str, float] | None = None,
        form_weights: dict[str, float] | None = None,
        period: str = "quarter",
    ) -> None:
        """Terms of a performance-based condition; a weight not given is 1."""
        row: dict[str, Any] = {
            "condition_id": condition_id,
            "price_per_point_eur": price,
            "cap_eur": cap,
            "points_hired": points[0],
            "points_retained_6m": points[1],
            "points_retained_12m": points[2],
            "period": period,
        }
        for group in TargetGroup:
            row[f"weight_tg_{group.value}"] = (group_weights or {}).get(group.value, 1.0)
        for form in JobForm:
            row[f"weight_form_{form.value}"] = (form_weights or {}).get(form.value, 1.0)
        self.rows["performance_terms"].append(row)

    def vacancy(
        self,
        vacancy_id: str,
        *,
        contract: str | None,
        condition: str | None,
        municipality: str,
        job_form: str,
        opens: date,
        closes: date | None = None,
        openings: int = 2,
    ) -> None:
        self.rows["vacancies"].append(
            {
                "vacancy_id": vacancy_id,
                "supplier_id": "SU1",
                "contract_id": contract,
                "condition_id": condition,
                "occupation_uri": "http://data.europa.eu/esco/occupation/00000000-0000-0000-0000-000000000000",
                "title": f"Job {vacancy_id}",
                "municipality": municipality,
                "job_form": job_form,
                "opens_on": opens,
                "closes_on": closes or date(opens.year + 1, opens.month, 1),
                "remote_share": 0.0,
                "hours_per_week": 37.5,
                "shift_work": False,
                "night_work": False,
                "physical_demand": "light",
                "languages": [],
                "driving_licence_required": False,
                "openings": openings,
            }
        )

    def event(self, jobseeker_id: str, vacancy_id: str, stage: str, day: date) -> None:
        """An outcome event at 10:00 UTC on ``day``."""
        self._events += 1
        self.rows["outcomes"].append(
            {
                "event_id": f"EV{self._events:04d}",
                "jobseeker_id": jobseeker_id,
                "vacancy_id": vacancy_id,
                "stage": stage,
                "reason": "other" if stage.startswith("declined") else None,
                "occurred_at": datetime.combine(day, time(10, 0), tzinfo=UTC),
            }
        )

    def assessment(
        self, assessment_id: str, jobseeker_id: str, coach: str, day: date, method: str
    ) -> None:
        self.rows["assessments"].append(
            {
                "assessment_id": assessment_id,
                "jobseeker_id": jobseeker_id,
                "coach_id": coach,
                "assessed_on": day,
                "method": method,
                "note": "",
            }
        )

    def build(self) -> WorldTables:
        """The world, each table converted as :func:`features.world_store.load_world` does."""
        frames = {}
        for name in TABLES:
            table = pa.Table.from_pylist(self.rows[name], schema=SCHEMAS[name])
            frames[name] = table.to_pandas(date_as_object=False)
        manifest = {"as_of": self.as_of.isoformat(), "generator_version": "hand-built"}
        return WorldTables(root=Path("hand-built"), manifest=manifest, **frames)


def _parameter(
    value: float, unit: str, low: float | None = None, high: float | None = None
) -> dict[str, Any]:
    return {
        "value": value,
        "low": value if low is None else low,
        "high": value if high is None else high,
        "unit": unit,
        "valid_from": date(2025, 1, 1),
        "retrieved": date(2026, 1, 1),
        "source": {"publisher": "Test", "title": "Round numbers", "url": "https://example.org/"},
    }


def hand_parameter_dict() -> dict[str, Any]:
    """A parameter file as parsed TOML, with round numbers and no ranges (low = high)."""
    country = {
        "wage_employment": _parameter(2000.0, "per month"),
        "wage_apprenticeship": _parameter(1500.0, "per month"),
        "wage_pay_subsidised": _parameter(2000.0, "per month"),
        "benefit_daily": _parameter(40.0, "per day"),
        "benefit_days_per_month": _parameter(20.0, "days"),
        "work_trial_allowance_daily": _parameter(9.0, "per day"),
        "employee_contribution_rate": _parameter(0.1, "share"),
        "taxable_share_wage": _parameter(0.8, "share"),
        "taxable_share_benefit": _parameter(0.5, "share"),
        "municipal_tax_rate": _parameter(0.1, "share"),
        "other_tax_rate_wage": _parameter(0.05, "share"),
        "other_tax_rate_benefit": _parameter(0.1, "share"),
        "municipal_share_of_benefit": _parameter(0.3, "share"),
        "pay_subsidy_rate": _parameter(0.5, "share"),
        "pay_subsidy_municipal_share": _parameter(1.0, "share"),
        "coach_hourly_cost": _parameter(37.0, "EUR per hour"),
    }
    assert set(country) == set(COUNTRY_PARAMETERS)
    return {
        "version": "hand-1",
        "title": "hand-built",
        "employment": {
            "months_if_left_before_6m": _parameter(3.0, "months"),
            "months_if_left_between_6m_and_12m": _parameter(9.0, "months"),
        },
        "coaching": {
            "hours_assessment_work_trial": _parameter(6.0, "hours"),
            "hours_assessment_observation": _parameter(3.0, "hours"),
            "hours_assessment_test": _parameter(2.0, "hours"),
            "hours_assessment_certificate": _parameter(0.5, "hours"),
            "hours_assessment_self_report": _parameter(1.0, "hours"),
            "hours_per_proposal": _parameter(1.5, "hours"),
        },
        "exchange": {"sek_per_eur": _parameter(10.0, "SEK per EUR")},
        "countries": {
            "FI": {"currency": "EUR", **country},
            "SE": {"currency": "SEK", **{k: dict(v) for k, v in country.items()}},
        },
    }


def hand_parameters() -> ImpactParameters:
    return parse_parameters(hand_parameter_dict(), "hand-built")


AS_OF = date(2026, 6, 1)


def hand_world() -> WorldTables:
    """A small world with known answers (as of 2026-06-01).

    - Helsinki (091) buys K1 (starts 2025-01-15, 100,000 EUR, CPV 45): condition E1 for the
      long-term unemployed or young, 2 hires by 2025-12-31. Espoo (049) buys K2 (2025-04-10,
      50,000 EUR, CPV 90): E2 for the older, 1 hire by 2026-03-31, employment only. The
      central purchasing body Hansel buys K3 (2025-02-01, 200,000 EUR): E3 for the unemployed
      3+ months, 3 hires by 2026-12-31.
    - Vacancies: V1 (E1, in 091, employment, opens 2025-02-01), V2 (E1, in 049,
      apprenticeship, 2025-03-01), V3 (E2, in 049, pay-subsidised, a form E2 does not allow,
      2025-05-01), V4 (E3, in 091, employment, 2025-06-01).
    - P1 (born 1970, unemployed since 2023) is hired to V1 on 2025-03-03 (long-term
      unemployed: counts), retained 6 and 12 months. P2 (born 2000, young) is hired to V2 on
      2025-04-01 (counts), not retained. P3 (born 1965, unemployed since 2025-03-01) is hired
      to V3 on 2025-06-02 (form not allowed: a placement that does not count) and to V4 on
      2025-09-01 (unemployed 3 months since 2025-06-01: counts), retained 6 months. P4
      (unemployed since 2025-05-01) is hired to V4 on 2025-07-01, before being unemployed 3
      months (does not count).
    - Coaches: C1 (P1, P2) assessed P1 by work trial (6 h) and P2 by self report (1 h); C2
      (P3, P4) assessed P3 by test (2 h). Proposals: C1 three (P1→V1, P2→V1, P2→V2), C2
      three (P3→V3, P4→V4, P3→V4), each 1.5 h.
    """
    b = WorldBuilder(as_of=AS_OF)
    helsinki = b.buyer("091", "Helsinki")
    espoo = b.buyer("049", "Espoo")
    hansel = b.central_body("CPB-FI-HANSEL", "Hansel Oy", "FI", "091")
    b.coach("C1", "091")
    b.coach("C2", "049")
    b.person("P1", coach="C1", birth_year=1970, unemployed_since=date(2023, 1, 1))
    b.person("P2", coach="C1", birth_year=2000, unemployed_since=date(2025, 1, 1))
    b.person("P3", coach="C2", birth_year=1965, unemployed_since=date(2025, 3, 1))
    b.person("P4", coach="C2", birth_year=1985, unemployed_since=date(2025, 5, 1))
    b.contract("K1", buyer=helsinki, municipality="091", starts=date(2025, 1, 15), value=1e5)
    b.contract(
        "K2", buyer=espoo, municipality="049", starts=date(2025, 4, 10), value=5e4, cpv="90000000-7"
    )
    b.contract("K3", buyer=hansel, municipality=None, starts=date(2025, 2, 1), value=2e5)
    b.condition(
        "E1",
        "K1",
        groups=("long_term_unemployed", "young"),
        required=2,
        deadline=date(2025, 12, 31),
    )
    b.condition(
        "E2", "K2", groups=("older",), required=1, deadline=date(2026, 3, 31), forms=("employment",)
    )
    b.condition("E3", "K3", groups=("unemployed_3m",), required=3, deadline=date(2026, 12, 31))
    b.vacancy(
        "V1",
        contract="K1",
        condition="E1",
        municipality="091",
        job_form="employment",
        opens=date(2025, 2, 1),
    )
    b.vacancy(
        "V2",
        contract="K1",
        condition="E1",
        municipality="049",
        job_form="apprenticeship",
        opens=date(2025, 3, 1),
    )
    b.vacancy(
        "V3",
        contract="K2",
        condition="E2",
        municipality="049",
        job_form="pay_subsidised",
        opens=date(2025, 5, 1),
    )
    b.vacancy(
        "V4",
        contract="K3",
        condition="E3",
        municipality="091",
        job_form="employment",
        opens=date(2025, 6, 1),
    )
    b.event("P1", "V1", "proposed", date(2025, 2, 10))
    b.event("P2", "V1", "proposed", date(2025, 2, 12))
    b.event("P1", "V1", "hired", date(2025, 3, 3))
    b.event("P1", "V1", "retained_6m", date(2025, 3, 3) + timedelta(days=183))
    b.event("P1", "V1", "retained_12m", date(2025, 3, 3) + timedelta(days=365))
    b.event("P2", "V2", "proposed", date(2025, 3, 10))
    b.event("P2", "V2", "hired", date(2025, 4, 1))
    b.event("P3", "V3", "proposed", date(2025, 5, 10))
    b.event("P3", "V3", "hired", date(2025, 6, 2))
    b.event("P4", "V4", "proposed", date(2025, 6, 5))
    b.event("P3", "V4", "proposed", date(2025, 6, 6))
    b.event("P4", "V4", "hired", date(2025, 7, 1))
    b.event("P3", "V4", "hired", date(2025, 9, 1))
    b.event("P3", "V4", "retained_6m", date(2025, 9, 1) + timedelta(days=183))
    b.assessment("A1", "P1", "C1", date(2025, 1, 20), "work_trial")
    b.assessment("A2", "P2", "C1", date(2025, 2, 1), "self_report")
    b.assessment("A3", "P3", "C2", date(2025, 4, 1), "test")
    return b.build()
