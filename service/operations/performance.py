"""Performance-based contracts: their terms, and the payment statements buyer and supplier read.

One function per operation (STYLE.md point 9): the buyer's statement of one of its contracts
(:func:`buyer_statement`), the supplier's of one of its suppliers' contracts
(:func:`supplier_statement`), optionally limited to one payment period; the JSON routes, the
pages and the printable statement only translate.

A statement is computed, not stored: the service reads the contract's conditions, terms,
vacancies, the hire and retention outcomes on them and the people hired into a world of
its own, and hands it to :func:`reporting.performance.credited_outcomes` — the code the
statistics use — so a statement and the published figures reconcile by construction. Each
line carries its trace: the outcome's event id, the audit entry that recorded it (outcomes
recorded through the service, ``outcome.*`` routes) or the world it was loaded with, and the
audited shortlists of the vacancy that showed the person.

What a statement shows of a person: the pseudonym the vacancy's employer sees, never a name,
and never the target group that made the hire count (health, age, origin); ``group_weight``
is the weight the terms give that group.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.world_store import (
    SCHEMAS,
    TABLES,
    WorldTables,
    empty_world_frame,
    plain_schema,
    world_frame,
)
from matching.domain import EmploymentCondition, JobForm, OutcomeStage, TargetGroup
from reporting.performance import (
    TERMS_COLUMNS,
    credited_outcomes,
    form_weight_column,
    group_weight_column,
    payments_by_condition,
    payments_by_period,
)
from service.api.outcomes import OUTCOME_BY_COACH, OUTCOME_BY_EMPLOYER, OUTCOME_CLAIM_CONFIRMED
from service.api.runtime import ServingState, record_dict
from service.api.schemas import (
    AuditTraceOut,
    ConditionStatementOut,
    PerformancePoints,
    PerformanceTermsIn,
    PerformanceTermsOut,
    StatementLineOut,
    StatementOut,
    StatementPeriodOut,
)
from service.api.security import Caller, pseudonym
from service.operations.errors import InvalidError, NotFoundError
from service.storage.exposure_log import SHORTLIST_ROUTE
from service.storage.tables import (
    AuditLogEntry,
    ContractRecord,
    EmploymentConditionRecord,
    JobseekerRecord,
    OrganisationRecord,
    OutcomeRecord,
    PerformanceTermsRecord,
    PersonKey,
    SupplierRecord,
    VacancyRecord,
)
from service.storage.world_io import META_WORLD_FINGERPRINT, read_meta

__all__ = [
    "OUTCOME_ROUTES",
    "STATEMENT_CSV_COLUMNS",
    "buyer_statement",
    "check_terms",
    "statement_csv",
    "supplier_statement",
    "terms_out",
    "terms_record",
    "terms_view",
]

#: Audit routes of an outcome recorded through the service (service.api.outcomes).
OUTCOME_ROUTES = (OUTCOME_BY_EMPLOYER, OUTCOME_CLAIM_CONFIRMED, OUTCOME_BY_COACH)
#: Stages that earn points: only their outcomes are read.
_EARNING = (
    OutcomeStage.HIRED.value,
    OutcomeStage.RETAINED_6M.value,
    OutcomeStage.RETAINED_12M.value,
)
_PERIOD = re.compile(r"^[0-9]{4}(-(0[1-9]|1[0-2])|Q[1-4])$")
#: Ids per IN list (well under every driver's bound-parameter limit).
_CHUNK = 500

# ---- terms ----------------------------------------------------------------------------------


def check_terms(
    condition: EmploymentCondition, terms: PerformanceTermsIn | None, loc: Sequence[str | int]
) -> None:
    """422 naming the field unless ``terms`` fit ``condition``: present exactly when it is
    performance-based, and weights only for its own target groups and job forms."""
    if condition.performance_based and terms is None:
        raise InvalidError(
            [*loc, "performance"], "is required for a performance-based condition", None
        )
    if not condition.performance_based and terms is not None:
        raise InvalidError(
            [*loc, "performance"],
            "is only for a performance-based condition (set performance_based to true)",
            "terms",
        )
    if terms is None:
        return
    for group in terms.target_group_weights:
        if group not in condition.target_groups:
            raise InvalidError(
                [*loc, "performance", "target_group_weights", group.value],
                "is not one of the condition's target groups",
                group.value,
            )
    for form in terms.job_form_weights:
        if form not in condition.allowed_job_forms:
            raise InvalidError(
                [*loc, "performance", "job_form_weights", form.value],
                "is not one of the condition's allowed job forms",
                form.value,
            )


def terms_record(condition: EmploymentCondition, terms: PerformanceTermsIn) -> dict[str, Any]:
    """The ``performance_terms`` row of checked ``terms`` (:func:`check_terms`): a weight left
    out is 1 for the condition's groups and forms, and 0 for the others (they never earn)."""
    row: dict[str, Any] = {
        "condition_id": condition.condition_id,
        "price_per_point_eur": float(terms.price_per_point_eur),
        "cap_eur": float(terms.cap_eur),
        "points_hired": float(terms.points.hired),
        "points_retained_6m": float(terms.points.retained_6m),
        "points_retained_12m": float(terms.points.retained_12m),
        "period": terms.period,
    }
    for group in TargetGroup:
        named = group in condition.target_groups
        weight = terms.target_group_weights.get(group, 1.0) if named else 0.0
        row[group_weight_column(group)] = float(weight)
    for form in JobForm:
        allowed = form in condition.allowed_job_forms
        weight = terms.job_form_weights.get(form, 1.0) if allowed else 0.0
        row[form_weight_column(form)] = float(weight)
    return row


