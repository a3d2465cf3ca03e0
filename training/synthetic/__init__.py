"""Synthetic world generator: jobseekers, assessments, contracts, vacancies and outcomes.

``generate_world(WorldConfig(seekers=..., vacancies=..., seed=...), out_dir)`` writes a
deterministic world as Parquet tables (schema in :mod:`features.world_store`), the latent
true skills (``truth/``, for the oracle only), the hidden outcome model
(``hidden_model.json``, ``HIDDEN_MODEL.md``, :mod:`training.synthetic.hidden_model`) and
``world.json`` last. See the step modules for what each part of the world looks like:
:mod:`~training.synthetic.people`, :mod:`~training.synthetic.skills`,
:mod:`~training.synthetic.procurement`, :mod:`~training.synthetic.history`, and
:mod:`~training.synthetic.variants` for the family of hidden worlds
(``WorldConfig.hidden_model``).
"""

from training.synthetic.config import (
    GENERATOR_VERSION,
    HIDDEN_MODEL_NAMES,
    HiddenModelName,
    WorldConfig,
    WorldSummary,
)
from training.synthetic.generator import STEPS, generate_world
from training.synthetic.hidden_model import HiddenModel, HiddenModelParams, PairContext

__all__ = [
    "GENERATOR_VERSION",
    "HIDDEN_MODEL_NAMES",
    "STEPS",
    "HiddenModel",
    "HiddenModelName",
    "HiddenModelParams",
    "PairContext",
    "WorldConfig",
    "WorldSummary",
    "generate_world",
]
