"""Configuration and summary of a synthetic world generation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "GENERATOR_VERSION",
    "HIDDEN_MODEL_NAMES",
    "HiddenModelName",
    "WorldConfig",
    "WorldSummary",
]

#: Bump when the same config would produce different tables.
GENERATOR_VERSION = "2.2.0"

#: The family of hidden worlds (:mod:`training.synthetic.variants`): each name fixes the
#: outcome model's form, how noisy each assessment method is and how the logged coach
#: policy chose whom to show and propose.
HiddenModelName = Literal["additive", "thresholds", "interactions"]
HIDDEN_MODEL_NAMES: tuple[str, ...] = get_args(HiddenModelName)

#: Identifiers carry 7 digits, which bounds the number of jobseekers and vacancies.
_MAX_ENTITIES = 9_999_999


class WorldConfig(BaseModel):
    """What to generate. Same config (including ``seed``) → byte-identical tables.

    ``as_of`` is the world's "today" and defaults to a fixed date, never the wall clock, so
    that output does not depend on when it is generated.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seekers: int = Field(gt=0, le=_MAX_ENTITIES, description="Number of jobseekers.")
    vacancies: int = Field(gt=0, le=_MAX_ENTITIES, description="Number of vacancies.")
    seed: int = Field(default=7, ge=0, lt=2**63, description="Random seed.")
    as_of: date = Field(default=date(2026, 11, 1), description="The world's 'today'.")
    history_years: int = Field(
        default=2, ge=1, le=5, description="Years of outcome history before as_of."
    )
    caseload_min: int = Field(
        default=35, ge=5, le=200, description="Fewest jobseekers a coach is planned for."
    )
    caseload_max: int = Field(
        default=45, ge=5, le=200, description="Most jobseekers a coach is planned for."
    )
    partial_capacity_share: float = Field(
        default=0.20, ge=0, le=1, description="Share with partial work capacity."
    )
    migrant_share: float = Field(
        default=0.25, ge=0, le=1, description="Share of jobseekers with a migrant background."
    )
    young_share: float = Field(default=0.18, ge=0, le=1, description="Share aged under 30.")
    older_share: float = Field(default=0.12, ge=0, le=1, description="Share aged 55 to 64.")
    finland_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of people and contracts in Finland; None = by real population.",
    )
    open_vacancy_share: float = Field(
        default=0.60, ge=0, le=1, description="Share of vacancies open on as_of."
    )
    central_purchasing_share: float = Field(
        default=0.15, ge=0, le=1, description="Share of contracts by a central purchasing body."
    )
    vacancies_per_contract: float = Field(
        default=3.0, ge=1, le=50, description="Mean number of vacancies per contract."
    )
    shown_min: int = Field(default=15, ge=1, le=200, description="Fewest candidates shown.")
    shown_max: int = Field(default=40, ge=1, le=200, description="Most candidates shown.")
    search_shown_min: int = Field(
        default=5, ge=1, le=100, description="Vacancies a coach's search shows, when as many exist."
    )
    search_shown_max: int = Field(
        default=15, ge=1, le=100, description="Most vacancies a coach's search shows."
    )
    search_interval_min_days: int = Field(
        default=56, ge=7, le=365, description="Fewest days between two searches for a person."
    )
    search_interval_max_days: int = Field(
        default=112, ge=7, le=365, description="Most days between two searches for a person."
    )
    assessments_max: int = Field(
        default=4, ge=1, le=10, description="Most assessments per jobseeker (at least one)."
    )
    hidden_model: HiddenModelName = Field(
        default="additive",
        description="Which hidden world to draw: outcome model, assessment noise, coach policy.",
    )

    @model_validator(mode="after")
    def _check_ranges(self) -> WorldConfig:
        if self.caseload_min > self.caseload_max:
            raise ValueError(
                f"caseload_min ({self.caseload_min}) must not exceed "
                f"caseload_max ({self.caseload_max})"
            )
        if self.shown_min > self.shown_max:
            raise ValueError(
                f"shown_min ({self.shown_min}) must not exceed shown_max ({self.shown_max})"
            )
        if self.search_shown_min > self.search_shown_max:
            raise ValueError(
                f"search_shown_min ({self.search_shown_min}) must not exceed "
                f"search_shown_max ({self.search_shown_max})"
            )
        if self.search_interval_min_days > self.search_interval_max_days:
            raise ValueError(
                f"search_interval_min_days ({self.search_interval_min_days}) must not exceed "
                f"search_interval_max_days ({self.search_interval_max_days})"
            )
        if self.young_share + self.older_share > 1:
            raise ValueError("young_share + older_share must not exceed 1")
        return self


@dataclass(frozen=True)
class WorldSummary:
    """What :func:`~training.synthetic.generate_world` wrote and how long it took."""

    out_dir: Path
    rows: dict[str, int]
    wall_seconds: float
    step_seconds: dict[str, float] = field(default_factory=dict)
    bytes_written: int = 0
