"""Label search over ESCO skills and occupations: ranking tiers, folding, all words must match."""

from __future__ import annotations

import pytest

from features.skill_search import LabelIndex, fold, skill_search_for
from features.taxonomy import load_taxonomy


@pytest.fixture
def index() -> LabelIndex:
    uris = [f"u{i}" for i in range(8)]
    labels = [
        "operate forklift",  # u0: "forklift" starts a word
        "forklift",  # u1: the exact label
        "forklift maintenance",  # u2: starts with the query
        "drive agricultural machines",  # u3: an alternative label matches
        "café management",  # u4: accents
        "customer service",  # u5
        "manage customer service",  # u6
        "reforklifting",  # u7: only a substring
    ]
    alts = [
        (),
        (),
        (),
        ("forklift driving", "tractor driving"),
        (),
        ("client service",),
        (),
        (),
    ]
    return LabelIndex(uris, labels, alts)


@pytest.mark.unit
def test_exact_then_prefix_then_word_then_alternative_then_substring(index: LabelIndex) -> None:
    hits = index.search("forklift", limit=10)
    assert [h.uri for h in hits] == ["u1", "u2", "u0", "u3", "u7"]
    assert hits[3].matched_alt_label == "forklift driving"
    assert all(h.matched_alt_label is None for h in hits[:3])


@pytest.mark.unit
def test_case_and_accents_do_not_matter(index: LabelIndex) -> None:
    assert [h.uri for h in index.search("CAFE")] == ["u4"]
    assert [h.uri for h in index.search("Café Man")] == ["u4"]
    assert fold("  Ångström–Café ") == "angstrom cafe"


@pytest.mark.unit
def test_every_word_of_a_query_must_match_in_any_order(index: LabelIndex) -> None:
    assert [h.uri for h in index.search("service cust")] == ["u5", "u6"]
    assert [h.uri for h in index.search("client serv")] == ["u5"]
    assert index.search("customer tractor") == []


@pytest.mark.unit
def test_a_concept_is_listed_once_and_the_limit_holds(index: LabelIndex) -> None:
    hits = index.search("f", limit=2)
    assert len(hits) == 2
    assert len({h.uri for h in index.search("driving", limit=10)}) == 1
    assert index.search("   ") == []
    assert index.search("forklift", limit=0) == []


@pytest.mark.integration
def test_the_full_esco_index_finds_labels_alternative_labels_and_occupation_skills() -> None:
    taxonomy = load_taxonomy()
    search = skill_search_for(taxonomy)
    assert skill_search_for(taxonomy) is search  # one index per taxonomy (per worker)
    forklift = search.skills("forklift")
    assert forklift[0].label == "operate forklift"
    assert all("forklift" in (h.matched_alt_label or h.label).lower() for h in forklift)
    staff = search.skills("manage team")[0]
    assert (staff.label, staff.matched_alt_label) == ("manage staff", "manage team")
    cook = search.occupations("cook")[0]
    assert cook.label == "cook"
    related = search.skills_of_occupations([cook.uri, "http://example.org/not-esco"])
    assert list(related.essential) == taxonomy.essential_skills(cook.uri)
    assert set(related.optional) == set(taxonomy.optional_skills(cook.uri)) - set(related.essential)
