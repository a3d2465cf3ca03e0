"""Reference data in the array form the generator needs (derived once per generation)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from features.geography import Geography, load_geography
from features.taxonomy import Taxonomy, load_taxonomy
from training.synthetic._common import IntArray, group_offsets
from training.synthetic.catalog import (
    CPV_OCCUPATIONS,
    ISCO_PROFILES,
    MAJOR_GROUP_WEIGHTS,
    PROCUREMENT_OCCUPATION_BOOST,
)

logger = logging.getLogger(__name__)

FI, SE = 0, 1
COUNTRIES = ("FI", "SE")


@dataclass(frozen=True, eq=False)
class Reference:
    """Taxonomy and geography plus integer-coded arrays derived from them."""

    taxonomy: Taxonomy
    geography: Geography
    skill_uris: pa.Array
    occupation_uris: pa.Array
    occupation_labels: list[str]
    occupation_isco: IntArray  # 4-digit unit group as int
    occupation_is_general: npt.NDArray[np.bool_]  # ESCO code with one dot, e.g. '9112.1'
    essential_offsets: IntArray  # per occupation into essential_skills
    essential_skills: IntArray
    optional_offsets: IntArray
    optional_skills: IntArray
    municipality_codes: pa.Array
    municipality_names: list[str]
    municipality_country: IntArray  # FI=0, SE=1
    municipality_area: IntArray  # index into area_codes
    municipality_region: IntArray
    population: npt.NDArray[np.float64]
    area_codes: list[str]
    area_names: list[str]
    area_country: IntArray
    #: CPV entries checked against the taxonomy: for each, the ISCO ints that have occupations.
    cpv_isco: tuple[tuple[int, ...], ...]

    @property
    def n_skills(self) -> int:
        return len(self.skill_uris)

    @property
    def n_occupations(self) -> int:
        return len(self.occupation_uris)

    @property
    def n_municipalities(self) -> int:
        return len(self.municipality_codes)

    def occupation_weights(self) -> npt.NDArray[np.float64]:
        """Weights for drawing the occupations jobseekers have worked in.

        Major groups weigh as :data:`MAJOR_GROUP_WEIGHTS`; unit groups that procurement
        employment conditions create jobs in weigh :data:`PROCUREMENT_OCCUPATION_BOOST` times
        more; a unit group's weight is shared by its occupations (divided by the square root of
        their number) and general occupations (ESCO code with one dot) weigh double, so niche
        specialisations are rarer.
        """
        major = self.occupation_isco // 1000
        weights = np.array([MAJOR_GROUP_WEIGHTS[str(m)] for m in range(10)])[major]
        procurement = np.isin(self.occupation_isco, [int(code) for code in ISCO_PROFILES])
        weights = weights * np.where(procurement, PROCUREMENT_OCCUPATION_BOOST, 1.0)
        _, inverse, counts = np.unique(
            self.occupation_isco, return_inverse=True, return_counts=True
        )
        weights = weights / np.sqrt(counts[inverse])
        weights = weights * np.where(self.occupation_is_general, 2.0, 1.0)
        has_skills = np.diff(self.essential_offsets) > 0
        result: npt.NDArray[np.float64] = weights * has_skills
        return result


def load_reference() -> Reference:
    """Load taxonomy and geography and derive the generator's arrays."""
    taxonomy = load_taxonomy()
    geography = load_geography()
    return build_reference(taxonomy, geography)


def build_reference(taxonomy: Taxonomy, geography: Geography) -> Reference:
    """Derive the generator's arrays and check the curated CPV mapping against the data."""
    occupations = taxonomy.occupations
    n_occ = len(occupations)
    links = taxonomy.occupation_skills
    occ_idx = links["occupation_idx"].to_numpy(np.int64)
    skill_idx = links["skill_idx"].to_numpy(np.int64)
    essential = links["essential"].to_numpy(bool)
    # occupation_skills is sorted by occupation then skill; keep that order per kind.
    order = np.lexsort((skill_idx, occ_idx))
    occ_idx, skill_idx, essential = occ_idx[order], skill_idx[order], essential[order]

    isco = np.asarray(occupations["isco_code"].astype(int).to_numpy(), dtype=np.int64)
    is_general = occupations["esco_code"].str.count(r"\.").to_numpy() == 1

    municipalities = geography.municipalities
    area_codes, area_idx = np.unique(
        municipalities["labour_area_code"].to_numpy(str), return_inverse=True
    )
    _, region_idx = np.unique(municipalities["region_code"].to_numpy(str), return_inverse=True)
    country = (municipalities["country"].to_numpy(str) == "SE").astype(np.int64)
    first_of_area = np.unique(area_idx, return_index=True)[1]
    area_names = municipalities["labour_area_name"].to_numpy(str)[first_of_area]

    ess_offsets = group_offsets(occ_idx[essential], n_occ)
    opt_offsets = group_offsets(occ_idx[~essential], n_occ)
    has_skills = np.diff(ess_offsets) > 0

    cpv_isco: list[tuple[int, ...]] = []
    for entry in CPV_OCCUPATIONS:
        if not taxonomy.has_cpv(entry.cpv_code):
            raise ValueError(f"CPV_OCCUPATIONS: {entry.cpv_code} is not a CPV code in the data")
        usable = []
        for code in entry.isco_codes:
            if code not in ISCO_PROFILES:
                raise ValueError(f"CPV_OCCUPATIONS: ISCO {code} has no ISCO_PROFILES entry")
            if np.any((isco == int(code)) & has_skills):
                usable.append(int(code))
            else:
                logger.warning("ISCO %s has no ESCO occupation with skills; skipped", code)
        if not usable:
            raise ValueError(f"CPV_OCCUPATIONS: no ISCO group of {entry.cpv_code} has occupations")
        cpv_isco.append(tuple(usable))

    return Reference(
        taxonomy=taxonomy,
        geography=geography,
        skill_uris=pa.array(taxonomy.skills["uri"].to_numpy(str).tolist(), pa.string()),
        occupation_uris=pa.array(occupations["uri"].to_numpy(str).tolist(), pa.string()),
        occupation_labels=occupations["label"].to_numpy(str).tolist(),
        occupation_isco=isco,
        occupation_is_general=is_general,
        essential_offsets=ess_offsets,
        essential_skills=skill_idx[essential],
        optional_offsets=opt_offsets,
        optional_skills=skill_idx[~essential],
        municipality_codes=pa.array(municipalities["code"].to_numpy(str).tolist(), pa.string()),
        municipality_names=municipalities["name"].to_numpy(str).tolist(),
        municipality_country=country,
        municipality_area=area_idx.astype(np.int64),
        municipality_region=region_idx.astype(np.int64),
        population=municipalities["population"].to_numpy(np.float64),
        area_codes=area_codes.tolist(),
        area_names=area_names.tolist(),
        area_country=country[first_of_area],
        cpv_isco=tuple(cpv_isco),
    )
