"""The promotion gate: may a freshly trained challenger replace the serving champion?

A pure decision over offline metrics measured on the same held-out test groups
(:func:`training.evaluation.evaluate`). The challenger is promoted only when every rule holds:

1. **Ranking quality.** Its NDCG@10 is at least the champion's minus ``max_ndcg_drop``
   (without a champion the rule passes).
2. **Fairness across groups.** No group's recall@20 is below ``min_group_recall_share`` ×
   the challenger's overall recall@20: every group's good matches are shown about as often as
   everyone's. Groups without relevant rows (NaN recall) are ignored.
3. **No group left behind.** No group loses more than ``max_group_loss`` of recall@20 against
   the champion's same group (groups the champion has no finite figure for are skipped).

Groups with fewer than ``min_group_rows`` relevant test rows are skipped by rules 2 and 3
when their counts are given: a recall over a handful of rows is noise, not evidence. With the
counts, rule 2 also asks for evidence rather than a point estimate: a group fails only when
the one-sided ``confidence`` upper bound of its recall (Wilson score interval over its
relevant rows) is below the floor, so a region with 20 relevant rows is not failed by one
or two unlucky rankings. ``confidence = 0`` judges the point estimate alone.

Every failed rule adds a reason naming the group and the figures, so a refused challenger
explains itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist

from pydantic import BaseModel, ConfigDict, Field


class GateConfig(BaseModel):
    """Thresholds of the promotion gate (strict: a typo is an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_ndcg_drop: float = Field(default=0.005, ge=0, le=1)
    min_group_recall_share: float = Field(default=0.8, ge=0, le=1)
    max_group_loss: float = Field(default=0.02, ge=0, le=1)
    #: Groups with fewer relevant test rows than this are too noisy to judge and are skipped
    #: by the group rules (only when ``decide`` is given the counts).
    min_group_rows: int = Field(default=20, ge=0)
    #: One-sided confidence of the upper bound rule 2 compares with its floor (0: none).
    confidence: float = Field(default=0.95, ge=0, lt=1)


@dataclass(frozen=True)
class GateDecision:
    """Whether to promote, and why not (empty ``reasons`` exactly when promoted)."""

    promote: bool
    reasons: list[str] = field(default_factory=list)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def wilson_upper_bound(share: float, n: int, confidence: float) -> float:
    """One-sided upper confidence bound of a binomial share observed over ``n`` trials."""
    if n <= 0 or confidence <= 0:
        return share
    z = NormalDist().inv_cdf(confidence)
    centre = share + z * z / (2 * n)
    spread = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z * z / n))


def decide(
    *,
    challenger_ndcg10: float,
    champion_ndcg10: float | None,
    challenger_overall_recall20: float,
    challenger_group_recall: Mapping[str, float],
    champion_group_recall: Mapping[str, float] | None,
    group_rows: Mapping[str, int] | None = None,
    config: GateConfig | None = None,
) -> GateDecision:
    """Apply the gate's rules (see the module docstring) to the challenger's figures.

    Group keys are free-form labels such as ``"sex=F"``; the champion's groups are matched
    to the challenger's by key. ``champion_ndcg10`` ``None`` means there is no champion.
    ``group_rows`` gives the relevant test rows per group (absent: every group is judged).
    """
    config = config or GateConfig()
    reasons: list[str] = []
    judged = {
        group: recall
        for group, recall in challenger_group_recall.items()
        if group_rows is None or group_rows.get(group, 0) >= config.min_group_rows
    }

    if not _finite(challenger_ndcg10):
        reasons.append(f"challenger NDCG@10 is not a number ({challenger_ndcg10})")
    elif _finite(champion_ndcg10):
        assert champion_ndcg10 is not None
        floor = champion_ndcg10 - config.max_ndcg_drop
        if challenger_ndcg10 < floor:
            reasons.append(
                f"NDCG@10 {challenger_ndcg10:.4f} is below the champion's "
                f"{champion_ndcg10:.4f} minus {config.max_ndcg_drop:.4f} (= {floor:.4f})"
            )

    if _finite(challenger_overall_recall20):
        minimum = config.min_group_recall_share * challenger_overall_recall20
        for group, recall in sorted(judged.items()):
            if not _finite(recall):
                continue
            rows = None if group_rows is None else group_rows.get(group)
            upper = recall if rows is None else wilson_upper_bound(recall, rows, config.confidence)
            if upper < minimum:
                evidence = (
                    ""
                    if rows is None
                    else f" over {rows} relevant rows ({config.confidence:.0%} upper bound "
                    f"{upper:.4f})"
                )
                reasons.append(
                    f"group {group}: recall@20 {recall:.4f}{evidence} is below "
                    f"{config.min_group_recall_share:.2f} × overall "
                    f"{challenger_overall_recall20:.4f} (= {minimum:.4f})"
                )
    else:
        reasons.append(f"challenger recall@20 is not a number ({challenger_overall_recall20})")

    if champion_group_recall is not None:
        for group, recall in sorted(judged.items()):
            before = champion_group_recall.get(group)
            if not (_finite(recall) and _finite(before)):
                continue
            assert before is not None
            loss = before - recall
            if loss > config.max_group_loss:
                reasons.append(
                    f"group {group}: recall@20 fell from {before:.4f} (champion) to "
                    f"{recall:.4f}, a loss of {loss:.4f} > {config.max_group_loss:.4f}"
                )

    return GateDecision(promote=not reasons, reasons=reasons)
