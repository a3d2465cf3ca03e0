"""Procurement officers' operations: contracts, their ledgers, and the statistics.

One function per operation; the JSON routes (``service.api.routers.procurement`` and
``statistics``), the pages (``service.web.routes.procurement``) and ``kohtaanto stats`` only
translate in and out.

Statistics are published with small-cell suppression: only aggregates resting on at least
five people leave the service, so every procurement unit may compare every municipality.
They are not real-time: a worker builds its fact tables from the database at most once per
``statistics_cache_seconds`` (:class:`FactsCache`) and answers from them in between.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.world_store import SCHEMAS, condition_from_row, jobseeker_from_row
from matching.domain import (
    BuyerKind,
    DomainValidationError,
    EmploymentCondition,
    ProcurementContract,
    TargetGroup,
    check_references,
)
from matching.eligibility import eligibility
from reporting.contract_types import (
    NOTES,
    AreaBy,
    contract_type_table,
    publish_contract_type_table,
)
from reporting.definitions import MIN_PEOPLE, TARGET_GROUP_COLUMNS, TOTAL, target_group_column
from reporting.facts import Facts, build_facts
from reporting.impact import impact_table
from reporting.impact_parameters import ImpactParameters, load_parameters
from reporting.indicators import indicator_table, key_columns
from reporting.performance import credited_outcomes
from reporting.publish import (
    PublishedTable,
    hires_by_target_group,
    publish_impact_table,
    publish_indicator_table,
)
from service.api.catalog import catalog_of
from service.api.runtime import ServingState, record_dict
from service.api.schemas import ConditionOut, ContractIn, ContractOut, LedgerLine, LedgerOut
from service.api.security import Caller
from service.operations.errors import ConflictError, InvalidError, NotFoundError
from service.operations.performance import check_terms, terms_of, terms_out, terms_record
from service.storage.tables import (
    ContractRecord,
    EmploymentConditionRecord,
    JobseekerRecord,
    OrganisationRecord,
    OutcomeRecord,
    PerformanceTermsRecord,
    SupplierRecord,
    VacancyRecord,
)
from service.storage.world_io import read_world_tables

__all__ = [
    "CHARTS",
    "FULFILMENT_TOP",
    "ContractView",
    "FactsCache",
    "OrganisationContractTypes",
    "OrganisationStatistics",
    "StatisticsOut",
    "chart_png",
    "chart_tables",
    "contract_titles",
    "contract_types",
    "contract_types_chart_png",
    "contract_view",
    "contract_views",
    "contracts_out",
    "create_contract",
    "deadline_status",
    "facts_cache",
    "impact",
    "indicators",
    "ledger",
    "list_contracts",
    "organisation_chart_png",
    "organisation_contract_types",
    "organisation_statistics",
    "own_contract",
    "published_contract_types",
    "published_impact",
    "published_indicators",
    "read_contract",
]

# ---- contracts ------------------------------------------------------------------------------


def own_contract(session: Session, caller: Caller, contract_id: str) -> ContractRecord:
    """The caller's organisation's contract; another's is as absent as a missing one."""
    record = session.get(ContractRecord, contract_id)
    if record is None or record.buyer_id != caller.organisation_id:
        raise NotFoundError("contract", contract_id)
    return record


