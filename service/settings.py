"""Typed settings of the whole service, read from ``KOHTAANTO_*`` environment variables.

Nested groups use ``__``: ``KOHTAANTO_PATHS__VAR_DIR=/srv/kohtaanto``. Tests build a
:class:`Settings` directly instead of editing ``os.environ``.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.reference_data import default_data_dir, default_var_dir

REPO_ROOT = Path(__file__).resolve().parents[1]


class PathSettings(BaseModel):
    """Where reference data is read and where the service keeps its own files."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    var_dir: Path = Field(default_factory=default_var_dir)

    @property
    def cache_dir(self) -> Path:
        return self.var_dir / "cache"

    @property
    def demo_world_dir(self) -> Path:
        return self.var_dir / "demo"


class ProfileSettings(BaseModel):
    """How coaching evidence turns into a skill profile (see features.profiles)."""

    model_config = ConfigDict(extra="forbid")

    half_life_days: float = Field(default=365.0, gt=0)
    method_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "work_trial": 1.0,
            "observation": 0.9,
            "test": 0.75,
            "certificate": 0.7,
            "self_report": 0.4,
        }
    )
    broader_credit: float = Field(default=0.5, ge=0, le=1)
    related_credit: float = Field(default=0.3, ge=0, le=1)


class MatchingSettings(BaseModel):
    """Knobs of the matching engine (see matching.engine.MatchingConfig)."""

    model_config = ConfigDict(extra="forbid")

    candidate_pool: int = Field(default=400, ge=20, le=10_000)
    exhaustive_limit: int = Field(default=1500, ge=0, le=100_000)
    prior_pool: int = Field(default=600, ge=0, le=10_000)
    remote_threshold: float = Field(default=0.5, ge=0, le=1)
    commute_slack_share: float = Field(default=0.5, ge=0, le=10)
    commute_slack_km: float = Field(default=10.0, ge=0, le=500)
    eligibility_horizon_days: int = Field(default=0, ge=0, le=365)
    exposure_cap: int = Field(default=5, ge=0)
    exposure_weight: float = Field(default=0.25, ge=0)
    explain_factors: int = Field(default=3, ge=0, le=25)
    covered_share: float = Field(default=0.75, gt=0, le=1)
    qualified_first: bool = True


class ReloadSettings(BaseModel):
    """Where `kohtaanto retrain` asks the running service to load a new champion."""

    model_config = ConfigDict(extra="forbid")

    #: e.g. ``http://127.0.0.1:8000/api/v1/admin/model/reload``; unset: nobody is told
    #: (service workers still notice the new ``CHAMPION`` pointer on their own).
    url: str | None = None
    #: An admin user's bearer token (``kohtaanto users create --role admin``).
    token: SecretStr | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)


