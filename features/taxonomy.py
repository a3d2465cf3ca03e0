"""ESCO skills and occupations, ISCO-08 groups and CPV codes as one in-memory taxonomy.

:func:`load_taxonomy` reads the official ESCO v1.1.1 CSV zips in place, plus the ISCO-08
and CPV tables from ``data/codes``, and returns a :class:`Taxonomy` whose DataFrames use
integer positions as identifiers: row ``i`` of ``skills`` is skill index ``i`` and row
``j`` of ``occupations`` is occupation index ``j``. The result is cached on disk keyed
by the source files' content (see :mod:`features.reference_data`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.reference_data import (
    CPV_CODES,
    ESCO_BROADER_SKILL_RELATIONS,
    ESCO_CLASSIFICATION_ZIP,
    ESCO_OCCUPATION_SKILL_RELATIONS,
    ESCO_OCCUPATIONS,
    ESCO_RELATIONS_ZIP,
    ESCO_SKILL_GROUPS,
    ESCO_SKILL_SKILL_RELATIONS,
    ESCO_SKILLS,
    ISCO_GROUPS,
    cached,
    default_data_dir,
    open_zip_member,
    read_csv_str,
    require_file,
)

__all__ = ["Taxonomy", "load_taxonomy", "normalize_cpv"]

logger = logging.getLogger(__name__)

_RELATION_TYPES = frozenset({"essential", "optional"})
_ISCO_UNIT_CODE = re.compile(r"^\d{4}$")
_CPV_CODE = re.compile(r"^(\d{8})(?:-(\d))?$")


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """ESCO skills and occupations with their relations, ISCO-08 groups and CPV codes.

    Treat every DataFrame as read-only: they are shared with the on-disk cache.

    Attributes:
        skills: ``uri, label, skill_type, reuse_level, description``; row ``i`` is skill
            index ``i``. ``skill_type`` and ``reuse_level`` are ``""`` where ESCO has none.
        occupations: ``uri, label, isco_code`` (4-character ISCO-08 unit group, leading
            zeros kept), ``esco_code`` (e.g. ``'2654.1.7'``), ``alt_labels`` (tuple of str).
        occupation_skills: ``occupation_idx`` (int32), ``skill_idx`` (int32),
            ``essential`` (bool), sorted by occupation then skill.
        skill_relations: ``skill_idx``, ``related_idx`` (int32), ``relation_type``
            (``'essential'`` or ``'optional'``), from ESCO's skill-skill relations.
        skill_groups: ``uri, label, code`` of ESCO skill groups (``code`` is ``""`` for the
            ISCED-F fields of education, whose code is the end of the URI).
        skill_ancestors: ``skill_idx`` (int32), ``ancestor_uri``, ``depth`` (int16, 1 for
            a direct broader concept): every broader skill and skill group of each skill up
            to the top of the skills pillar, nearest first.
        isco_groups: ``code`` (str), ``level`` (int 1-4), ``label_en`` of ISCO-08 groups.
        cpv: ``cpv_code`` (``'90910000-9'``), ``code8``, ``level`` (``'division'`` ...
            ``'subcategory'``), ``division``, ``label_en``, ``label_sv``.
        skipped_relations: how many source relations were dropped and why.
    """

    skills: pd.DataFrame
    occupations: pd.DataFrame
    occupation_skills: pd.DataFrame
    skill_relations: pd.DataFrame
    skill_groups: pd.DataFrame
    skill_ancestors: pd.DataFrame
    isco_groups: pd.DataFrame
    cpv: pd.DataFrame
    skipped_relations: Mapping[str, int]
    _skill_pos: dict[str, int] = field(repr=False)
    _occupation_pos: dict[str, int] = field(repr=False)
    _occupation_offsets: npt.NDArray[np.int64] = field(repr=False)
    _ancestor_offsets: npt.NDArray[np.int64] = field(repr=False)
    _cpv_codes: frozenset[str] = field(repr=False)
    _cpv_code8: frozenset[str] = field(repr=False)

    @property
    def skill_positions(self) -> Mapping[str, int]:
        """Skill URI → position in :attr:`skills` (e.g. for ``Series.map``); do not mutate."""
        return self._skill_pos

    @property
    def occupation_positions(self) -> Mapping[str, int]:
        """Occupation URI → position in :attr:`occupations`; do not mutate."""
        return self._occupation_pos

    def skill_index(self, uri: str) -> int:
        """Return the position of skill ``uri`` in :attr:`skills`."""
        try:
            return self._skill_pos[uri]
        except KeyError:
            raise KeyError(f"unknown ESCO skill URI {uri!r}") from None

    def occupation_index(self, uri: str) -> int:
        """Return the position of occupation ``uri`` in :attr:`occupations`."""
        try:
            return self._occupation_pos[uri]
        except KeyError:
            raise KeyError(f"unknown ESCO occupation URI {uri!r}") from None

    def has_skill(self, uri: str) -> bool:
        """Return whether ``uri`` is an ESCO skill of this taxonomy."""
        return uri in self._skill_pos

    def has_occupation(self, uri: str) -> bool:
        """Return whether ``uri`` is an ESCO occupation of this taxonomy."""
        return uri in self._occupation_pos

    def essential_skills(self, occupation_uri: str) -> list[str]:
        """Return the URIs of the skills essential for an occupation, in skill-index order."""
        return self._occupation_skill_uris(occupation_uri, essential=True)

    def optional_skills(self, occupation_uri: str) -> list[str]:
        """Return the URIs of the skills optional for an occupation, in skill-index order."""
        return self._occupation_skill_uris(occupation_uri, essential=False)

    def ancestors(self, skill_uri: str) -> list[str]:
        """Return the broader skills and skill groups of a skill, nearest first.

        Concepts at the same depth keep the order in which ESCO lists them. The deepest
        entries are top concepts of the skills pillar (e.g. "skills", "knowledge").
        """
        position = self.skill_index(skill_uri)
        start, stop = self._ancestor_offsets[position], self._ancestor_offsets[position + 1]
        uris: list[str] = self.skill_ancestors["ancestor_uri"].iloc[start:stop].tolist()
        return uris

    def has_cpv(self, code: str) -> bool:
        """Return whether ``code`` is a CPV 2008 code.

        Accepts the full code with check digit (``'90910000-9'``, which must then be the
        right check digit) or just the eight digits (``'90910000'``).
        """
        match = _CPV_CODE.match(code.strip())
        if match is None:
            return False
        if match.group(2) is None:
            return match.group(1) in self._cpv_code8
        return match.group(0) in self._cpv_codes

    def _occupation_skill_uris(self, occupation_uri: str, *, essential: bool) -> list[str]:
        position = self.occupation_index(occupation_uri)
        start = self._occupation_offsets[position]
        stop = self._occupation_offsets[position + 1]
        rows = self.occupation_skills.iloc[start:stop]
        skill_idx = rows["skill_idx"].to_numpy()[rows["essential"].to_numpy() == essential]
        uris: list[str] = self.skills["uri"].iloc[skill_idx].tolist()
        return uris


def normalize_cpv(code: str) -> str | None:
    """Return the eight CPV digits of ``'90910000-9'`` or ``'90910000'``, else ``None``."""
    match = _CPV_CODE.match(code.strip())
    return None if match is None else match.group(1)


def load_taxonomy(
    data_dir: Path | None = None, cache_dir: Path | None = None, use_cache: bool = True
) -> Taxonomy:
    """Load the ESCO/ISCO/CPV taxonomy from ``data_dir`` (default: the repo's ``data/``).

    With ``use_cache`` the parsed taxonomy is read from, or written to, ``cache_dir``
    (default ``var/cache``) under a key derived from the source files' bytes.
    """
    root = default_data_dir() if data_dir is None else data_dir
    sources = [
        require_file(root, ESCO_CLASSIFICATION_ZIP),
        require_file(root, ESCO_RELATIONS_ZIP),
        require_file(root, ISCO_GROUPS),
        require_file(root, CPV_CODES),
    ]
    if not use_cache:
        return _build_taxonomy(*sources)
    return cached(
        "taxonomy",
        # Hashing this module as well means edited loader code never gets a stale pickle.
        [*sources, Path(__file__)],
        lambda: _build_taxonomy(*sources),
        cache_dir,
        expected_type=Taxonomy,
    )


def _build_taxonomy(
    classification_zip: Path, relations_zip: Path, isco_csv: Path, cpv_csv: Path
) -> Taxonomy:
    """Parse the source files into a :class:`Taxonomy`."""
    with open_zip_member(classification_zip, ESCO_SKILLS) as fh:
        raw_skills = read_csv_str(
            fh, ["conceptUri", "preferredLabel", "skillType", "reuseLevel", "description"]
        )
    with open_zip_member(classification_zip, ESCO_OCCUPATIONS) as fh:
        raw_occupations = read_csv_str(
            fh, ["conceptUri", "preferredLabel", "iscoGroup", "code", "altLabels"]
        )
    with open_zip_member(classification_zip, ESCO_SKILL_GROUPS) as fh:
        raw_groups = read_csv_str(fh, ["conceptUri", "preferredLabel", "code"])
    with open_zip_member(relations_zip, ESCO_OCCUPATION_SKILL_RELATIONS) as fh:
        raw_occ_skills = read_csv_str(fh, ["occupationUri", "relationType", "skillUri"])
    with open_zip_member(relations_zip, ESCO_SKILL_SKILL_RELATIONS) as fh:
        raw_skill_skills = read_csv_str(fh, ["originalSkillUri", "relationType", "relatedSkillUri"])
    with open_zip_member(relations_zip, ESCO_BROADER_SKILL_RELATIONS) as fh:
        raw_broader = read_csv_str(fh, ["conceptUri", "broaderUri"])

    skills = raw_skills.rename(
        columns={
            "conceptUri": "uri",
            "preferredLabel": "label",
            "skillType": "skill_type",
            "reuseLevel": "reuse_level",
        }
    ).reset_index(drop=True)
    _require_unique(skills["uri"], "skill URI")

    occupations = _build_occupations(raw_occupations)
    skill_groups = raw_groups.rename(
        columns={"conceptUri": "uri", "preferredLabel": "label"}
    ).reset_index(drop=True)
    _require_unique(skill_groups["uri"], "skill group URI")

    skill_index = pd.Index(skills["uri"])
    occupation_index = pd.Index(occupations["uri"])
    skipped: dict[str, int] = {}

    occupation_skills = _build_occupation_skills(
        raw_occ_skills, occupation_index, skill_index, skipped
    )
    skill_relations = _build_skill_relations(raw_skill_skills, skill_index, skipped)
    skill_ancestors = _build_skill_ancestors(
        skills["uri"].tolist(),
        raw_broader["conceptUri"].tolist(),
        raw_broader["broaderUri"].tolist(),
    )
    known_concepts = set(skills["uri"]) | set(skill_groups["uri"])
    unlisted = sorted(set(skill_ancestors["ancestor_uri"]) - known_concepts)
    if unlisted:
        logger.warning(
            "%d skill ancestors are neither skills nor listed skill groups: %s",
            len(unlisted),
            unlisted[:5],
        )

    for reason, count in skipped.items():
        if count:
            logger.warning("skipped %d ESCO relations: %s", count, reason)

    cpv = _build_cpv(cpv_csv)
    return Taxonomy(
        skills=skills,
        occupations=occupations,
        occupation_skills=occupation_skills,
        skill_relations=skill_relations,
        skill_groups=skill_groups,
        skill_ancestors=skill_ancestors,
        isco_groups=_build_isco_groups(isco_csv),
        cpv=cpv,
        skipped_relations=skipped,
        _skill_pos={uri: i for i, uri in enumerate(skills["uri"])},
        _occupation_pos={uri: i for i, uri in enumerate(occupations["uri"])},
        _occupation_offsets=_offsets(occupation_skills["occupation_idx"], len(occupations)),
        _ancestor_offsets=_offsets(skill_ancestors["skill_idx"], len(skills)),
        _cpv_codes=frozenset(cpv["cpv_code"]),
        _cpv_code8=frozenset(cpv["code8"]),
    )


def _build_occupations(raw: pd.DataFrame) -> pd.DataFrame:
    isco = raw["iscoGroup"].str.strip()
    bad = ~isco.str.match(_ISCO_UNIT_CODE.pattern)
    if bad.any():
        examples = raw.loc[bad, ["conceptUri", "iscoGroup"]].head(3).to_dict("records")
        raise ValueError(f"{int(bad.sum())} occupations lack a 4-digit ISCO code: {examples}")
    occupations = pd.DataFrame(
        {
            "uri": raw["conceptUri"],
            "label": raw["preferredLabel"],
            "isco_code": isco,
            "esco_code": raw["code"],
            # ESCO separates alternative labels with newlines.
            "alt_labels": [_split_labels(text) for text in raw["altLabels"]],
        }
    ).reset_index(drop=True)
    _require_unique(occupations["uri"], "occupation URI")
    return occupations


def _split_labels(text: str) -> tuple[str, ...]:
    return tuple(label for part in text.split("\n") if (label := part.strip()))


def _relation_flags(relation_type: pd.Series, what: str) -> npt.NDArray[np.bool_]:
    """Return ``relation_type == 'essential'`` after checking for unknown relation types."""
    unknown = sorted(set(relation_type) - _RELATION_TYPES)
    if unknown:
        raise ValueError(f"unexpected relationType in {what}: {unknown}")
    flags: npt.NDArray[np.bool_] = (relation_type == "essential").to_numpy(dtype=bool)
    return flags


def _build_occupation_skills(
    raw: pd.DataFrame,
    occupation_index: pd.Index,
    skill_index: pd.Index,
    skipped: dict[str, int],
) -> pd.DataFrame:
    occ_idx = occupation_index.get_indexer(pd.Index(raw["occupationUri"]))
    skill_idx = skill_index.get_indexer(pd.Index(raw["skillUri"]))
    essential = _relation_flags(raw["relationType"], ESCO_OCCUPATION_SKILL_RELATIONS)
    skipped["occupation-skill relation with unknown occupation"] = int((occ_idx < 0).sum())
    skipped["occupation-skill relation with unknown skill"] = int(
        ((skill_idx < 0) & (occ_idx >= 0)).sum()
    )
    keep = (occ_idx >= 0) & (skill_idx >= 0)
    frame = pd.DataFrame(
        {
            "occupation_idx": occ_idx[keep].astype(np.int32),
            "skill_idx": skill_idx[keep].astype(np.int32),
            "essential": essential[keep],
        }
    )
    # A pair listed twice keeps its strongest relation (essential sorts first).
    frame = frame.sort_values(
        ["occupation_idx", "skill_idx", "essential"],
        ascending=[True, True, False],
        kind="stable",
    )
    duplicated = frame.duplicated(["occupation_idx", "skill_idx"])
    skipped["duplicate occupation-skill pair"] = int(duplicated.sum())
    return frame[~duplicated].reset_index(drop=True)


def _build_skill_relations(
    raw: pd.DataFrame, skill_index: pd.Index, skipped: dict[str, int]
) -> pd.DataFrame:
    original = skill_index.get_indexer(pd.Index(raw["originalSkillUri"]))
    related = skill_index.get_indexer(pd.Index(raw["relatedSkillUri"]))
    _relation_flags(raw["relationType"], ESCO_SKILL_SKILL_RELATIONS)
    keep = (original >= 0) & (related >= 0)
    skipped["skill-skill relation with unknown skill"] = int((~keep).sum())
    return pd.DataFrame(
        {
            "skill_idx": original[keep].astype(np.int32),
            "related_idx": related[keep].astype(np.int32),
            "relation_type": raw["relationType"].to_numpy()[keep],
        }
    ).astype({"relation_type": "str"})


def _build_skill_ancestors(
    skill_uris: list[str], children: Iterable[str], parents: Iterable[str]
) -> pd.DataFrame:
    """Breadth-first walk up the skills pillar from every skill.

    A skill can have several broader concepts (up to nine in ESCO 1.1.1), so each ancestor
    is listed once, at its shortest distance.
    """
    broader: dict[str, list[str]] = {}
    for child, parent in zip(children, parents, strict=True):
        broader.setdefault(child, []).append(parent)

    skill_col: list[int] = []
    uri_col: list[str] = []
    depth_col: list[int] = []
    for position, uri in enumerate(skill_uris):
        seen = {uri}
        frontier = [uri]
        depth = 0
        while frontier:
            depth += 1
            next_frontier: list[str] = []
            for node in frontier:
                for parent in broader.get(node, ()):
                    if parent not in seen:
                        seen.add(parent)
                        next_frontier.append(parent)
                        skill_col.append(position)
                        uri_col.append(parent)
                        depth_col.append(depth)
            frontier = next_frontier
    return pd.DataFrame(
        {
            "skill_idx": np.asarray(skill_col, dtype=np.int32),
            "ancestor_uri": pd.Series(uri_col, dtype="str"),
            "depth": np.asarray(depth_col, dtype=np.int16),
        }
    )


def _build_isco_groups(path: Path) -> pd.DataFrame:
    raw = read_csv_str(path, ["code", "level", "label_en"])
    groups = raw.assign(level=raw["level"].astype(np.int64))
    lengths = groups["code"].str.len()
    if not (lengths == groups["level"]).all():
        raise ValueError(f"{path}: ISCO-08 code length must equal its level")
    _require_unique(groups["code"], "ISCO-08 code")
    return groups.reset_index(drop=True)


def _build_cpv(path: Path) -> pd.DataFrame:
    cpv = read_csv_str(path, ["cpv_code", "code8", "level", "division", "label_en", "label_sv"])
    bad = ~cpv["cpv_code"].str.match(r"^\d{8}-\d$") | (cpv["cpv_code"].str[:8] != cpv["code8"])
    if bad.any():
        raise ValueError(f"{path}: malformed CPV codes {cpv.loc[bad, 'cpv_code'].head(3).tolist()}")
    _require_unique(cpv["code8"], "CPV code")
    return cpv.reset_index(drop=True)


def _offsets(sorted_positions: pd.Series, n: int) -> npt.NDArray[np.int64]:
    """Return ``o`` with rows ``o[i]:o[i + 1]`` holding position ``i`` in a sorted column."""
    values = sorted_positions.to_numpy()
    offsets: npt.NDArray[np.int64] = np.searchsorted(values, np.arange(n + 1), side="left").astype(
        np.int64
    )
    return offsets


def _require_unique(values: pd.Series, what: str) -> None:
    duplicated = values[values.duplicated()]
    if not duplicated.empty:
        raise ValueError(f"duplicate {what}: {duplicated.head(3).tolist()}")