def conditions_of(
    session: Session, contract_ids: Iterable[str]
) -> dict[str, list[EmploymentConditionRecord]]:
    """The conditions of several contracts in one query, each list by condition id."""
    ids = list(contract_ids)
    out: dict[str, list[EmploymentConditionRecord]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.scalars(
        select(EmploymentConditionRecord)
        .where(EmploymentConditionRecord.contract_id.in_(ids))
        .order_by(EmploymentConditionRecord.condition_id)
    )
    for row in rows:
        out[row.contract_id].append(row)
    return out


def contract_out(
    record: ContractRecord,
    conditions: list[EmploymentConditionRecord],
    terms: Mapping[str, PerformanceTermsRecord] | None = None,
) -> ContractOut:
    """A contract and its employment conditions as buyers and suppliers read them, with the
    terms of its performance-based conditions (``terms``, by condition id)."""
    terms = terms or {}
    return ContractOut(
        contract_id=record.contract_id,
        buyer_id=record.buyer_id,
        supplier_id=record.supplier_id,
        cpv_code=record.cpv_code,
        title=record.title,
        starts_on=record.starts_on,
        ends_on=record.ends_on,
        value_eur=record.value_eur,
        conditions=[
            ConditionOut(
                condition_id=c.condition_id,
                target_groups=list(c.target_groups),
                hires_required=c.hires_required,
                deadline=c.deadline,
                allowed_job_forms=list(c.allowed_job_forms),
                performance_based=c.performance_based,
                performance=terms_out(terms.get(c.condition_id), c),
            )
            for c in conditions
        ],
    )


def contracts_out(session: Session, records: Sequence[ContractRecord]) -> list[ContractOut]:
    """Contracts with their conditions and terms, in three queries whatever their number."""
    conditions = conditions_of(session, (r.contract_id for r in records))
    terms = terms_of(session, (c.condition_id for cs in conditions.values() for c in cs))
    return [contract_out(r, conditions[r.contract_id], terms) for r in records]


def list_contracts(
    session: Session, caller: Caller, limit: int = 50, after: str | None = None
) -> list[ContractOut]:
    """The caller's organisation's contracts by id, ``limit`` after the id ``after``."""
    query = select(ContractRecord).where(ContractRecord.buyer_id == caller.organisation_id)
    if after:
        query = query.where(ContractRecord.contract_id > after)
    rows = session.scalars(query.order_by(ContractRecord.contract_id).limit(limit)).all()
    return contracts_out(session, rows)


def read_contract(session: Session, caller: Caller, contract_id: str) -> ContractOut:
    record = own_contract(session, caller, contract_id)
    return contracts_out(session, [record])[0]


@dataclass(frozen=True)
class ContractView:
    """A contract as its pages show it: with the supplier's name and the buyer's place."""

    contract: ContractOut
    supplier_name: str | None
    buyer_municipality: str | None


def contract_views(
    session: Session, caller: Caller, limit: int = 50, after: str | None = None
) -> list[ContractView]:
    """The caller's organisation's contracts by id (as :func:`list_contracts`), with names."""
    query = (
        select(ContractRecord, SupplierRecord.name)
        .outerjoin(SupplierRecord, SupplierRecord.supplier_id == ContractRecord.supplier_id)
        .where(ContractRecord.buyer_id == caller.organisation_id)
    )
    if after:
        query = query.where(ContractRecord.contract_id > after)
    rows = session.execute(query.order_by(ContractRecord.contract_id).limit(limit)).all()
    outs = contracts_out(session, [r for r, _ in rows])
    return [
        ContractView(out, name, r.buyer_municipality)
        for out, (r, name) in zip(outs, rows, strict=True)
    ]


def contract_view(session: Session, caller: Caller, contract_id: str) -> ContractView:
    """One of the caller's organisation's contracts, with names (404 for another's)."""
    record = own_contract(session, caller, contract_id)
    supplier = session.get(SupplierRecord, record.supplier_id)
    return ContractView(
        contracts_out(session, [record])[0],
        None if supplier is None else supplier.name,
        record.buyer_municipality,
    )


def contract_titles(session: Session, caller: Caller) -> dict[str, str]:
    """The titles of the caller's organisation's contracts, by id."""
    rows = session.execute(
        select(ContractRecord.contract_id, ContractRecord.title).where(
            ContractRecord.buyer_id == caller.organisation_id
        )
    ).all()
    return {contract_id: title for contract_id, title in rows}


def create_contract(
    session: Session, state: ServingState, caller: Caller, body: ContractIn
) -> ContractOut:
    """Record a contract the caller's organisation signed, with its employment conditions."""
    buyer = session.get(OrganisationRecord, caller.organisation_id)
    if buyer is None or buyer.kind not in ("buyer", "central_purchasing_body"):
        raise ConflictError("your organisation is not a buying organisation")
    if session.get(SupplierRecord, body.supplier_id) is None:
        raise InvalidError(["body", "supplier_id"], "is not a known supplier", body.supplier_id)
    central = buyer.kind == "central_purchasing_body"
    contract_id = f"CT-{uuid.uuid4().hex[:16]}"
    contract = ProcurementContract(
        contract_id=contract_id,
        buyer_id=buyer.organisation_id,
        buyer_kind=BuyerKind.CENTRAL_PURCHASING_BODY if central else BuyerKind.MUNICIPALITY,
        supplier_id=body.supplier_id,
        cpv_code=body.cpv_code,
        title=body.title,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        value_eur=body.value_eur,
        buyer_municipality=None if central else buyer.municipality,
    )
    check_references(contract, catalog_of(state))
    conditions = []
    for i, item in enumerate(body.conditions):
        try:
            conditions.append(
                EmploymentCondition(
                    condition_id=f"EC-{uuid.uuid4().hex[:16]}",
                    contract_id=contract_id,
                    target_groups=frozenset(item.target_groups),
                    hires_required=item.hires_required,
                    deadline=item.deadline,
                    allowed_job_forms=frozenset(item.allowed_job_forms),
                    performance_based=item.performance_based,
                )
            )
        except DomainValidationError as error:
            raise DomainValidationError(
                f"conditions[{i}].{error.field}", error.value, error.problem
            ) from error
        check_terms(conditions[-1], item.performance, ["body", "conditions", i])
        if item.deadline < body.starts_on:
            raise InvalidError(
                ["body", "conditions", str(i), "deadline"],
                "is before the contract starts",
                str(item.deadline),
            )
    session.add(
        ContractRecord(
            contract_id=contract_id,
            buyer_id=contract.buyer_id,
            buyer_kind=contract.buyer_kind.value,
            buyer_municipality=contract.buyer_municipality,
            supplier_id=contract.supplier_id,
            cpv_code=contract.cpv_code,
            title=contract.title,
            starts_on=contract.starts_on,
            ends_on=contract.ends_on,
            value_eur=contract.value_eur,
        )
    )
    session.flush()
    for condition in conditions:
        session.add(
            EmploymentConditionRecord(
                condition_id=condition.condition_id,
                contract_id=contract_id,
                target_groups=sorted(g.value for g in condition.target_groups),
                hires_required=condition.hires_required,
                deadline=condition.deadline,
                allowed_job_forms=sorted(f.value for f in condition.allowed_job_forms),
                performance_based=condition.performance_based,
            )
        )
    session.flush()
    for condition, item in zip(conditions, body.conditions, strict=True):
        if item.performance is not None:  # checked above: exactly the performance-based ones
            session.add(PerformanceTermsRecord(**terms_record(condition, item.performance)))
    session.commit()
    return read_contract(session, caller, contract_id)


# ---- the ledger -----------------------------------------------------------------------------


def deadline_status(required: int, made: int, deadline: date, starts_on: date, today: date) -> str:
    """``met``; ``missed`` after the deadline; ``at_risk`` when behind a straight-line pace."""
    if made >= required:
        return "met"
    if today > deadline:
        return "missed"
    span = max((deadline - starts_on).days, 1)
    elapsed = min(max((today - starts_on).days, 0), span)
    return "at_risk" if made < required * elapsed / span else "on_track"


def ledger(session: Session, state: ServingState, caller: Caller, contract_id: str) -> LedgerOut:
    """Hires required and made per employment condition, by target group and job form.

    A hire counts toward a condition when the person belonged to one of its target groups on
    the day of the hire (the same rules as matching). Hires of erased people keep counting
    (they were checked when made) under the group ``erased``.
    """
    contract = own_contract(session, caller, contract_id)
    today = state.today
    condition_records = conditions_of(session, [contract_id])[contract_id]
    hires_by_condition: dict[str, list[tuple[OutcomeRecord, str]]] = {
        c.condition_id: [] for c in condition_records
    }
    if condition_records:
        rows = session.execute(
            select(OutcomeRecord, VacancyRecord.job_form, VacancyRecord.condition_id)
            .join(VacancyRecord, VacancyRecord.vacancy_id == OutcomeRecord.vacancy_id)
            .where(
                VacancyRecord.condition_id.in_(list(hires_by_condition)),
                OutcomeRecord.stage == "hired",
            )
            .order_by(OutcomeRecord.occurred_at)
        ).all()
        for outcome, job_form, condition_id in rows:
            hires_by_condition[str(condition_id)].append((outcome, job_form))
    people_ids = {o.jobseeker_id for hires in hires_by_condition.values() for o, _ in hires}
    columns = tuple(SCHEMAS["jobseekers"].names)
    people = (
        {
            r.jobseeker_id: jobseeker_from_row(record_dict(r, columns))
            for r in session.scalars(
                select(JobseekerRecord).where(JobseekerRecord.jobseeker_id.in_(people_ids))
            )
        }
        if people_ids
        else {}
    )
    lines: list[LedgerLine] = []
    for condition_record in condition_records:
        condition = condition_from_row(
            record_dict(condition_record, tuple(SCHEMAS["employment_conditions"].names))
        )
        seen: set[tuple[str, str]] = set()
        by_group: Counter[str] = Counter()
        by_form: Counter[str] = Counter()
        made = not_counted = 0
        for outcome, job_form in hires_by_condition[condition.condition_id]:
            key = (outcome.jobseeker_id, outcome.vacancy_id)
            if key in seen:
                continue
            seen.add(key)
            person = people.get(outcome.jobseeker_id)
            if person is None:
                made += 1
                by_group["erased"] += 1
                by_form[job_form] += 1
                continue
            decision = eligibility(person, condition, outcome.occurred_at.date())
            if not decision.eligible:
                not_counted += 1
                continue
            made += 1
            rule = decision.deciding_rule
            by_group[rule.group.value if rule else "unknown"] += 1
            by_form[job_form] += 1
        lines.append(
            LedgerLine(
                condition_id=condition.condition_id,
                target_groups=sorted(g.value for g in condition.target_groups),
                hires_required=condition.hires_required,
                hires_made=made,
                hires_not_counted=not_counted,
                by_target_group=dict(sorted(by_group.items())),
                by_job_form=dict(sorted(by_form.items())),
                deadline=condition.deadline,
                deadline_status=deadline_status(
                    condition.hires_required, made, condition.deadline, contract.starts_on, today
                ),
            )
        )
    return LedgerOut(contract_id=contract_id, on=today, lines=lines)


# ---- statistics -----------------------------------------------------------------------------

By = Literal["municipality", "buyer", "contract", "cpv_division", "country", "period"]
Period = Literal["month", "quarter", "year"]
ChartName = Literal["fulfilment", "hires_by_target_group", "impact_per_hire"]
CHARTS: tuple[ChartName, ...] = ("fulfilment", "hires_by_target_group", "impact_per_hire")
#: The world tables the fact tables are built from.
STATISTICS_TABLES = (
    "organisations",
    "coaches",
    "jobseekers",
    "assessments",
    "contracts",
    "employment_conditions",
    "vacancies",
    "outcomes",
    "performance_terms",
)


class StatisticsOut(BaseModel):
    """A published table: ``data`` rows name their ``hidden`` (suppressed) cells."""

    meta: dict[str, Any]
    columns: list[str]
    data: list[dict[str, Any]]
    count: int


@dataclass
class FactsCache:
    """One worker's fact tables and when they were built; also its published tables and
    drawn charts, valid as long as the facts they come from."""

    seconds: float
    parameters: ImpactParameters = field(default_factory=load_parameters)
    facts: Facts | None = None
    built_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Published tables and PNG charts of the current facts, by what they were made of.
    derived: dict[tuple[object, ...], object] = field(default_factory=dict)
    #: The credited performance outcomes read with each fact tables (the same snapshot).
    credited: weakref.WeakKeyDictionary[Facts, pd.DataFrame] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def get(self, state: ServingState) -> Facts:
        with self.lock:
            if self.facts is None or time.monotonic() - self.built_at > self.seconds:
                world = read_world_tables(state.db, STATISTICS_TABLES)
                self.facts = build_facts(world)
                self.credited[self.facts] = credited_outcomes(world, facts=self.facts)
                self.built_at = time.monotonic()
                self.derived = {}
            return self.facts

    def credited_of(self, facts: Facts) -> pd.DataFrame:
        """The credited performance outcomes of the snapshot ``facts`` were built from."""
        with self.lock:
            return self.credited[facts]

    def memo(
        self, state: ServingState, key: tuple[object, ...], make: Callable[[Facts], Any]
    ) -> Any:
        """``make(facts)`` computed once per fact tables (and per ``key``)."""
        facts = self.get(state)
        with self.lock:
            if key in self.derived and self.facts is facts:
                return self.derived[key]
        value = make(facts)
        with self.lock:
            if self.facts is facts:
                if len(self.derived) > 256:  # many date windows: start over
                    self.derived.clear()
                self.derived[key] = value
        return value


def facts_cache(state: ServingState) -> FactsCache:
    """This worker's statistics cache."""
    cache = state.caches.get("statistics")
    if not isinstance(cache, FactsCache):
        cache = state.caches["statistics"] = FactsCache(state.statistics_cache_seconds)
    return cache


def _window(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end <= start:
        raise InvalidError(["query", "end"], f"must be after start ({start})", str(end))


def _meta(
    by: str, period: str | None, start: date | None, end: date | None, params: ImpactParameters
) -> dict[str, Any]:
    return {
        "by": by,
        "period": period,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "parameters_version": params.version,
        "suppression": f"cells resting on 1-{MIN_PEOPLE - 1} people are hidden, with "
        "complementary cells so that no hidden cell follows from published totals",
    }


def _published(
    state: ServingState,
    kind: Literal["indicators", "impact"],
    by: By,
    period: Period | None,
    start: date | None,
    end: date | None,
) -> PublishedTable:
    """A published (suppressed) table of ``kind``, kept with the facts it was computed from."""
    _window(start, end)
    cache = facts_cache(state)
    table_period = period if by != "period" else (period or "quarter")
    compute, publish = (
        (indicator_table, publish_indicator_table)
        if kind == "indicators"
        else (impact_table, publish_impact_table)
    )

    def make(facts: Facts) -> PublishedTable:
        raw = compute(facts, by, table_period, start, end, params=cache.parameters, totals=True)
        return publish(raw, key_columns(by, table_period))

    table: PublishedTable = cache.memo(state, (kind, by, table_period, start, end), make)
    return table


def published_indicators(
    state: ServingState,
    by: By,
    period: Period | None = None,
    start: date | None = None,
    end: date | None = None,
) -> PublishedTable:
    """The published (suppressed) indicator table, as the API and ``kohtaanto stats`` give it."""
    return _published(state, "indicators", by, period, start, end)


def published_impact(
    state: ServingState,
    by: By,
    period: Period | None = None,
    start: date | None = None,
    end: date | None = None,
) -> PublishedTable:
    """The published (suppressed) impact table."""
    return _published(state, "impact", by, period, start, end)


def _document(
    state: ServingState,
    kind: Literal["indicators", "impact"],
    by: By,
    period: Period | None,
    start: date | None,
    end: date | None,
) -> StatisticsOut:
    """The published table of ``kind`` as the API's document, memoised with the facts."""
    _window(start, end)
    table_period = period if by != "period" else (period or "quarter")
    cache = facts_cache(state)

    def make(_facts: Facts) -> StatisticsOut:
        published = _published(state, kind, by, period, start, end)
        meta = _meta(by, table_period, start, end, cache.parameters)
        return StatisticsOut.model_validate(published.to_document(meta))

    answer: StatisticsOut = cache.memo(
        state, (f"{kind}-document", by, table_period, start, end), make
    )
    return answer


def indicators(
    state: ServingState,
    by: By = "municipality",
    period: Period | None = None,
    start: date | None = None,
    end: date | None = None,
) -> StatisticsOut:
    """The common indicators per municipality, buyer, contract, CPV division, country or period."""
    return _document(state, "indicators", by, period, start, end)


def impact(
    state: ServingState,
    by: By = "country",
    period: Period | None = None,
    start: date | None = None,
    end: date | None = None,
) -> StatisticsOut:
    """Economic impact for the person, the municipality and the state, with ranges."""
    return _document(state, "impact", by, period, start, end)


def _draw(draw: Callable[[PublishedTable, Path], Path], table: PublishedTable, name: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="kohtaanto-chart-") as folder:
        path = draw(table, Path(folder) / f"{name}.png")
        return Path(path).read_bytes()


def chart_tables(
    state: ServingState, start: date | None = None, end: date | None = None
) -> dict[ChartName, PublishedTable]:
    """The published table each national chart is drawn from (what ``kohtaanto stats`` draws)."""
    over_time = published_indicators(state, "period", "quarter", start, end)
    return {
        "fulfilment": published_indicators(state, "municipality", None, start, end),
        "hires_by_target_group": hires_by_target_group(over_time),
        "impact_per_hire": published_impact(state, "country", None, start, end),
    }


def _chart_function(name: ChartName) -> Callable[[PublishedTable, Path], Path]:
    from reporting.charts import fulfilment_chart, impact_chart, target_group_chart

    return {
        "fulfilment": fulfilment_chart,
        "hires_by_target_group": target_group_chart,
        "impact_per_hire": impact_chart,
    }[name]


def chart_png(state: ServingState, name: ChartName) -> bytes:
    """Fulfilment by municipality, hires by target group over time, impact per placement."""
    png: bytes = facts_cache(state).memo(
        state,
        ("chart", name),
        lambda _facts: _draw(_chart_function(name), chart_tables(state)[name], name),
    )
    return png


# ---- quota and performance contracts side by side --------------------------------------------


def published_contract_types(
    state: ServingState,
    by: AreaBy = "municipality",
    start: date | None = None,
    end: date | None = None,
) -> PublishedTable:
    """Quota and performance contracts side by side per area, every hire figure by sex,
    small cells hidden (:mod:`reporting.contract_types`), kept with the facts."""
    _window(start, end)
    cache = facts_cache(state)

    def make(facts: Facts) -> PublishedTable:
        raw = contract_type_table(
            facts, by, start, end, params=cache.parameters, credited=cache.credited_of(facts)
        )
        return publish_contract_type_table(raw, by)

    table: PublishedTable = cache.memo(state, ("contract-types", by, start, end), make)
    return table


def contract_types(
    state: ServingState,
    by: AreaBy = "municipality",
    start: date | None = None,
    end: date | None = None,
) -> StatisticsOut:
    """Quota and performance contracts side by side (hires, retention, cost per lasting hire,
    impact per euro), each figure about hires also by sex, as the API's document."""
    _window(start, end)
    cache = facts_cache(state)

    def make(_facts: Facts) -> StatisticsOut:
        published = published_contract_types(state, by, start, end)
        meta = {**_meta(by, None, start, end, cache.parameters), **NOTES}
        del meta["period"]
        return StatisticsOut.model_validate(published.to_document(meta))

    answer: StatisticsOut = cache.memo(state, ("contract-types-document", by, start, end), make)
    return answer


def contract_types_chart_png(
    state: ServingState, area: str = TOTAL, start: date | None = None, end: date | None = None
) -> bytes:
    """The side-by-side chart of ``area`` (a municipality code or ``CPB-…`` id; default all)."""
    from reporting.charts import contract_type_chart

    def draw(_facts: Facts) -> bytes:
        table = published_contract_types(state, "municipality", start, end)
        if not (table.values["municipality"] == area).any():
            raise NotFoundError("area", area)
        return _draw(lambda t, path: contract_type_chart(t, path, area), table, "contract_types")

    png: bytes = facts_cache(state).memo(state, ("contract-types-chart", area, start, end), draw)
    return png


@dataclass(frozen=True)
class OrganisationContractTypes:
    """The side-by-side rows a buying organisation's page shows: all areas (``TOTAL``) and
    the organisation's own area(s), cut from the published table (never recomputed)."""

    areas: tuple[str, ...]
    national: PublishedTable
    own: PublishedTable


def organisation_contract_types(
    state: ServingState, caller: Caller, start: date | None = None, end: date | None = None
) -> OrganisationContractTypes:
    """The caller's organisation's area(s) and all areas, quota and performance side by side."""
    table = published_contract_types(state, "municipality", start, end)
    conditions = facts_cache(state).get(state).conditions
    areas = tuple(
        sorted(
            conditions.loc[conditions["buyer_id"] == caller.organisation_id, "area"]
            .dropna()
            .astype(str)
            .unique()
        )
    )
    return OrganisationContractTypes(
        areas=areas,
        national=_rows(table, "municipality", lambda c: c == TOTAL),
        own=_rows(table, "municipality", lambda c: c.isin(areas)),
    )


# ---- one organisation's statistics ----------------------------------------------------------


#: Contracts in the fulfilment chart of one organisation (and in the table beside it).
FULFILMENT_TOP = 25


@dataclass(frozen=True)
class OrganisationStatistics:
    """The published figures about one buying organisation, cut from the national tables.

    Rows are taken from the published tables (never recomputed), so every cell hidden there
    is hidden here and the figures equal the API's: ``indicators`` is the organisation's row of
    ``by=buyer``, ``contracts`` its rows of ``by=contract``, ``over_time`` its rows of
    ``by=buyer&period=quarter`` (hires by deciding target group), ``impact`` its row of the
    ``by=buyer`` impact table.
    """

    organisation_id: str
    start: date | None
    end: date | None
    indicators: PublishedTable
    contracts: PublishedTable
    over_time: PublishedTable
    impact: PublishedTable

    @property
    def top_contracts(self) -> PublishedTable:
        """The contracts the fulfilment chart draws: the most hires required first, at most
        :data:`FULFILMENT_TOP` (an organisation may hold thousands of contracts)."""
        values = self.contracts.values
        order = values.sort_values("hires_required", ascending=False, kind="stable").index
        keep = order[:FULFILMENT_TOP]
        return PublishedTable(
            values=values.loc[keep].reset_index(drop=True),
            hidden=self.contracts.hidden.loc[keep].reset_index(drop=True),
            keys=self.contracts.keys,
        )

    def table(self, name: ChartName) -> PublishedTable:
        """The table chart ``name`` draws (every row of it is drawn)."""
        if name == "fulfilment":
            return self.top_contracts
        if name == "hires_by_target_group":
            return self.over_time
        return self.impact


def _rows(
    table: PublishedTable, column: str, keep: Callable[[pd.Series], pd.Series]
) -> PublishedTable:
    mask = keep(table.values[column]).fillna(False).to_numpy(dtype=bool)
    return PublishedTable(
        values=table.values[mask].reset_index(drop=True),
        hidden=table.hidden[mask].reset_index(drop=True),
        keys=table.keys,
    )


def organisation_statistics(
    state: ServingState, caller: Caller, start: date | None = None, end: date | None = None
) -> OrganisationStatistics:
    """The caller's organisation's published indicators, contracts, hires over time, impact."""
    organisation = caller.organisation_id
    by_buyer = published_indicators(state, "buyer", None, start, end)
    by_contract = published_indicators(state, "contract", None, start, end)
    over_time = published_indicators(state, "buyer", "quarter", start, end)
    impact_by_buyer = published_impact(state, "buyer", None, start, end)
    mine = _rows(by_buyer, "buyer_id", lambda c: c == organisation)
    contracts = _rows(by_contract, "buyer_id", lambda c: c == organisation)
    own_periods = _rows(over_time, "buyer_id", lambda c: c == organisation)
    names = {target_group_column(g): g.value for g in TargetGroup}
    columns = ["period", *TARGET_GROUP_COLUMNS, "hires_made"]
    by_group = PublishedTable(
        values=own_periods.values[columns].rename(columns=names),
        hidden=own_periods.hidden[[*TARGET_GROUP_COLUMNS, "hires_made"]].rename(columns=names),
        keys=("period",),
    )
    return OrganisationStatistics(
        organisation_id=organisation,
        start=start,
        end=end,
        indicators=mine,
        contracts=contracts,
        over_time=by_group,
        impact=_rows(impact_by_buyer, "buyer_id", lambda c: c == organisation),
    )


def organisation_chart_png(
    state: ServingState,
    caller: Caller,
    name: ChartName,
    start: date | None = None,
    end: date | None = None,
) -> bytes:
    """Chart ``name`` of the caller's organisation, drawn by the ``kohtaanto stats`` code."""

    def draw(_facts: Facts) -> bytes:
        table = organisation_statistics(state, caller, start, end).table(name)
        return _draw(_chart_function(name), table, name)

    png: bytes = facts_cache(state).memo(
        state, ("organisation-chart", caller.organisation_id, name, start, end), draw
    )
    return png