def terms_view(
    row: Mapping[str, Any], target_groups: Iterable[str], job_forms: Iterable[str]
) -> PerformanceTermsOut:
    """Terms as buyer and supplier read them: the weights of the condition's own groups and
    forms (the others are 0 by construction)."""
    return PerformanceTermsOut(
        price_per_point_eur=float(row["price_per_point_eur"]),
        cap_eur=float(row["cap_eur"]),
        points=PerformancePoints(
            hired=float(row["points_hired"]),
            retained_6m=float(row["points_retained_6m"]),
            retained_12m=float(row["points_retained_12m"]),
        ),
        target_group_weights={g: float(row[group_weight_column(g)]) for g in sorted(target_groups)},
        job_form_weights={f: float(row[form_weight_column(f)]) for f in sorted(job_forms)},
        period=str(row["period"]),
    )


def terms_out(
    record: PerformanceTermsRecord | None, condition: EmploymentConditionRecord
) -> PerformanceTermsOut | None:
    """A stored condition's terms (None for a quota condition)."""
    if record is None:
        return None
    return terms_view(
        record_dict(record, TERMS_COLUMNS), condition.target_groups, condition.allowed_job_forms
    )


def terms_of(session: Session, condition_ids: Iterable[str]) -> dict[str, PerformanceTermsRecord]:
    """The terms of the given conditions that have them, by condition id."""
    rows = _in_chunks(
        session,
        select(PerformanceTermsRecord),
        PerformanceTermsRecord.condition_id,
        list(condition_ids),
    )
    return {record.condition_id: record for record in rows}


# ---- the contract's own world ---------------------------------------------------------------


def _frame(records: Sequence[object], table: str) -> pd.DataFrame:
    """ORM rows as the world table's DataFrame, with :func:`load_world`'s dtypes."""
    if not records:
        return empty_world_frame(table)
    columns = tuple(SCHEMAS[table].names)
    arrow = pa.Table.from_pylist(
        [record_dict(r, columns) for r in records], schema=plain_schema(SCHEMAS[table])
    )
    return world_frame(arrow, table)


def _in_chunks(session: Session, query: Any, column: Any, ids: Sequence[str]) -> list[Any]:
    rows: list[Any] = []
    for start in range(0, len(ids), _CHUNK):
        rows += session.scalars(query.where(column.in_(ids[start : start + _CHUNK]))).all()
    return rows


def _contract_world(
    session: Session, state: ServingState, contract: ContractRecord
) -> tuple[WorldTables, list[EmploymentConditionRecord], dict[str, PerformanceTermsRecord]]:
    """The contract, its conditions and terms, its vacancies under a condition with terms,
    their hire and retention outcomes and the people hired, as a world of its own."""
    conditions = list(
        session.scalars(
            select(EmploymentConditionRecord)
            .where(EmploymentConditionRecord.contract_id == contract.contract_id)
            .order_by(EmploymentConditionRecord.condition_id)
        )
    )
    terms = terms_of(session, [c.condition_id for c in conditions])
    vacancies = (
        _in_chunks(
            session,
            select(VacancyRecord).order_by(VacancyRecord.vacancy_id),
            VacancyRecord.condition_id,
            sorted(terms),
        )
        if terms
        else []
    )
    outcomes = _in_chunks(
        session,
        select(OutcomeRecord)
        .where(OutcomeRecord.stage.in_(_EARNING))
        .order_by(OutcomeRecord.event_id),
        OutcomeRecord.vacancy_id,
        [v.vacancy_id for v in vacancies],
    )
    people = _in_chunks(
        session,
        select(JobseekerRecord).order_by(JobseekerRecord.jobseeker_id),
        JobseekerRecord.jobseeker_id,
        sorted({o.jobseeker_id for o in outcomes}),
    )
    buyer = session.get(OrganisationRecord, contract.buyer_id)
    records: dict[str, Sequence[object]] = {
        "organisations": [buyer] if buyer is not None else [],
        "jobseekers": people,
        "contracts": [contract],
        "employment_conditions": conditions,
        "performance_terms": list(terms.values()),
        "vacancies": vacancies,
        "outcomes": outcomes,
    }
    frames = {
        name: _frame(records[name], name) if name in records else empty_world_frame(name)
        for name in TABLES
    }
    manifest = {"as_of": state.today.isoformat()}
    root = Path(f"statement of {contract.contract_id}")
    return WorldTables(root=root, manifest=manifest, **frames), conditions, terms


