"""A versioned model registry on disk, with an explicit champion.

Layout under ``root`` (by default ``settings.paths.var_dir / "models"``)::

    versions/<version>/model-shortlist.txt  the vacancy → people booster (``save_model``)
    versions/<version>/model-matches.txt    the person → vacancies booster
    versions/<version>/manifest.json  what the model is and what it needs (:class:`ModelManifest`)
    versions/<version>/MODEL_CARD.md  the model card for people (and its charts, ``*.png``)
    CHAMPION                          the name of the version the service serves
    history.jsonl                     append-only log of champion changes

A version is one model per direction (:data:`matching.scoring.DIRECTIONS`) with their
calibrations, named ``m<UTC yyyymmdd-HHMMSS>-<first 8 hex of the sha256 of the model files>``. It is
written into a temporary directory inside ``versions/`` and moved into place with one
``os.replace``, so a crash never leaves half a version; leftover temporary directories are
never listed and :meth:`ModelRegistry.list` removes stale ones. ``CHAMPION`` is replaced
atomically (temporary file, fsync, ``os.replace``) before the change is appended to the history,
so a failed promotion leaves the old champion in place.

Nothing loads "the latest" model: :meth:`ModelRegistry.load` takes an explicit version or the
champion, and refuses a model whose feature schema or LightGBM major version differs from this
code's, or whose model files do not match the checksums in its manifest.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError

from features.schema import FEATURE_NAMES, FEATURE_SCHEMA_HASH, FEATURES
from matching.scoring import DIRECTIONS, Calibration, Direction
from training.ranker import LightGBMScorer, RankerConfig

log = logging.getLogger(__name__)

VERSION_PATTERN = re.compile(r"^m\d{8}-\d{6}-[0-9a-f]{8}$")
TEMP_PREFIX = ".tmp-"
#: Temporary entries older than this are debris from a crash; younger ones may belong to a
#: registration running right now in another process, so they are left alone.
STALE_TEMP_SECONDS = 15 * 60

MANIFEST_FILE = "manifest.json"
CARD_FILE = "MODEL_CARD.md"

#: How a manifest's notes begin when the gate refused the model; the reasons follow, "; "-joined.
GATE_REFUSED = "gate refused: "


def gate_notes(promote: bool, reasons: list[str]) -> str:
    """A manifest's notes for a gate decision (see :func:`refused_reasons`)."""
    return "gate passed" if promote else GATE_REFUSED + "; ".join(reasons)


def refused_reasons(notes: str) -> list[str] | None:
    """The gate's reasons when ``notes`` say it refused the model, else ``None``."""
    return notes.removeprefix(GATE_REFUSED).split("; ") if notes.startswith(GATE_REFUSED) else None


CHAMPION_FILE = "CHAMPION"


def model_file(direction: Direction) -> str:
    """The booster file of one direction inside a version folder."""
    return f"model-{direction}.txt"


HISTORY_FILE = "history.jsonl"
LOCK_FILE = ".lock"

Clock = Callable[[], datetime]


class RegistryError(Exception):
    """Base class of the registry's errors."""


class UnknownModelError(RegistryError, LookupError):
    """The version is not in the registry (or there is no champion to load)."""


class ModelCompatibilityError(RegistryError):
    """The model cannot be served by this code: schema, library version or checksum differ."""


class ModelIntegrityError(ModelCompatibilityError):
    """``model.txt`` does not match the checksum recorded in the manifest."""


class NoPreviousChampionError(RegistryError):
    """Rollback asked for, but the history holds no earlier champion."""


