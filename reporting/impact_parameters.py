"""Loading the sourced, versioned parameters of the economic impact and the coaching cost.

The parameter file (TOML, read with :mod:`tomllib`) holds every figure the impact model and
the coaching-cost indicators use. A figure without its source or its dates is refused with
:class:`ParameterError` naming the parameter: a published statistic must say where each
number comes from and when it applies. Typos are refused too (``extra="forbid"``).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from matching.domain import AssessmentMethod, Country

__all__ = [
    "COUNTRY_PARAMETERS",
    "DEFAULT_PARAMETERS",
    "CoachingParameters",
    "CountryParameters",
    "EmploymentParameters",
    "ExchangeParameters",
    "ImpactParameters",
    "Parameter",
    "ParameterError",
    "Source",
    "load_parameters",
    "parse_parameters",
]

#: The shipped parameter file.
DEFAULT_PARAMETERS = Path(__file__).with_name("parameters") / "impact-FI-SE-2026.toml"


class ParameterError(ValueError):
    """A parameter file is unusable; the message names the parameter and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """A citation: who published the figure, under what title, where."""

    publisher: str = Field(min_length=1)
    title: str = Field(min_length=1)
    url: str = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        # Project assumptions cite the repository's own documentation by relative path.
        if not value.startswith(("https://", "http://", "docs/")):
            raise ValueError("must be an http(s) URL or a docs/ path")
        return value


class Parameter(_Strict):
    """One figure with its unit, sensitivity range, dates and source."""

    value: float
    low: float
    high: float
    unit: str = Field(min_length=1)
    source: Source
    valid_from: date
    retrieved: date
    note: str = ""

    @model_validator(mode="after")
    def _range(self) -> Parameter:
        if not all(math.isfinite(v) for v in (self.value, self.low, self.high)):
            raise ValueError("value, low and high must be finite numbers")
        if not self.low <= self.value <= self.high:
            raise ValueError(
                f"needs low <= value <= high, got {self.low}, {self.value}, {self.high}"
            )
        return self


class EmploymentParameters(_Strict):
    """Months of employment assumed when the retention events do not say."""

    months_if_left_before_6m: Parameter
    months_if_left_between_6m_and_12m: Parameter


class CoachingParameters(_Strict):
    """Coach hours per activity."""

    hours_assessment_work_trial: Parameter
    hours_assessment_observation: Parameter
    hours_assessment_test: Parameter
    hours_assessment_certificate: Parameter
    hours_assessment_self_report: Parameter
    hours_per_proposal: Parameter

    def assessment_hours(self, method: AssessmentMethod | str) -> Parameter:
        """Hours per assessment made with ``method``."""
        parameter: Parameter = getattr(self, f"hours_assessment_{AssessmentMethod(method).value}")
        return parameter


class ExchangeParameters(_Strict):
    sek_per_eur: Parameter


class CountryParameters(_Strict):
    """Wages, benefits, taxes and subsidies of one country, in its currency."""

    currency: Literal["EUR", "SEK"]
    wage_employment: Parameter
    wage_apprenticeship: Parameter
    wage_pay_subsidised: Parameter
    benefit_daily: Parameter
    benefit_days_per_month: Parameter
    work_trial_allowance_daily: Parameter
    employee_contribution_rate: Parameter
    taxable_share_wage: Parameter
    taxable_share_benefit: Parameter
    municipal_tax_rate: Parameter
    other_tax_rate_wage: Parameter
    other_tax_rate_benefit: Parameter
    municipal_share_of_benefit: Parameter
    pay_subsidy_rate: Parameter
    pay_subsidy_municipal_share: Parameter
    coach_hourly_cost: Parameter


#: Names of the per-country parameters (every country has all of them).
COUNTRY_PARAMETERS: tuple[str, ...] = tuple(
    name for name in CountryParameters.model_fields if name != "currency"
)


class ImpactParameters(_Strict):
    """The whole parameter file."""

    version: str = Field(min_length=1)
    title: str = ""
    employment: EmploymentParameters
    coaching: CoachingParameters
    exchange: ExchangeParameters
    countries: dict[Country, CountryParameters]

    @field_validator("countries")
    @classmethod
    def _every_country(
        cls, value: dict[Country, CountryParameters]
    ) -> dict[Country, CountryParameters]:
        missing = set(Country) - set(value)
        if missing:
            raise ValueError(f"missing countries {sorted(missing)}")
        return value

    def flat(self) -> dict[str, Parameter]:
        """Every parameter by dotted name (``FI.wage_employment``, ``coaching.hours_per_...``)."""
        out: dict[str, Parameter] = {}
        for section in ("employment", "coaching", "exchange"):
            group: BaseModel = getattr(self, section)
            for name in type(group).model_fields:
                out[f"{section}.{name}"] = getattr(group, name)
        for country, params in self.countries.items():
            for name in COUNTRY_PARAMETERS:
                out[f"{country.value}.{name}"] = getattr(params, name)
        return out

    def values(self, which: Literal["value", "low", "high"] = "value") -> dict[str, float]:
        """Every parameter's central (or low, or high) value by dotted name."""
        return {name: float(getattr(p, which)) for name, p in self.flat().items()}


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"])
        if item["type"] == "missing":
            field = str(item["loc"][-1])
            if field in ("source", "valid_from", "retrieved"):
                message = f"has no {field} (every parameter needs a source and its dates)"
            else:
                message = f"is missing {field!r}"
            path = ".".join(str(part) for part in item["loc"][:-1])
        problems.append(f"parameter {path}: {message}")
    return "; ".join(problems)


def parse_parameters(raw: Mapping[str, Any], origin: str = "<parameters>") -> ImpactParameters:
    """Validate a parsed parameter file; raises :class:`ParameterError` naming the parameter."""
    try:
        return ImpactParameters.model_validate(dict(raw))
    except ValidationError as error:
        raise ParameterError(f"{origin}: {_describe(error)}") from None


def load_parameters(path: Path | None = None) -> ImpactParameters:
    """Load and validate a parameter file (default: the shipped 2026 file)."""
    file = DEFAULT_PARAMETERS if path is None else Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"parameter file {file} not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ParameterError(f"{file}: not valid TOML: {error}") from None
    return parse_parameters(raw, str(file))
