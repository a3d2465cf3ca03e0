"""Shared fixtures: the real reference data, loaded once per test process."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.geography import Geography, load_geography
from features.taxonomy import Taxonomy, load_taxonomy
from features.world_store import WorldTables, load_world


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    # The default cache under var/cache is written atomically, so xdist workers may share it.
    return load_taxonomy()


@pytest.fixture(scope="session")
def geography() -> Geography:
    return load_geography()


@pytest.fixture(scope="session")
def small_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated world, written once per test process."""
    from training.synthetic import WorldConfig, generate_world

    out = tmp_path_factory.mktemp("small_world")
    generate_world(WorldConfig(seekers=1500, vacancies=500, seed=11), out)
    return out


@pytest.fixture(scope="session")
def small_world(small_world_dir: Path) -> WorldTables:
    return load_world(small_world_dir)
