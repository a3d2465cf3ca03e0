"""Curated constants of the synthetic world: what procurement buys and who does such jobs.

* :data:`CPV_OCCUPATIONS` maps real CPV 2008 codes (what a contract buys) to the ISCO-08 unit
  groups of the jobs such a contract creates, e.g. cleaning services (90910000-9) employ
  cleaners (9112) and caretakers (5153). Every code was checked against ``data/codes``:
  each CPV code exists in ``cpv_2008.csv`` and each ISCO unit group has ESCO occupations
  (90610000-6 street cleaning maps to 9613 "street sweepers", which exists, so no fallback
  to 9611 is needed). The generator re-checks this against the loaded taxonomy.
* :data:`ISCO_PROFILES` gives each of those unit groups plausible working conditions: how
  often such jobs are shift or night work, their physical demand, whether a driving licence
  is required, how much remote work is possible and how often the job is part time.
* :data:`MAJOR_GROUP_WEIGHTS` says how often jobseekers in a weak labour-market position have
  worked in each ISCO major group (clerical 4, service and sales 5, craft 7, machine
  operators 8 and elementary occupations 9 dominate).
* Language, name and organisation vocabularies.
"""

from __future__ import annotations

from dataclasses import dataclass

from matching.domain import CEFRLevel, PhysicalDemand

__all__ = [
    "CENTRAL_PURCHASING_BODIES",
    "CPV_OCCUPATIONS",
    "FOREIGN_LANGUAGES",
    "ISCO_PROFILES",
    "LANGUAGE_VOCABULARY",
    "MAJOR_GROUP_WEIGHTS",
    "PROCUREMENT_OCCUPATION_BOOST",
    "CpvOccupations",
    "IscoProfile",
]


@dataclass(frozen=True, slots=True)
class CpvOccupations:
    """A CPV code, its weight among contracts with employment conditions, and its jobs."""

    cpv_code: str
    weight: float
    isco_codes: tuple[str, ...]
    sector_fi: str
    sector_sv: str


#: What contracts with employment conditions buy, and the ISCO-08 unit groups they employ.
#: The first ISCO group of each entry is the most common job (weighted double).
CPV_OCCUPATIONS: tuple[CpvOccupations, ...] = (
    CpvOccupations("90910000-9", 0.16, ("9112", "5153"), "Siivouspalvelut", "Städtjänster"),
    CpvOccupations("45000000-7", 0.10, ("9313", "7112", "7115", "7411"), "Rakennus", "Bygg"),
    CpvOccupations("45453000-7", 0.07, ("7115", "7126", "9313"), "Saneeraus", "Renovering"),
    CpvOccupations("50700000-2", 0.07, ("7126", "5153", "7411"), "Kiinteistöhuolto", "Fastighet"),
    CpvOccupations("55520000-1", 0.07, ("5120", "9412", "5131"), "Catering", "Catering"),
    CpvOccupations("55320000-9", 0.06, ("9412", "5120", "5131"), "Ruokapalvelut", "Måltider"),
    CpvOccupations("60100000-9", 0.07, ("8322", "8331"), "Kuljetus", "Transport"),
    CpvOccupations("63100000-0", 0.06, ("9333", "4321", "8344"), "Logistiikka", "Logistik"),
    CpvOccupations("72253000-3", 0.04, ("5244", "3512"), "Tukipalvelut", "Support"),
    CpvOccupations("77310000-6", 0.07, ("9214", "6113"), "Viheralue", "Grönyta"),
    CpvOccupations("85000000-9", 0.08, ("5322", "5321", "5311"), "Hoiva", "Omsorg"),
    CpvOccupations("79710000-4", 0.05, ("5414",), "Vartiointi", "Bevakning"),
    CpvOccupations("90500000-2", 0.04, ("9612", "9611"), "Jätehuolto", "Avfall"),
    CpvOccupations("90610000-6", 0.03, ("9613",), "Katujen puhtaanapito", "Gatuskötsel"),
    CpvOccupations("98310000-9", 0.03, ("8157", "9121"), "Pesula", "Tvätteri"),
)


@dataclass(frozen=True, slots=True)
class IscoProfile:
    """Working conditions typical of an ISCO-08 unit group's vacancies.

    ``physical`` is the probability of light, moderate and heavy physical demand.
    """

    shift: float
    night: float
    physical: tuple[float, float, float]
    licence: float
    remote_max: float = 0.0
    part_time: float = 0.25
    language_boost: int = 0  # extra CEFR steps asked (customer-facing or care work)