# ---- traces ---------------------------------------------------------------------------------


def _trace(seq: int, entry_hash: str, route: str, recorded_at: Any) -> AuditTraceOut:
    return AuditTraceOut(seq=seq, entry_hash=entry_hash, route=route, recorded_at=recorded_at)


def _outcome_entries(session: Session, event_ids: Sequence[str]) -> dict[str, list[AuditTraceOut]]:
    """The audit entries that recorded each outcome, by event id."""
    found: dict[str, list[AuditTraceOut]] = {}
    event = AuditLogEntry.query["event_id"].as_string()
    for start in range(0, len(event_ids), _CHUNK):
        rows = session.execute(
            select(
                AuditLogEntry.seq,
                AuditLogEntry.entry_hash,
                AuditLogEntry.route,
                AuditLogEntry.recorded_at,
                event,
            )
            .where(AuditLogEntry.route.in_(OUTCOME_ROUTES))
            .where(event.in_(event_ids[start : start + _CHUNK]))
            .order_by(AuditLogEntry.seq)
        ).all()
        for seq, entry_hash, route, recorded_at, event_id in rows:
            found.setdefault(str(event_id), []).append(_trace(seq, entry_hash, route, recorded_at))
    return found


def _shortlist_entries(
    session: Session, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], list[AuditTraceOut]]:
    """The audited shortlists of each (person, vacancy) pair's vacancy that showed the person
    (ranked, or after the ranking as proposed). Erased people have no key: none is found."""
    people = sorted({person for person, _ in pairs})
    keys: dict[str, str] = {}
    for start in range(0, len(people), _CHUNK):
        named_rows = session.execute(
            select(PersonKey.pseudonym, PersonKey.jobseeker_id).where(
                PersonKey.jobseeker_id.in_(people[start : start + _CHUNK])
            )
        ).all()
        keys.update({str(name): str(person) for name, person in named_rows})
    vacancies = sorted({vacancy for _, vacancy in pairs})
    vacancy = AuditLogEntry.query["vacancy_id"].as_string()
    found: dict[tuple[str, str], list[AuditTraceOut]] = {}
    for start in range(0, len(vacancies), _CHUNK):
        rows = session.execute(
            select(
                AuditLogEntry.seq,
                AuditLogEntry.entry_hash,
                AuditLogEntry.route,
                AuditLogEntry.recorded_at,
                vacancy,
                AuditLogEntry.results,
                AuditLogEntry.query,
            )
            .where(AuditLogEntry.route == SHORTLIST_ROUTE)
            .where(vacancy.in_(vacancies[start : start + _CHUNK]))
            .order_by(AuditLogEntry.seq)
        ).all()
        for seq, entry_hash, route, recorded_at, vacancy_id, results, query in rows:
            shown = [*(results or []), *((query or {}).get("proposed") or [])]
            named = {keys[str(item[0])] for item in shown if item and str(item[0]) in keys}
            for person in named:
                if (person, str(vacancy_id)) in pairs:
                    found.setdefault((person, str(vacancy_id)), []).append(
                        _trace(seq, entry_hash, route, recorded_at)
                    )
    return found


def _loaded_source(session: Session) -> str:
    """What a statement says of outcomes that came with a loaded world (no audit entry)."""
    meta = read_meta(session.connection())
    fingerprint = meta.get(META_WORLD_FINGERPRINT)
    manifest = json.loads(meta.get("world_manifest", "{}") or "{}")
    if fingerprint is None:
        return "loaded into the database without an audit entry"
    generator = manifest.get("generator", "a world")
    as_of = manifest.get("as_of", "?")
    return f"loaded from {generator} world {fingerprint[:16]} (as of {as_of})"


