"""Which occupations a procurement's work needs: CPV division -> ISCO unit groups -> ESCO.

**Learned mix.** For each CPV division (the first two digits of a contract's CPV code), the
vacancies suppliers opened under past contracts of that division (``vacancies.contract_id``
-> ``contracts.cpv_code``, both known before the day, :mod:`targeting.history`) are grouped
by the ISCO-08 unit group of their ESCO occupation and weighted by their openings. The
``top`` unit groups with the most openings form the mix, their shares renormalised to sum
to 1. Each unit group is represented by the ESCO occupation with the most openings among
that division's vacancies of the group (what suppliers actually advertise).

**Fallback.** A division with fewer than ``min_vacancies`` such vacancies uses the documented
table ``targeting/data/cpv_division_occupations.csv`` (``cpv_division, isco_code, share,
esco_occupation, rationale``; sources in ``targeting/data/README.md``): its ``top`` largest
rows, renormalised. A fallback unit group is represented by the ESCO occupation with the
most openings among all past vacancies of the group, else by the table's
``esco_occupation`` (an ESCO preferred label of that unit group, checked when the table is
loaded). Divisions in neither (goods such as fuel, chemicals or IT equipment, which are
made elsewhere) have no mix: the advisor then recommends no condition and says why.

**Several CPV codes.** A line's mix is the weighted mean of its codes' division mixes, the
main (first) code weighing twice as much as each other code; codes of one division count
once. The ``top`` largest unit groups are kept and renormalised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.taxonomy import Taxonomy
from targeting.history import History
from targeting.types import OccupationShare

__all__ = [
    "FALLBACK_TABLE",
    "FallbackRow",
    "OccupationMix",
    "learn_occupation_mix",
    "load_fallback_table",
]

#: The shipped fallback table (a package data file).
FALLBACK_TABLE = Path(__file__).with_name("data") / "cpv_division_occupations.csv"
#: Weight of a line's main CPV code against each further code in a combined mix.
MAIN_CODE_WEIGHT = 2.0
_SHARE_TOLERANCE = 1e-6
_UNKNOWN_ISCO = "0000"


@dataclass(frozen=True)
class FallbackRow:
    """One row of the fallback table, its label resolved to an ESCO occupation."""

    cpv_division: str
    isco_code: str
    share: float
    occupation_uri: str
    rationale: str


def load_fallback_table(taxonomy: Taxonomy, path: Path | None = None) -> list[FallbackRow]:
    """Read and check the fallback table.

    Raises ``ValueError`` naming the file, line and field when a division's shares do not
    sum to 1, an ISCO code is not a 4-digit unit group, or an occupation label is not an
    ESCO occupation of that unit group.
    """
    source = FALLBACK_TABLE if path is None else Path(path)
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    columns = ["cpv_division", "isco_code", "share", "esco_occupation", "rationale"]
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise ValueError(f"{source}:1: {missing[0]}: column is missing")
    occupations = taxonomy.occupations
    by_label = dict(
        zip(
            occupations["label"].astype(str),
            zip(occupations["uri"].astype(str), occupations["isco_code"].astype(str), strict=True),
            strict=True,
        )
    )
    rows: list[FallbackRow] = []
    for index, record in enumerate(raw.to_dict("records")):
        line = index + 2
        division, isco, label = (
            record["cpv_division"],
            record["isco_code"],
            record["esco_occupation"],
        )
        if not (len(division) == 2 and division.isdigit()):
            raise ValueError(f"{source}:{line}: cpv_division: {division!r} is not two digits")
        if not (len(isco) == 4 and isco.isdigit()):
            raise ValueError(f"{source}:{line}: isco_code: {isco!r} is not an ISCO unit group")
        try:
            share = float(record["share"])
        except ValueError:
            raise ValueError(f"{source}:{line}: share: {record['share']!r} is no number") from None
        if not 0 < share <= 1:
            raise ValueError(f"{source}:{line}: share: {share} is not in (0, 1]")
        found = by_label.get(label)
        if found is None or found[1] != isco:
            raise ValueError(
                f"{source}:{line}: esco_occupation: {label!r} is not an ESCO occupation of "
                f"ISCO unit group {isco}"
            )
        rows.append(FallbackRow(division, isco, share, found[0], record["rationale"]))
    totals: dict[str, float] = {}
    for row in rows:
        totals[row.cpv_division] = totals.get(row.cpv_division, 0.0) + row.share
    for division, total in totals.items():
        if abs(total - 1.0) > _SHARE_TOLERANCE:
            raise ValueError(f"{source}: share: division {division} sums to {total}, not 1")
    return rows


@dataclass(frozen=True, eq=False)
class OccupationMix:
    """Occupation mixes per CPV division, learned or from the fallback table.

    Attributes:
        divisions: division -> its mix (shares sum to 1), largest share first.
        vacancies: division -> past vacancies under contracts of the division (the evidence
            behind a learned mix; fewer than ``min_vacancies`` means the fallback was used).
        top: the most unit groups a mix keeps.
    """

    divisions: Mapping[str, tuple[OccupationShare, ...]]
    vacancies: Mapping[str, int]
    top: int
    _labels: Mapping[str, str] = field(default_factory=dict, repr=False)

    def for_division(self, division: str) -> tuple[OccupationShare, ...]:
        """The mix of one division; empty when the division has none."""
        return self.divisions.get(division, ())

    def for_cpv(self, cpv_codes: Sequence[str]) -> tuple[OccupationShare, ...]:
        """The mix of a line's CPV codes (see the module docstring); empty when none has one."""
        divisions: list[str] = []
        for code in cpv_codes:
            division = str(code)[:2]
            if division not in divisions:
                divisions.append(division)
        if len(divisions) == 1:
            return self.for_division(divisions[0])
        weights: dict[tuple[str, str], float] = {}
        sources: dict[tuple[str, str], str] = {}
        total = 0.0
        for position, division in enumerate(divisions):
            mix = self.for_division(division)
            if not mix:
                continue
            weight = MAIN_CODE_WEIGHT if position == 0 else 1.0
            total += weight
            for share in mix:
                key = (share.isco_code, share.occupation_uri)
                weights[key] = weights.get(key, 0.0) + weight * share.share
                sources.setdefault(key, share.source)
        if not weights:
            return ()
        ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0]))[: self.top]
        kept = sum(value for _, value in ranked)
        return tuple(
            OccupationShare(
                occupation_uri=uri, isco_code=isco, share=value / kept, source=sources[(isco, uri)]
            )
            for (isco, uri), value in ranked
        )

    def label(self, occupation_uri: str) -> str:
        """The ESCO preferred label of an occupation of the mixes (its URI when unknown)."""
        return self._labels.get(occupation_uri, occupation_uri)