#: Working conditions per ISCO-08 unit group of :data:`CPV_OCCUPATIONS`.
ISCO_PROFILES: dict[str, IscoProfile] = {
    "9112": IscoProfile(0.30, 0.10, (0.10, 0.60, 0.30), 0.05, part_time=0.50),  # cleaners
    "5153": IscoProfile(0.10, 0.02, (0.10, 0.60, 0.30), 0.50),  # building caretakers
    "7112": IscoProfile(0.00, 0.00, (0.00, 0.20, 0.80), 0.30, part_time=0.05),  # bricklayers
    "7115": IscoProfile(0.00, 0.00, (0.00, 0.30, 0.70), 0.40, part_time=0.05),  # carpenters
    "9313": IscoProfile(0.00, 0.00, (0.00, 0.10, 0.90), 0.20, part_time=0.10),  # labourers
    "7411": IscoProfile(0.05, 0.02, (0.10, 0.60, 0.30), 0.60, part_time=0.05),  # electricians
    "7126": IscoProfile(0.05, 0.02, (0.05, 0.45, 0.50), 0.60, part_time=0.05),  # plumbers
    "5120": IscoProfile(0.50, 0.05, (0.10, 0.70, 0.20), 0.05),  # cooks
    "9412": IscoProfile(0.50, 0.05, (0.10, 0.60, 0.30), 0.02, part_time=0.40),  # kitchen help
    "5131": IscoProfile(0.60, 0.15, (0.30, 0.60, 0.10), 0.02, part_time=0.45, language_boost=1),
    "8322": IscoProfile(0.30, 0.10, (0.20, 0.50, 0.30), 1.00),  # car and van drivers
    "8331": IscoProfile(0.80, 0.20, (0.60, 0.40, 0.00), 1.00, language_boost=1),  # bus drivers
    "9333": IscoProfile(0.50, 0.25, (0.00, 0.30, 0.70), 0.10),  # freight handlers
    "4321": IscoProfile(0.40, 0.10, (0.20, 0.60, 0.20), 0.10),  # stock clerks
    "8344": IscoProfile(0.50, 0.20, (0.20, 0.60, 0.20), 0.30),  # lifting-truck operators
    "3512": IscoProfile(0.20, 0.05, (1.00, 0.00, 0.00), 0.00, 0.6, 0.10, 1),  # ICT support
    "5244": IscoProfile(0.30, 0.05, (1.00, 0.00, 0.00), 0.00, 0.5, 0.35, 1),  # contact centre
    "6113": IscoProfile(0.00, 0.00, (0.00, 0.40, 0.60), 0.40, part_time=0.15),  # gardeners
    "9214": IscoProfile(0.00, 0.00, (0.00, 0.30, 0.70), 0.20, part_time=0.20),  # garden labour
    "5321": IscoProfile(0.70, 0.30, (0.10, 0.50, 0.40), 0.10, language_boost=1),  # care aides
    "5322": IscoProfile(0.50, 0.10, (0.10, 0.60, 0.30), 0.60, language_boost=1),  # home care
    "5311": IscoProfile(0.10, 0.02, (0.20, 0.70, 0.10), 0.00, language_boost=1),  # child care
    "5414": IscoProfile(0.80, 0.50, (0.40, 0.50, 0.10), 0.40),  # security guards
    "9611": IscoProfile(0.20, 0.05, (0.00, 0.20, 0.80), 0.30, part_time=0.10),  # refuse
    "9612": IscoProfile(0.30, 0.05, (0.00, 0.40, 0.60), 0.05),  # refuse sorters
    "9613": IscoProfile(0.20, 0.20, (0.00, 0.50, 0.50), 0.30),  # sweepers
    "8157": IscoProfile(0.40, 0.05, (0.10, 0.60, 0.30), 0.00),  # laundry machine operators
    "9121": IscoProfile(0.30, 0.00, (0.10, 0.60, 0.30), 0.00, part_time=0.40),  # launderers
}

#: How much more often jobseekers have worked in the unit groups that procurement employment
#: conditions hire for (cleaning, kitchens, care, construction, ...): the enhanced-support
#: caseload and the supplier jobs come from the same corner of the labour market, so about
#: half of the people have such an occupation in their history.
PROCUREMENT_OCCUPATION_BOOST = 6.0

#: Relative frequency of ISCO-08 major groups in the work histories of jobseekers in a weak
#: labour-market position (groups 4, 5, 7, 8 and 9 dominate; managers and professionals rare).
MAJOR_GROUP_WEIGHTS: dict[str, float] = {
    "0": 0.0,
    "1": 0.03,
    "2": 0.08,
    "3": 0.3,
    "4": 1.0,
    "5": 1.5,
    "6": 0.4,
    "7": 1.2,
    "8": 1.0,
    "9": 1.5,
}

#: Native languages of jobseekers with a migrant background and their weights (FI, SE):
#: Arabic, Somali, Russian, Estonian, Persian, Kurdish, Tigrinya, English, Ukrainian, Polish.
FOREIGN_LANGUAGES: tuple[tuple[str, float, float], ...] = (
    ("ar", 0.16, 0.22),
    ("so", 0.10, 0.12),
    ("ru", 0.16, 0.05),
    ("et", 0.14, 0.02),
    ("fa", 0.08, 0.12),
    ("ku", 0.07, 0.08),
    ("ti", 0.04, 0.10),
    ("en", 0.06, 0.06),
    ("uk", 0.12, 0.08),
    ("pl", 0.07, 0.15),
)

#: Every language code the generator writes (order fixes the language columns of pair
#: features; any reader builds its own vocabulary from the data).
LANGUAGE_VOCABULARY: tuple[str, ...] = (
    "fi",
    "sv",
    "en",
    *sorted({code for code, _, _ in FOREIGN_LANGUAGES} - {"en"}),
)

#: CEFR levels a non-native speaker of the local language has (A1 .. B2) and their weights.
LOCAL_LANGUAGE_LEVELS: tuple[tuple[CEFRLevel, float], ...] = (
    (CEFRLevel.A1, 0.15),
    (CEFRLevel.A2, 0.35),
    (CEFRLevel.B1, 0.35),
    (CEFRLevel.B2, 0.15),
)

#: Central purchasing bodies: (organisation_id, name, country, seat municipality).
CENTRAL_PURCHASING_BODIES: tuple[tuple[str, str, str, str], ...] = (
    ("CPB-FI-HANSEL", "Hansel Oy", "FI", "091"),
    ("CPB-SE-ADDA", "Adda Inköpscentral AB", "SE", "0180"),
)

PHYSICAL_LEVELS: tuple[PhysicalDemand, ...] = (
    PhysicalDemand.LIGHT,
    PhysicalDemand.MODERATE,
    PhysicalDemand.HEAVY,
)