class ModelManifest(BaseModel):
    """The contents of ``manifest.json``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str
    created_at: datetime
    feature_names: tuple[str, ...]
    feature_schema_hash: str
    library_versions: dict[str, str | None]
    training_fingerprint: str
    config: dict[str, Any]
    #: Figures of the model on its test groups, ``"<direction>/<metric>"``.
    metrics: dict[str, float]
    #: sha256 over the model files (what the version is named after).
    model_sha256: str
    #: sha256 of each direction's model file.
    model_files: dict[str, str]
    #: Per direction, the knots of the score → probability map (absent: not calibrated).
    calibration: dict[str, dict[str, list[float]]] = {}
    notes: str = ""
    #: The other rankings scored on the same test groups in the same run (champion, rules,
    #: skill cosine, random, oracle): ``{ranking: {metric: value}}``.
    baselines: dict[str, dict[str, float]] = {}


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One registered version: its manifest and where it lives."""

    manifest: ModelManifest
    path: Path

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def created_at(self) -> datetime:
        return self.manifest.created_at

    def model_path(self, direction: Direction) -> Path:
        return self.path / model_file(direction)

    @property
    def card_path(self) -> Path:
        return self.path / CARD_FILE


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries a model depends on (``None`` when not installed)."""

    def installed(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "lightgbm": lgb.__version__,
        "numpy": installed("numpy"),
        "scikit-learn": installed("scikit-learn"),
        "python": platform.python_version(),
    }


def default_registry_root() -> Path:
    from service.settings import get_settings

    return get_settings().paths.var_dir / "models"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _major(version: str | None) -> str | None:
    return None if not version else version.split(".", 1)[0]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class ModelRegistry:
    """Versioned LightGBM rankers under one root folder, with a champion pointer."""

    def __init__(self, root: Path | None = None, *, clock: Clock = _utc_now) -> None:
        self.root = Path(root) if root is not None else default_registry_root()
        self.clock = clock

    # -- paths -------------------------------------------------------------------------------

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    @property
    def champion_file(self) -> Path:
        return self.root / CHAMPION_FILE

    @property
    def history_file(self) -> Path:
        return self.root / HISTORY_FILE

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers (register, promote, rollback) across processes."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK_FILE).open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # -- registering -------------------------------------------------------------------------

    def register(
        self,
        boosters: Mapping[Direction, lgb.Booster],
        *,
        config: RankerConfig,
        metrics: dict[str, float],
        training_fingerprint: str,
        notes: str = "",
        baselines: dict[str, dict[str, float]] | None = None,
        calibrations: Mapping[Direction, Calibration | None] | None = None,
        card_sections: str = "",
        attachments: Mapping[str, bytes] | None = None,
    ) -> ModelRecord:
        """Store one booster per direction as a new version (not promoted); return its record.

        ``card_sections`` (Markdown) and ``attachments`` (e.g. PNG charts it links to, by
        file name) go into the version folder beside the model card.
        """
        missing = [d for d in DIRECTIONS if d not in boosters]
        if missing:
            raise ValueError(f"a model needs a booster for every direction; missing {missing}")
        for direction, booster in boosters.items():
            names = tuple(booster.feature_name())
            if names != FEATURE_NAMES:
                raise ModelCompatibilityError(
                    f"the {direction} booster's {len(names)} features are not the schema's "
                    f"{len(FEATURE_NAMES)} (schema hash {FEATURE_SCHEMA_HASH}); refusing to "
                    "register"
                )
        if not training_fingerprint.strip():
            raise ValueError("training_fingerprint must not be empty")
        clean_metrics: dict[str, float] = {}
        for name, value in metrics.items():
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"metric {name!r} is not a finite number: {value!r}")
            clean_metrics[name] = number
        clean_baselines = {
            ranking: {k: float(v) for k, v in values.items() if math.isfinite(float(v))}
            for ranking, values in (baselines or {}).items()
        }
        calibration = {
            str(direction): {"scores": list(c.scores), "probabilities": list(c.probabilities)}
            for direction, c in (calibrations or {}).items()
            if c is not None
        }
        for name in attachments or {}:
            if "/" in name or name.startswith(".") or name in (MANIFEST_FILE, CARD_FILE):
                raise ValueError(f"attachment name {name!r} is not a plain file name")

        created_at = self.clock()
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        created_at = created_at.astimezone(UTC).replace(microsecond=0)

        with self._locked():
            temp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.versions_dir))
            try:
                files: dict[str, str] = {}
                combined = hashlib.sha256()
                for direction in DIRECTIONS:
                    path = temp / model_file(direction)
                    boosters[direction].save_model(str(path))
                    data = path.read_bytes()
                    files[direction] = _sha256(data)
                    combined.update(data)
                    with path.open("rb") as handle:
                        os.fsync(handle.fileno())
                digest = combined.hexdigest()
                version = f"m{created_at:%Y%m%d-%H%M%S}-{digest[:8]}"
                target = self.versions_dir / version
                if target.exists():
                    existing = self.show(version)
                    if existing.manifest.model_sha256 != digest:  # pragma: no cover - 32 bits
                        raise RegistryError(f"version {version} exists with a different model")
                    return existing
                manifest = ModelManifest(
                    version=version,
                    created_at=created_at,
                    feature_names=FEATURE_NAMES,
                    feature_schema_hash=FEATURE_SCHEMA_HASH,
                    library_versions=library_versions(),
                    training_fingerprint=training_fingerprint,
                    config=config.model_dump(mode="json"),
                    metrics=clean_metrics,
                    model_sha256=digest,
                    model_files=files,
                    calibration=calibration,
                    notes=notes,
                    baselines=clean_baselines,
                )
                _write_synced(
                    temp / MANIFEST_FILE,
                    (manifest.model_dump_json(indent=2) + "\n").encode(),
                )
                for name, data in (attachments or {}).items():
                    _write_synced(temp / name, data)
                _write_synced(temp / CARD_FILE, render_model_card(manifest, card_sections).encode())
                _fsync_dir(temp)
                os.replace(temp, target)
            finally:
                # Gone after a successful replace; removed on an error or an existing version.
                shutil.rmtree(temp, ignore_errors=True)
            _fsync_dir(self.versions_dir)
        log.info("registered model %s", version)
        return ModelRecord(manifest=manifest, path=target)

    # -- reading -----------------------------------------------------------------------------

    def show(self, version: str) -> ModelRecord:
        """The record of ``version``; :class:`UnknownModelError` if it is not registered."""
        if not VERSION_PATTERN.match(version):
            raise UnknownModelError(
                f"{version!r} is not a model version (expected like m20261122-153000-1a2b3c4d)"
            )
        path = self.versions_dir / version
        manifest_path = path / MANIFEST_FILE
        if not manifest_path.is_file():
            raise UnknownModelError(f"model version {version} is not in the registry {self.root}")
        try:
            manifest = ModelManifest.model_validate_json(manifest_path.read_bytes())
        except (ValidationError, ValueError) as error:
            raise ModelCompatibilityError(
                f"the manifest of model {version} cannot be read: {error}"
            ) from error
        if manifest.version != version:
            raise ModelCompatibilityError(
                f"the manifest in {version} names another version, {manifest.version}"
            )
        return ModelRecord(manifest=manifest, path=path)

    def list(self) -> list[ModelRecord]:
        """Every complete version, oldest first; stale temporary leftovers are removed."""
        if not self.versions_dir.is_dir():
            return []
        self._clean_stale_temps()
        records: list[ModelRecord] = []
        for entry in self.versions_dir.iterdir():
            if not entry.is_dir() or not VERSION_PATTERN.match(entry.name):
                continue
            try:
                records.append(self.show(entry.name))
            except RegistryError as error:
                log.warning("skipping unreadable model version %s: %s", entry.name, error)
        return sorted(records, key=lambda record: (record.created_at, record.version))

    def _clean_stale_temps(self) -> None:
        cutoff = time.time() - STALE_TEMP_SECONDS
        for folder in (self.versions_dir, self.root):
            for entry in folder.glob(f"{TEMP_PREFIX}*"):
                try:
                    if entry.lstat().st_mtime > cutoff:
                        continue
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
                except OSError:  # pragma: no cover - raced with another cleaner
                    continue

    def champion_version(self) -> str | None:
        try:
            text = self.champion_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def champion(self) -> ModelRecord | None:
        """The record of the current champion, or ``None`` before the first promotion."""
        version = self.champion_version()
        return None if version is None else self.show(version)

    def history(self) -> builtins.list[dict[str, Any]]:
        """The champion changes, oldest first."""
        try:
            lines = self.history_file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        events: builtins.list[dict[str, Any]] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                # Only a torn last line can be cut short by a crash; keep the rest.
                log.warning("ignoring unreadable line %d of %s", number, self.history_file)
        return events

    # -- champion ----------------------------------------------------------------------------

    def promote(self, version: str) -> ModelRecord:
        """Make ``version`` the champion (it must exist and be loadable by this code)."""
        with self._locked():
            record = self.show(version)
            self._check(record)
            previous = self.champion_version()
            if previous == version:
                return record
            self._change_champion("promote", version, previous)
        log.info("promoted model %s (was %s)", version, previous)
        return record

    def rollback(self) -> ModelRecord:
        """Make the previous champion the champion again."""
        with self._locked():
            current = self.champion_version()
            stack = self._champion_stack(current)
            if len(stack) < 2:
                raise NoPreviousChampionError(
                    "no previous champion to roll back to"
                    + (f" (the champion is {current})" if current else " (no champion yet)")
                )
            target = stack[-2]
            record = self.show(target)
            self._check(record)
            self._change_champion("rollback", target, current)
        log.info("rolled back from model %s to %s", current, target)
        return record

    def _champion_stack(self, current: str | None) -> builtins.list[str]:
        """Replay the history: promotions push, rollbacks pop."""
        stack: builtins.list[str] = []
        for event in self.history():
            version = event.get("version")
            if not isinstance(version, str):
                continue
            if event.get("action") == "rollback":
                while stack and stack[-1] != version:
                    stack.pop()
                if not stack:
                    stack.append(version)
            else:
                stack.append(version)
        if current is not None and (not stack or stack[-1] != current):
            # A crash after CHAMPION was replaced but before the history line was written.
            stack.append(current)
        return stack

    def _change_champion(
        self, action: Literal["promote", "rollback"], version: str, previous: str | None
    ) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX + "champion-", dir=self.root)
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write((version + "\n").encode())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.champion_file)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.root)
        event = {
            "action": action,
            "version": version,
            "previous": previous,
            "at": self.clock().astimezone(UTC).isoformat(),
        }
        with self.history_file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    # -- loading -----------------------------------------------------------------------------

    def _check(self, record: ModelRecord) -> None:
        manifest = record.manifest
        if manifest.feature_schema_hash != FEATURE_SCHEMA_HASH:
            raise ModelCompatibilityError(
                f"model {record.version} has feature schema hash {manifest.feature_schema_hash}, "
                f"this code has {FEATURE_SCHEMA_HASH}: the features differ"
            )
        recorded = manifest.library_versions.get("lightgbm")
        if _major(recorded) != _major(lgb.__version__):
            raise ModelCompatibilityError(
                f"model {record.version} was trained with lightgbm {recorded}, "
                f"installed is lightgbm {lgb.__version__}: the major versions differ"
            )

    def load(self, version: str | None = None) -> DirectionalModel:
        """The model of ``version``, or of the champion when no version is given."""
        if version is None:
            version = self.champion_version()
            if version is None:
                raise UnknownModelError(
                    f"no champion in the registry {self.root}; promote a version first"
                )
        record = self.show(version)
        self._check(record)
        scorers: dict[Direction, LightGBMScorer] = {}
        for direction in DIRECTIONS:
            path = record.model_path(direction)
            try:
                model_bytes = path.read_bytes()
            except FileNotFoundError as error:
                raise ModelIntegrityError(
                    f"model {version} has no {model_file(direction)}"
                ) from error
            digest = _sha256(model_bytes)
            recorded = record.manifest.model_files.get(direction, "")
            if digest != recorded:
                raise ModelIntegrityError(
                    f"{model_file(direction)} of model {version} has sha256 {digest[:12]}..., "
                    f"the manifest records {recorded[:12]}...: the file was changed"
                )
            booster = lgb.Booster(model_str=model_bytes.decode("utf-8"))
            # Served: the trees compiled (training.forest), checked against the booster.
            scorers[direction] = LightGBMScorer(booster, version, FEATURE_NAMES, compiled=True)
        calibrations: dict[Direction, Calibration | None] = {}
        for direction in DIRECTIONS:
            knots = record.manifest.calibration.get(direction)
            try:
                calibrations[direction] = (
                    None
                    if knots is None
                    else Calibration(tuple(knots["scores"]), tuple(knots["probabilities"]))
                )
            except (KeyError, ValueError) as error:
                raise ModelCompatibilityError(
                    f"the calibration of model {version} ({direction}) is unusable: {error}"
                ) from error
        return DirectionalModel(version, scorers, calibrations)


class DirectionalModel:
    """A registered version as the engine serves it: a scorer and a calibration per direction."""

    def __init__(
        self,
        version: str,
        scorers: Mapping[Direction, LightGBMScorer],
        calibrations: Mapping[Direction, Calibration | None],
    ) -> None:
        self.version = version
        self.feature_names = FEATURE_NAMES
        self.scorers = dict(scorers)
        self.calibrations = dict(calibrations)

    def for_direction(self, direction: Direction) -> LightGBMScorer:
        return self.scorers[direction]

    def probability(
        self, direction: Direction, scores: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64] | None:
        calibration = self.calibrations.get(direction)
        return None if calibration is None else calibration(scores)


def render_model_card(manifest: ModelManifest, sections: str = "") -> str:
    """The Markdown model card of one version; ``sections`` are the run's own findings
    (per-direction comparisons, reliability, equality), rendered by the pipeline."""
    libs = ", ".join(
        f"{name} {value or 'not installed'}" for name, value in manifest.library_versions.items()
    )
    if not sections.strip():
        # Overall figures first; per-group recall (``<direction>/recall@20[dimension=group]``,
        # a hundred regions on a national world) in a table of its own.
        overall = {k: v for k, v in manifest.metrics.items() if "[" not in k}
        rows = "\n".join(f"| {name} | {value:.4f} |" for name, value in sorted(overall.items()))
        sections = "## Metrics\n\n| Metric | Value |\n|---|---|\n" + (
            rows or "| (none recorded) | |"
        )
        by_group = sorted(
            (k[: k.index("[")], *k[k.index("[") + 1 : -1].split("=", 1), v)
            for k, v in manifest.metrics.items()
            if "[" in k and k.endswith("]") and "=" in k
        )
        if by_group:
            sections += "\n\n### By group of jobseekers\n\n| Metric | Dimension | Group | Value |\n"
            sections += "|---|---|---|---|\n" + "\n".join(
                f"| {metric} | {dimension} | {group} | {value:.4f} |"
                for metric, dimension, group, value in by_group
            )
    feature_rows = "\n".join(
        f"| {number} | `{feature.name}` | {feature.kind} | {feature.description} |"
        for number, feature in enumerate(FEATURES, start=1)
    )
    config = "\n".join(f"- `{key}`: {value}" for key, value in sorted(manifest.config.items()))
    calibrated = ", ".join(sorted(manifest.calibration)) or "none"
    notes = manifest.notes.strip()
    reasons = refused_reasons(notes)
    if reasons is not None:
        notes = "The gate refused this model:\n\n" + "\n".join(f"- {r}" for r in reasons)
    notes = f"\n## Notes\n\n{notes}\n" if notes else ""
    files = "\n".join(
        f"  - `{model_file(d)}`: sha256 `{digest}`"  # type: ignore[arg-type]
        for d, digest in sorted(manifest.model_files.items())
    )
    return f"""# Model card: {manifest.version}

