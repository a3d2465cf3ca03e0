"""Jobseekers, their employment-service organisations and job coaches.

Jobseekers live in real municipalities drawn by population (Finland and Sweden), are mostly
30–54 (the enhanced-support model) with a share under 30 and 55+, have long unemployment
spells (lognormal, median 14 months), a quarter have a migrant background, a fifth partial
work capacity. Their work history is 1–3 ESCO occupations, mostly in ISCO major groups 4, 5,
7, 8 and 9; their preferred occupations follow that history. Every labour-market area (FI
employment area, SE FA region) has one employment-service organisation whose coaches carry
caseloads of about 35–45 people.

Names are drawn from pools filled once from seeded Faker instances (fi_FI, sv_SE) and
combined with numpy indices; e-mail addresses use the reserved example.* domains.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

from matching.domain import CEFRLevel, JobForm, Sex, WorkRestriction
from training.synthetic._common import (
    BoolArray,
    FloatArray,
    IntArray,
    categorical,
    choice,
    dates,
    day_number,
    group_offsets,
    ids,
    language_list,
    string_list,
    take,
)
from training.synthetic.catalog import (
    FOREIGN_LANGUAGES,
    ISCO_PROFILES,
    LANGUAGE_VOCABULARY,
    LOCAL_LANGUAGE_LEVELS,
)
from training.synthetic.config import WorldConfig
from training.synthetic.reference import COUNTRIES, FI, SE, Reference

NAME_POOL = 3000
LOCALES = ("fi_FI", "sv_SE")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
SEXES = tuple(s.value for s in Sex)
RESTRICTIONS = tuple(r.value for r in WorkRestriction)
JOB_FORMS = tuple(f.value for f in JobForm)
CEFR = tuple(level.value for level in CEFRLevel)
_LANG = {code: i for i, code in enumerate(LANGUAGE_VOCABULARY)}
_LEVEL = {level: i for i, level in enumerate(CEFR)}

#: Restriction probabilities for people with partial work capacity (WorkRestriction order).
RESTRICTION_PROBABILITY = (0.45, 0.35, 0.25, 0.30, 0.15)
#: Probability that a person accepts each job form (JobForm order); employment always.
FORM_ACCEPTANCE = (1.0, 0.6, 0.55, 0.8)


@dataclass(frozen=True)
class NamePools:
    """First names by sex and last names per country, drawn once from seeded Faker."""

    female: list[list[str]]  # [country][i]
    male: list[list[str]]
    last: list[list[str]]
    companies: list[list[str]]

    @staticmethod
    def build(seed: int, size: int = NAME_POOL) -> NamePools:
        female, male, last, companies = [], [], [], []
        for i, locale in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(seed * 10 + i)
            female.append([fake.first_name_female() for _ in range(size)])
            male.append([fake.first_name_male() for _ in range(size)])
            last.append([fake.last_name() for _ in range(size)])
            companies.append([fake.company() for _ in range(size)])
        return NamePools(female=female, male=male, last=last, companies=companies)


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in folded if ch.isalnum() or ch == "-") or "x"


@dataclass(frozen=True, eq=False)
class Population:
    """The jobseekers as arrays (row i = jobseeker i) plus what later steps need."""

    n: int
    jobseeker_ids: pa.Array
    municipality: IntArray
    area: IntArray
    region: IntArray
    country: IntArray
    birth_year: IntArray
    migrant: BoolArray
    unemployment_day: IntArray
    licence: BoolArray
    commute_km: FloatArray
    max_hours: FloatArray  # nan = full time
    restriction_bits: IntArray
    partial: BoolArray
    history_owner: IntArray  # work-history occupations, sorted by owner
    history_occupation: IntArray
    preferred_owner: IntArray
    preferred_occupation: IntArray
    coach: IntArray
    organisation: IntArray  # index of the employment-service organisation (= area)
    coach_ids: pa.Array
    coach_organisation: IntArray
    columns: dict[str, pa.Array]
    coach_columns: dict[str, pa.Array]


def _people_names(
    rng: np.random.Generator, pools: NamePools, country: IntArray, sex: IntArray
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """First names, last names and e-mail addresses for people of given country and sex."""
    n = len(country)
    size = len(pools.last[0])
    female = (sex == SEXES.index(Sex.FEMALE)) | (
        (sex >= SEXES.index(Sex.OTHER)) & (rng.random(n) < 0.5)
    )
    first_pick = rng.integers(0, size, n)
    last_pick = rng.integers(0, size, n)
    # One flat pool: [country][female/male][i] for first names, [country][i] for last names.
    first_pool = [*pools.male[FI], *pools.female[FI], *pools.male[SE], *pools.female[SE]]
    last_pool = [*pools.last[FI], *pools.last[SE]]
    first_index = country * 2 * size + female * size + first_pick
    last_index = country * size + last_pick
    first = take(first_pool, first_index)
    last = take(last_pool, last_index)
    first_ascii = take([_ascii(x) for x in first_pool], first_index)
    last_ascii = take([_ascii(x) for x in last_pool], last_index)
    number = rng.integers(1, 100, n)
    suffix = pa.array(np.where(rng.random(n) < 0.6, number, -1)).cast(pa.string())
    suffix = pc.if_else(pc.equal(suffix, "-1"), "", suffix)
    domain = take(list(EMAIL_DOMAINS), rng.integers(0, len(EMAIL_DOMAINS), n))
    email = pc.binary_join_element_wise(first_ascii, ".", last_ascii, suffix, "@", domain, "")
    return first, last, email


def _digits(rng: np.random.Generator, n: int, width: int) -> pa.Array:
    numbers = pa.array(rng.integers(0, 10**width, n)).cast(pa.string())
    padded: pa.Array = pc.utf8_lpad(numbers, width=width, padding="0")
    return padded


def _phones(rng: np.random.Generator, country: IntArray) -> pa.Array:
    """Mobile numbers: FI ``+358 4X XXX XXXX``, SE ``+46 7X-XXX XX XX``."""
    n = len(country)
    prefix_fi = take(["+358 40 ", "+358 44 ", "+358 45 ", "+358 50 "], rng.integers(0, 4, n))
    d7 = _digits(rng, n, 7)
    fi = pc.binary_join_element_wise(
        prefix_fi, pc.utf8_slice_codeunits(d7, 0, 3), " ", pc.utf8_slice_codeunits(d7, 3, 7), ""
    )
    prefix_se = take(["+46 70-", "+46 72-", "+46 73-", "+46 76-"], rng.integers(0, 4, n))
    se = pc.binary_join_element_wise(
        prefix_se,
        pc.utf8_slice_codeunits(d7, 0, 3),
        " ",
        pc.utf8_slice_codeunits(d7, 3, 5),
        " ",
        pc.utf8_slice_codeunits(d7, 5, 7),
        "",
    )
    phones: pa.Array = pc.if_else(pa.array(country == FI), fi, se)
    return phones


def _municipality_weights(ref: Reference, finland_share: float | None) -> FloatArray:
    weights = ref.population.copy()
    if finland_share is not None:
        fi = ref.municipality_country == FI
        weights[fi] *= finland_share / weights[fi].sum()
        weights[~fi] *= (1 - finland_share) / weights[~fi].sum()
    return weights


def _languages(
    rng: np.random.Generator, country: IntArray, migrant: BoolArray
) -> tuple[IntArray, IntArray, IntArray]:
    """(owner, language code, level code) rows: native first, then local, then English."""
    n = len(country)
    lang = np.full((n, 3), -1, dtype=np.int64)
    level = np.zeros((n, 3), dtype=np.int64)
    native = _LEVEL[CEFRLevel.NATIVE]
    fi_native = (country == FI) & ~migrant & (rng.random(n) < 0.95)
    sv_native = ~migrant & ~fi_native
    lang[fi_native, 0] = _LANG["fi"]
    lang[sv_native, 0] = _LANG["sv"]
    level[~migrant, 0] = native
    # Second national language: Swedish for Finnish speakers (half), Finnish for Finland-Swedes.
    fi_swedes = sv_native & (country == FI)
    learns_sv = fi_native & (rng.random(n) < 0.5)
    lang[learns_sv, 1] = _LANG["sv"]
    level[learns_sv, 1] = np.where(rng.random(int(learns_sv.sum())) < 0.6, 1, 2)  # A2/B1
    lang[fi_swedes, 1] = _LANG["fi"]
    level[fi_swedes, 1] = rng.choice([2, 3, 4], int(fi_swedes.sum()), p=[0.3, 0.4, 0.3])
    # Migrants: a foreign native language and the local language at A1..B2.
    codes = [code for code, _, _ in FOREIGN_LANGUAGES]
    for c in (FI, SE):
        members = np.flatnonzero(migrant & (country == c))
        weights = [w_fi if c == FI else w_se for _, w_fi, w_se in FOREIGN_LANGUAGES]
        picked = choice(rng, weights, len(members))
        lang[members, 0] = [_LANG[codes[i]] for i in picked]
        level[members, 0] = native
        lang[members, 1] = _LANG["fi" if c == FI else "sv"]
        local_levels = [_LEVEL[lv] for lv, _ in LOCAL_LANGUAGE_LEVELS]
        level[members, 1] = np.asarray(local_levels)[
            choice(rng, [w for _, w in LOCAL_LANGUAGE_LEVELS], len(members))
        ]
    # English: common among natives, less so among migrants; never twice.
    p_english = np.where(migrant, 0.4, np.where(country == FI, 0.7, 0.8))
    english = (rng.random(n) < p_english) & (lang[:, 0] != _LANG["en"])
    lang[english, 2] = _LANG["en"]
    level[english, 2] = np.where(
        migrant[english],
        rng.choice([1, 2, 3], int(english.sum()), p=[0.3, 0.4, 0.3]),
        rng.choice([2, 3, 4], int(english.sum()), p=[0.3, 0.45, 0.25]),
    )
    present = lang >= 0
    owner = np.repeat(np.arange(n, dtype=np.int64), 3).reshape(n, 3)
    return owner[present], lang[present], level[present]


#: Share of women in each ISCO-08 major group's work (1 managers ... 9 elementary
#: occupations). Illustrative, shaped like the strong occupational segregation of the Finnish
#: and Swedish labour markets (care, service and clerical work mostly women's, building,
#: crafts and machine operation mostly men's) — not statistics. It makes the equality
#: figures of the model card meaningful; no hidden outcome model looks at sex.
FEMALE_SHARE_BY_MAJOR_GROUP = (0.5, 0.35, 0.55, 0.5, 0.7, 0.75, 0.3, 0.1, 0.15, 0.5)


def _work_history(
    rng: np.random.Generator, ref: Reference, n: int, sex: IntArray
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Work-history and preferred occupations: (owner, occupation) pairs for each.

    The first (latest) occupation is drawn by sex with :data:`FEMALE_SHARE_BY_MAJOR_GROUP`.
    """
    weights = ref.occupation_weights()
    has_skills = weights > 0
    count = choice(rng, [0.35, 0.40, 0.25], n) + 1
    share = np.asarray(FEMALE_SHARE_BY_MAJOR_GROUP)[
        np.clip(ref.occupation_isco // 1000, 0, len(FEMALE_SHARE_BY_MAJOR_GROUP) - 1)
    ]
    first = choice(rng, weights, n)
    women = np.flatnonzero(sex == SEXES.index(Sex.FEMALE))
    men = np.flatnonzero(sex == SEXES.index(Sex.MALE))
    first[women] = choice(rng, weights * share, len(women))
    first[men] = choice(rng, weights * (1.0 - share), len(men))
    # Occupations with skills grouped by ISCO minor (3-digit) and unit (4-digit) group, to
    # draw a "related" occupation uniformly within a person's group.
    usable = np.flatnonzero(has_skills)
    minor = ref.occupation_isco[usable] // 10
    by_minor = usable[np.argsort(minor, kind="stable")]
    minor_offsets = group_offsets(np.sort(minor), 1000)
    unit = ref.occupation_isco[usable]
    by_unit = usable[np.argsort(unit, kind="stable")]
    unit_offsets = group_offsets(np.sort(unit), 10000)

    def related(occupations: IntArray, by: IntArray, offsets: IntArray, key: IntArray) -> IntArray:
        start, stop = offsets[key], offsets[key + 1]
        picked: IntArray = by[start + (rng.random(len(occupations)) * (stop - start)).astype(int)]
        return picked

    history = np.full((n, 3), -1, dtype=np.int64)
    history[:, 0] = first
    for slot in (1, 2):
        active = np.flatnonzero(count > slot)
        same_minor = rng.random(len(active)) < 0.5
        drawn = choice(rng, weights, len(active))
        base = first[active]
        near = related(base, by_minor, minor_offsets, ref.occupation_isco[base] // 10)
        history[active, slot] = np.where(same_minor, near, drawn)
    # A repeated occupation adds nothing; drop repeats within a person.
    history[:, 1] = np.where(history[:, 1] == history[:, 0], -1, history[:, 1])
    history[:, 2] = np.where(
        (history[:, 2] == history[:, 0]) | (history[:, 2] == history[:, 1]), -1, history[:, 2]
    )
    present = history >= 0
    owner = np.repeat(np.arange(n, dtype=np.int64), 3).reshape(n, 3)
    history_owner, history_occupation = owner[present], history[present]

    # Preferred: mostly the latest job, sometimes a sibling occupation; some also want a
    # second job, from their history or (career change) a job that procurement creates.
    pref = np.full((n, 2), -1, dtype=np.int64)
    sibling = related(first, by_unit, unit_offsets, ref.occupation_isco[first])
    pref[:, 0] = np.where(rng.random(n) < 0.8, first, sibling)
    wants_second = rng.random(n) < 0.4
    procurement_weights = weights * np.isin(
        ref.occupation_isco, [int(code) for code in ISCO_PROFILES]
    )
    change = choice(rng, procurement_weights, n)
    second = np.where(history[:, 1] >= 0, history[:, 1], change)
    pref[:, 1] = np.where(wants_second & (second != pref[:, 0]), second, -1)
    present = pref >= 0
    owner = np.repeat(np.arange(n, dtype=np.int64), 2).reshape(n, 2)
    return history_owner, history_occupation, owner[present], pref[present]


def generate_population(
    config: WorldConfig, ref: Reference, pools: NamePools, rng: np.random.Generator
) -> Population:
    """Draw the jobseekers, assign them to organisations and coaches."""
    n = config.seekers
    as_of = config.as_of
    municipality = choice(rng, _municipality_weights(ref, config.finland_share), n)
    country = ref.municipality_country[municipality]
    area = ref.municipality_area[municipality]

    # Age reached during the as_of year: young 20-29, core 30-54, older 55-64.
    group = choice(
        rng,
        [config.young_share, 1 - config.young_share - config.older_share, config.older_share],
        n,
    )
    low = np.array([20, 30, 55])[group]
    high = np.array([29, 54, 64])[group]
    age = rng.integers(low, high + 1)
    birth_year = as_of.year - age
    sex = choice(rng, [0.47, 0.52, 0.005, 0.005], n)  # female, male, other, unknown
    migrant = rng.random(n) < config.migrant_share

    months = np.clip(rng.lognormal(np.log(14.0), 0.85, n), 1.0, 180.0)
    unemployment_day = day_number(as_of) - np.round(months * 30.44).astype(np.int64)

    licence = rng.random(n) < np.where(migrant, 0.40, 0.65) * np.where(age < 25, 0.6, 1.0)

    partial = rng.random(n) < config.partial_capacity_share
    reduced = partial & (rng.random(n) < 0.6)
    max_hours = np.where(reduced, rng.choice([20.0, 25.0, 30.0], n, p=[0.3, 0.3, 0.4]), np.nan)
    has = (rng.random((n, len(RESTRICTIONS))) < np.asarray(RESTRICTION_PROBABILITY)) & partial[
        :, None
    ]
    # Partial capacity always shows as reduced hours or at least one restriction.
    has[:, 0] |= partial & ~reduced & ~has.any(axis=1)
    restriction_bits = (has * (1 << np.arange(len(RESTRICTIONS)))).sum(axis=1)

    commute_median = np.where(licence, 30.0, 15.0) * np.where(partial, 0.8, 1.0)
    commute = np.round(np.clip(commute_median * rng.lognormal(0.0, 0.5, n), 3.0, 150.0))
    relocate = rng.random(n) < 0.08
    accepts = rng.random((n, len(JOB_FORMS))) < np.asarray(FORM_ACCEPTANCE)

    history_owner, history_occ, pref_owner, pref_occ = _work_history(rng, ref, n, sex)
    lang_owner, lang_code, lang_level = _languages(rng, country, migrant)

    # Organisations: one employment service per labour area; coaches round-robin over a
    # random order of the organisation's caseload.
    organisation = area
    n_areas = len(ref.area_codes)
    per_org = np.bincount(organisation, minlength=n_areas)
    caseload = rng.integers(config.caseload_min, config.caseload_max + 1, n_areas)
    n_coaches = np.ceil(per_org / caseload).astype(np.int64)
    coach_offset = np.r_[0, np.cumsum(n_coaches)[:-1]]
    order = np.lexsort((rng.random(n), organisation))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_offsets(organisation[order], n_areas)[organisation[order]]
    coach = coach_offset[organisation] + rank % np.maximum(n_coaches[organisation], 1)
    total_coaches = int(n_coaches.sum())
    coach_org = np.repeat(np.arange(n_areas), n_coaches)
    coach_ids = ids("CO", total_coaches, 6)
    org_ids = [f"ES-{code}" for code in ref.area_codes]

    first, last, email = _people_names(rng, pools, country, sex)
    jobseeker_ids = ids("JS", n, 7)
    occupation_uris = ref.occupation_uris.to_pylist()
    columns: dict[str, pa.Array] = {
        "jobseeker_id": jobseeker_ids,
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": _phones(rng, country),
        "home_municipality": categorical(municipality, ref.municipality_codes),
        "birth_year": pa.array(birth_year.astype(np.int16)),
        "sex": categorical(sex, SEXES),
        "migrant_background": pa.array(migrant),
        "unemployment_start": dates(unemployment_day),
        "driving_licence": pa.array(licence),
        "max_hours_per_week": pa.array(max_hours, mask=np.isnan(max_hours)),
        "restrictions": _flags_to_list(has, RESTRICTIONS),
        "preferred_occupations": string_list(pref_owner, pref_occ, occupation_uris, n),
        "max_commute_km": pa.array(commute),
        "willing_to_relocate": pa.array(relocate),
        "accepted_job_forms": _flags_to_list(accepts, JOB_FORMS),
        "languages": language_list(lang_owner, lang_code, lang_level, LANGUAGE_VOCABULARY, CEFR, n),
        "coach_id": take(coach_ids, coach),
        "organisation_id": take(org_ids, organisation),
    }

    coach_country = ref.area_country[coach_org]
    seat = _area_seats(ref)
    coach_muni = np.where(
        rng.random(total_coaches) < 0.7,
        seat[coach_org],
        municipality_in_area(rng, ref, coach_org),
    )
    coach_sex = choice(rng, [0.7, 0.3], total_coaches)  # coaching is a female-dominated job
    coach_first, coach_last, _ = _people_names(rng, pools, coach_country, coach_sex)
    coach_columns: dict[str, pa.Array] = {
        "coach_id": coach_ids,
        "organisation_id": take(org_ids, coach_org),
        "first_name": coach_first,
        "last_name": coach_last,
        "municipality": categorical(coach_muni, ref.municipality_codes),
    }
    return Population(
        n=n,
        jobseeker_ids=jobseeker_ids,
        municipality=municipality,
        area=area,
        region=ref.municipality_region[municipality],
        country=country,
        birth_year=birth_year,
        migrant=migrant,
        unemployment_day=unemployment_day,
        licence=licence,
        commute_km=commute.astype(np.float64),
        max_hours=max_hours,
        restriction_bits=restriction_bits,
        partial=partial,
        history_owner=history_owner,
        history_occupation=history_occ,
        preferred_owner=pref_owner,
        preferred_occupation=pref_occ,
        coach=coach,
        organisation=organisation,
        coach_ids=coach_ids,
        coach_organisation=coach_org,
        columns=columns,
        coach_columns=coach_columns,
    )


def _flags_to_list(flags: npt.NDArray[np.bool_], values: tuple[str, ...]) -> pa.ListArray:
    n = flags.shape[0]
    owner = np.repeat(np.arange(n, dtype=np.int64), flags.shape[1]).reshape(flags.shape)
    codes = np.tile(np.arange(flags.shape[1], dtype=np.int64), (n, 1))
    return string_list(owner[flags], codes[flags], values, n)


def _area_seats(ref: Reference) -> IntArray:
    """The most populous municipality of each labour-market area."""
    order = np.lexsort((-ref.population, ref.municipality_area))
    first = np.unique(ref.municipality_area[order], return_index=True)[1]
    seats: IntArray = order[first]
    return seats


def municipality_in_area(rng: np.random.Generator, ref: Reference, area: IntArray) -> IntArray:
    """A municipality of each given area, drawn by population."""
    order = np.lexsort((np.arange(ref.n_municipalities), ref.municipality_area))
    sorted_area = ref.municipality_area[order]
    pop = ref.population[order]
    cumulative = np.cumsum(pop)
    offsets = group_offsets(sorted_area, len(ref.area_codes))
    before = np.where(offsets[area] > 0, cumulative[np.maximum(offsets[area] - 1, 0)], 0.0)
    total = cumulative[offsets[area + 1] - 1] - before
    target = before + rng.random(len(area)) * total
    pos = np.searchsorted(cumulative, target, side="right")
    pos = np.clip(pos, offsets[area], offsets[area + 1] - 1)
    picked: IntArray = order[pos]
    return picked


def employment_service_organisations(ref: Reference) -> dict[str, list[str] | IntArray]:
    """Rows of the employment-service organisations (one per labour-market area)."""
    seat = _area_seats(ref)
    names = [
        f"{name} työllisyysalue" if country == FI else f"Arbetsförmedlingen {name}"
        for name, country in zip(ref.area_names, ref.area_country, strict=True)
    ]
    return {
        "organisation_id": [f"ES-{code}" for code in ref.area_codes],
        "name": names,
        "country": [COUNTRIES[c] for c in ref.area_country],
        "municipality": seat,
    }
