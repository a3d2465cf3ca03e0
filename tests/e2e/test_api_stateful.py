"""No 5xx from any reachable state: random sequences of every role's calls, then every read.

A hypothesis state machine plays coaches (jobseekers, assessments, matches, proposals,
outcome claims, erasure), employers (vacancies created, changed — detached from their contract
too — closed, shortlisted, outcomes, claims confirmed or refused), procurement (contracts with
conditions) and the admin against one service, on SQLite and PostgreSQL. Between steps it reads
statistics tables; at the end of every sequence a table of each kind, every ledger it knows
and the audit; at the very end every table and chart: whatever the writes left behind, no
answer may be a server error.

The database is not reset between sequences (a load per sequence would cost minutes), so
states build on each other; shrinking is off, so a failure shows the sequence that first
reached the bad state as it ran.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    multiple,
    rule,
    run_state_machine_as_test,
)

from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("api-stateful")]

BY = ("municipality", "buyer", "contract", "cpv_division", "country", "period")
CHARTS = ("fulfilment", "hires_by_target_group", "impact_per_hire")
COACH_STAGES = (
    "interviewed",
    "hired",
    "retained_6m",
    "employment_ended",
    "declined_by_employer",
    "declined_by_jobseeker",
)
EMPLOYER_STAGES = COACH_STAGES[:-1]
GROUPS = (
    "registered_unemployed",
    "unemployed_3m",
    "long_term_unemployed",
    "young",
    "older",
    "migrant_background",
    "partial_work_capacity",
)

#: Per role and database: how many calls answered with each status class (printed at the end).
CALLS: dict[str, Counter[str]] = {}


def _machine(api: Api) -> type[RuleBasedStateMachine]:
    """The state machine bound to one service (one database backend)."""
    serving = api.client.app.state.serving  # type: ignore[attr-defined]
    today: date = serving.today
    world = api.world
    supplier_id = str(
        world.vacancies.set_index("vacancy_id").loc[api.facts["vacancy"], "supplier_id"]
    )
    suppliers = world.suppliers
    own_suppliers = set(
        suppliers.loc[suppliers["organisation_id"].astype(str) == api.facts["supplier_org"]][
            "supplier_id"
        ].astype(str)
    )
    vacancies = world.vacancies
    own = vacancies[vacancies["supplier_id"].astype(str).isin(own_suppliers)]
    hired = set(world.outcomes.loc[world.outcomes["stage"] == "hired", "vacancy_id"].astype(str))
    conditioned = own[own["condition_id"].notna()]
    with_hires = [v for v in conditioned["vacancy_id"].astype(str) if v in hired]
    # The employer's own world vacancies: with a contract and hires made under it first.
    seeded = list(dict.fromkeys([api.facts["vacancy"], *with_hires[:3]]))
    skills = [
        str(uri)
        for uri in world.vacancy_skills.loc[
            world.vacancy_skills["vacancy_id"] == api.facts["vacancy"], "skill_uri"
        ]
    ]
    # The coach's own world jobseekers in matching (erasing one keeps it erased).
    seekers = world.jobseekers
    mine = seekers[seekers["organisation_id"].astype(str) == api.facts["org"]]
    people = list(dict.fromkeys([api.facts["jobseeker"], *mine["jobseeker_id"].astype(str)[:2]]))
    occupation = str(vacancies.set_index("vacancy_id").loc[api.facts["vacancy"], "occupation_uri"])
    municipality = api.facts["municipality"]
    backend = "postgresql" if api.url.startswith("postgresql") else "sqlite"
    days = st.integers(min_value=-400, max_value=60)

    def on(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    def at(offset: int) -> str:
        return f"{on(offset)}T09:00:00+02:00"

    class ServiceMachine(RuleBasedStateMachine):
        jobseekers = Bundle("jobseekers")
        vacancies = Bundle("vacancies")
        contracts = Bundle("contracts")

        def __init__(self) -> None:
            super().__init__()
            self.candidates: dict[str, list[str]] = {}
            self.contract_ids: set[str] = {api.facts["contract"]}

        # ---- one call, never a server error ----------------------------------------------

        def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
            response = api.client.request(method, path, headers=api.headers(who), **kwargs)
            role = who.removeprefix("other-")
            CALLS.setdefault(f"{role} × {backend}", Counter())[
                f"{response.status_code // 100}xx"
            ] += 1
            assert response.status_code < 500, (
                f"{method} {path} as {who} answered {response.status_code}: {response.text[:400]}"
            )
            return response

        # ---- set-up -----------------------------------------------------------------------

        @initialize(target=vacancies)
        def world_vacancies(self) -> Any:
            return multiple(*seeded)

        @initialize(target=contracts)
        def world_contract(self) -> Any:
            return (api.facts["contract"], api.facts["condition"])

        @initialize(target=jobseekers)
        def world_jobseekers(self) -> Any:
            return multiple(*people)

        # ---- coaches ----------------------------------------------------------------------

        @rule(
            target=jobseekers,
            birth_year=st.integers(1955, 2008),
            sex=st.sampled_from(["female", "male", "other", "unknown"]),
            migrant=st.booleans(),
            unemployed_since=st.integers(-1500, 0),
        )
        def create_jobseeker(
            self, birth_year: int, sex: str, migrant: bool, unemployed_since: int
        ) -> Any:
            body = {
                "first_name": "State",
                "last_name": "Machine",
                "home_municipality": municipality,
                "birth_year": birth_year,
                "sex": sex,
                "migrant_background": migrant,
                "unemployment_start": on(unemployed_since),
                "preferred_occupations": [occupation],
                "languages": [{"language": "fi", "level": "native"}],
            }
            response = self.call("coach", "POST", "/api/v1/coach/jobseekers", json=body)
            if response.status_code != 201:
                return multiple()
            return response.json()["jobseeker_id"]

        @rule(jobseeker=jobseekers, km=st.floats(0, 200), relocate=st.booleans())
        def update_jobseeker(self, jobseeker: str, km: float, relocate: bool) -> None:
            path = f"/api/v1/coach/jobseekers/{jobseeker}"
            found = self.call("coach", "GET", path)
            if found.status_code != 200:
                return
            body = {
                k: v
                for k, v in found.json().items()
                if k not in ("jobseeker_id", "coach_id", "organisation_id")
            }
            body |= {"max_commute_km": km, "willing_to_relocate": relocate}
            self.call("coach", "PUT", path, json=body)

        @rule(jobseeker=consumes(jobseekers))
        def erase_jobseeker(self, jobseeker: str) -> None:
            self.call("coach", "DELETE", f"/api/v1/coach/jobseekers/{jobseeker}")

        @rule(jobseeker=jobseekers, level=st.integers(1, 5), when=days)
        def assess(self, jobseeker: str, level: int, when: int) -> None:
            body = {
                "assessed_on": on(min(when, 0)),
                "method": "work_trial",
                "observations": [{"skill_uri": uri, "level": level} for uri in skills],
            }
            path = f"/api/v1/coach/jobseekers/{jobseeker}/assessments"
            self.call("coach", "POST", path, json=body)

        @rule(jobseeker=jobseekers)
        def matches(self, jobseeker: str) -> None:
            path = f"/api/v1/coach/jobseekers/{jobseeker}/matches"
            self.call("coach", "GET", path, params={"k": 5, "factors": False})

        @rule(jobseeker=jobseekers, vacancy=vacancies, consent=st.integers(-30, 0))
        def propose(self, jobseeker: str, vacancy: str, consent: int) -> None:
            body = {
                "vacancy_id": vacancy,
                "consent_given_at": at(consent),
                "consent_method": "written",
            }
            path = f"/api/v1/coach/jobseekers/{jobseeker}/proposals"
            self.call("coach", "POST", path, json=body)

        @rule(
            jobseeker=jobseekers,
            vacancy=vacancies,
            stage=st.sampled_from(COACH_STAGES),
            when=days,
        )
        def coach_outcome(self, jobseeker: str, vacancy: str, stage: str, when: int) -> None:
            body = {"vacancy_id": vacancy, "stage": stage, "occurred_at": at(when)}
            path = f"/api/v1/coach/jobseekers/{jobseeker}/outcomes"
            self.call("coach", "POST", path, json=body)

        # ---- employers --------------------------------------------------------------------

        @rule(
            target=vacancies,
            contract=st.one_of(st.none(), contracts),
            opens=st.integers(-200, 10),
            length=st.integers(1, 200),
            openings=st.integers(1, 3),
        )
        def create_vacancy(
            self, contract: tuple[str, str] | None, opens: int, length: int, openings: int
        ) -> Any:
            body = {
                "contract_id": contract[0] if contract else None,
                "condition_id": contract[1] if contract else None,
                "occupation_uri": occupation,
                "title": "Random sequence",
                "municipality": municipality,
                "job_form": "employment",
                "opens_on": on(opens),
                "closes_on": on(opens + length),
                "openings": openings,
                "skills": [{"skill_uri": uri} for uri in skills],
            }
            response = self.call("employer", "POST", "/api/v1/employer/vacancies", json=body)
            if response.status_code != 201:
                return multiple()
            return response.json()["vacancy_id"]

        @rule(vacancy=vacancies, contract=st.one_of(st.none(), contracts))
        def change_contract(self, vacancy: str, contract: tuple[str, str] | None) -> None:
            """PUT the vacancy as it is, attached to another contract or to none."""
            path = f"/api/v1/employer/vacancies/{vacancy}"
            found = self.call("employer", "GET", path)
            if found.status_code != 200:
                return
            body = {k: v for k, v in found.json().items() if k not in ("vacancy_id", "supplier_id")}
            body["contract_id"] = contract[0] if contract else None
            body["condition_id"] = contract[1] if contract else None
            self.call("employer", "PUT", path, json=body)

        @rule(vacancy=vacancies)
        def close_vacancy(self, vacancy: str) -> None:
            self.call("employer", "POST", f"/api/v1/employer/vacancies/{vacancy}/close")

        @rule(vacancy=vacancies)
        def shortlist(self, vacancy: str) -> None:
            path = f"/api/v1/employer/vacancies/{vacancy}/shortlist"
            response = self.call("employer", "GET", path, params={"k": 5})
            if response.status_code == 200:
                self.candidates[vacancy] = [c["candidate"] for c in response.json()["results"]]

        @rule(
            vacancy=vacancies,
            pick=st.integers(0, 4),
            stage=st.sampled_from(EMPLOYER_STAGES),
            reason=st.sampled_from([None, "skills", "commute"]),
            when=days,
        )
        def employer_outcome(
            self, vacancy: str, pick: int, stage: str, reason: str | None, when: int
        ) -> None:
            if vacancy not in self.candidates:
                self.shortlist(vacancy)
            shown = self.candidates.get(vacancy) or ["nobody"]
            body = {
                "candidate": shown[pick % len(shown)],
                "stage": stage,
                "reason": reason,
                "occurred_at": at(when),
            }
            path = f"/api/v1/employer/vacancies/{vacancy}/outcomes"
            self.call("employer", "POST", path, json=body)

        @rule(confirm=st.booleans())
        def decide_claim(self, confirm: bool) -> None:
            claims = self.call("employer", "GET", "/api/v1/employer/outcome-claims")
            if claims.status_code != 200 or not claims.json():
                return
            decision = "confirm" if confirm else "reject"
            claim = claims.json()[0]["claim_id"]
            self.call("employer", "POST", f"/api/v1/employer/outcome-claims/{claim}/{decision}")

        # ---- procurement, admin, the others -------------------------------------------------

        @rule(
            target=contracts,
            hires=st.integers(1, 5),
            deadline=st.integers(-30, 400),
            groups=st.lists(st.sampled_from(GROUPS), min_size=1, max_size=3, unique=True),
        )
        def create_contract(self, hires: int, deadline: int, groups: list[str]) -> Any:
            body = {
                "supplier_id": supplier_id,
                "cpv_code": "79620000",
                "title": "Random contract",
                "starts_on": on(-300),
                "ends_on": on(deadline + 30),
                "value_eur": 100_000.0,
                "conditions": [
                    {"target_groups": groups, "hires_required": hires, "deadline": on(deadline)}
                ],
            }
            response = self.call("procurement", "POST", "/api/v1/procurement/contracts", json=body)
            if response.status_code != 201:
                return multiple()
            created = response.json()
            self.contract_ids.add(created["contract_id"])
            return (created["contract_id"], created["conditions"][0]["condition_id"])

        @rule()
        def admin_reads(self) -> None:
            self.call("admin", "GET", "/api/v1/admin/model")
            self.call("admin", "GET", "/api/v1/admin/audit", params={"limit": 50})
            self.call("admin", "GET", "/api/v1/admin/audit/verify")
            self.call("admin", "GET", "/api/v1/admin/users")

        @rule(jobseeker=jobseekers, vacancy=vacancies)
        def others_look(self, jobseeker: str, vacancy: str) -> None:
            """Another organisation's users at the objects: refused, never a failure."""
            self.call("other-coach", "GET", f"/api/v1/coach/jobseekers/{jobseeker}")
            self.call("other-employer", "GET", f"/api/v1/employer/vacancies/{vacancy}/shortlist")
            for contract in sorted(self.contract_ids):
                path = f"/api/v1/procurement/contracts/{contract}/ledger"
                self.call("other-procurement", "GET", path)

        @rule(table=st.sampled_from(["indicators", "impact"]), by=st.sampled_from(BY))
        def statistics(self, table: str, by: str) -> None:
            """A statistics table from the state as it is now (not the cached one)."""
            serving.caches.pop("statistics", None)
            who = "procurement" if table == "indicators" else "admin"
            self.call(who, "GET", f"/api/v1/statistics/{table}", params={"by": by})

        def teardown(self) -> None:
            """At the end of every sequence: both kinds of table, every ledger, the audit."""
            self.statistics("indicators", "contract")
            self.statistics("impact", "municipality")
            for contract in sorted(self.contract_ids):
                path = f"/api/v1/procurement/contracts/{contract}/ledger"
                self.call("procurement", "GET", path)
            self.call("admin", "GET", "/api/v1/admin/audit/verify")

    return ServiceMachine


def test_no_sequence_of_calls_leaves_a_state_that_answers_5xx(api: Api) -> None:
    run_state_machine_as_test(
        _machine(api),
        settings=settings(
            max_examples=20,
            stateful_step_count=30,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: states persist
            suppress_health_check=list(HealthCheck),
        ),
    )
    # Every table and chart once more, from the state all the sequences left behind.
    machine = _machine(api)()
    for by in BY:
        machine.statistics("indicators", by)
        machine.statistics("impact", by)
    for name in CHARTS:
        machine.call("procurement", "GET", f"/api/v1/statistics/charts/{name}.png")
    counts = {key: dict(sorted(value.items())) for key, value in sorted(CALLS.items())}
    print(f"\nstate machine calls by role × database: {counts}")