- Created: {manifest.created_at.isoformat()}
- Model files:
{files}
- Feature schema hash: `{manifest.feature_schema_hash}`
- Libraries: {libs}
- Calibrated directions: {calibrated}

## Intended use

Two LightGBM models that order candidates for job coaches and employers: `shortlist` ranks
the jobseekers for a vacancy, `matches` the vacancies for a jobseeker, each with reasons. Each
learns the probability that a proposal leads to a hire from the outcomes of past proposals,
replayed with what was known on the day of each proposal; the score people see is that
probability calibrated to a hire that lasts six months. A coach reviews every list and makes
every decision; the models are not meant for automated decisions about a person, for
eligibility or benefit decisions, or for ranking people outside the coaching service.

## Training data

- Training-data fingerprint: `{manifest.training_fingerprint}`

{sections}

## Features

| # | Name | Kind | Meaning |
|---|---|---|---|
{feature_rows}

## Personal data

Sex, age, origin and health details are not features. Whether a person counts toward a
vacancy's employment condition (`condition_eligible`, `days_until_eligible`) is derived from
dated facts by the eligibility rules, and work-ability fit (`hours_fit`, `physical_conflict`,
`night_conflict`, `shift_conflict`, `standing_conflict`) compares the vacancy with what a
coach recorded; the facts, diagnoses and restriction lists themselves never reach the model.
Sex is used only to report the equality figures above.

## Limitations

- The probability is calibrated on recent held-out weeks; it describes proposals like the
  past ones and drifts when coaching or the labour market changes. Retrain nightly.
- The models learn from past coaching outcomes and can repeat their patterns; monitor
  outcomes across groups of people and vacancies.
- They are valid only for the feature schema above and a LightGBM of the same major version;
  the registry refuses to load them otherwise.
- Figures are measured offline on held-out weeks and may not hold for other regions, periods
  or labour markets.

## Training configuration

{config}
{notes}"""
