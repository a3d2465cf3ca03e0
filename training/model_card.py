"""The run's findings for the model card: comparisons per direction, reliability, equality.

:func:`render_sections` turns a retraining run's evaluation into Markdown sections (and PNG
reliability diagrams) that :func:`training.registry.render_model_card` places in the card.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: no display in a server or CI
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure

from matching.scoring import Direction
from training.evaluation import EvaluationReport

#: Figures of the comparison table, in order, with their headings.
FIGURES: tuple[tuple[str, str], ...] = (
    ("ndcg@10", "NDCG@10 logged"),
    ("recall@20", "recall@20"),
    ("outcome_concordance", "outcome concordance"),
    ("outcome_ndcg@10", "outcome NDCG@10"),
    ("ips_hires@10", "IPS hires@10"),
    ("snips_hires@10", "SNIPS hires@10"),
    ("true_ndcg@10", "true NDCG@10"),
    ("true_hires@10", "true hires@10"),
)


@dataclass(frozen=True)
class Reliability:
    """Predicted against observed, per bin of the prediction (equal-count bins)."""

    table: pd.DataFrame  # bin, predicted, observed, rows
    expected_calibration_error: float


def reliability(predicted: npt.ArrayLike, observed: npt.ArrayLike, bins: int = 10) -> Reliability:
    """Equal-count bins of ``predicted`` with the mean observed outcome in each."""
    p = np.asarray(predicted, np.float64)
    y = np.asarray(observed, np.float64)
    keep = ~(np.isnan(p) | np.isnan(y))
    p, y = p[keep], y[keep]
    if len(p) == 0:
        empty = pd.DataFrame(columns=["bin", "predicted", "observed", "rows"])
        return Reliability(empty, math.nan)
    order = np.argsort(p, kind="stable")
    parts = np.array_split(order, min(bins, len(p)))
    rows = [
        {
            "bin": i + 1,
            "predicted": float(p[part].mean()),
            "observed": float(y[part].mean()),
            "rows": len(part),
        }
        for i, part in enumerate(parts)
        if len(part)
    ]
    table = pd.DataFrame(rows)
    ece = float((table["rows"] * (table["predicted"] - table["observed"]).abs()).sum() / len(p))
    return Reliability(table, ece)


def reliability_png(curves: Mapping[str, Reliability], title: str) -> bytes:
    """A reliability diagram of one or more curves, as PNG bytes."""
    figure = Figure(figsize=(5.0, 5.0), dpi=100)
    axes = figure.add_subplot()
    top = 0.05
    for name, curve in curves.items():
        if curve.table.empty:
            continue
        axes.plot(curve.table["predicted"], curve.table["observed"], marker="o", label=name)
        top = max(top, float(curve.table[["predicted", "observed"]].to_numpy().max()))
    axes.plot([0, top * 1.05], [0, top * 1.05], linestyle="--", color="grey", label="perfect")
    axes.set_xlabel("predicted probability")
    axes.set_ylabel("observed share")
    axes.set_title(title)
    axes.legend(loc="upper left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _number(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"


def comparison_table(report: EvaluationReport, first: str = "challenger") -> str:
    """Markdown: every ranking's figures on the same test groups."""
    names = [first, *[n for n in report.overall.index if n != first]]
    present = [(key, title) for key, title in FIGURES if key in report.overall.columns]
    header = "| ranking | " + " | ".join(t for _, t in present) + " |"
    rule = "|---|" + "---|" * len(present)
    lines = [
        f"| {name} | " + " | ".join(_number(report.metric(name, key)) for key, _ in present) + " |"
        for name in names
        if name in report.overall.index
    ]
    return "\n".join([header, rule, *lines])


def group_table(report: EvaluationReport, ranking: str = "challenger") -> str:
    """Markdown: recall@20 and relevant test rows per group the gate judges."""
    rows = report.groups[report.groups["ranking"] == ranking]
    if rows.empty:
        return "(no group figures)"
    lines = ["| dimension | group | recall@20 | relevant rows |", "|---|---|---|---|"]
    lines += [
        f"| {dimension} | {group} | {_number(float(recall))} | {int(str(count))} |"
        for dimension, group, recall, count in zip(
            rows["dimension"], rows["group"], rows["recall@20"], rows["relevant_rows"], strict=True
        )
    ]
    return "\n".join(lines)


def reliability_table(curve: Reliability) -> str:
    if curve.table.empty:
        return "(no held-out proposals to check the calibration on)"
    lines = ["| bin | predicted | observed | rows |", "|---|---|---|---|"]
    table = curve.table
    lines += [
        f"| {int(number)} | {predicted:.4f} | {observed:.4f} | {int(rows)} |"
        for number, predicted, observed, rows in zip(
            table["bin"], table["predicted"], table["observed"], table["rows"], strict=True
        )
    ]
    lines.append(f"\nExpected calibration error: {_number(curve.expected_calibration_error)}")
    return "\n".join(lines)