class ServiceSettings(BaseModel):
    """The HTTP service (`kohtaanto serve`)."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    #: Request bodies above this size are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=1_000_000, ge=1024, le=100_000_000)
    #: How often a worker compares the registry's CHAMPION pointer with its model.
    model_check_seconds: float = Field(default=1.0, ge=0, le=3600)
    #: Statistics are answered from fact tables a worker rebuilds at most this often.
    statistics_cache_seconds: float = Field(default=300.0, ge=0, le=86_400)
    #: A worker whose event loop has not signalled the supervisor (gunicorn's heartbeat) for
    #: this many seconds is replaced. A replacement first applies the change feed written
    #: since the engine was built, which can hold the GIL for seconds on a national world.
    worker_healthcheck_seconds: int = Field(default=60, ge=1, le=3600)
    #: Matches and shortlists one worker computes at once; more wait in arrival order.
    #: Matching is CPU-bound under one GIL, so more than 1 adds contention, not throughput.
    matching_threads: int = Field(default=1, ge=1, le=64)
    #: How long a worker trusts a token it has looked up: a user disabled in the database is
    #: refused by every worker within this many seconds (0: look up every request).
    token_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    #: Days a new or rotated token stays valid (`users create --expires-in-days` overrides).
    token_lifetime_days: int = Field(default=90, ge=1, le=3650)
    #: The service's "today"; unset: the loaded world's as_of day (the demo world's date).
    today: date | None = None
    #: Level of the JSON log lines `kohtaanto serve` writes to stderr.
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: One access line per request (``kohtaanto.access``); off leaves warnings and errors.
    access_log: bool = True
    #: Prometheus ``/metrics`` is served by `kohtaanto serve` on this port of ``metrics_host``,
    #: one listener for all workers (0: no metrics listener).
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    #: Also answer ``/metrics`` on the public API port (404 there otherwise).
    metrics_on_api_port: bool = False
    #: This host's name among the hosts serving one database: names its audit seal file
    #: (``audit-seals.<host_id>.log`` beside ``audit.seal_file``). Every host of a
    #: deployment needs its own (see docs/deployment.md); empty: the single-host file name.
    host_id: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    #: PostgreSQL: each worker learns of changes from the database's notifications (a
    #: listening connection per worker) instead of asking it before every matching query.
    listen_for_changes: bool = True
    #: The secret behind employer-facing pseudonyms and erased people's feed rows: the same
    #: on every host. Unset: ``<var_dir>/pseudonym.key``, created at the first start of a
    #: single host (a host with a ``host_id`` never makes one up: it would differ from the
    #: others').
    pseudonym_key: SecretStr | None = None
    #: Time each request's stages (``matching.stages``) and answer a ``Server-Timing``
    #: header of CPU milliseconds per stage: for benchmarks and profiling, off in production
    #: (the header tells a caller how the server spends its time).
    stage_timing: bool = False


class AuditSettings(BaseModel):
    """Where the audit log's sealing key and its copy of the sealed heads live.

    Both belong outside the database, and ideally outside the database host's reach: a key
    in ``KOHTAANTO_AUDIT__SEAL_KEY`` from a secret store, the seal file on storage the
    database's owner cannot rewrite (see ``service.api.audit``).
    """

    model_config = ConfigDict(extra="forbid")

    #: The HMAC key of the seals; unset: ``seal_key_file`` (created at first service start).
    seal_key: SecretStr | None = None
    #: Unset: ``<var_dir>/audit-seal.key``.
    seal_key_file: Path | None = None
    #: The append-only file of sealed heads; unset: ``<var_dir>/audit-seals.log``. A host
    #: with a ``service.host_id`` appends to ``audit-seals.<host_id>.log`` in the same folder
    #: instead; the verifier reads all of them.
    seal_file: Path | None = None


class WebSettings(BaseModel):
    """The web application's sign-in (``service.operations.accounts``) and pages."""

    model_config = ConfigDict(extra="forbid")

    #: A session nobody used for this long is signed out.
    session_idle_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    #: However active, a session ends this long after sign-in.
    session_absolute_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    #: Failed sign-ins in a row that lock the account...
    lockout_failures: int = Field(default=5, ge=1, le=100)
    #: ...for this long.
    lockout_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    #: The shortest password ``users set-password`` and the pages accept.
    password_min_length: int = Field(default=12, ge=8, le=256)
    #: The pages' language when neither the user nor the browser names fi, sv or en.
    default_locale: Literal["fi", "sv", "en"] = "fi"
    #: The time zone of the times the pages show (an IANA name).
    time_zone: str = "Europe/Helsinki"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KOHTAANTO_", env_nested_delimiter="__", extra="forbid"
    )

    environment: str = Field(default="development", pattern="^(development|test|production)$")
    paths: PathSettings = Field(default_factory=PathSettings)
    profiles: ProfileSettings = Field(default_factory=ProfileSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)
    reload: ReloadSettings = Field(default_factory=ReloadSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    #: SQLAlchemy URL of the service database (``KOHTAANTO_DATABASE_URL``), e.g.
    #: ``postgresql+psycopg://kohtaanto@db/kohtaanto``; empty means a SQLite file in var_dir.
    database_url: str = ""

    @model_validator(mode="after")
    def _default_database_url(self) -> Settings:
        # Derived after validation so that a var_dir from the environment moves it too.
        if not self.database_url:
            self.database_url = f"sqlite:///{self.paths.var_dir / 'kohtaanto.db'}"
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
