"""People, not codes: names of municipalities, areas and regions, ESCO, ISCO and CPV labels.

Built once per worker from the serving vocabularies and ``data/geo`` (which has the Finnish,
Swedish and English names that the matching engine does not keep). Every lookup is a dict
lookup; an unknown code is shown as itself.

ESCO and ISCO labels are English only (no translation is shipped); a page in Finnish or
Swedish that shows one says so once (``templating``'s ``esco_language_notice``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.matching_data import Vocabularies
from features.reference_data import (
    FI_MUNICIPALITIES,
    SE_MUNICIPALITIES,
    read_csv_str,
    require_file,
)

__all__ = ["Labels"]

#: A name in each language of the pages.
Names = dict[str, str]


def _names(fi: str, sv: str, en: str) -> Names:
    return {"fi": fi or sv or en, "sv": sv or fi or en, "en": en or fi or sv}


def _rows(frame: pd.DataFrame) -> list[dict[str, str]]:
    """A text-only CSV's rows as dicts of strings."""
    return [{str(k): str(v) for k, v in row.items()} for row in frame.to_dict("records")]


@dataclass(frozen=True)
class Labels:
    municipalities: dict[str, Names]
    regions: dict[str, Names]
    employment_areas: dict[str, Names]
    skills: dict[str, str]
    occupations: dict[str, str]
    isco: dict[str, str]
    #: CPV code (with or without check digit) -> {"en": ..., "sv": ...}
    cpv: dict[str, Names]

    @classmethod
    def build(cls, vocab: Vocabularies, data_dir: Path) -> Labels:
        municipalities: dict[str, Names] = {}
        regions: dict[str, Names] = {}
        areas: dict[str, Names] = {}
        fi = read_csv_str(require_file(data_dir, FI_MUNICIPALITIES))
        for row in _rows(fi):
            municipalities[row["municipality_code"]] = _names(
                row["name_fi"], row["name_sv"], row["name_en"]
            )
            regions["FI-" + row["region_code"]] = _names(
                row["region_name_fi"], row["region_name_sv"], row["region_name_en"]
            )
            areas["FI-EA-" + row["employment_area_code"]] = _names(
                row["employment_area_name_fi"],
                row["employment_area_name_sv"],
                row["employment_area_name_fi"],
            )
        se = read_csv_str(require_file(data_dir, SE_MUNICIPALITIES))
        for row in _rows(se):
            name = row["name"]
            municipalities[row["municipality_code"]] = _names(name, name, name)
            county = row["county_name"]
            regions["SE-" + row["county_code"]] = _names(county, county, county)
            area = row["fa_name"]
            areas["SE-FA-" + row["fa_code"]] = _names(area, area, area)
        taxonomy = vocab.taxonomy
        skills = dict(zip(taxonomy.skills["uri"], taxonomy.skills["label"], strict=True))
        occupations = dict(
            zip(taxonomy.occupations["uri"], taxonomy.occupations["label"], strict=True)
        )
        isco = dict(
            zip(
                taxonomy.isco_groups["code"].astype(str),
                taxonomy.isco_groups["label_en"],
                strict=True,
            )
        )
        cpv: dict[str, Names] = {}
        for code, code8, label_en, label_sv in zip(
            taxonomy.cpv["cpv_code"],
            taxonomy.cpv["code8"],
            taxonomy.cpv["label_en"],
            taxonomy.cpv["label_sv"],
            strict=True,
        ):
            names = {"fi": label_en, "sv": label_sv or label_en, "en": label_en}
            cpv[code] = names
            cpv[code8] = names
        return cls(municipalities, regions, areas, skills, occupations, isco, cpv)

    def municipality(self, code: object, locale: str) -> str:
        names = self.municipalities.get(str(code))
        return names[locale] if names else str(code)

    def region(self, code: object, locale: str) -> str:
        names = self.regions.get(str(code))
        return names[locale] if names else str(code)

    def employment_area(self, code: object, locale: str) -> str:
        names = self.employment_areas.get(str(code))
        return names[locale] if names else str(code)

    def skill(self, uri: object) -> str:
        return self.skills.get(str(uri), str(uri))

    def occupation(self, uri: object) -> str:
        return self.occupations.get(str(uri), str(uri))

    def isco_group(self, code: object) -> str:
        return self.isco.get(str(code), str(code))

    def cpv_label(self, code: object, locale: str) -> str:
        names = self.cpv.get(str(code).strip())
        return names[locale] if names else str(code)
