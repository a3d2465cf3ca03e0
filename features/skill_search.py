"""Search ESCO skills and occupations by label as a person types (preferred and alternative labels).

One in-memory index per worker (:func:`skill_search_for`, built at first use: the service's
start-up does not pay for it). Labels are folded (case, accents, punctuation) and laid out in one
long string per kind, sorted by how a hit there ranks: preferred labels before alternative ones,
shorter labels before longer. A query is then a few ``str.find`` scans in C that stop as soon as
``limit`` concepts are found, so a one-letter query costs no more than a long one.

Ranking, best first (each concept appears once, at its best match):

1. the preferred label equals the query, then preferred labels that start with it;
2. an alternative label equals the query;
3. preferred labels in which every query word starts a word;
4. alternative labels that start with the query, then those in which every word starts a word;
5. preferred, then alternative labels that contain every query word anywhere.

Within a tier shorter labels come first. A multi-word query matches labels holding all its
words.
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from features.reference_data import (
    ESCO_CLASSIFICATION_ZIP,
    ESCO_SKILLS,
    cached,
    default_data_dir,
    open_zip_member,
    read_csv_str,
)
from features.taxonomy import Taxonomy

__all__ = [
    "LabelHit",
    "LabelIndex",
    "OccupationSkills",
    "SkillSearch",
    "fold",
    "skill_search_for",
]

#: Separates entries in a scanned text; a space precedes every word of an entry.
_ENTRY = "\x00"
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower case, no accents, words of letters and digits separated by single spaces."""
    if text.isascii():  # nearly every ESCO label: skip the Unicode decomposition
        return _NOT_WORD.sub(" ", text.lower()).strip()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", plain).strip()


class LabelHit(NamedTuple):
    """One concept found: its URI, preferred label and the alternative label that matched."""

    uri: str
    label: str
    matched_alt_label: str | None


class _Block:
    """Folded labels of one kind (preferred or alternative) in one scanned string."""

    def __init__(self, entries: list[tuple[str, int, str]]) -> None:
        # entries: (folded text, concept position, original label), in rank order.
        parts: list[str] = []
        starts: list[int] = []
        position = 0
        for folded, _, _ in entries:
            starts.append(position)
            # "\x00 word word": a word starts after a space, a label after "\x00 ".
            piece = f"{_ENTRY} {folded}"
            parts.append(piece)
            position += len(piece)
        self.text = "".join(parts) + _ENTRY
        self.starts = starts
        self.concepts = [concept for _, concept, _ in entries]
        self.labels = [label for _, _, label in entries]
        self.folded = [folded for folded, _, _ in entries]

    def scan(self, needle: str, accept: Iterable[str], found: dict[int, int], limit: int) -> None:
        """Add the concepts of entries holding ``needle`` (and each of ``accept``) in order.

        ``found`` maps a concept to the entry that first matched it; scanning stops when it
        holds ``limit`` concepts.
        """
        others = tuple(accept)
        text, starts = self.text, self.starts
        at = text.find(needle)
        while at >= 0 and len(found) < limit:
            entry = bisect.bisect_right(starts, at) - 1
            concept = self.concepts[entry]
            if concept not in found:
                body = text[starts[entry] : starts[entry + 1] if entry + 1 < len(starts) else -1]
                if all(word in body for word in others):
                    found[concept] = entry
            # On to the next entry: one hit per entry is enough.
            following = starts[entry + 1] if entry + 1 < len(starts) else len(text)
            at = text.find(needle, following)


class LabelIndex:
    """Preferred and alternative labels of one kind of concept (skills or occupations)."""

    def __init__(
        self,
        uris: Sequence[str],
        labels: Sequence[str],
        alt_labels: Sequence[Sequence[str]],
    ) -> None:
        self.uris = list(uris)
        self.labels = [label.strip() for label in labels]
        preferred = [(fold(label), i, label) for i, label in enumerate(self.labels)]
        alternative = [
            (fold(alt), i, alt.strip())
            for i, alts in enumerate(alt_labels)
            for alt in alts
            if alt.strip() and alt.strip() != self.labels[i]
        ]
        preferred.sort(key=lambda e: (len(e[0]), e[0]))
        alternative.sort(key=lambda e: (len(e[0]), e[0]))
        self._preferred = _Block([e for e in preferred if e[0]])
        self._alternative = _Block([e for e in alternative if e[0]])
        self._exact: dict[str, int] = {}
        for folded, concept, _ in preferred:
            self._exact.setdefault(folded, concept)
        # Alternative labels equal to a query: (concept, entry in the alternative block).
        self._exact_alt: dict[str, tuple[int, int]] = {}
        for entry, folded in enumerate(self._alternative.folded):
            self._exact_alt.setdefault(folded, (self._alternative.concepts[entry], entry))

    def __len__(self) -> int:
        return len(self.uris)

    def search(self, query: str, limit: int = 10) -> list[LabelHit]:
        """The best ``limit`` concepts for ``query`` (see the module's ranking)."""
        words = fold(query).split()
        if not words or limit <= 0:
            return []
        phrase = " ".join(words)
        hits: list[LabelHit] = []
        seen: set[int] = set()

        def take(block: _Block, found: dict[int, int], alt: bool) -> None:
            for concept, entry in found.items():
                if concept in seen or len(hits) >= limit:
                    continue
                seen.add(concept)
                matched = block.labels[entry] if alt else None
                hits.append(LabelHit(self.uris[concept], self.labels[concept], matched))

        # The longest word is the rarest in practice: scan for it, check the others. A block
        # without it anywhere has no match in any tier (one scan instead of three).
        longest = max(words, key=len)
        present = {
            id(self._preferred): longest in self._preferred.text,
            id(self._alternative): longest in self._alternative.text,
        }

        def tier(block: _Block, needle: str, others: Iterable[str], alt: bool) -> bool:
            if len(hits) >= limit:
                return True
            if not present[id(block)]:
                return False
            found: dict[int, int] = {c: -1 for c in seen}
            block.scan(needle, others, found, limit)
            take(block, {c: e for c, e in found.items() if e >= 0}, alt)
            return len(hits) >= limit

        exact = self._exact.get(phrase)
        if exact is not None:
            seen.add(exact)
            hits.append(LabelHit(self.uris[exact], self.labels[exact], None))
        word_starts = [f" {w}" for w in words if w != longest]
        substrings = [w for w in words if w != longest]
        if tier(self._preferred, f"{_ENTRY} {phrase}", (), False):
            return hits
        exact_alt = self._exact_alt.get(phrase)
        if exact_alt is not None and exact_alt[0] not in seen:
            seen.add(exact_alt[0])
            matched = self._alternative.labels[exact_alt[1]]
            hits.append(LabelHit(self.uris[exact_alt[0]], self.labels[exact_alt[0]], matched))
        if (
            tier(self._preferred, f" {longest}", word_starts, False)
            or tier(self._alternative, f"{_ENTRY} {phrase}", (), True)
            or tier(self._alternative, f" {longest}", word_starts, True)
            or tier(self._preferred, longest, substrings, False)
            or tier(self._alternative, longest, substrings, True)
        ):
            return hits
        return hits


