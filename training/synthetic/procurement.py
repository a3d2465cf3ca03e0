"""Buyers, suppliers, contracts with employment conditions, and the vacancies they create.

Vacancy dates come first: ``open_vacancy_share`` of the vacancies are open on ``as_of``
(opened within the last 90 days), the rest are historical, spread evenly (stratified) over
the history window. Vacancies close in time are grouped into contracts (about
``vacancies_per_contract`` each), and a contract spans its vacancies. Each contract buys a
CPV code of :data:`~training.synthetic.catalog.CPV_OCCUPATIONS`, and its vacancies are ESCO
occupations of the ISCO-08 unit groups that code maps to (CPV-coherent), in the buyer's
municipality or nearby (same labour-market area), or anywhere in the country for a central
purchasing body. Working conditions follow :data:`~training.synthetic.catalog.ISCO_PROFILES`.
Required skills are 4–10 of the occupation's essential ESCO skills with minimum levels,
optional ones up to 5 of its optional skills. Each contract has one employment condition
whose required hires are 60–100 % of the openings of its vacancies; 15 % of the conditions
are performance-based and get terms (:func:`performance_terms`, drawn from a random stream of
their own so that every other table stays as it was before the terms existed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from matching.domain import BuyerKind, CEFRLevel, JobForm, PhysicalDemand, TargetGroup
from training.synthetic._common import (
    BoolArray,
    FloatArray,
    IntArray,
    categorical,
    choice,
    dates,
    day_number,
    expand_ranges,
    group_offsets,
    ids,
    language_list,
    rank_in_group,
    stream,
    string_list,
    take,
)
from training.synthetic.catalog import (
    CENTRAL_PURCHASING_BODIES,
    CPV_OCCUPATIONS,
    ISCO_PROFILES,
    LANGUAGE_VOCABULARY,
)
from training.synthetic.config import WorldConfig
from training.synthetic.people import (
    CEFR,
    JOB_FORMS,
    NamePools,
    employment_service_organisations,
    municipality_in_area,
)
from training.synthetic.reference import COUNTRIES, FI, SE, Reference

TARGET_GROUPS = tuple(g.value for g in TargetGroup)
PHYSICAL = tuple(p.value for p in PhysicalDemand)
BUYER_KINDS = tuple(k.value for k in BuyerKind)
#: Main target group of a condition; each other group named here joins with 0.2. Generated
#: conditions never name ``registered_unemployed`` (any registered jobseeker), which would
#: make the clause moot for the weak-position people the model serves.
MAIN_TARGET_GROUP = {
    TargetGroup.UNEMPLOYED_3M: 0.25,
    TargetGroup.LONG_TERM_UNEMPLOYED: 0.35,
    TargetGroup.YOUNG: 0.10,
    TargetGroup.OLDER: 0.10,
    TargetGroup.MIGRANT_BACKGROUND: 0.10,
    TargetGroup.PARTIAL_WORK_CAPACITY: 0.10,
}
EXTRA_TARGET_GROUP = 0.2
#: Allowed job-form sets (JobForm order: employment, apprenticeship, work trial, pay subsidy).
FORM_SETS = (
    ((True, True, True, True), 0.40),
    ((True, True, False, True), 0.30),
    ((True, False, False, False), 0.15),
    ((True, False, False, True), 0.15),
)
#: How often each allowed job form is used for a vacancy.
FORM_WEIGHTS = (0.45, 0.15, 0.15, 0.25)
REQUIRED_LEVELS = (0.25, 0.45, 0.25, 0.05)
OPTIONAL_LEVELS = (0.50, 0.40, 0.10, 0.00)
OPENINGS = ((1, 0.65), (2, 0.20), (3, 0.08), (4, 0.04), (5, 0.03))
FULL_TIME = (37.5, 40.0)  # FI, SE collective agreements


#: Performance terms: the weight of a credited outcome by deciding target group and job
#: form (buyers pay more for the long-term unemployed and people with partial work capacity,
#: and for lasting work over a work trial); groups and forms a condition does not name get 0.
PERFORMANCE_GROUP_WEIGHTS = {
    TargetGroup.LONG_TERM_UNEMPLOYED.value: 1.5,
    TargetGroup.PARTIAL_WORK_CAPACITY.value: 1.5,
}
PERFORMANCE_FORM_WEIGHTS = {
    JobForm.EMPLOYMENT.value: 1.2,
    JobForm.APPRENTICESHIP.value: 1.2,
    JobForm.PAY_SUBSIDISED.value: 1.0,
    JobForm.WORK_TRIAL.value: 0.5,
}
#: Points per stage: a hire, still employed after 6 months, after 12 months.
PERFORMANCE_POINTS = (1.0, 1.0, 2.0)
#: The cap buys about this many points per required hire (fewer than the 4 a hire lasting
#: a year earns: a buyer does not expect every hire to last).
CAP_POINTS_PER_HIRE = 3.0


def performance_terms(
    rng: np.random.Generator,
    condition_ids: pa.Array,
    performance: BoolArray,
    targets: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
    hires_required: IntArray,
) -> dict[str, pa.Array]:
    """The ``performance_terms`` columns of the performance-based conditions.

    Price EUR 1,500–4,000 a point (in steps of 50); the cap about what every required hire
    earning :data:`CAP_POINTS_PER_HIRE` points at unit weights (hires required x 3 points x
    price, x 0.8–1.2, in hundreds); payment by quarter (60 %) or month.
    """
    rows = np.flatnonzero(performance)
    m = len(rows)
    price = np.round(rng.uniform(1500.0, 4000.0, m) / 50.0) * 50.0
    cap = np.round(
        hires_required[rows] * CAP_POINTS_PER_HIRE * price * rng.uniform(0.8, 1.2, m), -2
    )
    period = np.where(rng.random(m) < 0.6, "quarter", "month")
    columns: dict[str, pa.Array] = {
        "condition_id": condition_ids.take(pa.array(rows)),
        "price_per_point_eur": pa.array(price),
        "cap_eur": pa.array(np.maximum(cap, price)),
        "points_hired": pa.array(np.full(m, PERFORMANCE_POINTS[0])),
        "points_retained_6m": pa.array(np.full(m, PERFORMANCE_POINTS[1])),
        "points_retained_12m": pa.array(np.full(m, PERFORMANCE_POINTS[2])),
    }
    for j, group in enumerate(TARGET_GROUPS):
        weight = PERFORMANCE_GROUP_WEIGHTS.get(group, 1.0)
        columns[f"weight_tg_{group}"] = pa.array(np.where(targets[rows, j], weight, 0.0))
    for j, form in enumerate(JOB_FORMS):
        weight = PERFORMANCE_FORM_WEIGHTS[form]
        columns[f"weight_form_{form}"] = pa.array(np.where(allowed[rows, j], weight, 0.0))
    columns["period"] = pa.array(period.tolist(), pa.string())
    return columns


@dataclass(frozen=True, eq=False)
class Procurement:
    """Vacancies as arrays (row v = vacancy v) plus the tables to write."""

    n: int
    vacancy_ids: pa.Array
    municipality: IntArray
    area: IntArray
    region: IntArray
    country: IntArray
    occupation: IntArray
    isco: IntArray
    opens_day: IntArray
    closes_day: IntArray
    openings: IntArray
    remote_share: FloatArray
    target_mask: npt.NDArray[np.bool_]  # (n, len(TargetGroup)) of the vacancy's condition
    required_offsets: IntArray  # per vacancy into required_skill / required_min_level
    required_skill: IntArray
    required_min_level: IntArray
    columns: dict[str, dict[str, pa.Array]]  # table name -> columns


def _vacancy_dates(
    config: WorldConfig, rng: np.random.Generator
) -> tuple[IntArray, IntArray, BoolArray]:
    n = config.vacancies
    as_of = day_number(config.as_of)
    n_open = round(n * config.open_vacancy_share)
    is_open = np.zeros(n, dtype=bool)
    is_open[rng.permutation(n)[:n_open]] = True
    opens = np.empty(n, dtype=np.int64)
    closes = np.empty(n, dtype=np.int64)
    opens[is_open] = as_of - rng.integers(0, 91, n_open)
    closes[is_open] = as_of + rng.integers(7, 76, n_open)
    # Historical vacancies: stratified over the window so the history always covers it.
    n_hist = n - n_open
    # Two months before the window so the first shortlists already fall inside it.
    start = as_of - round(365.25 * config.history_years) - 60
    end = as_of - 75
    slot = rng.permutation(n_hist)
    opens[~is_open] = start + ((slot + rng.random(n_hist)) / max(n_hist, 1) * (end - start)).astype(
        np.int64
    )
    closes[~is_open] = opens[~is_open] + rng.integers(14, 61, n_hist)
    return opens, closes, is_open


def _contract_sizes(rng: np.random.Generator, n: int, mean: float) -> IntArray:
    sizes = np.minimum(rng.geometric(1.0 / mean, n), 25)
    total = np.cumsum(sizes)
    n_contracts = int(np.searchsorted(total, n)) + 1
    sizes = sizes[:n_contracts].copy()
    sizes[-1] -= int(total[n_contracts - 1]) - n
    return sizes.astype(np.int64)


def business_ids(rng: np.random.Generator, country: IntArray) -> list[str]:
    """FI Y-tunnus ``1234567-8`` (mod-11 check) and SE organisationsnummer ``556xxx-xxxx``."""
    n = len(country)
    result = np.empty(n, dtype=object)
    # Finnish: 7 digits, weights 7,9,10,5,8,4,2; remainder 1 is not issued.
    candidates = rng.choice(np.arange(1_000_000, 3_400_000), size=2 * n + 10, replace=False)
    digits = (candidates[:, None] // 10 ** np.arange(6, -1, -1)) % 10
    remainder = (digits * np.array([7, 9, 10, 5, 8, 4, 2])).sum(axis=1) % 11
    valid = remainder != 1
    check = np.where(remainder == 0, 0, 11 - remainder)
    fi_ids = [f"{num}-{c}" for num, c in zip(candidates[valid], check[valid], strict=True)]
    # Swedish: 556 + 6 digits + Luhn check digit over the first nine.
    tails = rng.choice(1_000_000, size=n, replace=False)
    body = 556_000_000 + tails
    d = (body[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    doubled = d * np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])
    total = (doubled // 10 + doubled % 10).sum(axis=1)
    luhn = (10 - total % 10) % 10
    se_ids = [f"{str(b)[:6]}-{str(b)[6:]}{c}" for b, c in zip(body, luhn, strict=True)]
    is_fi = np.asarray(country) == FI
    result[is_fi] = fi_ids[: int(is_fi.sum())]
    result[~is_fi] = se_ids[: int((~is_fi).sum())]
    return list(result)


def _pick_in_groups(
    rng: np.random.Generator, group_of_item: IntArray, n_groups: int, wanted: IntArray
) -> IntArray:
    """For each wanted group, a uniformly drawn item of that group (-1 if the group is empty)."""
    order = np.argsort(group_of_item, kind="stable")
    offsets = group_offsets(group_of_item[order], n_groups)
    count = offsets[wanted + 1] - offsets[wanted]
    pos = offsets[wanted] + (rng.random(len(wanted)) * count).astype(np.int64)
    picked: IntArray = np.where(count > 0, order[np.minimum(pos, len(order) - 1)], -1)
    return picked


def generate_procurement(
    config: WorldConfig, ref: Reference, pools: NamePools, rng: np.random.Generator
) -> Procurement:
    """Draw suppliers, contracts, employment conditions, vacancies and their skills."""
    n = config.vacancies
    opens, closes, _ = _vacancy_dates(config, rng)

    # ---- contracts: group vacancies that open around the same time ----
    sizes = _contract_sizes(rng, n, config.vacancies_per_contract)
    n_contracts = len(sizes)
    order = np.argsort(opens + rng.normal(0.0, 150.0, n), kind="stable")
    contract = np.empty(n, dtype=np.int64)
    contract[order] = np.repeat(np.arange(n_contracts), sizes)
    first_open = np.full(n_contracts, np.iinfo(np.int64).max)
    np.minimum.at(first_open, contract, opens)
    last_close = np.full(n_contracts, np.iinfo(np.int64).min)
    np.maximum.at(last_close, contract, closes)
    starts = first_open - rng.integers(0, 121, n_contracts)
    ends = np.maximum(starts + rng.integers(365, 1462, n_contracts), last_close + 30)
    deadline = np.minimum(ends, last_close + rng.integers(30, 366, n_contracts))

    fi_share = (
        config.finland_share
        if config.finland_share is not None
        else ref.population[ref.municipality_country == FI].sum() / ref.population.sum()
    )
    c_country = np.where(rng.random(n_contracts) < fi_share, FI, SE)
    central = rng.random(n_contracts) < config.central_purchasing_share
    buyer_weight = ref.population**0.8
    buyer_muni = np.empty(n_contracts, dtype=np.int64)
    for c in (FI, SE):
        members = np.flatnonzero(c_country == c)
        in_country = np.flatnonzero(ref.municipality_country == c)
        buyer_muni[members] = in_country[choice(rng, buyer_weight[in_country], len(members))]
    cpv = choice(rng, [entry.weight for entry in CPV_OCCUPATIONS], n_contracts)

    # ---- suppliers: each in one country and sector ----
    n_sup = max(2, round(n_contracts / 4))
    s_country = np.where(rng.random(n_sup) < fi_share, FI, SE)
    s_country[:2] = (FI, SE)
    s_sector = choice(rng, [entry.weight for entry in CPV_OCCUPATIONS], n_sup)
    s_muni = np.empty(n_sup, dtype=np.int64)
    for c in (FI, SE):
        members = np.flatnonzero(s_country == c)
        in_country = np.flatnonzero(ref.municipality_country == c)
        s_muni[members] = in_country[choice(rng, ref.population[in_country], len(members))]
    n_sectors = len(CPV_OCCUPATIONS)
    supplier = _pick_in_groups(
        rng, s_country * n_sectors + s_sector, 2 * n_sectors, c_country * n_sectors + cpv
    )
    fallback = _pick_in_groups(rng, s_country, 2, c_country)
    supplier = np.where(supplier >= 0, supplier, fallback)
    supplier_ids = ids("SU", n_sup, 6)
    supplier_org_ids = [f"ORG-{sid}" for sid in supplier_ids.to_pylist()]
    pool_size = len(pools.companies[0])
    company = [
        pools.companies[c][i]
        for c, i in zip(s_country, rng.integers(0, pool_size, n_sup), strict=True)
    ]
    sector_word = [
        CPV_OCCUPATIONS[s].sector_fi if c == FI else CPV_OCCUPATIONS[s].sector_sv
        for s, c in zip(s_sector, s_country, strict=True)
    ]
    supplier_names = [f"{word} {name}" for word, name in zip(sector_word, company, strict=True)]

    # ---- buyers and contract texts ----
    cpv_table = ref.taxonomy.cpv.set_index("cpv_code")
    cpv_codes = [entry.cpv_code for entry in CPV_OCCUPATIONS]
    label_en = [str(cpv_table.loc[code, "label_en"]) for code in cpv_codes]
    label_sv = [str(cpv_table.loc[code, "label_sv"]) for code in cpv_codes]
    muni_codes = ref.municipality_codes.to_pylist()
    buyer_names = [
        f"{name} (kunta)" if country == FI else f"{name} kommun"
        for name, country in zip(ref.municipality_names, ref.municipality_country, strict=True)
    ]
    cpb_of_country = {FI: 0, SE: 1}
    cpb_idx = (
        np.array([cpb_of_country[int(c)] for c in c_country]) if n_contracts else np.zeros(0, int)
    )
    buyer_ids = [
        CENTRAL_PURCHASING_BODIES[cpb][0] if is_central else f"MUN-{muni_codes[m]}"
        for is_central, cpb, m in zip(central, cpb_idx, buyer_muni, strict=True)
    ]
    start_year = (
        np.asarray(starts, dtype="datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    )
    end_year = np.asarray(ends, dtype="datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    titles = [
        f"{label_en[k] if country == FI else label_sv[k]} {y0}–{y1}, "
        f"{CENTRAL_PURCHASING_BODIES[cpb][1] if is_central else buyer_names[m]}"
        for k, country, y0, y1, is_central, cpb, m in zip(
            cpv, c_country, start_year, end_year, central, cpb_idx, buyer_muni, strict=True
        )
    ]
    value = (
        np.round(rng.lognormal(np.log(250_000.0) + 0.3 * np.log(sizes), 1.0, n_contracts), -2)
        + 1000.0
    )

    # ---- employment conditions ----
    group_weights = [MAIN_TARGET_GROUP.get(group, 0.0) for group in TargetGroup]
    main_group = choice(rng, group_weights, n_contracts)
    targets = rng.random((n_contracts, len(TARGET_GROUPS))) < EXTRA_TARGET_GROUP
    targets &= np.asarray(group_weights)[None, :] > 0
    targets[np.arange(n_contracts), main_group] = True
    form_set = choice(rng, [w for _, w in FORM_SETS], n_contracts)
    allowed = np.array([forms for forms, _ in FORM_SETS], dtype=bool)[form_set]
    performance = rng.random(n_contracts) < 0.15

    # ---- vacancies ----
    v_country = c_country[contract]
    v_central = central[contract]
    near = municipality_in_area(rng, ref, ref.municipality_area[buyer_muni[contract]])
    v_muni = np.where(rng.random(n) < 0.65, buyer_muni[contract], near)
    for c in (FI, SE):
        members = np.flatnonzero(v_central & (v_country == c))
        in_country = np.flatnonzero(ref.municipality_country == c)
        v_muni[members] = in_country[choice(rng, ref.population[in_country], len(members))]

    has_skills = np.diff(ref.essential_offsets) > 0
    v_cpv = cpv[contract]
    v_isco = np.zeros(n, dtype=np.int64)
    for k, codes in enumerate(ref.cpv_isco):
        members = np.flatnonzero(v_cpv == k)
        weights = [2.0] + [1.0] * (len(codes) - 1)
        v_isco[members] = np.asarray(codes)[choice(rng, weights, len(members))]
    v_occ = np.zeros(n, dtype=np.int64)
    shift = np.zeros(n, dtype=bool)
    night = np.zeros(n, dtype=bool)
    physical = np.zeros(n, dtype=np.int64)
    licence = np.zeros(n, dtype=bool)
    remote = np.zeros(n)
    part_time = np.zeros(n, dtype=bool)
    boost = np.zeros(n, dtype=np.int64)
    english = np.zeros(n, dtype=bool)
    for code in np.unique(v_isco):
        members = np.flatnonzero(v_isco == code)
        m = len(members)
        candidates = np.flatnonzero((ref.occupation_isco == code) & has_skills)
        general = np.where(ref.occupation_is_general[candidates], 3.0, 1.0)
        v_occ[members] = candidates[choice(rng, general, m)]
        profile = ISCO_PROFILES[f"{code:04d}"]
        shift[members] = rng.random(m) < profile.shift
        night[members] = rng.random(m) < profile.night
        physical[members] = choice(rng, profile.physical, m)
        licence[members] = rng.random(m) < profile.licence
        if profile.remote_max > 0:
            share = np.round(rng.random(m) * profile.remote_max, 1)
            remote[members] = np.where(rng.random(m) < 0.7, share, 0.0)
        part_time[members] = rng.random(m) < profile.part_time
        boost[members] = profile.language_boost
        english[members] = rng.random(m) < (0.5 if profile.remote_max > 0 else 0.05)

    hours = np.where(
        part_time,
        rng.choice([20.0, 25.0, 30.0], n, p=[0.3, 0.3, 0.4]),
        np.asarray(FULL_TIME)[v_country],
    )
    weights = np.asarray(FORM_WEIGHTS)[None, :] * allowed[contract]
    cumulative = np.cumsum(weights, axis=1)
    job_form = (rng.random(n)[:, None] * cumulative[:, -1:] >= cumulative).sum(axis=1)
    openings = np.asarray([o for o, _ in OPENINGS])[choice(rng, [w for _, w in OPENINGS], n)]

    # Languages: the local language at A2..B2 (one step more for customer-facing and care
    # work, capped at C1), sometimes English B1 as well.
    cefr = {level: i for i, level in enumerate(CEFR)}
    local_level = np.minimum(
        np.asarray([cefr[CEFRLevel.A2], cefr[CEFRLevel.B1], cefr[CEFRLevel.B2]])[
            choice(rng, [0.35, 0.45, 0.20], n)
        ]
        + boost,
        cefr[CEFRLevel.C1],
    )
    lang_index = {code: i for i, code in enumerate(LANGUAGE_VOCABULARY)}
    slots_lang = np.stack(
        [
            np.where(v_country == FI, lang_index["fi"], lang_index["sv"]),
            np.full(n, lang_index["en"]),
        ],
        axis=1,
    )
    slots_level = np.stack([local_level, np.full(n, cefr[CEFRLevel.B1])], axis=1)
    present = np.stack([np.ones(n, dtype=bool), english], axis=1)
    owner2 = np.repeat(np.arange(n), 2).reshape(n, 2)

    # ---- vacancy skills: a sample of the occupation's essential and optional skills ----
    skill_rows = []
    for offsets, pool, low, high, levels, required in (
        (ref.essential_offsets, ref.essential_skills, 4, 10, REQUIRED_LEVELS, True),
        (ref.optional_offsets, ref.optional_skills, 0, 5, OPTIONAL_LEVELS, False),
    ):
        available = offsets[v_occ + 1] - offsets[v_occ]
        k = np.minimum(rng.integers(low, high + 1, n), available)
        owner, pos = expand_ranges(offsets[v_occ], available)
        shuffle = np.lexsort((rng.random(len(owner)), owner))
        owner, pos = owner[shuffle], pos[shuffle]
        keep = rank_in_group(owner) < k[owner]
        owner, skill = owner[keep], pool[pos[keep]]
        min_level = choice(rng, levels, len(owner)) + 1
        skill_rows.append((owner, skill, np.full(len(owner), required), min_level))
    vs_owner = np.concatenate([r[0] for r in skill_rows])
    vs_skill = np.concatenate([r[1] for r in skill_rows])
    vs_required = np.concatenate([r[2] for r in skill_rows])
    vs_level = np.concatenate([r[3] for r in skill_rows])
    vs_order = np.lexsort((vs_skill, ~vs_required, vs_owner))
    vs_owner, vs_skill = vs_owner[vs_order], vs_skill[vs_order]
    vs_required, vs_level = vs_required[vs_order], vs_level[vs_order]

    # ---- conditions' required hires: 60-100 % of the openings opened for them ----
    opened = np.bincount(contract, weights=openings, minlength=n_contracts)
    hires_required = np.maximum(1, np.rint(opened * rng.uniform(0.6, 1.0, n_contracts))).astype(
        np.int64
    )

    vacancy_ids = ids("VA", n, 7)
    contract_ids = ids("CT", n_contracts, 7)
    condition_ids = ids("EC", n_contracts, 7)
    capitalised = [label[:1].upper() + label[1:] for label in ref.occupation_labels]
    vacancy_titles = pc.binary_join_element_wise(
        take(capitalised, v_occ), " (", take(ref.municipality_names, v_muni), ")", ""
    )
    target_owner = np.repeat(np.arange(n_contracts), len(TARGET_GROUPS)).reshape(targets.shape)
    target_codes = np.tile(np.arange(len(TARGET_GROUPS)), (n_contracts, 1))
    form_owner = np.repeat(np.arange(n_contracts), len(JOB_FORMS)).reshape(allowed.shape)
    form_codes = np.tile(np.arange(len(JOB_FORMS)), (n_contracts, 1))

    es = employment_service_organisations(ref)
    n_es = len(es["organisation_id"])
    n_muni = ref.n_municipalities
    org_ids = [
        *es["organisation_id"],
        *[f"MUN-{code}" for code in muni_codes],
        *[cpb[0] for cpb in CENTRAL_PURCHASING_BODIES],
        *supplier_org_ids,
    ]
    org_kind = np.r_[
        np.zeros(n_es, np.int64),
        np.ones(n_muni, np.int64),
        np.full(len(CENTRAL_PURCHASING_BODIES), 3),
        np.full(n_sup, 2),
    ]
    cpb_muni = [muni_codes.index(cpb[3]) for cpb in CENTRAL_PURCHASING_BODIES]
    org_muni = np.r_[np.asarray(es["municipality"]), np.arange(n_muni), cpb_muni, s_muni]
    org_country = np.r_[
        [COUNTRIES.index(str(c)) for c in es["country"]],
        ref.municipality_country,
        [COUNTRIES.index(cpb[2]) for cpb in CENTRAL_PURCHASING_BODIES],
        s_country,
    ]
    org_names = [
        *es["name"],
        *buyer_names,
        *[cpb[1] for cpb in CENTRAL_PURCHASING_BODIES],
        *supplier_names,
    ]

    columns: dict[str, dict[str, pa.Array]] = {
        "organisations": {
            "organisation_id": pa.array(org_ids, pa.string()),
            "kind": categorical(
                org_kind, ("employment_service", "buyer", "supplier", "central_purchasing_body")
            ),
            "name": pa.array(org_names, pa.string()),
            "country": categorical(org_country, COUNTRIES),
            "municipality": categorical(org_muni, ref.municipality_codes),
        },
        "suppliers": {
            "supplier_id": supplier_ids,
            "organisation_id": pa.array(supplier_org_ids, pa.string()),
            "name": pa.array(supplier_names, pa.string()),
            "country": categorical(s_country, COUNTRIES),
            "municipality": categorical(s_muni, ref.municipality_codes),
            "business_id": pa.array(business_ids(rng, s_country), pa.string()),
        },
        "contracts": {
            "contract_id": contract_ids,
            "buyer_id": pa.array(buyer_ids, pa.string()),
            "buyer_kind": categorical(central.astype(np.int64), BUYER_KINDS),
            "buyer_municipality": categorical(
                np.where(central, -1, buyer_muni), ref.municipality_codes
            ),
            "supplier_id": take(supplier_ids, supplier),
            "cpv_code": categorical(cpv, cpv_codes),
            "title": pa.array(titles, pa.string()),
            "starts_on": dates(starts),
            "ends_on": dates(ends),
            "value_eur": pa.array(value),
        },
        "employment_conditions": {
            "condition_id": condition_ids,
            "contract_id": contract_ids,
            "target_groups": string_list(
                target_owner[targets], target_codes[targets], TARGET_GROUPS, n_contracts
            ),
            "hires_required": pa.array(hires_required.astype(np.int32)),
            "deadline": dates(deadline),
            "allowed_job_forms": string_list(
                form_owner[allowed], form_codes[allowed], JOB_FORMS, n_contracts
            ),
            "performance_based": pa.array(performance),
        },
        "performance_terms": performance_terms(
            stream(config.seed, "performance terms"),
            condition_ids,
            performance,
            targets,
            allowed,
            hires_required,
        ),
        "vacancies": {
            "vacancy_id": vacancy_ids,
            "supplier_id": take(supplier_ids, supplier[contract]),
            "contract_id": take(contract_ids, contract),
            "condition_id": take(condition_ids, contract),
            "occupation_uri": categorical(v_occ, ref.occupation_uris),
            "title": vacancy_titles,
            "municipality": categorical(v_muni, ref.municipality_codes),
            "job_form": categorical(job_form, JOB_FORMS),
            "opens_on": dates(opens),
            "closes_on": dates(closes),
            "remote_share": pa.array(remote),
            "hours_per_week": pa.array(hours),
            "shift_work": pa.array(shift),
            "night_work": pa.array(night),
            "physical_demand": categorical(physical, PHYSICAL),
            "languages": language_list(
                owner2[present],
                slots_lang[present],
                slots_level[present],
                LANGUAGE_VOCABULARY,
                CEFR,
                n,
            ),
            "driving_licence_required": pa.array(licence),
            "openings": pa.array(openings.astype(np.int32)),
        },
        "vacancy_skills": {
            "vacancy_id": take(vacancy_ids, vs_owner),
            "skill_uri": categorical(vs_skill, ref.skill_uris),
            "required": pa.array(vs_required),
            "min_level": pa.array(vs_level.astype(np.int8)),
        },
    }
    return Procurement(
        n=n,
        vacancy_ids=vacancy_ids,
        municipality=v_muni,
        area=ref.municipality_area[v_muni],
        region=ref.municipality_region[v_muni],
        country=v_country,
        occupation=v_occ,
        isco=v_isco,
        opens_day=opens,
        closes_day=closes,
        openings=openings.astype(np.int64),
        remote_share=remote,
        target_mask=targets[contract],
        required_offsets=group_offsets(vs_owner[vs_required], n),
        required_skill=vs_skill[vs_required],
        required_min_level=vs_level[vs_required],
        columns=columns,
    )
