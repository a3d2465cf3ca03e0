"""Exposures the service logged, as training data: audited answers become exposure rows.

Every shortlist and every coach's matches answer is in the audit log with what was shown and
at which rank, in both directions of matching:

* an employer's shortlist is a ``vacancy_shortlist`` query (``query_id``: the vacancy), its
  rows the people shown;
* a coach's matches answer is a ``jobseeker_matches`` query (``query_id``: ``AU<seq>``, the
  audit entry, since one person is shown different lists over time), its rows the vacancies
  shown to that person.

For the training set's inverse-propensity weights each shown pair also needs the probability
that a coach proposes a pair shown at that rank. The service does not decide proposals
(coaches do), so that probability is *estimated* from what happened: per query kind and rank,
the share of shown (vacancy, jobseeker) pairs that were later proposed, shrunk towards the
kind's overall share (a Beta prior worth :data:`PRIOR_WEIGHT` exposures) so that rarely seen
ranks are not noise. Per kind, because a coach reading a list of vacancies for one person and
an employer reading a list of people behave differently at the same rank. This is the
position-based propensity model; it is re-estimated at every retraining.

Entries name people by their audit pseudonym (``service.api.audit``); the people whose keys
still exist in ``person_keys`` are mapped back here. An erased person's key is gone, so
their exposures drop out of the training data with them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select

from features.world_store import SCHEMAS
from service.storage.tables import AuditLogEntry, OutcomeRecord, PersonKey, Proposal

SHORTLIST_ROUTE = "employer.shortlist"
MATCHES_ROUTE = "coach.matches"
SHORTLIST_KIND = "vacancy_shortlist"
MATCHES_KIND = "jobseeker_matches"
PRIOR_WEIGHT = 20.0
#: Never below this: a weight of 1/propensity must stay bounded.
PROPENSITY_FLOOR = 0.01


def _shown(connection: Connection) -> pd.DataFrame:
    """One row per (audited answer, position): who was shown with what, by which model."""
    rows: list[dict[str, Any]] = []
    people = dict(connection.execute(select(PersonKey.pseudonym, PersonKey.jobseeker_id)).all())
    entries = connection.execute(
        select(
            AuditLogEntry.seq,
            AuditLogEntry.route,
            AuditLogEntry.recorded_at,
            AuditLogEntry.query,
            AuditLogEntry.model_version,
            AuditLogEntry.results,
        ).where(AuditLogEntry.route.in_((SHORTLIST_ROUTE, MATCHES_ROUTE)))
    )
    for seq, route, recorded_at, query, model_version, results in entries:
        answer = f"AU{seq:09d}"
        for position, item in enumerate(results, start=1):
            if route == SHORTLIST_ROUTE:
                vacancy_id = str(query.get("vacancy_id", ""))
                kind, query_id = SHORTLIST_KIND, vacancy_id
                person = people.get(str(item[0]))
            else:
                vacancy_id = str(item[0])
                kind, query_id = MATCHES_KIND, answer
                person = people.get(str(query.get("jobseeker_id", "")))
            if person is None:  # erased: no longer anybody's exposure
                continue
            jobseeker_id = str(person)
            rows.append(
                {
                    "exposure_id": f"{answer}-{position:03d}",
                    "query_kind": kind,
                    "query_id": query_id,
                    "jobseeker_id": jobseeker_id,
                    "vacancy_id": vacancy_id,
                    "position": position,
                    "shown_at": recorded_at,
                    "policy": f"service:{model_version}",
                }
            )
    return pd.DataFrame(rows, columns=[*SCHEMAS["exposures"].names])


def position_propensity(shown: pd.DataFrame, proposed: set[tuple[str, str]]) -> pd.Series:
    """P(proposed | shown at this position), smoothed towards the overall share."""
    if shown.empty:
        return pd.Series(dtype=float)
    pairs = list(zip(shown["vacancy_id"], shown["jobseeker_id"], strict=True))
    hit = np.fromiter(((v, j) in proposed for v, j in pairs), bool, len(pairs))
    overall = float(hit.mean())
    frame = pd.DataFrame({"position": shown["position"].to_numpy(), "hit": hit})
    per = frame.groupby("position")["hit"].agg(["sum", "count"])
    smoothed = (per["sum"] + PRIOR_WEIGHT * overall) / (per["count"] + PRIOR_WEIGHT)
    return smoothed.clip(lower=PROPENSITY_FLOOR)


def audited_exposures(connection: Connection) -> pd.DataFrame:
    """Exposure rows (the world's ``exposures`` schema) of the audited shortlists and matches."""
    shown = _shown(connection)
    proposed = {
        (str(v), str(j))
        for v, j in connection.execute(select(Proposal.vacancy_id, Proposal.jobseeker_id))
    } | {
        (str(v), str(j))
        for v, j in connection.execute(
            select(OutcomeRecord.vacancy_id, OutcomeRecord.jobseeker_id).where(
                OutcomeRecord.stage == "proposed"
            )
        )
    }
    if shown.empty:
        return shown
    # A pair shown in several answers of one kind counts once, at its first (best-informed)
    # showing; exposure ids sort in the order the answers were given.
    shown = shown.sort_values("exposure_id").drop_duplicates(
        ["query_kind", "vacancy_id", "jobseeker_id"]
    )
    shown["propensity"] = np.nan
    for _, part in shown.groupby("query_kind", sort=True):
        propensity = position_propensity(part, proposed)
        shown.loc[part.index, "propensity"] = part["position"].map(propensity).astype(float)
    shown["shown_at"] = pd.to_datetime(shown["shown_at"], utc=True).astype("datetime64[ms, UTC]")
    shown["position"] = shown["position"].astype("int16")
    return shown.reset_index(drop=True)


def data_fingerprint(connection: Connection, manifest: dict[str, Any]) -> str:
    """What a model trained on the database saw: the loaded world plus everything since."""
    facts = {
        "files": sorted(
            (str(f.get("path")), str(f.get("sha256"))) for f in manifest.get("files", [])
        ),
        "audit_seq": connection.scalar(select(func.max(AuditLogEntry.seq))),
        "outcomes": connection.scalar(select(func.count()).select_from(OutcomeRecord)),
        "latest_outcome": str(connection.scalar(select(func.max(OutcomeRecord.occurred_at)))),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()
