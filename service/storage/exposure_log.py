"""Exposures the service logged, as training data: shortlist audit entries become exposure rows.

Every shortlist answer is in the audit log with the candidates and their ranks. For the
training set's inverse-propensity weights each shown candidate also needs the probability
that a coach proposes someone shown at that rank. The service does not decide proposals
(coaches do), so that probability is *estimated* from what happened: per rank, the share of
shown (vacancy, jobseeker) pairs that were later proposed, shrunk towards the overall share
(a Beta prior worth :data:`PRIOR_WEIGHT` exposures) so that rarely seen ranks are not noise.
This is the position-based propensity model; it is re-estimated at every retraining.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select

from features.world_store import SCHEMAS
from service.storage.tables import AuditLogEntry, OutcomeRecord, Proposal

SHORTLIST_ROUTE = "employer.shortlist"
PRIOR_WEIGHT = 20.0
#: Never below this: a weight of 1/propensity must stay bounded.
PROPENSITY_FLOOR = 0.01


def _shown(connection: Connection) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    entries = connection.execute(
        select(
            AuditLogEntry.seq,
            AuditLogEntry.recorded_at,
            AuditLogEntry.query,
            AuditLogEntry.model_version,
            AuditLogEntry.results,
        ).where(AuditLogEntry.route == SHORTLIST_ROUTE)
    )
    for seq, recorded_at, query, model_version, results in entries:
        vacancy_id = str(query.get("vacancy_id", ""))
        for position, item in enumerate(results, start=1):
            rows.append(
                {
                    "exposure_id": f"AU{seq:09d}-{position:03d}",
                    "query_kind": "vacancy_shortlist",
                    "query_id": vacancy_id,
                    "jobseeker_id": str(item[0]),
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
    """Exposure rows (the world's ``exposures`` schema) from the service's shortlist log."""
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
    # A pair shown on several shortlists counts once, at its first (best-informed) showing.
    shown = shown.sort_values("exposure_id").drop_duplicates(["vacancy_id", "jobseeker_id"])
    propensity = position_propensity(shown, proposed)
    shown["propensity"] = shown["position"].map(propensity).astype(float)
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
