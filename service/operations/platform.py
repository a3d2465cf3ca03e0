"""Operators' and admins' operations: the served model, the model registry, the audit log.

The JSON routes (``service.api.routers.admin``) and the pages (``service.web.routes.operator``)
both call these. Who may do what is the routes' rule, kept from the JSON API: an admin reads
the model status and reloads or rolls back the model; an admin and the platform operator read
the model registry and the audit log (an admin only its own organisation's entries).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.api import audit
from service.api.runtime import ServingState
from service.api.schemas import AuditEntryOut, AuditVerifyOut, ModelStatusOut
from service.api.security import Caller
from service.operations.errors import ConflictError, NotFoundError
from service.storage.tables import AuditLogEntry, AuditSeal, AuditVerification, Role, User
from training.registry import (
    CARD_FILE,
    ModelRecord,
    RegistryError,
    UnknownModelError,
    refused_reasons,
)

__all__ = [
    "AuditSealOut",
    "AuditVerificationOut",
    "ChampionChangeOut",
    "ModelCardOut",
    "ModelRegistryOut",
    "ModelVersionOut",
    "audit_entries",
    "audit_entry_count",
    "last_seal",
    "last_verifications",
    "model_attachment",
    "model_card",
    "model_registry",
    "model_status",
    "reload_model",
    "rollback_model",
    "verify_audit",
]

log = logging.getLogger(__name__)

# ---- the served model -----------------------------------------------------------------------


def model_status(state: ServingState) -> ModelStatusOut:
    """Which model this worker serves, the registry's champion, when loaded, swaps, errors."""
    return ModelStatusOut(
        serving=state.model_version,
        champion=state.registry.champion_version(),
        loaded_at=datetime.fromtimestamp(state.model.loaded_at, UTC),
        swaps=state.model.swaps,
        last_error=state.model.last_error,
    )


def reload_model(state: ServingState) -> ModelStatusOut:
    """Load the registry's champion now (`kohtaanto retrain` calls this after a promotion).

    Other workers pick the new pointer up within ``model_check_seconds``.
    """
    state.check_model(force=True)
    return model_status(state)


def rollback_model(state: ServingState) -> ModelStatusOut:
    """Make the previous champion serve again, in the registry and in this worker."""
    try:
        state.registry.rollback()
    except RegistryError as error:
        raise ConflictError(str(error)) from error
    state.check_model(force=True)
    return model_status(state)


# ---- the model registry ---------------------------------------------------------------------


class ChampionChangeOut(BaseModel):
    """One line of the registry's history: ``version`` became the champion."""

    action: Literal["promote", "rollback"]
    version: str
    previous: str | None
    at: datetime | None


class ModelVersionOut(BaseModel):
    """One registered model version, what the gate said about it and its champion history."""

    version: str
    created_at: datetime
    #: The registry's champion (what every worker serves once it checked the pointer).
    champion: bool
    #: What this worker serves now.
    serving: bool
    #: ``passed``, ``refused`` or ``not_recorded`` (registered without a gate decision).
    gate: Literal["passed", "refused", "not_recorded"]
    gate_reasons: list[str]
    notes: str
    training_fingerprint: str
    feature_schema_hash: str
    library_versions: dict[str, str | None]
    calibrated_directions: list[str]
    #: Figures on the test groups, ``"<direction>/<metric>"`` (per-group figures left out).
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    #: When it became the champion (promoted or rolled back to) and when it was replaced.
    became_champion: list[ChampionChangeOut]
    replaced: list[ChampionChangeOut]


class ModelRegistryOut(BaseModel):
    """The served model and every registered version, newest first, with the history."""

    status: ModelStatusOut
    versions: list[ModelVersionOut]
    history: list[ChampionChangeOut]


class ModelCardOut(BaseModel):
    """One version with its model card (Markdown)."""

    model: ModelVersionOut
    card: str | None
    #: Files beside the card that it links to (reliability charts), by name.
    attachments: list[str]


def _gate(notes: str) -> tuple[Literal["passed", "refused", "not_recorded"], list[str]]:
    reasons = refused_reasons(notes.strip())
    if reasons is not None:
        return "refused", reasons
    if notes.strip().startswith("gate passed"):
        return "passed", []
    return "not_recorded", []