def render_sections(
    reports: Mapping[Direction, EvaluationReport],
    counts: Mapping[Direction, Mapping[str, int]],
    fallbacks: Mapping[Direction, bool],
    reliabilities: Mapping[Direction, Reliability],
    retention_share: Mapping[Direction, float],
    steering: Mapping[str, Mapping[str, Mapping[str, float]]],
    reasons: list[str],
    sanity: str = "",
) -> str:
    """The card's sections for one run (see the module docstring)."""
    parts = ["## Evaluation on held-out weeks"]
    parts.append(
        "Figures per direction on the same test queries. *logged* labels come through the "
        "coaches' choices; *outcome concordance* (what the gate compares) is the share of "
        "held-out proposals to one vacancy, or of one person, with different outcomes that a "
        "ranking orders the right way round; *outcome NDCG@10* orders the proposed rows by "
        "what happened after the proposal; *IPS/SNIPS hires@10* estimate the hires of each "
        "list's top 10 from the logged propensities; *true* figures (generated worlds only) "
        "use the hidden model's probability of a hire over every row, unshown candidates "
        "included. `oracle` ranks by the expected logged grade, `oracle_hire` by the hidden "
        "probability of a hire."
    )
    for direction, report in reports.items():
        size = counts.get(direction, {})
        note = " (no logged searches: shortlist exposures regrouped per person and month)"
        parts.append(
            f"### {direction}{note if fallbacks.get(direction) else ''}\n\n"
            f"Training rows {size.get('train', 0):,}, validation rows "
            f"{size.get('valid', 0):,}, test rows {size.get('test', 0):,} in "
            f"{size.get('queries', 0):,} queries.\n\n"
            + comparison_table(report)
            + "\n\n#### By group of jobseekers (this model)\n\n"
            + group_table(report)
        )
    parts.append("## Calibration")
    parts.append(
        "The score people see is the probability that a proposal leads to a hire still "
        "employed after six months: isotonic regression of hires on the score over the "
        "validation weeks, times the share of hires that lasted six months. The diagrams "
        "compare the calibrated probability of a *hire* with the share hired among the test "
        "weeks' proposals (their six months have mostly not passed yet)."
    )
    for direction, curve in reliabilities.items():
        share = retention_share.get(direction, math.nan)
        parts.append(
            f"### {direction}\n\n![reliability](reliability-{direction}.png)\n\n"
            + reliability_table(curve)
            + f"\n\nShare of hires still employed after six months: {_number(share)}"
        )
    parts.append("## Equality without steering")
    parts.append(
        "For a sample of people, the vacancies each ranking recommends (top 10 of the served "
        "list) outside the person's own preferred occupations: the share in occupations "
        "dominated by the other sex, for women and for men; and the *gap*: among people with "
        "the same preferred occupations, how much more each sex is recommended its own "
        "sex's occupations (0: sex makes no difference). Skills carry the segregation of past "
        "work, so the documented rules show a gap too; the gate refuses a model whose gap "
        "exceeds the rules' on the same people by more than 0.02 beyond sampling noise. NaN: "
        "no occupation in this world is dominated by one sex, or no preference group held "
        "both sexes."
    )
    lines = [
        "| ranking | women: other-sex share | men: other-sex share | gap | 90 % interval "
        "| beyond the rules | 90 % interval | people |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ranking, figures in steering.get("matches", {}).items():

        def cell(name: str, figures: Mapping[str, float] = figures) -> str:
            return _number(figures.get(name, math.nan))

        lines.append(
            f"| {ranking} | {cell('women')} | {cell('men')} | {cell('gap')} | "
            f"{cell('gap_low')} .. {cell('gap_high')} | {cell('excess')} | "
            f"{cell('excess_low')} .. {cell('excess_high')} | {int(figures.get('people', 0))} |"
        )
    parts.append("\n".join(lines))
    if sanity:
        parts.append(
            "## Sanity suite\n\nA person built to fit an open vacancy must be in its top 3 "
            "and it in theirs; a hired person, a filled and a closed vacancy in no list "
            f"(:mod:`training.sanity`). Passed / run: {sanity}."
        )
    if reasons:
        parts.append("## Gate\n\n" + "\n".join(f"- {r}" for r in reasons))
    else:
        parts.append("## Gate\n\nEvery rule passed in both directions.")
    return "\n\n".join(parts)
