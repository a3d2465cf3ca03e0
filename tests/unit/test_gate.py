"""The promotion gate: quality, fairness across groups, and no group left behind."""

from __future__ import annotations

import pytest

from training.gate import (
    Comparison,
    DirectionFigures,
    GateConfig,
    GateDecision,
    decide,
    decide_directions,
    wilson_upper_bound,
)

pytestmark = pytest.mark.unit

CHAMPION_GROUPS = {"sex=female": 0.80, "sex=male": 0.82, "region=FI-EA-01": 0.78}


def gate(
    ndcg: float,
    groups: dict[str, float],
    *,
    champion_ndcg: float | None = 0.50,
    overall: float = 0.80,
    champion_groups: dict[str, float] | None = CHAMPION_GROUPS,
    rows: dict[str, int] | None = None,
) -> GateDecision:
    return decide(
        challenger_ndcg10=ndcg,
        champion_ndcg10=champion_ndcg,
        challenger_overall_recall20=overall,
        challenger_group_recall=groups,
        champion_group_recall=champion_groups if champion_ndcg is not None else None,
        group_rows=rows,
    )


def test_a_better_challenger_is_promoted() -> None:
    decision = gate(0.53, {"sex=female": 0.81, "sex=male": 0.83, "region=FI-EA-01": 0.79})
    assert decision.promote
    assert decision.reasons == []


def test_a_slightly_worse_challenger_within_tolerance_passes() -> None:
    assert gate(0.496, dict(CHAMPION_GROUPS)).promote


def test_a_worse_challenger_is_refused_with_the_figures() -> None:
    decision = gate(0.48, dict(CHAMPION_GROUPS))
    assert not decision.promote
    assert len(decision.reasons) == 1
    assert "0.4800" in decision.reasons[0]
    assert "0.5000" in decision.reasons[0]


def test_an_unfair_challenger_is_refused_naming_the_group() -> None:
    groups = {"sex=female": 0.60, "sex=male": 0.90, "region=FI-EA-01": float("nan")}
    decision = gate(0.55, groups, champion_groups=None, champion_ndcg=None)
    assert not decision.promote
    assert len(decision.reasons) == 1
    assert "sex=female" in decision.reasons[0]
    assert "0.6000" in decision.reasons[0]
    assert "0.6400" in decision.reasons[0]  # 0.8 × 0.80


def test_nan_groups_are_ignored() -> None:
    groups = {"sex=female": float("nan"), "sex=male": 0.80}
    assert gate(0.55, groups, champion_ndcg=None).promote


def test_a_group_losing_recall_against_the_champion_is_refused() -> None:
    groups = {"sex=female": 0.76, "sex=male": 0.85, "region=FI-EA-01": 0.78}
    decision = gate(0.55, groups)
    assert not decision.promote
    assert len(decision.reasons) == 1
    assert "sex=female" in decision.reasons[0]
    assert "0.8000" in decision.reasons[0] and "0.7600" in decision.reasons[0]


def test_without_a_champion_only_fairness_counts() -> None:
    decision = gate(0.10, {"sex=female": 0.79, "sex=male": 0.81}, champion_ndcg=None)
    assert decision.promote


def test_small_groups_are_skipped_when_counts_are_given() -> None:
    groups = {"sex=female": 0.10, "sex=male": 0.80}
    rows = {"sex=female": 3, "sex=male": 40}
    assert gate(0.55, groups, champion_ndcg=None, rows=rows).promote
    assert not gate(0.55, groups, champion_ndcg=None).promote


def test_every_failed_rule_adds_a_reason() -> None:
    groups = {"sex=female": 0.50, "sex=male": 0.60, "region=FI-EA-01": 0.78}
    decision = gate(0.40, groups)
    # NDCG, two groups below 0.64, two groups losing against the champion.
    assert len(decision.reasons) == 5


def test_the_config_is_strict() -> None:
    with pytest.raises(ValueError, match="extra"):
        GateConfig(max_ndgc_drop=0.1)  # type: ignore[call-arg]
    assert GateConfig().max_ndcg_drop == 0.005