def _change(event: dict[str, Any]) -> ChampionChangeOut | None:
    version = event.get("version")
    action = event.get("action")
    if not isinstance(version, str) or action not in ("promote", "rollback"):
        return None
    previous = event.get("previous")
    at: datetime | None
    try:
        at = datetime.fromisoformat(str(event.get("at")))
    except ValueError:
        at = None
    return ChampionChangeOut(
        action=action,
        version=version,
        previous=previous if isinstance(previous, str) else None,
        at=at,
    )


def _history(state: ServingState) -> list[ChampionChangeOut]:
    changes = (_change(event) for event in state.registry.history())
    return [c for c in changes if c is not None]


def _version_out(
    record: ModelRecord,
    champion: str | None,
    serving: str,
    history: list[ChampionChangeOut],
) -> ModelVersionOut:
    manifest = record.manifest
    gate, reasons = _gate(manifest.notes)
    return ModelVersionOut(
        version=record.version,
        created_at=manifest.created_at,
        champion=record.version == champion,
        serving=record.version == serving,
        gate=gate,
        gate_reasons=reasons,
        notes=manifest.notes,
        training_fingerprint=manifest.training_fingerprint,
        feature_schema_hash=manifest.feature_schema_hash,
        library_versions=dict(manifest.library_versions),
        calibrated_directions=sorted(manifest.calibration),
        metrics={k: v for k, v in sorted(manifest.metrics.items()) if "[" not in k},
        baselines=dict(manifest.baselines),
        became_champion=[c for c in history if c.version == record.version],
        replaced=[c for c in history if c.previous == record.version],
    )


def model_registry(state: ServingState) -> ModelRegistryOut:
    """The champion, every challenger (every registered version), gate verdicts, history."""
    registry = state.registry
    champion = registry.champion_version()
    serving = state.model_version
    history = _history(state)
    versions = [
        _version_out(record, champion, serving, history) for record in reversed(registry.list())
    ]
    return ModelRegistryOut(status=model_status(state), versions=versions, history=history)


def _record(state: ServingState, version: str) -> ModelRecord:
    try:
        return state.registry.show(version)
    except UnknownModelError as error:
        raise NotFoundError("model version", version) from error
    except RegistryError as error:
        raise ConflictError(str(error)) from error


def model_card(state: ServingState, version: str) -> ModelCardOut:
    """One version's figures and its model card as the registry stored it."""
    record = _record(state, version)
    try:
        card: str | None = record.card_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        card = None
    attachments = sorted(
        p.name
        for p in record.path.iterdir()
        if p.is_file() and p.suffix == ".png" and not p.name.startswith(".")
    )
    model = _version_out(
        record, state.registry.champion_version(), state.model_version, _history(state)
    )
    return ModelCardOut(model=model, card=card, attachments=attachments)


def model_attachment(state: ServingState, version: str, name: str) -> bytes:
    """A PNG the model card links to (a plain file name in the version's folder)."""
    record = _record(state, version)
    if "/" in name or name.startswith(".") or not name.endswith(".png") or name == CARD_FILE:
        raise NotFoundError("model card file", name)
    path = record.path / name
    if not path.is_file():
        raise NotFoundError("model card file", name)
    return path.read_bytes()


# ---- the audit log --------------------------------------------------------------------------


def audit_entries(
    session: Session,
    caller: Caller,
    after: int = 0,
    limit: int = 100,
    user_id: int | None = None,
    route: str | None = None,
) -> list[AuditEntryOut]:
    """Audit entries in order; an admin gets only its organisation's, the operator all."""
    query = select(AuditLogEntry).where(AuditLogEntry.seq > after)
    if caller.role is not Role.OPERATOR:
        query = query.where(AuditLogEntry.organisation_id == caller.organisation_id)
    if user_id is not None:
        query = query.where(AuditLogEntry.user_id == user_id)
    if route is not None:
        query = query.where(AuditLogEntry.route == route)
    rows = session.scalars(query.order_by(AuditLogEntry.seq).limit(limit)).all()
    return [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]


