"""The demo `make run` ends with: the best open vacancies for a few jobseekers, with reasons.

It loads a generated world, builds the matching engine (skill profiles from the coaches'
assessments, requirement vectors, eligibility, regions) and asks it for each demo person's
best open vacancies. The reason printed for each suggestion names the covered required skills
and the evidence behind them, the skill gap, the distance and the eligibility rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.markup import escape

from features.world_store import WorldTables, jobseeker_from_row, load_world
from matching.eligibility import target_groups_on
from matching.engine import Match, MatchingEngine
from matching.entities import PROFILE_METHOD, PROFILE_STRENGTH
from service.composition import build_engine
from service.settings import Settings

MAX_SKILLS_IN_REASON = 3


@dataclass(frozen=True)
class DemoPerson:
    jobseeker_id: str
    name: str
    home: str
    max_commute_km: float
    target_groups: tuple[str, ...]
    skills_recognised: int
    matches: tuple[Match, ...]


@dataclass(frozen=True)
class DemoResult:
    as_of: date
    model_version: str
    open_vacancies: int
    people: tuple[DemoPerson, ...]
    titles: dict[str, str]


def _pick_people(world: WorldTables, engine: MatchingEngine, count: int, top: int) -> list[str]:
    """Demo people: of the best-evidenced jobseekers in matching (not in work), those whose
    best match scores highest, alternating between Finland and Sweden."""
    data = engine.data
    strength = data.profiles.to_csr(PROFILE_STRENGTH)
    strength.eliminate_zeros()  # credited-only skills carry strength 0
    # Skills a coach observed, per person; people out of matching (in work) are not shown.
    evidenced = np.where(data.seekers["active"], np.diff(strength.indptr), -1)
    order = np.lexsort((np.arange(len(evidenced)), -evidenced))[: 30 * count]
    homes = world.jobseekers.set_index("jobseeker_id")["home_municipality"].astype(str)
    best: dict[str, list[tuple[float, str]]] = {"FI": [], "SE": []}
    for row in order.tolist():
        if evidenced[row] < 0:
            break  # only people out of matching are left
        jobseeker_id = data.seekers.ids[row]
        results = engine.matches_for_jobseeker(jobseeker_id, k=top, on=world.as_of).results
        if results:
            country = "FI" if len(homes[jobseeker_id]) == 3 else "SE"  # 3-digit FI codes
            best[country].append((-results[0].score, jobseeker_id))
    queues = {country: [jid for _, jid in sorted(items)] for country, items in best.items()}
    picked: list[str] = []
    for turn in range(count):
        first, second = ("FI", "SE") if turn % 2 == 0 else ("SE", "FI")
        queue = queues[first] or queues[second]
        if not queue:
            break
        picked.append(queue.pop(0))
    return picked


def run_demo(world_dir: Path, settings: Settings, *, people: int = 3, top: int = 5) -> DemoResult:
    """Rank open vacancies for ``people`` demo jobseekers of the world in ``world_dir``."""
    world = load_world(world_dir)
    engine = build_engine(world, settings)
    as_of = world.as_of
    vacancies = engine.data.vacancies
    day = np.datetime64(as_of, "D")
    open_count = int(
        (
            vacancies["active"]
            & (vacancies["opens_on"] <= day)
            & (vacancies["closes_on"] >= day)
            & (vacancies["hires"] < vacancies["openings"])  # filled ones are not open
        ).sum()
    )
    seekers = world.jobseekers.set_index(world.jobseekers["jobseeker_id"].astype(str), drop=False)
    names = engine.data.municipality_names
    shown: list[DemoPerson] = []
    for jobseeker_id in _pick_people(world, engine, people, top):
        record = seekers.loc[jobseeker_id]
        assert isinstance(record, pd.Series)
        person = jobseeker_from_row(record)
        row = engine.data.seekers.row(jobseeker_id)
        result = engine.matches_for_jobseeker(jobseeker_id, k=top, on=as_of)
        shown.append(
            DemoPerson(
                jobseeker_id=jobseeker_id,
                name=f"{record['first_name']} {record['last_name']}",
                home=str(names[engine.data.seekers["home"][row]]),
                max_commute_km=person.preferences.max_commute_km,
                target_groups=tuple(sorted(g.value for g in target_groups_on(person, as_of))),
                skills_recognised=int(
                    (engine.data.profiles.rows([row]).values[:, PROFILE_METHOD] >= 0).sum()
                ),
                matches=result.results,
            )
        )
    return DemoResult(
        as_of=as_of,
        model_version=engine.scorer.version,
        open_vacancies=open_count,
        people=tuple(shown),
        titles=dict(zip(world.vacancies["vacancy_id"], world.vacancies["title"], strict=True)),
    )


def reason_lines(match: Match) -> list[str]:
    """What a coach can act on: covered skills with evidence, gaps, place, rule, factors."""
    e = match.explanation
    n_required = len(e.matched_skills) + len(e.missing_skills)
    lines = [f"skills: {len(e.matched_skills)} of {n_required} required skills held"]
    if e.matched_skills:
        shown = []
        for s in e.matched_skills[:MAX_SKILLS_IN_REASON]:
            if s.method:
                shown.append(f"{s.label} ({s.method.replace('_', ' ')}, level {s.level:.0f})")
            else:
                shown.append(f"{s.label} (related skill)")
        lines.append("has: " + "; ".join(shown))
    if e.missing_skills:
        extra = len(e.missing_skills) - MAX_SKILLS_IN_REASON
        more = f" (+{extra} more)" if extra > 0 else ""
        gaps = "; ".join(s.label for s in e.missing_skills[:MAX_SKILLS_IN_REASON])
        lines.append(f"to learn: {gaps}{more}")
    place = "within the commute radius" if e.within_commute else "beyond the commute radius"
    area = "same" if e.same_labour_area else "another"
    lines.append(f"where: {place}, {area} employment area ({e.labour_area})")
    if e.eligibility_rule:
        lines.append(f"employment condition: counts toward it ({e.eligibility_description})")
    if e.factors:
        lines.append("score: " + "; ".join(f.sentence for f in e.factors))
    return lines


def readable_score(match: Match) -> str:
    """The number a coach can read: the calibrated chance of a lasting hire when the model
    gives one, else the ranking score (the rule-based score is no probability)."""
    if match.probability is not None:
        return f"{match.probability:.0%} chance of a hire lasting 6 months"
    return f"score {match.score:.2f}"


def render_demo(result: DemoResult, console: Console) -> None:
    """Print the demo for a person at a terminal (readable at any width)."""
    console.print(
        f"\n[bold]Kohtaanto demo[/] · as of {result.as_of} · "
        f"{result.open_vacancies:,} open vacancies · ranking: {result.model_version}"
    )
    for person in result.people:
        groups = ", ".join(g.replace("_", " ") for g in person.target_groups) or "none"
        # Names, titles and places are data: escaped, so "[...]" in them is printed as is.
        console.rule(
            f"[bold]{escape(person.name)}[/] ({escape(person.jobseeker_id)})", align="left"
        )
        console.print(
            f"{person.home} · commute ≤ {person.max_commute_km:.0f} km · "
            f"{person.skills_recognised} skills recognised · target groups: {groups}",
            markup=False,
        )
        for match in person.matches:
            title = result.titles.get(match.vacancy_id, match.vacancy_id)
            e = match.explanation
            console.print(
                f"\n  [bold]{match.rank}. {escape(title)}[/] ({escape(match.vacancy_id)}) · "
                f"{escape(e.workplace)}, {e.distance_km:.0f} km · {readable_score(match)}"
            )
            for line in reason_lines(match):
                console.print(f"     {line}", highlight=False, markup=False)
    if not result.people:
        console.print("No demo jobseeker has an open vacancy within reach in this world.")
    console.print()