# ---- statements -----------------------------------------------------------------------------


def _supplier_contract(session: Session, caller: Caller, contract_id: str) -> ContractRecord:
    """One of the caller's suppliers' contracts; another's is as absent as a missing one."""
    record = session.scalar(
        select(ContractRecord)
        .join(SupplierRecord, SupplierRecord.supplier_id == ContractRecord.supplier_id)
        .where(
            ContractRecord.contract_id == contract_id,
            SupplierRecord.organisation_id == caller.organisation_id,
        )
    )
    if record is None:
        raise NotFoundError("contract", contract_id)
    return record


def _buyer_contract(session: Session, caller: Caller, contract_id: str) -> ContractRecord:
    record = session.get(ContractRecord, contract_id)
    if record is None or record.buyer_id != caller.organisation_id:
        raise NotFoundError("contract", contract_id)
    return record


def _check_period(period: str | None) -> None:
    if period is not None and not _PERIOD.match(period):
        raise InvalidError(
            ["path", "period"], "is not a month (2026-03) or a quarter (2026Q1)", period
        )


def _statement(
    session: Session, state: ServingState, contract: ContractRecord, period: str | None
) -> StatementOut:
    _check_period(period)
    world, conditions, terms = _contract_world(session, state, contract)
    credited = credited_outcomes(world)
    payments = payments_by_condition(credited, world.performance_terms, world.employment_conditions)
    by_period = payments_by_period(credited)
    lines = credited if period is None else credited[credited["period"] == period]
    event_ids = lines["event_id"].astype(str).tolist()
    recorded = _outcome_entries(session, event_ids)
    pairs = set(
        zip(lines["jobseeker_id"].astype(str), lines["vacancy_id"].astype(str), strict=True)
    )
    shortlists = _shortlist_entries(session, pairs)
    loaded = _loaded_source(session) if len(recorded) < len(event_ids) else ""
    totals: dict[str, dict[str, Any]] = {
        str(row["condition_id"]): row for row in _records(payments)
    }
    out: list[ConditionStatementOut] = []
    for condition in conditions:
        record = terms.get(condition.condition_id)
        view = terms_out(record, condition)
        if view is None:
            continue
        own = lines[lines["condition_id"] == condition.condition_id]
        own_periods = by_period[by_period["condition_id"] == condition.condition_id].copy()
        own_periods["running_total_eur"] = own_periods["amount_eur"].cumsum()
        if period is not None:
            own_periods = own_periods[own_periods["period"] == period]
        total = totals[condition.condition_id]
        out.append(
            ConditionStatementOut(
                condition_id=condition.condition_id,
                terms=view,
                credited_hires=int(
                    (own["stage"] == OutcomeStage.HIRED.value).sum()
                    if period is not None
                    else total["credited_hires"]
                ),
                credited_outcomes=len(own),
                points=_points(own["points"].sum()),
                amount_before_cap_eur=_eur(own["amount_eur"].sum()),
                amount_eur=_eur(own["capped_amount_eur"].sum()),
                cap_eur=_eur(total["cap_eur"]),
                cap_remaining_eur=_eur(total["cap_remaining_eur"]),
                periods=[
                    StatementPeriodOut(
                        period=str(p["period"]),
                        outcomes=int(p["outcomes"]),
                        points=_points(p["points"]),
                        amount_before_cap_eur=_eur(p["amount_before_cap_eur"]),
                        amount_eur=_eur(p["amount_eur"]),
                        running_total_eur=_eur(p["running_total_eur"]),
                    )
                    for p in _records(own_periods)
                ],
                lines=[_line(state, row, recorded, shortlists, loaded) for row in _records(own)],
            )
        )
    return StatementOut(
        contract_id=contract.contract_id,
        title=contract.title,
        buyer_id=contract.buyer_id,
        supplier_id=contract.supplier_id,
        on=state.today,
        period=period,
        amount_eur=_eur(sum(c.amount_eur for c in out)),
        conditions=out,
    )


def _eur(value: Any) -> float:
    """Money as a statement shows it: to the cent (the credits are computed unrounded)."""
    return round(float(value), 2)


