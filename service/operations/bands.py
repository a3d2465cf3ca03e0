"""The score as a coach or a recruiter reads it: four bands, the same in the API and the pages.

A ranking ``score`` only orders a list (its scale depends on the serving model). A person reads
a band instead:

- When a trained, calibrated model serves, each result carries ``probability``: the
  calibrated probability that proposing the pair leads to a hire still in place after six
  months. The band is read from it (:data:`PROBABILITY_CUTS`). Few proposals end in a lasting
  hire (in the synthetic world 0.8 % of logged proposals lead to one six months on, 1.6 % to a
  hire at all), so the cut-offs are multiples of that base rate: "strong" is at least 6 %,
  about eight times the average proposal; "good" 2.5 %, three times; "possible" 1 %, about
  the average; below it "weak".
- Without a model (the documented rule-based score of :mod:`matching.scoring`, whose positive
  weights sum to 1 and whose gaps subtract) the band is read from the score itself
  (:data:`RULE_SCORE_CUTS`): 1 is a perfect skill match observed by a coach, within the
  commute radius, in a preferred occupation and accepted job form. On the test world the best
  match of a person scores 0.13 at the median and 0.28 at the 90th percentile, so "strong"
  (0.45) is a match well above what most people get, "good" (0.25) the best tenth, and
  "possible" (0.10) a typical best match.

Cut-offs are inclusive lower bounds: a probability of exactly 0.06 is "strong".
"""

from __future__ import annotations

import math
from typing import Final, Literal

__all__ = [
    "BANDS",
    "BAND_DESCRIPTION",
    "PROBABILITY_CUTS",
    "RULE_SCORE_CUTS",
    "Band",
    "score_band",
]

Band = Literal["strong", "good", "possible", "weak"]

#: Every band, best first.
BANDS: Final[tuple[Band, ...]] = ("strong", "good", "possible", "weak")

#: Lower bounds of the calibrated probability (a hire lasting six months) per band.
PROBABILITY_CUTS: Final[tuple[tuple[Band, float], ...]] = (
    ("strong", 0.06),
    ("good", 0.025),
    ("possible", 0.01),
)

#: Lower bounds of the rule-based score per band (when no calibrated model serves).
RULE_SCORE_CUTS: Final[tuple[tuple[Band, float], ...]] = (
    ("strong", 0.45),
    ("good", 0.25),
    ("possible", 0.10),
)


#: What the bands mean, for the API's schema (``MatchOut.band``, ``CandidateOut.band``).
BAND_DESCRIPTION: Final[str] = (
    "The result in words: `strong`, `good`, `possible` or `weak`, read from `probability` when "
    "the model is calibrated (at least "
    + ", ".join(f"{lower:g}" for _, lower in PROBABILITY_CUTS)
    + "), else from the rule-based `score` (at least "
    + ", ".join(f"{lower:g}" for _, lower in RULE_SCORE_CUTS)
    + ")."
)


def _band(value: float, cuts: tuple[tuple[Band, float], ...]) -> Band:
    if not math.isfinite(value):
        return "weak"
    for band, lower in cuts:
        if value >= lower:
            return band
    return "weak"


def score_band(probability: float | None, score: float) -> str:
    """The band of one result: from ``probability`` when the model is calibrated, else ``score``.

    Parameters
    ----------
    probability
        The calibrated probability of a hire lasting six months, or ``None`` when the serving
        scorer is not calibrated (the rule-based score).
    score
        The ranking score; read only when ``probability`` is ``None``.

    Returns
    -------
    str
        One of :data:`BANDS`: ``"strong"``, ``"good"``, ``"possible"`` or ``"weak"``.
    """
    if probability is not None:
        return _band(float(probability), PROBABILITY_CUTS)
    return _band(float(score), RULE_SCORE_CUTS)