@dataclass(frozen=True)
class OccupationSkills:
    """The skills ESCO relates to a set of occupations (URIs, each once, essential first)."""

    essential: tuple[str, ...]
    optional: tuple[str, ...]


class SkillSearch:
    """Label search over ESCO skills and occupations, plus the occupations' skills."""

    def __init__(self, taxonomy: Taxonomy, skill_alt_labels: dict[str, tuple[str, ...]]) -> None:
        self.taxonomy = taxonomy
        skills = taxonomy.skills
        occupations = taxonomy.occupations
        skill_uris = skills["uri"].tolist()
        self._skills = LabelIndex(
            skill_uris,
            skills["label"].tolist(),
            [skill_alt_labels.get(uri, ()) for uri in skill_uris],
        )
        self._occupations = LabelIndex(
            occupations["uri"].tolist(),
            occupations["label"].tolist(),
            occupations["alt_labels"].tolist(),
        )

    def skills(self, query: str, limit: int = 10) -> list[LabelHit]:
        """ESCO skills whose preferred or alternative labels match ``query``, best first."""
        return self._skills.search(query, limit)

    def occupations(self, query: str, limit: int = 10) -> list[LabelHit]:
        """ESCO occupations whose preferred or alternative labels match ``query``, best first."""
        return self._occupations.search(query, limit)

    def skills_of_occupations(self, uris: Iterable[str]) -> OccupationSkills:
        """The essential and optional skills of the occupations (unknown URIs are skipped).

        A skill essential for one occupation is listed as essential only, even when optional
        for another; order follows the occupations, then ESCO's skill order.
        """
        essential: dict[str, None] = {}
        optional: dict[str, None] = {}
        for uri in uris:
            if not self.taxonomy.has_occupation(uri):
                continue
            essential.update(dict.fromkeys(self.taxonomy.essential_skills(uri)))
            optional.update(dict.fromkeys(self.taxonomy.optional_skills(uri)))
        return OccupationSkills(
            essential=tuple(essential),
            optional=tuple(uri for uri in optional if uri not in essential),
        )


def load_skill_alt_labels(
    data_dir: Path | None = None, cache_dir: Path | None = None
) -> dict[str, tuple[str, ...]]:
    """ESCO skills' alternative labels by URI, read from the classification zip (cached)."""
    root = default_data_dir() if data_dir is None else data_dir
    source = root / ESCO_CLASSIFICATION_ZIP
    if not source.exists():
        return {}

    def build() -> dict[str, tuple[str, ...]]:
        with open_zip_member(source, ESCO_SKILLS) as fh:
            raw = read_csv_str(fh, ["conceptUri", "altLabels"])
        return {
            uri: tuple(label.strip() for label in text.split("\n") if label.strip())
            for uri, text in zip(raw["conceptUri"], raw["altLabels"], strict=True)
            if text
        }

    value: dict[str, tuple[str, ...]] = cached(
        "skill-alt-labels", [source, Path(__file__)], build, cache_dir, expected_type=dict
    )
    return value


_indexes: weakref.WeakKeyDictionary[Taxonomy, SkillSearch] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def skill_search_for(
    taxonomy: Taxonomy, data_dir: Path | None = None, cache_dir: Path | None = None
) -> SkillSearch:
    """The worker's search index over ``taxonomy``, built at the first call (thread-safe)."""
    index = _indexes.get(taxonomy)
    if index is not None:
        return index
    with _lock:
        index = _indexes.get(taxonomy)
        if index is None:
            index = SkillSearch(taxonomy, load_skill_alt_labels(data_dir, cache_dir))
            _indexes[taxonomy] = index
    return index