def _normalised(
    rows: list[tuple[str, str, float]], source: str, top: int
) -> tuple[OccupationShare, ...]:
    ranked = sorted(rows, key=lambda row: (-row[2], row[0]))[:top]
    total = sum(row[2] for row in ranked)
    return tuple(
        OccupationShare(occupation_uri=uri, isco_code=isco, share=weight / total, source=source)
        for isco, uri, weight in ranked
    )


def learn_occupation_mix(
    history: History,
    taxonomy: Taxonomy,
    min_vacancies: int = 10,
    top: int = 5,
    *,
    fallback: Sequence[FallbackRow] | None = None,
) -> OccupationMix:
    """Learn each CPV division's occupation mix from ``history`` (see the module docstring).

    ``fallback`` replaces the shipped table (tests); it is loaded and checked otherwise.
    """
    if min_vacancies < 1 or top < 1:
        raise ValueError("min_vacancies and top must be at least 1")
    table = load_fallback_table(taxonomy) if fallback is None else list(fallback)
    isco_of = taxonomy.occupations.set_index("uri")["isco_code"].astype(str)
    vacancies = history.vacancies
    frame = pd.DataFrame(
        {
            "division": vacancies["cpv_division"].astype("string"),
            "occupation_uri": vacancies["occupation_uri"].astype(str),
            "openings": vacancies["openings"].astype(np.float64).clip(lower=1.0),
        }
    )
    frame["isco_code"] = frame["occupation_uri"].map(isco_of).fillna(_UNKNOWN_ISCO).astype(str)
    # Vacancies of occupations outside the taxonomy cannot be matched on: left out.
    frame = frame[frame["isco_code"] != _UNKNOWN_ISCO]
    # The most-opened occupation of each unit group, over every past vacancy: represents
    # fallback rows when suppliers have advertised that group before.
    by_occupation = frame.groupby(["isco_code", "occupation_uri"], sort=True)["openings"].sum()
    overall = _most_opened(by_occupation)

    under_contract = frame[frame["division"].notna()]
    counts = under_contract.groupby("division").size()
    divisions: dict[str, tuple[OccupationShare, ...]] = {}
    learned = counts[counts >= min_vacancies].index
    cells = (
        under_contract[under_contract["division"].isin(learned)]
        .groupby(["division", "isco_code", "occupation_uri"], sort=True)["openings"]
        .sum()
    )
    for division in learned:
        per_occupation = cells.loc[division]
        representative = _most_opened(per_occupation)
        per_group = per_occupation.groupby(level="isco_code").sum()
        rows = [(isco, representative[isco], float(w)) for isco, w in per_group.items()]
        divisions[str(division)] = _normalised(rows, "history", top)
    fallback_rows: dict[str, list[tuple[str, str, float]]] = {}
    for row in table:
        if row.cpv_division in divisions:
            continue
        uri = overall.get(row.isco_code, row.occupation_uri)
        fallback_rows.setdefault(row.cpv_division, []).append((row.isco_code, uri, row.share))
    for division, rows in fallback_rows.items():
        divisions[division] = _normalised(rows, "fallback", top)
    uris = {share.occupation_uri for mix in divisions.values() for share in mix}
    labels = taxonomy.occupations.set_index("uri")["label"].astype(str)
    return OccupationMix(
        divisions=divisions,
        vacancies={str(k): int(v) for k, v in counts.items()},
        top=top,
        _labels={uri: str(labels.get(uri, uri)) for uri in uris},
    )


def _most_opened(openings: pd.Series) -> dict[str, str]:
    """ISCO code -> the occupation with the most openings (ties: the smallest URI)."""
    frame = openings.reset_index(name="openings").sort_values(
        ["isco_code", "openings", "occupation_uri"], ascending=[True, False, True], kind="stable"
    )
    first = frame.drop_duplicates("isco_code")
    return dict(
        zip(first["isco_code"].astype(str), first["occupation_uri"].astype(str), strict=True)
    )