def audit_entry_count(session: Session, caller: Caller) -> int:
    """How many entries the caller may read (its organisation's; the operator all)."""
    query = select(func.count()).select_from(AuditLogEntry)
    if caller.role is not Role.OPERATOR:
        query = query.where(AuditLogEntry.organisation_id == caller.organisation_id)
    return int(session.scalar(query) or 0)


def verify_audit(
    session: Session, state: ServingState, workers: int, user_id: int | None = None
) -> AuditVerifyOut:
    """The whole chain's state (what ``kohtaanto audit verify`` says); an admin learns that
    it is broken and where, but reads no other organisation's entry through this.

    ``workers`` is the number of service workers (each may have one unpublished seal line).
    The verdict is recorded (``audit_verifications``, by ``user_id``) in a short write
    transaction of its own after the check, so pages show it without recomputing.
    """
    report = _check_chain(session, state, workers)
    session.commit()  # end the read, handing its connection back, before the writer's
    _record_verification(state, report, user_id)
    return report


def _check_chain(session: Session, state: ServingState, workers: int) -> AuditVerifyOut:
    if state.sealer is None:
        return AuditVerifyOut(
            status="cannot_verify",
            entries=0,
            ok=False,
            first_bad_seq=None,
            problem="this worker has no audit sealer",
        )
    try:
        report = audit.verify_chain(session, state.sealer, unpublished_allowed=workers)
    except audit.SealUnavailableError as error:
        return AuditVerifyOut(
            status="cannot_verify", entries=0, ok=False, first_bad_seq=None, problem=str(error)
        )
    return AuditVerifyOut(
        status="intact" if report.ok else "tampered",
        entries=report.entries,
        ok=report.ok,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
        unpublished=report.unpublished,
    )


def _record_verification(state: ServingState, report: AuditVerifyOut, user_id: int | None) -> None:
    """Append the verdict; a failure to record is logged, the verdict still answered."""
    try:
        with state.write_sessions() as writer:
            writer.add(
                AuditVerification(
                    verified_at=datetime.now(UTC),
                    user_id=user_id,
                    status=report.status,
                    entries=report.entries,
                    first_bad_seq=report.first_bad_seq,
                    problem=report.problem,
                )
            )
            writer.commit()
    except SQLAlchemyError:
        log.exception("could not record the audit verification")


class AuditVerificationOut(BaseModel):
    """One recorded full check of the chain: when, by whom, and its verdict."""

    id: int
    verified_at: datetime
    user_id: int | None
    user_name: str | None
    status: str
    entries: int
    first_bad_seq: int | None
    problem: str | None


def last_verifications(session: Session, limit: int = 10) -> list[AuditVerificationOut]:
    """The newest recorded verifications first (no recomputing), with the user's name."""
    rows = session.execute(
        select(AuditVerification, User.name)
        .outerjoin(User, User.user_id == AuditVerification.user_id)
        .order_by(AuditVerification.id.desc())
        .limit(limit)
    ).all()
    return [
        AuditVerificationOut(
            id=row.id,
            verified_at=row.verified_at,
            user_id=row.user_id,
            user_name=name,
            status=row.status,
            entries=row.entries,
            first_bad_seq=row.first_bad_seq,
            problem=row.problem,
        )
        for row, name in rows
    ]


class AuditSealOut(BaseModel):
    """The latest sealed head of the chain: the entry it seals and the entries up to it."""

    seq: int
    entries: int
    entry_hash: str
    recorded_at: datetime | None


def last_seal(session: Session) -> AuditSealOut | None:
    """The newest seal row (chain metadata: no entry's contents), or ``None`` before any."""
    seal = session.scalars(select(AuditSeal).order_by(AuditSeal.seq.desc()).limit(1)).first()
    if seal is None:
        return None
    recorded_at = session.scalar(
        select(AuditLogEntry.recorded_at).where(AuditLogEntry.seq == seal.seq)
    )
    return AuditSealOut(
        seq=seal.seq, entries=seal.entries, entry_hash=seal.entry_hash, recorded_at=recorded_at
    )
