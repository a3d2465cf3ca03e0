"""True skills of jobseekers and what coaches recognise of them in assessments.

Each person knows about 75 % of the essential and 20 % of the optional ESCO skills of every
occupation in their work history, at a latent level 1–4 around a per-job experience level.
That latent truth is written to ``truth/true_skills.parquet`` for the oracle only.

Coaches record 1–``assessments_max`` assessments per person over the last two years (never
before the unemployment spell began; the history step later drops those that fall inside a
job, :mod:`training.synthetic.history`). How much each method sees and how it errs is a
:class:`RecognitionNoise`, one per hidden world (:mod:`training.synthetic.variants`). The
default (``additive`` world):

============  ===================  =======================  ===========  ============
method        skills per session   level                    confidence   false claims
============  ===================  =======================  ===========  ============
work_trial    6–14                 true (±1 in 10 %)        0.80–0.95    none
observation   5–12                 true (±1 in 15 %)        0.70–0.90    none
test          2–6                  true (±1 in 8 %)         0.80–1.00    none
certificate   2–5                  true (±1 in 5 %)         0.90–1.00    none
self_report   4–10                 true −1..+2, upward      0.30–0.60    1.3 a session
============  ===================  =======================  ===========  ============

A false claim is a skill of the person's latest occupation that they do not have, recorded at
level 1–3; so recognised skills are both partial and sometimes wrong. Work trials and
observations also rate working-life skills.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from matching.domain import AssessmentMethod, WorkingLifeSkill
from training.synthetic._common import (
    IntArray,
    categorical,
    choice,
    contains,
    dates,
    day_number,
    expand_ranges,
    first_of_runs,
    ids,
    rank_in_group,
    take,
)
from training.synthetic.config import WorldConfig
from training.synthetic.people import Population
from training.synthetic.reference import Reference

METHODS = tuple(m.value for m in AssessmentMethod)
WORKING_LIFE = tuple(s.value for s in WorkingLifeSkill)
_M = {m: i for i, m in enumerate(AssessmentMethod)}

#: Method shares of later assessments (the first is often the intake self-report).
METHOD_WEIGHTS = (0.25, 0.22, 0.18, 0.10, 0.25)
FIRST_SELF_REPORT = 0.6
KNOW_ESSENTIAL, KNOW_OPTIONAL = 0.75, 0.20
#: Methods whose evidence coaches count as strong (the logged policy's evidence term).
STRONG_METHODS = (
    AssessmentMethod.WORK_TRIAL,
    AssessmentMethod.TEST,
    AssessmentMethod.CERTIFICATE,
)


@dataclass(frozen=True)
class RecognitionNoise:
    """How each assessment method sees the true skills; tuples are in AssessmentMethod order
    (work_trial, observation, test, certificate, self_report)."""

    #: Fewest and most skills a session records (fewer when the person has fewer).
    skills_seen: tuple[tuple[int, int], ...] = ((6, 14), (5, 12), (2, 6), (2, 5), (4, 10))
    #: P(the recorded level is one off the true level); self-reports use the bias below.
    level_error: tuple[float, ...] = (0.10, 0.15, 0.08, 0.05, 0.0)
    #: Share of those errors that overstate the level.
    level_error_up: tuple[float, ...] = (0.5, 0.5, 0.5, 0.5, 0.5)
    #: Range of the confidence a coach records.
    confidence: tuple[tuple[float, float], ...] = (
        (0.80, 0.95),
        (0.70, 0.90),
        (0.80, 1.00),
        (0.90, 1.00),
        (0.30, 0.60),
    )
    #: Self-reported level minus the true level: P(-1), P(0), P(+1), P(+2).
    self_report_bias: tuple[float, ...] = (0.15, 0.50, 0.30, 0.05)
    #: Mean number of skills a session claims that the person does not have (before the
    #: draws that hit a true skill are dropped).
    false_claims_mean: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 1.3)
    #: One line on what is special about this noise, for HIDDEN_MODEL.md.
    summary: str = field(
        default="Work trials, tests and certificates are reliable; self-reports overstate "
        "levels and claim skills the person lacks."
    )

    def document(self) -> dict[str, object]:
        """The tables as JSON-ready values, for hidden_model.json."""
        return {"methods": list(METHODS), **asdict(self)}

    @staticmethod
    def from_document(document: dict[str, object]) -> RecognitionNoise:
        values = {k: v for k, v in document.items() if k != "methods"}

        def tuples(value: object) -> object:
            if isinstance(value, list):
                return tuple(tuples(item) for item in value)
            return value

        return RecognitionNoise(**{k: tuples(v) for k, v in values.items()})  # type: ignore[arg-type]

    def table(self) -> str:
        """A Markdown table of the noise per method."""
        lines = [
            "| method | skills per session | P(level off by one) | share overstated | "
            "confidence | false claims per session |",
            "|---|---|---|---|---|---|",
        ]
        for i, method in enumerate(METHODS):
            low, high = self.skills_seen[i]
            c_low, c_high = self.confidence[i]
            error = (
                f"bias {self.self_report_bias}"
                if method == AssessmentMethod.SELF_REPORT.value
                else f"{self.level_error[i]:g}"
            )
            lines.append(
                f"| {method} | {low}–{high} | {error} | {self.level_error_up[i]:g} | "
                f"{c_low:g}–{c_high:g} | {self.false_claims_mean[i]:g} |"
            )
        return "\n".join(lines)


DEFAULT_NOISE = RecognitionNoise()
#: Relative frequency of 1, 2, 3, 4 (, ...) assessments per person: most people in enhanced
#: support have an intake, a work trial or observation, and often a follow-up.
ASSESSMENT_COUNT_WEIGHTS = (0.15, 0.35, 0.30, 0.20)
#: Share of observed skills drawn from the core skills of the latest occupation.
CORE_FOCUS = 0.7

#: Assessment notes per method: (Finnish-office notes, Swedish-office notes).
NOTES: dict[AssessmentMethod, tuple[tuple[str, ...], tuple[str, ...]]] = {
    AssessmentMethod.WORK_TRIAL: (
        (
            "Työkokeilu: tehtäviä havainnoitu neljän viikon ajan.",
            "Work trial at a supplier's site.",
        ),
        ("Arbetsprövning: uppgifter observerade under fyra veckor.", "Work trial on site."),
    ),
    AssessmentMethod.OBSERVATION: (
        ("Havainnointi käytännön tehtävissä.", "Coach observed practical tasks."),
        ("Observation i praktiska uppgifter.", "Coach observed practical tasks."),
    ),
    AssessmentMethod.TEST: (
        ("Osaamistesti suoritettu.", "Skills test completed."),
        ("Kunskapstest genomfört.", "Skills test completed."),
    ),
    AssessmentMethod.CERTIFICATE: (
        ("Todistus tarkistettu.", "Certificate checked against the original."),
        ("Intyg kontrollerat.", "Certificate checked against the original."),
    ),
    AssessmentMethod.SELF_REPORT: (
        ("Oma arvio alkuhaastattelussa; varmennettava.", "Self-reported at intake."),
        ("Egen bedömning vid inskrivning; ska verifieras.", "Self-reported at intake."),
    ),
}


@dataclass(frozen=True, eq=False)
class Recognition:
    """True skills and the coaches' assessments, as arrays for later steps.

    The assessment tables are written after the history (:meth:`assessment_tables`), which
    drops the assessments dated inside a job the person held then.
    """

    truth_owner: IntArray  # sorted by (owner, skill)
    truth_skill: IntArray
    truth_level: IntArray
    assessment_owner: IntArray  # sorted by (owner, day)
    assessment_day: IntArray
    assessment_method: IntArray
    assessment_ids: pa.Array
    note_index: IntArray
    notes: list[str]
    obs_owner: IntArray  # sorted by (owner, skill, day)
    obs_skill: IntArray
    obs_level: IntArray
    obs_day: IntArray
    obs_assessment: IntArray  # index into the assessment arrays
    obs_confidence: npt.NDArray[np.float32]
    obs_order: IntArray  # rows of the (owner, skill, day) order in table order
    wl_assessment: IntArray
    wl_skill: IntArray
    wl_level: IntArray
    truth_columns: dict[str, pa.Array]

    def assessment_tables(
        self, people: Population, skill_uris: pa.Array, dropped: npt.NDArray[np.bool_]
    ) -> tuple[dict[str, pa.Array], dict[str, pa.Array], dict[str, pa.Array]]:
        """Columns of assessments, skill and working-life observations without ``dropped``."""
        kept = np.flatnonzero(~dropped)
        owner = self.assessment_owner[kept]
        assessments = {
            "assessment_id": take(self.assessment_ids, kept),
            "jobseeker_id": take(people.jobseeker_ids, owner),
            "coach_id": take(people.coach_ids, people.coach[owner]),
            "assessed_on": dates(self.assessment_day[kept]),
            "method": categorical(self.assessment_method[kept], METHODS),
            "note": take(self.notes, self.note_index[kept]),
        }
        # Observations in table order (by assessment, then skill).
        rows = self.obs_order[~dropped[self.obs_assessment[self.obs_order]]]
        observations = {
            "assessment_id": take(self.assessment_ids, self.obs_assessment[rows]),
            "jobseeker_id": take(people.jobseeker_ids, self.obs_owner[rows]),
            "skill_uri": categorical(self.obs_skill[rows], skill_uris),
            "level": pa.array(self.obs_level[rows].astype(np.int8)),
            "confidence": pa.array(self.obs_confidence[rows]),
        }
        wl = np.flatnonzero(~dropped[self.wl_assessment])
        working_life = {
            "assessment_id": take(self.assessment_ids, self.wl_assessment[wl]),
            "skill": categorical(self.wl_skill[wl], WORKING_LIFE),
            "level": pa.array(self.wl_level[wl].astype(np.int8)),
        }
        return assessments, observations, working_life


def _true_skills(
    rng: np.random.Generator, ref: Reference, people: Population
) -> tuple[IntArray, IntArray, IntArray, npt.NDArray[np.bool_]]:
    """(owner, skill, level, core) of everybody's true skills, one row per (owner, skill).

    ``core`` marks the essential skills of the person's latest occupation: what a coach's
    work trials and observations mostly look at.
    """
    owners, skills, levels, cores = [], [], [], []
    latest = first_of_runs(people.history_owner)
    chunk = 100_000
    n_history = len(people.history_owner)
    experience = choice(rng, [0.15, 0.40, 0.35, 0.10], n_history) + 1
    for start in range(0, n_history, chunk):
        stop = min(start + chunk, n_history)
        occ = people.history_occupation[start:stop]
        for offsets, pool, keep, shift, essential in (
            (ref.essential_offsets, ref.essential_skills, KNOW_ESSENTIAL, 0.0, True),
            (ref.optional_offsets, ref.optional_skills, KNOW_OPTIONAL, -0.5, False),
        ):
            row, pos = expand_ranges(offsets[occ], offsets[occ + 1] - offsets[occ])
            kept = rng.random(len(row)) < keep
            row, pos = row[kept], pos[kept]
            base = experience[start:stop][row]
            level = np.clip(np.rint(base + shift + rng.normal(0.0, 0.7, len(row))), 1, 4)
            owners.append(people.history_owner[start:stop][row].astype(np.int32))
            skills.append(pool[pos].astype(np.int32))
            levels.append(level.astype(np.int8))
            cores.append(latest[start:stop][row] & essential)
    owner = np.concatenate(owners).astype(np.int64)
    skill = np.concatenate(skills).astype(np.int64)
    level = np.concatenate(levels).astype(np.int64)
    core = np.concatenate(cores)
    # One row per (owner, skill), keeping the highest level from any job; core if any is.
    order = np.lexsort((-level, skill, owner))
    owner, skill, level, core = owner[order], skill[order], level[order], core[order]
    first = first_of_runs(owner, skill)
    core_any = np.maximum.reduceat(core.astype(np.int8), np.flatnonzero(first)) > 0
    return owner[first], skill[first], level[first], core_any


def generate_recognition(
    config: WorldConfig,
    ref: Reference,
    people: Population,
    rng: np.random.Generator,
    noise: RecognitionNoise = DEFAULT_NOISE,
) -> Recognition:
    """Draw true skills, assessments, skill and working-life observations."""
    n = people.n
    n_skills = ref.n_skills
    truth_owner, truth_skill, truth_level, truth_core = _true_skills(rng, ref, people)
    truth_start = np.searchsorted(truth_owner, np.arange(n))
    truth_count = np.searchsorted(truth_owner, np.arange(n), side="right") - truth_start
    core_pos = np.flatnonzero(truth_core)
    core_start = np.searchsorted(truth_owner[core_pos], np.arange(n))
    core_count = np.searchsorted(truth_owner[core_pos], np.arange(n), side="right") - core_start
    truth_key = truth_owner * n_skills + truth_skill

    # Assessments: count, dates within the unemployment spell and the last two years.
    max_k = config.assessments_max
    count_weights = np.resize(np.asarray(ASSESSMENT_COUNT_WEIGHTS), max_k)
    count = choice(rng, count_weights, n) + 1
    owner = np.repeat(np.arange(n, dtype=np.int64), count)
    as_of = day_number(config.as_of)
    earliest = np.maximum(people.unemployment_day, as_of - round(365.25 * config.history_years))
    earliest = np.minimum(earliest, as_of - 1)[owner]
    day = earliest + (rng.random(len(owner)) * (as_of - earliest)).astype(np.int64)
    order = np.lexsort((day, owner))
    owner, day = owner[order], day[order]
    rank = rank_in_group(owner)
    method = choice(rng, METHOD_WEIGHTS, len(owner))
    method = np.where((rank == 0) & (rng.random(len(owner)) < FIRST_SELF_REPORT), 4, method)
    n_assess = len(owner)
    assessment_ids = ids("AS", n_assess, 8)

    # Observed true skills: draws with replacement from the person's truth, deduplicated.
    low = np.array([s[0] for s in noise.skills_seen])[method]
    high = np.array([s[1] for s in noise.skills_seen])[method]
    k = np.minimum(rng.integers(low, high + 1), truth_count[owner])
    a_idx = np.repeat(np.arange(n_assess, dtype=np.int64), k)
    a_owner = owner[a_idx]
    pick = truth_start[a_owner] + (rng.random(len(a_idx)) * truth_count[a_owner]).astype(np.int64)
    # Coaches mostly look at the core skills of the person's latest occupation.
    on_core = (rng.random(len(a_idx)) < CORE_FOCUS) & (core_count[a_owner] > 0)
    core_pick = core_start[a_owner] + (rng.random(len(a_idx)) * core_count[a_owner]).astype(
        np.int64
    )
    pick = np.where(on_core, core_pos[np.minimum(core_pick, max(len(core_pos) - 1, 0))], pick)
    skill = truth_skill[pick]
    true_level = truth_level[pick]
    m = method[a_idx]
    off = rng.random(len(a_idx)) < np.asarray(noise.level_error)[m]
    up = rng.random(len(a_idx)) < np.asarray(noise.level_error_up)[m]
    level = true_level + np.where(off, np.where(up, 1, -1), 0)
    self_report = m == _M[AssessmentMethod.SELF_REPORT]
    bias = choice(rng, noise.self_report_bias, len(a_idx)) - 1
    level = np.clip(np.where(self_report, true_level + bias, level), 1, 4)

    # False claims: skills of the person's latest occupation that are not in the truth.
    claims = rng.poisson(np.asarray(noise.false_claims_mean)[method])
    f_assess = np.repeat(np.arange(n_assess, dtype=np.int64), claims)
    f_owner = owner[f_assess]
    first_history = np.searchsorted(people.history_owner, f_owner)
    occupation = people.history_occupation[first_history]
    e_count = ref.essential_offsets[occupation + 1] - ref.essential_offsets[occupation]
    o_count = ref.optional_offsets[occupation + 1] - ref.optional_offsets[occupation]
    draw = (rng.random(len(f_assess)) * (e_count + o_count)).astype(np.int64)
    use_opt = draw >= e_count
    f_skill = np.where(
        use_opt,
        ref.optional_skills[
            np.minimum(
                ref.optional_offsets[occupation] + draw - e_count, len(ref.optional_skills) - 1
            )
        ],
        ref.essential_skills[
            np.minimum(ref.essential_offsets[occupation] + draw, len(ref.essential_skills) - 1)
        ],
    )
    f_key = f_owner * n_skills + f_skill
    lacking = ~contains(truth_key, f_key)
    f_assess, f_skill = f_assess[lacking], f_skill[lacking]
    f_level = rng.choice([1, 2, 3], len(f_assess), p=[0.4, 0.4, 0.2])

    all_assess = np.r_[a_idx, f_assess]
    all_skill = np.r_[skill, f_skill]
    all_level = np.r_[level, f_level]
    is_true = np.r_[np.ones(len(a_idx), bool), np.zeros(len(f_assess), bool)]
    # One observation per (assessment, skill); a true observation wins over a false claim.
    order = np.lexsort((~is_true, all_skill, all_assess))
    all_assess, all_skill, all_level = all_assess[order], all_skill[order], all_level[order]
    keep = first_of_runs(all_assess, all_skill)
    all_assess, all_skill, all_level = all_assess[keep], all_skill[keep], all_level[keep]
    obs_method = method[all_assess]
    c_low = np.array([c[0] for c in noise.confidence])[obs_method]
    c_high = np.array([c[1] for c in noise.confidence])[obs_method]
    confidence = np.round(c_low + rng.random(len(all_assess)) * (c_high - c_low), 2)

    # Working-life skills: three per work trial or observation, sometimes one otherwise.
    latent = rng.normal(2.7, 0.6, n)
    wl_k = np.where(method <= _M[AssessmentMethod.OBSERVATION], 3, 0)
    wl_k = np.where(
        np.isin(method, [_M[AssessmentMethod.TEST], _M[AssessmentMethod.SELF_REPORT]]),
        (rng.random(n_assess) < 0.5).astype(np.int64),
        wl_k,
    )
    shuffled = np.argsort(rng.random((n_assess, len(WORKING_LIFE))), axis=1)
    chosen = np.arange(len(WORKING_LIFE))[None, :] < wl_k[:, None]
    wl_assess = np.repeat(np.arange(n_assess), len(WORKING_LIFE)).reshape(shuffled.shape)[chosen]
    wl_skill = shuffled[chosen]
    wl_order = np.lexsort((wl_skill, wl_assess))
    wl_assess, wl_skill = wl_assess[wl_order], wl_skill[wl_order]
    wl_level = np.clip(np.rint(latent[owner[wl_assess]] + rng.normal(0, 0.6, len(wl_assess))), 1, 4)

    # Notes in the office's language (or English): flat list indexed by (country, method).
    note_lists = [NOTES[m_][c] for c in (0, 1) for m_ in AssessmentMethod]
    flat_notes = [note for notes in note_lists for note in notes]
    note_start = np.cumsum([0] + [len(x) for x in note_lists])[:-1]
    note_count = np.array([len(x) for x in note_lists])
    combo = people.country[owner] * len(METHODS) + method
    note_idx = note_start[combo] + (rng.random(n_assess) * note_count[combo]).astype(np.int64)

    obs_owner = owner[all_assess]
    obs_day = day[all_assess]
    # Later steps look observations up by (owner, skill, day); the table keeps its own order.
    key_order = np.lexsort((obs_day, all_skill, obs_owner))
    table_order = np.empty(len(key_order), dtype=np.int64)
    table_order[key_order] = np.arange(len(key_order))

    return Recognition(
        truth_owner=truth_owner,
        truth_skill=truth_skill,
        truth_level=truth_level,
        assessment_owner=owner,
        assessment_day=day,
        assessment_method=method,
        assessment_ids=assessment_ids,
        note_index=note_idx,
        notes=flat_notes,
        obs_owner=obs_owner[key_order],
        obs_skill=all_skill[key_order],
        obs_level=all_level[key_order],
        obs_day=obs_day[key_order],
        obs_assessment=all_assess[key_order],
        obs_confidence=confidence[key_order].astype(np.float32),
        obs_order=table_order,
        wl_assessment=wl_assess,
        wl_skill=wl_skill,
        wl_level=wl_level.astype(np.int64),
        truth_columns={
            "jobseeker_id": take(people.jobseeker_ids, truth_owner),
            "skill_uri": categorical(truth_skill, ref.skill_uris),
            "level": pa.array(truth_level.astype(np.int8)),
        },
    )
