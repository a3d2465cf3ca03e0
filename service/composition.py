"""The composition root: builds the matching engine from settings and data.

Everything that wires the packages together lives here, so `matching/` stays free of I/O and
`features/` and `training/` stay free of service concerns.
"""

from __future__ import annotations

from features.geography import load_geography
from features.matching_data import build_matching_data
from features.pair_features import pair_features
from features.profiles import ProfileConfig
from features.schema import FEATURE_NAMES, FEATURES
from features.taxonomy import load_taxonomy
from features.world_store import WorldTables
from matching.engine import MatchingConfig, MatchingEngine
from service.settings import Settings


def profile_config(settings: Settings) -> ProfileConfig:
    p = settings.profiles
    return ProfileConfig(
        half_life_days=p.half_life_days,
        method_weights=p.method_weights,
        broader_credit=p.broader_credit,
        related_credit=p.related_credit,
    )


def matching_config(settings: Settings) -> MatchingConfig:
    return MatchingConfig(**settings.matching.model_dump())


def build_engine(world: WorldTables, settings: Settings) -> MatchingEngine:
    """A matching engine over a generated or loaded world, as of the world's day."""
    cache_dir = settings.paths.cache_dir
    taxonomy = load_taxonomy(settings.paths.data_dir, cache_dir)
    geography = load_geography(settings.paths.data_dir, cache_dir)
    data = build_matching_data(world, taxonomy, geography, world.as_of, profile_config(settings))
    return MatchingEngine(
        data,
        pair_features,
        FEATURE_NAMES,
        {f.name: f.description for f in FEATURES},
        absent_descriptions={f.name: f.absent for f in FEATURES if f.absent},
        config=matching_config(settings),
    )