def test_the_wilson_bound_matches_a_hand_computed_case() -> None:
    # 13 of 20 at one-sided 95 % (z = 1.6449, z² = 2.7055):
    # (0.65 + 0.0676 + 1.6449 · sqrt(0.011375 + 0.00169)) / 1.1353 = 0.9056 / 1.1353 = 0.7977.
    assert wilson_upper_bound(0.65, 20, 0.95) == pytest.approx(0.7977, abs=5e-4)
    assert wilson_upper_bound(0.65, 20, 0.0) == 0.65
    assert wilson_upper_bound(1.0, 5, 0.95) == 1.0
    # More evidence, a tighter bound.
    assert wilson_upper_bound(0.65, 2000, 0.95) < wilson_upper_bound(0.65, 200, 0.95)


def test_a_low_group_on_little_evidence_passes_on_much_evidence_fails() -> None:
    groups = {"region=SE-FA-10": 0.60, "sex=male": 0.80}  # the floor is 0.8 × 0.80 = 0.64
    few = {"region=SE-FA-10": 20, "sex=male": 4000}
    many = {"region=SE-FA-10": 2000, "sex=male": 4000}
    assert gate(0.55, groups, champion_ndcg=None, rows=few).promote
    refused = gate(0.55, groups, champion_ndcg=None, rows=many)
    assert not refused.promote
    assert "over 2000 relevant rows" in refused.reasons[0]
    point_only = decide(
        challenger_ndcg10=0.55,
        champion_ndcg10=None,
        challenger_overall_recall20=0.80,
        challenger_group_recall=groups,
        champion_group_recall=None,
        group_rows=few,
        config=GateConfig(confidence=0.0),
    )
    assert not point_only.promote


# ---- both directions (decide_directions) -----------------------------------------------------


def figures(
    direction: str,
    concordance: float,
    *,
    champion: float | None = None,
    baseline_low: float = 0.05,
    steering_gap: float | None = None,
    steering_gap_low: float | None = None,
) -> DirectionFigures:
    return DirectionFigures(
        direction=direction,
        challenger_metric=concordance,
        champion_metric=champion,
        baselines=[
            Comparison(
                baseline=name,
                challenger=concordance,
                other=concordance - 0.1,
                difference=0.1,
                low=baseline_low,
                high=0.2,
                queries=150,
            )
            for name in ("rules", "skill_cosine")
        ],
        challenger_overall_recall20=0.8,
        challenger_group_recall={"sex=female": 0.79, "sex=male": 0.81},
        steering_gap=steering_gap,
        steering_gap_low=steering_gap_low,
    )


def test_both_directions_must_pass_and_reasons_name_the_direction() -> None:
    assert decide_directions([figures("shortlist", 0.7), figures("matches", 0.7)]).promote
    decision = decide_directions(
        [figures("shortlist", 0.7), figures("matches", 0.7, baseline_low=-0.01)]
    )
    assert not decision.promote
    # Not better than either baseline with confidence: one reason per baseline.
    assert len(decision.reasons) == 2
    assert all(r.startswith("matches: outcome concordance 0.7000") for r in decision.reasons)
    assert "not better than rules's 0.6000" in decision.reasons[0]
    assert "not better than skill_cosine's 0.6000" in decision.reasons[1]


def test_a_direction_worse_than_its_champion_is_refused() -> None:
    decision = decide_directions(
        [figures("shortlist", 0.70, champion=0.72), figures("matches", 0.70, champion=0.702)]
    )
    assert not decision.promote
    assert len(decision.reasons) == 1 and decision.reasons[0].startswith("shortlist: ")


def test_steering_is_refused_only_beyond_sampling_noise() -> None:
    noisy = figures("matches", 0.7, steering_gap=0.04, steering_gap_low=-0.01)
    assert decide_directions([noisy]).promote
    steered = figures("matches", 0.7, steering_gap=0.08, steering_gap_low=0.03)
    decision = decide_directions([steered])
    assert not decision.promote
    assert "steered toward their own sex's occupations" in decision.reasons[0]


def test_the_champion_reason_names_the_figure_compared() -> None:
    decision = decide_directions([figures("shortlist", 0.70, champion=0.72)])
    assert decision.reasons == [
        "shortlist: outcome concordance 0.7000 is below the champion's 0.7200 minus 0.0050 "
        "(= 0.7150)"
    ]
