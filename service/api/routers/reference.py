"""ESCO reference data for every signed-in role: skill and occupation search, occupations' skills.

The search answers as a person types (``features.skill_search``: one index per worker, built at
the first search); labels are ESCO's English ones.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from service.api.deps import StateDep, get_caller
from service.api.schemas import ERROR_RESPONSES
from service.api.security import Caller
from service.operations.errors import NotFoundError

router = APIRouter(
    prefix="/api/v1/reference",
    tags=["reference"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(get_caller)],
)

SearchText = Annotated[str, Query(min_length=1, max_length=100, description="Words to find.")]
Limit = Annotated[int, Query(ge=1, le=50)]


class ConceptOut(BaseModel):
    """An ESCO skill or occupation found by label."""

    uri: str
    label: str
    #: The alternative label the query matched, when it matched no preferred label.
    matched_alt_label: str | None = None


class ConceptSkillOut(BaseModel):
    uri: str
    label: str
    essential: bool


class OccupationSkillsOut(BaseModel):
    """An ESCO occupation and its skills: essential ones first, then optional ones."""

    uri: str
    label: str
    isco_code: str
    skills: list[ConceptSkillOut]


@router.get("/skills")
def search_skills(
    request: Request, state: StateDep, q: SearchText, limit: Limit = 10
) -> list[ConceptOut]:
    """ESCO skills by preferred or alternative label: label prefixes first, then words, then
    any part of a label; accents and case do not matter; every word must match."""
    hits = state.skill_search().skills(q, limit)
    return [
        ConceptOut(uri=h.uri, label=h.label, matched_alt_label=h.matched_alt_label) for h in hits
    ]


@router.get("/occupations")
def search_occupations(
    request: Request, state: StateDep, q: SearchText, limit: Limit = 10
) -> list[ConceptOut]:
    """ESCO occupations by preferred or alternative label, ranked as the skill search."""
    hits = state.skill_search().occupations(q, limit)
    return [
        ConceptOut(uri=h.uri, label=h.label, matched_alt_label=h.matched_alt_label) for h in hits
    ]


@router.get("/occupations/{uri:path}/skills")
def occupation_skills(uri: str, request: Request, state: StateDep) -> OccupationSkillsOut:
    """The skills ESCO relates to an occupation, essential first, with their labels."""
    taxonomy = state.vocab.taxonomy
    if not taxonomy.has_occupation(uri):
        raise NotFoundError("occupation", uri)
    row = taxonomy.occupations.iloc[taxonomy.occupation_index(uri)]
    related = state.skill_search().skills_of_occupations([uri])
    labels = taxonomy.skills["label"]
    positions = taxonomy.skill_positions
    skills = [
        ConceptSkillOut(uri=s, label=str(labels.iat[positions[s]]).strip(), essential=essential)
        for essential, uris in ((True, related.essential), (False, related.optional))
        for s in uris
    ]
    return OccupationSkillsOut(
        uri=uri, label=str(row["label"]).strip(), isco_code=str(row["isco_code"]), skills=skills
    )


__all__ = ["Caller", "router"]
