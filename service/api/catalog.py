"""The reference data as the API checks it: ESCO concepts, municipalities, CPV codes."""

from __future__ import annotations

from dataclasses import dataclass

from features.geography import Geography
from features.taxonomy import Taxonomy
from service.api.problems import invalid
from service.api.runtime import ServingState


@dataclass(frozen=True)
class Catalog:
    """:class:`matching.domain.ReferenceCatalog` over the loaded taxonomy and geography."""

    taxonomy: Taxonomy
    geography: Geography

    def has_skill(self, uri: str) -> bool:
        return self.taxonomy.has_skill(uri)

    def has_occupation(self, uri: str) -> bool:
        return self.taxonomy.has_occupation(uri)

    def has_municipality(self, code: str) -> bool:
        return self.geography.has_municipality(code)

    def has_cpv(self, code: str) -> bool:
        return self.taxonomy.has_cpv(code)


def catalog_of(state: ServingState) -> Catalog:
    return Catalog(state.vocab.taxonomy, state.vocab.geography)


def municipality_row(state: ServingState, code: str) -> int:
    """The geography row of a municipality code, or a 422 naming the code."""
    geography = state.vocab.geography
    if not geography.has_municipality(code):
        raise invalid(
            ["query", "municipality"],
            f"{code!r} is not a Finnish or Swedish municipality code",
            code,
        )
    return geography.index(code)