def _points(value: Any) -> float:
    return round(float(value), 6)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _line(
    state: ServingState,
    row: Mapping[str, Any],
    recorded: Mapping[str, list[AuditTraceOut]],
    shortlists: Mapping[tuple[str, str], list[AuditTraceOut]],
    loaded: str,
) -> StatementLineOut:
    event_id = str(row["event_id"])
    person, vacancy = str(row["jobseeker_id"]), str(row["vacancy_id"])
    entries = recorded.get(event_id, [])
    return StatementLineOut(
        period=str(row["period"]),
        day=pd.Timestamp(row["day"]).date(),
        stage=str(row["stage"]),
        event_id=event_id,
        hire_event_id=str(row["hire_event_id"]),
        vacancy_id=vacancy,
        candidate=pseudonym(state.pseudonym_key, vacancy, person),
        job_form=str(row["job_form"]),
        stage_points=float(row["stage_points"]),
        group_weight=float(row["group_weight"]),
        form_weight=float(row["form_weight"]),
        points=_points(row["points"]),
        amount_eur=_eur(row["amount_eur"]),
        capped_amount_eur=_eur(row["capped_amount_eur"]),
        running_total_eur=_eur(row["running_total_eur"]),
        over_cap=bool(row["over_cap"]),
        recorded_by=entries,
        source="recorded through the service" if entries else loaded,
        shortlisted_in=shortlists.get((person, vacancy), []),
    )


def buyer_statement(
    session: Session,
    state: ServingState,
    caller: Caller,
    contract_id: str,
    period: str | None = None,
) -> StatementOut:
    """The running payment statement of one of the caller's organisation's contracts (its
    performance-based conditions), or the statement of one payment ``period``."""
    return _statement(session, state, _buyer_contract(session, caller, contract_id), period)


def supplier_statement(
    session: Session,
    state: ServingState,
    caller: Caller,
    contract_id: str,
    period: str | None = None,
) -> StatementOut:
    """The same statement, for an employer user of the contract's supplier organisation."""
    return _statement(session, state, _supplier_contract(session, caller, contract_id), period)


# ---- CSV ------------------------------------------------------------------------------------

#: The columns of a statement's CSV: one ``outcome`` row per line, then one ``period_total``
#: row per period and one ``condition_total`` row per condition.
STATEMENT_CSV_COLUMNS = (
    "record",
    "contract_id",
    "condition_id",
    "period",
    "day",
    "stage",
    "event_id",
    "hire_event_id",
    "vacancy_id",
    "candidate",
    "job_form",
    "stage_points",
    "group_weight",
    "form_weight",
    "points",
    "amount_eur",
    "capped_amount_eur",
    "running_total_eur",
    "over_cap",
    "recorded_by",
    "source",
    "shortlisted_in",
)


def _entries_text(entries: Sequence[AuditTraceOut]) -> str:
    return " ".join(f"{e.seq}:{e.entry_hash}" for e in entries)


def _money(value: float) -> str:
    return f"{value:.2f}"


def statement_csv(statement: StatementOut) -> str:
    """The statement as CSV (:data:`STATEMENT_CSV_COLUMNS`); audit entries as ``seq:hash``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=STATEMENT_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for condition in statement.conditions:
        base = {"contract_id": statement.contract_id, "condition_id": condition.condition_id}
        for line in condition.lines:
            writer.writerow(
                {
                    **base,
                    "record": "outcome",
                    "period": line.period,
                    "day": line.day.isoformat(),
                    "stage": line.stage,
                    "event_id": line.event_id,
                    "hire_event_id": line.hire_event_id,
                    "vacancy_id": line.vacancy_id,
                    "candidate": line.candidate,
                    "job_form": line.job_form,
                    "stage_points": f"{line.stage_points:g}",
                    "group_weight": f"{line.group_weight:g}",
                    "form_weight": f"{line.form_weight:g}",
                    "points": f"{line.points:g}",
                    "amount_eur": _money(line.amount_eur),
                    "capped_amount_eur": _money(line.capped_amount_eur),
                    "running_total_eur": _money(line.running_total_eur),
                    "over_cap": "true" if line.over_cap else "false",
                    "recorded_by": _entries_text(line.recorded_by),
                    "source": line.source,
                    "shortlisted_in": _entries_text(line.shortlisted_in),
                }
            )
        for total in condition.periods:
            writer.writerow(
                {
                    **base,
                    "record": "period_total",
                    "period": total.period,
                    "points": f"{total.points:g}",
                    "amount_eur": _money(total.amount_before_cap_eur),
                    "capped_amount_eur": _money(total.amount_eur),
                    "running_total_eur": _money(total.running_total_eur),
                }
            )
        writer.writerow(
            {
                **base,
                "record": "condition_total",
                "period": statement.period or "",
                "points": f"{condition.points:g}",
                "amount_eur": _money(condition.amount_before_cap_eur),
                "capped_amount_eur": _money(condition.amount_eur),
            }
        )
    return buffer.getvalue()
