"""Shared fixtures: the real reference data, loaded once per test process."""

from __future__ import annotations

import pytest

from features.geography import Geography, load_geography
from features.taxonomy import Taxonomy, load_taxonomy


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    # The default cache under var/cache is written atomically, so xdist workers may share it.
    return load_taxonomy()


@pytest.fixture(scope="session")
def geography() -> Geography:
    return load_geography()
