"""The promotion gate: may a freshly trained challenger replace the serving champion?

A pure decision over offline figures measured on the same held-out test groups
(:func:`training.evaluation.evaluate`), for each direction (``shortlist`` and ``matches``).
The challenger is promoted only when every rule holds in both directions:

1. **Better than the rules.** Its outcome concordance (:data:`training.evaluation.GATE_METRIC`:
   held-out proposals competing for one vacancy, or of one person, ordered by what happened
   after the proposal) beats the documented rule-based score's on the same proposals, and
   beats skill cosine's: with one-sided confidence ``baseline_confidence`` (the lower end of
   the paired bootstrap interval over the competing groups is above zero). A
   model the rules would beat is not worth its complexity, whatever its own split says.
2. **Not worse than the champion.** Its figure is at least the champion's minus
   ``max_ndcg_drop`` (without a champion the rule passes).
3. **Fairness across groups.** No group's recall@20 is below ``min_group_recall_share`` ×
   the challenger's overall recall@20: every group's good matches are shown about as often as
   everyone's. Groups without relevant rows (NaN recall) are ignored.
4. **No group left behind.** No group loses more than ``max_group_loss`` of recall@20 against
   the champion's same group (groups the champion has no finite figure for are skipped).
5. **Equality without steering.** Among people with the same preferred occupations, the
   vacancies it recommends outside those preferences do not lean toward occupations
   dominated by the person's own sex by more than ``max_steering_gap`` beyond what the
   documented rules show for the same people (:func:`training.offpolicy.steering_gap`'s
   ``excess``): skills carry the segregation of past work, and on a segregated generated
   world the rules themselves showed a gap of 0.096 — refusing the model for it would serve
   the rules, which steer as much. The gate refuses when even the lower end of the excess's
   90 % interval is above the limit, so that sampling noise alone refuses nothing.

Groups with fewer than ``min_group_rows`` relevant test rows are skipped by rules 3 and 4
when their counts are given: a recall over a handful of rows is noise, not evidence. With the
counts, rule 3 also asks for evidence rather than a point estimate: a group fails only when
the one-sided ``confidence`` upper bound of its recall (Wilson score interval over its
relevant rows) is below the floor. ``confidence = 0`` judges the point estimate alone.

Every failed rule adds a reason naming the direction, the group and the figures, so a refused
challenger explains itself.
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
    #: One-sided confidence of the upper bound rule 3 compares with its floor (0: none).
    confidence: float = Field(default=0.95, ge=0, lt=1)
    #: One-sided confidence that the challenger beats a baseline (rule 1): the lower end of
    #: the bootstrap interval at this level must be above zero.
    baseline_confidence: float = Field(default=0.9, ge=0, lt=1)
    #: Rule 5's largest tolerated difference between women and men.
    max_steering_gap: float = Field(default=0.02, ge=0, le=1)


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


@dataclass(frozen=True)
class Comparison:
    """The challenger against one baseline on one direction's test queries."""

    baseline: str
    challenger: float
    other: float
    difference: float
    low: float
    high: float
    queries: int


@dataclass(frozen=True)
class DirectionFigures:
    """What the gate reads about one direction."""

    direction: str
    challenger_metric: float
    champion_metric: float | None
    baselines: list[Comparison]
    challenger_overall_recall20: float
    challenger_group_recall: Mapping[str, float]
    champion_group_recall: Mapping[str, float] | None = None
    group_rows: Mapping[str, int] | None = None
    #: The model's steering gap beyond the rules' on the same people (rule 5).
    steering_gap: float | None = None
    #: The lower end of its 90 % interval (sampling alone can explain a gap above the limit
    #: while this is below it).
    steering_gap_low: float | None = None


def decide_directions(
    figures: list[DirectionFigures], config: GateConfig | None = None
) -> GateDecision:
    """Apply every rule (module docstring) to each direction; promote only if all pass."""
    config = config or GateConfig()
    reasons: list[str] = []
    for item in figures:
        prefix = f"{item.direction}: "
        for comparison in item.baselines:
            if not (_finite(comparison.low) and comparison.low > 0):
                reasons.append(
                    f"{prefix}outcome concordance {comparison.challenger:.4f} is not better than "
                    f"{comparison.baseline}'s {comparison.other:.4f} (difference "
                    f"{comparison.difference:+.4f}, lower {config.baseline_confidence:.0%} bound "
                    f"{comparison.low:+.4f} over "
                    f"{comparison.queries} groups)"
                )
        single = decide(
            challenger_ndcg10=item.challenger_metric,
            champion_ndcg10=item.champion_metric,
            challenger_overall_recall20=item.challenger_overall_recall20,
            challenger_group_recall=item.challenger_group_recall,
            champion_group_recall=item.champion_group_recall,
            group_rows=item.group_rows,
            config=config,
        )
        reasons += [prefix + reason for reason in single.reasons]
        if item.steering_gap is not None and _finite(item.steering_gap):
            low = item.steering_gap_low
            evidence = low if low is not None and _finite(low) else item.steering_gap
            if evidence > config.max_steering_gap:
                reasons.append(
                    f"{prefix}women and men are steered toward their own sex's occupations: "
                    f"among people with the same preferences the model's gap exceeds the "
                    f"rules' by {item.steering_gap:+.4f} (90% interval from {evidence:+.4f}; "
                    f"more than {config.max_steering_gap:.2f})"
                )
    return GateDecision(promote=not reasons, reasons=reasons)


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
        reasons.append(f"challenger outcome concordance is not a number ({challenger_ndcg10})")
    elif _finite(champion_ndcg10):
        assert champion_ndcg10 is not None
        floor = champion_ndcg10 - config.max_ndcg_drop
        if challenger_ndcg10 < floor:
            reasons.append(
                f"outcome concordance {challenger_ndcg10:.4f} is below the champion's "
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
