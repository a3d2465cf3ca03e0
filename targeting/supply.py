"""Local supply: the matching engine run on hypothetical vacancies.

Before a buyer writes an employment condition it asks who, near the place of performance,
could take the jobs the contract would create. :class:`SupplyEstimator` answers for each
:class:`~targeting.types.HypotheticalVacancy` by running the matching engine on the vacancy
the supplier would open, which does not exist yet.

The hypothetical vacancy
------------------------
It is built as a :class:`matching.domain.Vacancy` (:meth:`SupplyEstimator.template`) and made
an engine row by :func:`features.matching_data.vacancy_update`, the path of a vacancy an
employer opens, so the engine sees exactly what it would see for a real one:

* **skills**: the :attr:`SupplyConfig.required_skills` (8) skills the known real vacancies of
  the occupation require most often, each at the median minimum level they ask, and the
  :attr:`~SupplyConfig.optional_skills` (4) they list most often as optional. With fewer than
  :attr:`~SupplyConfig.min_reference_vacancies` (3) known vacancies of the occupation, the
  taxonomy's essential skills of the occupation (those most often required by any known
  vacancy first, then in ESCO's order) at level 2, the level an employer's form prefills,
  and its optional skills at level 1;
* **working conditions**: weekly hours (the median), shift work, night work and a driving
  licence when most of them ask for it, and the most common physical demand, of the known
  vacancies of the occupation (else of its ISCO-08 unit group, else the domain's defaults);
* **languages**: the country's main language (Finnish in Finland, Swedish in Sweden) at the
  median level the known vacancies of the occupation in that country ask (else every known
  vacancy of the country, else B1), and any other language most of them require;
* **on site**: no remote work. The work is done at the place of performance, and the supply
  asked about is the people within commuting reach of it;
* the job form, openings and target groups of the question (no target groups: no employment
  condition); open for 90 days from ``opens_on``, and scored on ``opens_on``.

The people and the engine's parts
---------------------------------
The people in matching (not in work, not erased) within reach of the place by the engine's
own commute filter (:func:`matching.engine.within_reach`: the person's radius plus its slack;
people willing to relocate reach every place) are run through the engine's own parts: its
hard filters (:func:`matching.engine.admissible_pairs`), its featurizer and the serving scorer
(the champion model, or the rule-based score), and they are ordered as the engine orders a
shortlist: pairs meeting every stated requirement on evidence first, then by score, ties by
the person's row (without the exposure cap, which no shortlist of this vacancy has fed).
Every admissible person is scored, as the engine does below its ``exhaustive_limit``; above
it a shortlist's retrieval would only drop candidates (and its first-stage prior, fitted on
the vacancies it holds, would make an answer depend on the other vacancies asked with it).
A test checks the order against the engine's shortlist of the same vacancy (which lists the
people its retrieval finds: everybody near, and people relocating from afar whose skills the
skill index finds, where the ranks here count every admissible person). The hypothetical
rows live in a private :class:`~matching.entities.MatchingData` that shares the people's
arrays: the serving engine is read, never changed.

What is counted
---------------
admissible
    people passing the engine's hard filters for the vacancy on its opening day
    (:func:`matching.engine.admissible_pairs`: in matching, within reach, no conflict of
    the vacancy's hours, night or shift work or physical demand with their recorded work
    ability, eligible for one of its target groups).
well_ranked
    admissible people the serving scorer rates as a *good* candidate or better, the bands a
    recruiter reads in a shortlist (``service.operations.bands``): a calibrated probability
    of a hire lasting six months of at least :attr:`SupplyConfig.min_probability` (0.025,
    three times the average proposal's) or, without a calibration, a rule-based score of at
    least :attr:`SupplyConfig.min_rule_score` (0.25, about the best tenth of people's best
    matches). Every admissible person is scored, so the count is not bounded by the depth of
    a shortlist: a count capped at the engine's ``candidate_pool`` (400) was reached in
    every town of the national world, while the competing openings it is weighed against are
    not capped. On the demo world, of the people hired whom the engine would have admitted
    to their vacancy on the day they were proposed, 93 % were rated good by the champion
    model (its median candidate: 0.03) and 30 % by the rules. Required-skill coverage is not
    a condition: four in five of those hires had covered less than half of the required
    skills on recorded evidence.
by_target_group
    well-ranked people by the target group whose rule decides their eligibility
    (:func:`matching.eligibility.pair_eligibility`, the rule the contract ledger credits a
    hire under); every target group of the vacancy is listed, zeros included, and a vacancy
    without target groups lists everybody under ``"none"``.
expected_hires
    the sum over the well-ranked people of the model's calibrated probability that proposing
    them leads to a hire still in place six months later: the lasting hires the well-ranked
    supply would give if each person were proposed once. Without a calibration (the
    rule-based score is a documented sum, not a probability) each well-ranked person counts
    as an average proposal, :attr:`SupplyConfig.lasting_hire_rate` (1 %: 0.8 % of the logged
    proposals of the test world and 1.3 % of the demo world led to a hire still in place six
    months later).
competing_vacancies, competing_openings
    real vacancies open on the estimator's day (the engine's
    :func:`~matching.engine.vacancy_open`) of the occupation's ISCO-08 unit group (its major
    group when the occupation has no four-digit code), within commuting reach of the place
    for a typical jobseeker there (the median radius of the people in matching within reach
    of it, plus the engine's slack: the same for every target group and occupation of the
    place), and their openings not yet filled. They compete with the supplier for the same
    people.
profiles
    the first ``profiles`` well-ranked people in the engine's order, as
    :class:`~targeting.types.SupplyProfile`: deciding target group, distance band, required
    coverage, probability and rank among the admissible people. Never an id, name, age, sex
    or origin: a procurement unit sees these.

Two sources of people and vacancies
-----------------------------------
:meth:`SupplyEstimator.live` reads the serving engine's arrays as served now.
:meth:`SupplyEstimator.as_of` (the backtest) replays the world as it was known before a past
day with :mod:`features.replay`: skill profiles from the assessments made before the day,
in matching and the unemployment spell (hence the target-group periods) from the outcome
events before the day; vacancies opened before the day, with the hires made before it.
Nothing dated on or after the day changes its answer (a test adds an assessment, a hire and a
vacancy after the day, and the same before it as a control).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.codes import index_in
from features.live_state import vacancy_hires
from features.matching_data import (
    Vocabularies,
    _row_norms,
    vacancy_columns,
    vacancy_frames,
)
from features.pair_features import pair_features
from features.profiles import ProfileConfig, build_requirements
from features.replay import replay_rows
from features.schema import FEATURE_NAMES
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from matching.commute import distance_band
from matching.domain import (
    FULL_TIME_HOURS,
    CEFRLevel,
    JobForm,
    LanguageSkill,
    PhysicalDemand,
    TargetGroup,
    Vacancy,
    VacancySkill,
)
from matching.eligibility import DEFAULT_RULES, pair_eligibility
from matching.engine import (
    Featurizer,
    MatchingConfig,
    MatchingEngine,
    admissible_pairs,
    qualified,
    vacancy_open,
    within_reach,
)
from matching.entities import (
    LANGUAGES,
    PHYSICAL_DEMANDS,
    REQ_MIN_LEVEL,
    REQ_REQUIRED,
    REQ_WEIGHT,
    VACANCY_COLUMNS,
    EntityTable,
    MatchingData,
    RowUpdate,
)
from matching.scoring import RankingModel, RuleBasedScorer, as_ranking_model
from matching.sparse_store import SparseRowStore
from targeting.types import HypotheticalVacancy, Supply, SupplyProfile

__all__ = [
    "NO_TARGET_GROUP",
    "SupplyConfig",
    "SupplyEstimator",
    "SupplyQuestionError",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: The ``by_target_group`` key of a vacancy without an employment condition.
NO_TARGET_GROUP = "none"
#: The main language of each country's vacancies.
MAIN_LANGUAGE: Mapping[str, str] = {"FI": "fi", "SE": "sv"}
#: The level of the main language when no known vacancy says what is usual.
DEFAULT_LANGUAGE_LEVEL = CEFRLevel.B1
#: Levels of the taxonomy's skills when no known vacancy of the occupation says better: the
#: level an employer's vacancy form prefills an essential skill at, and the lowest level.
FALLBACK_REQUIRED_LEVEL = 2
FALLBACK_OPTIONAL_LEVEL = 1
#: A hypothetical vacancy is open this long (it only has to be open on its opening day).
OPEN_DAYS = 90
_STEP_LEVEL = {level.step: level for level in CEFRLevel}


class SupplyQuestionError(ValueError):
    """A hypothetical vacancy the estimator cannot answer for; the message names the field."""

    def __init__(self, key: str, field: str, problem: str) -> None:
        super().__init__(f"hypothetical vacancy {key!r}: {field} {problem}")
        self.key, self.field, self.problem = key, field, problem


@dataclass(frozen=True)
class SupplyConfig:
    """The estimator's knobs (see the module docstring for what each means)."""

    min_probability: float = 0.025
    min_rule_score: float = 0.25
    required_skills: int = 8
    optional_skills: int = 4
    min_reference_vacancies: int = 3
    lasting_hire_rate: float = 0.01

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_probability <= 1.0:
            raise ValueError(f"min_probability: {self.min_probability!r} not in [0, 1]")
        if self.required_skills < 1 or self.optional_skills < 0:
            raise ValueError("required_skills must be at least 1 and optional_skills at least 0")
        if self.min_reference_vacancies < 1:
            raise ValueError("min_reference_vacancies must be at least 1")
        if not 0.0 <= self.lasting_hire_rate <= 1.0:
            raise ValueError(f"lasting_hire_rate: {self.lasting_hire_rate!r} not in [0, 1]")


@dataclass(frozen=True)
class _Conditions:
    """Working conditions of a hypothetical vacancy (see the module docstring)."""

    skills: tuple[VacancySkill, ...]
    hours: float
    shift_work: bool
    night_work: bool
    physical_demand: PhysicalDemand
    driving_licence: bool
    languages: tuple[LanguageSkill, ...]


class SupplyEstimator:
    """Local supply for hypothetical vacancies (build with :meth:`live` or :meth:`as_of`).

    ``data`` holds the candidate people (its seeker rows, as they are on ``day``) and the
    known real vacancies; ``known`` marks the vacancy rows known on ``day`` and ``hires`` their
    hires as of ``day`` (the table's own ``hires`` column may be from a later day). ``places``
    limits the municipalities it can answer for (None: any). An estimator describes one day:
    build a new one for another day (it keeps who is within reach of each place it was asked
    about, and each occupation's typical vacancy).
    """

    def __init__(
        self,
        data: MatchingData,
        vocab: Vocabularies,
        day: date,
        *,
        known: BoolArray,
        hires: npt.NDArray[np.float32],
        scorer: RankingModel | None = None,
        config: MatchingConfig | None = None,
        featurizer: Featurizer = pair_features,
        feature_names: tuple[str, ...] = FEATURE_NAMES,
        places: Collection[str] | None = None,
        settings: SupplyConfig | None = None,
    ) -> None:
        if len(known) != len(data.vacancies) or len(hires) != len(data.vacancies):
            raise ValueError("known and hires need one value per vacancy row of data")
        self.data = data
        self.vocab = vocab
        self.day = day
        self.known = np.asarray(known, bool)
        self.hires = np.asarray(hires, np.float32)
        self.config = config or MatchingConfig()
        self.featurizer = featurizer
        self.feature_names = tuple(feature_names)
        #: The serving scorer as a model (the rule-based score when none is given).
        self.model: RankingModel = (
            as_ranking_model(scorer) if scorer else RuleBasedScorer(self.feature_names)
        )
        if tuple(self.model.feature_names) != self.feature_names:
            raise ValueError(f"scorer {self.model.version} does not use the featurizer's features")
        self._coverage = self.feature_names.index("required_coverage")
        self.places = None if places is None else frozenset(places)
        self.settings = settings or SupplyConfig()
        self._conditions: dict[tuple[str, str], _Conditions] = {}
        self._people: dict[int, IntArray] = {}

    # ------------------------------------------------------------------ constructors
    @classmethod
    def live(
        cls,
        engine: MatchingEngine,
        vocab: Vocabularies,
        taxonomy: Taxonomy,
        on: date,
        settings: SupplyConfig | None = None,
    ) -> SupplyEstimator:
        """Today's supply from the serving engine's arrays (read, never changed).

        People are the engine's seeker rows as served now; known vacancies are the engine's
        vacancies that are not withdrawn and opened on or before ``on``, with their hires so far.
        """
        _check_taxonomy(vocab, taxonomy)
        data = engine.data
        vacancies = data.vacancies
        opened = vacancies["opens_on"] <= np.datetime64(on, "D")
        return cls(
            data,
            vocab,
            on,
            known=vacancies["active"] & opened,
            hires=vacancies["hires"].copy(),
            scorer=engine.scorer,
            config=engine.config,
            featurizer=engine.featurizer,
            feature_names=engine.feature_names,
            settings=settings,
        )

    @classmethod
    def as_of(
        cls,
        world: WorldTables,
        base: MatchingData,
        taxonomy: Taxonomy,
        vocab: Vocabularies,
        scorer: RankingModel | None,
        day: date,
        places: Collection[str],
        *,
        config: MatchingConfig | None = None,
        profile_config: ProfileConfig | None = None,
        settings: SupplyConfig | None = None,
    ) -> SupplyEstimator:
        """Supply as it was known before ``day``, for vacancies at ``places`` (municipality codes).

        ``base`` is the world's matching data (:func:`features.matching_data.build_matching_data`
        of ``world``, any day): only its columns without history are read. People within
        reach of a place are replayed as of ``day`` from the assessments and outcome events
        dated before it; vacancies opened before ``day`` are known, with the hires made before
        it. Raises ``ValueError`` naming an unknown place.
        """
        _check_taxonomy(vocab, taxonomy)
        config = config or MatchingConfig()
        codes = sorted(set(places))
        for code in codes:
            if not vocab.geography.has_municipality(code):
                raise ValueError(f"places: {code!r} is not a Finnish or Swedish municipality")
        if len(base.vacancies) == 0:
            raise ValueError("the world has no vacancies: there is nothing to replay against")
        known_world = _known_before(world, day)
        seekers = base.seekers
        rows = np.arange(len(seekers), dtype=np.int64)
        columns = [vocab.geography.index(code) for code in codes]
        reachable = np.zeros(len(seekers), bool)
        for column in columns:
            reachable |= within_reach(
                base.distance_km[seekers["home"], column],
                0.0,
                seekers["max_commute_km"],
                seekers["relocate"],
                config,
            )
        people = rows[reachable]
        # The replay snapshots (person, vacancy) pairs; one vacancy row stands beside each
        # person (vacancy snapshots are not used: hires are counted below for every vacancy).
        replay = replay_rows(
            known_world,
            base,
            taxonomy,
            people,
            np.zeros(len(people), np.int64),
            np.datetime64(day, "D"),
            profile_config,
        )
        # Pairs of one day in base order: the snapshot rows keep the people's order.
        if not np.array_equal(replay.seeker_base, people):
            raise AssertionError("replay reordered the people")
        snapshot = replay.data
        data = dataclasses.replace(
            snapshot,
            vacancies=base.vacancies,
            requirements=base.requirements,
        )
        vacancy_ids = np.asarray(base.vacancies.ids, dtype=object)
        known = base.vacancies["opens_on"] < np.datetime64(day, "D")
        hires = np.zeros(len(vacancy_ids), np.float32)
        hires[known] = vacancy_hires(
            known_world.outcomes, vacancy_ids[known], np.datetime64(day, "D")
        )
        return cls(
            data,
            vocab,
            day,
            known=known & base.vacancies["active"],
            hires=hires,
            scorer=scorer,
            config=config,
            places=codes,
            settings=settings,
        )

    # ------------------------------------------------------------------ questions
    def supply(self, vacancies: Sequence[HypotheticalVacancy], profiles: int = 20) -> list[Supply]:
        """Local supply and competition for each hypothetical vacancy, in the order given.

        ``profiles`` bounds the well-ranked people described per vacancy (best first).
        Raises :class:`SupplyQuestionError` naming the vacancy and field of a bad question.
        """
        if profiles < 0:
            raise ValueError(f"profiles: {profiles!r} must not be negative")
        seen: set[str] = set()
        for vacancy in vacancies:
            self._check(vacancy)
            if vacancy.key in seen:
                raise SupplyQuestionError(vacancy.key, "key", "is asked twice")
            seen.add(vacancy.key)
        if not vacancies:
            return []
        data = self._with_vacancies(vacancies)
        return [self._supply_of(data, v, vacancy, profiles) for v, vacancy in enumerate(vacancies)]

    def template(self, vacancy: HypotheticalVacancy, vacancy_id: str = "hypothetical") -> Vacancy:
        """The vacancy the engine is run on for ``vacancy`` (see the module docstring)."""
        self._check(vacancy)
        country = self._country(vacancy.municipality)
        conditions = self._conditions_of(vacancy.occupation_uri, country)
        return Vacancy(
            vacancy_id=vacancy_id,
            supplier_id="hypothetical",
            occupation_uri=vacancy.occupation_uri,
            municipality=vacancy.municipality,
            job_form=JobForm(vacancy.job_form),
            opens_on=vacancy.opens_on,
            closes_on=vacancy.opens_on + timedelta(days=OPEN_DAYS),
            contract_id="hypothetical" if vacancy.target_groups else None,
            condition_id=f"{vacancy_id}-condition" if vacancy.target_groups else None,
            skills=conditions.skills,
            remote_share=0.0,
            hours_per_week=conditions.hours,
            shift_work=conditions.shift_work,
            night_work=conditions.night_work,
            physical_demand=conditions.physical_demand,
            languages=conditions.languages,
            driving_licence_required=conditions.driving_licence,
            openings=vacancy.openings,
        )

    def engine_row(
        self, vacancy: HypotheticalVacancy, vacancy_id: str = "hypothetical"
    ) -> RowUpdate:
        """The engine row :meth:`supply` scores for ``vacancy``: :meth:`template` with its
        employment condition, as one row update."""
        data = self._with_vacancies([vacancy], [vacancy_id])
        entries = data.requirements.rows([0])
        return RowUpdate(
            entity_id=vacancy_id,
            values={name: data.vacancies[name][0] for name in VACANCY_COLUMNS},
            skill_columns=entries.columns,
            skill_values=entries.values,
        )

    # ------------------------------------------------------------------ internals
    def _check(self, vacancy: HypotheticalVacancy) -> None:
        key = vacancy.key
        taxonomy = self.vocab.taxonomy
        if not taxonomy.has_occupation(vacancy.occupation_uri):
            raise SupplyQuestionError(key, "occupation_uri", "is not an ESCO occupation")
        if not self.vocab.geography.has_municipality(vacancy.municipality):
            raise SupplyQuestionError(key, "municipality", "is not a Finnish or Swedish one")
        if self.places is not None and vacancy.municipality not in self.places:
            raise SupplyQuestionError(
                key, "municipality", "is not among the places this estimator was built for"
            )
        if vacancy.job_form not in {form.value for form in JobForm}:
            raise SupplyQuestionError(key, "job_form", f"{vacancy.job_form!r} is not a job form")
        groups = {group.value for group in TargetGroup}
        for group in vacancy.target_groups:
            if group not in groups:
                raise SupplyQuestionError(key, "target_groups", f"{group!r} is not a target group")
        if vacancy.openings < 1:
            raise SupplyQuestionError(key, "openings", "must be at least 1")
        if vacancy.opens_on < self.day:
            raise SupplyQuestionError(
                key, "opens_on", f"{vacancy.opens_on} is before the estimator's day {self.day}"
            )

    def _country(self, municipality: str) -> str:
        geography = self.vocab.geography
        return str(geography.municipalities["country"].iloc[geography.index(municipality)])

    def _people_reaching(self, place: int) -> IntArray:
        """Seeker rows in matching within reach of municipality row ``place`` (on site)."""
        cached = self._people.get(place)
        if cached is None:
            seekers = self.data.seekers
            near = within_reach(
                self.data.distance_km[seekers["home"], place],
                0.0,
                seekers["max_commute_km"],
                seekers["relocate"],
                self.config,
            )
            cached = np.flatnonzero(near & seekers["active"]).astype(np.int64)
            self._people[place] = cached
        return cached

    def _with_vacancies(
        self, vacancies: Sequence[HypotheticalVacancy], ids: Sequence[str] | None = None
    ) -> MatchingData:
        """The source's people beside the rows of the hypothetical vacancies.

        The rows are made as a world load makes them (:func:`vacancy_frames`, then
        :func:`vacancy_columns` and :func:`build_requirements` for all of them at once).
        """
        names = (
            list(ids) if ids is not None else [f"hypothetical-{i}" for i in range(len(vacancies))]
        )
        templates = [self.template(v, name) for v, name in zip(vacancies, names, strict=True)]
        frames, skills = zip(*(vacancy_frames(t) for t in templates), strict=True)
        with_condition = [
            (t, v) for t, v in zip(templates, vacancies, strict=True) if t.condition_id
        ]
        conditions = pd.DataFrame(
            {
                "condition_id": [t.condition_id for t, _ in with_condition],
                "contract_id": [t.contract_id for t, _ in with_condition],
                "target_groups": [list(v.target_groups) for _, v in with_condition],
                "hires_required": [v.openings for _, v in with_condition],
                "deadline": [t.closes_on for t, _ in with_condition],
            }
        )
        frame = pd.concat(frames, ignore_index=True)
        columns = vacancy_columns(
            frame, conditions, pd.Series(dtype="int64"), self.vocab, np.zeros(len(frame))
        )
        requirements = build_requirements(
            pd.concat(skills, ignore_index=True), self.vocab.taxonomy, vacancy_ids=names
        )
        store = SparseRowStore.from_csr(
            [requirements.weights, requirements.required, requirements.min_level]
        )
        table = EntityTable.from_columns(VACANCY_COLUMNS, names, columns)
        table["requirement_norm"][:] = _row_norms(store, REQ_WEIGHT)
        return dataclasses.replace(self.data, vacancies=table, requirements=store)

    def _supply_of(
        self, data: MatchingData, v: int, vacancy: HypotheticalVacancy, n_profiles: int
    ) -> Supply:
        """Supply for vacancy row ``v`` of ``data`` (see the module docstring)."""
        place = self.vocab.geography.index(vacancy.municipality)
        people = self._people_reaching(place)
        on = vacancy.opens_on
        passes = admissible_pairs(
            data, self.config, people, np.full(len(people), v, np.int64), np.datetime64(on, "D")
        )
        admitted = people[passes]
        features = self.featurizer(data, admitted, np.full(len(admitted), v, np.int64), on)
        scores = self.model.for_direction("shortlist").score(features)
        probabilities = self.model.probability("shortlist", scores)
        if probabilities is None:
            good = scores >= self.settings.min_rule_score
            expected = self.settings.lasting_hire_rate * int(good.sum())
        else:
            good = probabilities >= self.settings.min_probability
            expected = float(probabilities[good].sum())
        well = np.flatnonzero(good)
        groups = self._deciding_groups(data, admitted[well], v, vacancy, on)
        by_group = dict.fromkeys(vacancy.target_groups or (NO_TARGET_GROUP,), 0)
        for group in groups:
            by_group[group] += 1

        # The engine's order of a shortlist: qualified pairs first, then by score, then by row.
        tier = (
            qualified(features, self.feature_names)
            if self.config.qualified_first
            else np.zeros(len(admitted))
        )
        order = np.lexsort((admitted, -scores, -tier))
        rank = np.empty(len(admitted), np.int64)
        rank[order] = np.arange(1, len(admitted) + 1)
        group_of = dict(zip(well.tolist(), groups, strict=True))
        best = well[np.argsort(rank[well], kind="stable")][:n_profiles]
        homes = data.seekers["home"][admitted[best]]
        described = tuple(
            SupplyProfile(
                target_group=group_of[i],
                distance_band=distance_band(float(data.distance_km[home, place])),
                required_coverage=round(float(features[i, self._coverage]), 3),
                probability=None if probabilities is None else float(probabilities[i]),
                rank=int(rank[i]),
            )
            for i, home in zip(best.tolist(), homes.tolist(), strict=True)
        )
        competing, openings = self._competition(data, v, place)
        return Supply(
            vacancy=vacancy,
            admissible=len(admitted),
            well_ranked=len(well),
            by_target_group=by_group,
            expected_hires=expected,
            competing_vacancies=competing,
            competing_openings=openings,
            profiles=described,
        )

    def _deciding_groups(
        self, data: MatchingData, s: IntArray, v: int, vacancy: HypotheticalVacancy, on: date
    ) -> list[str]:
        """The target group whose rule decides each person's eligibility (see the ledger)."""
        if not vacancy.target_groups:
            return [NO_TARGET_GROUP] * len(s)
        rules = data.vacancies["condition_rules"][np.full(len(s), v, np.int64)]
        day = on + timedelta(days=self.config.eligibility_horizon_days)
        seekers = data.seekers
        _, _, deciding = pair_eligibility(
            seekers["eligible_from"][s], seekers["eligible_until"][s], rules, day
        )
        # Everybody here passed the engine's eligibility filter on that day: a rule decided.
        return [DEFAULT_RULES[int(i)].group.value for i in deciding.tolist()]

    def _competition(self, data: MatchingData, v: int, place: int) -> tuple[int, int]:
        """Open real vacancies of the occupation group within reach of the place, and their
        unfilled openings (see the module docstring)."""
        vacancies = self.data.vacancies
        known = np.flatnonzero(self.known)
        isco = int(data.vacancies["isco"][v])
        if isco >= 1000:
            same = vacancies["isco"][known] == isco
        else:
            occupation = int(data.vacancies["occupation"][v])
            code = str(self.vocab.taxonomy.occupations["isco_code"].iloc[occupation])
            major = int(code[0]) if code[:1].isdigit() else -1
            same = vacancies["isco"][known] // 1000 == major
        rows = known[same]
        open_now = vacancy_open(
            vacancies["opens_on"][rows],
            vacancies["closes_on"][rows],
            vacancies["openings"][rows],
            self.hires[rows],
            np.datetime64(self.day, "D"),
        )
        rows = rows[open_now]
        # A typical candidate's radius: the median of the people in matching within reach.
        radius = self.data.seekers["max_commute_km"][self._people_reaching(place)]
        typical = float(np.median(radius)) if len(radius) else 0.0
        near = within_reach(
            self.data.distance_km[place, vacancies["municipality"][rows]],
            vacancies["remote_share"][rows],
            typical,
            False,
            self.config,
        )
        rows = rows[near]
        unfilled = np.maximum(vacancies["openings"][rows] - self.hires[rows], 0.0)
        return len(rows), round(float(unfilled.sum()))

    # ------------------------------------------------------------------ the template
    def _conditions_of(self, occupation_uri: str, country: str) -> _Conditions:
        key = (occupation_uri, country)
        cached = self._conditions.get(key)
        if cached is None:
            cached = self._typical_conditions(occupation_uri, country)
            self._conditions[key] = cached
        return cached

    def _typical_conditions(self, occupation_uri: str, country: str) -> _Conditions:
        vacancies = self.data.vacancies
        taxonomy = self.vocab.taxonomy
        occupation = taxonomy.occupation_index(occupation_uri)
        known = np.flatnonzero(self.known)
        minimum = self.settings.min_reference_vacancies
        own = known[vacancies["occupation"][known] == occupation]
        code = str(taxonomy.occupations["isco_code"].iloc[occupation])
        reference = own
        if len(reference) < minimum and len(code) == 4 and code.isdigit():
            reference = known[vacancies["isco"][known] == int(code)]
        skills = (
            self._skills_of(own)
            if len(own) >= minimum
            else self._taxonomy_skills(occupation_uri, known)
        )
        if len(reference) < minimum:
            hours, shift, night, licence = FULL_TIME_HOURS, False, False, False
            demand = PhysicalDemand.LIGHT
        else:
            hours = float(np.round(np.median(vacancies["hours"][reference]) * 2) / 2)
            shift = bool(vacancies["shift_work"][reference].mean() >= 0.5)
            night = bool(vacancies["night_work"][reference].mean() >= 0.5)
            licence = bool(vacancies["driving_licence"][reference].mean() >= 0.5)
            counts = np.bincount(
                vacancies["physical_demand"][reference].astype(np.int64),
                minlength=len(PHYSICAL_DEMANDS),
            )
            demand = PHYSICAL_DEMANDS[int(np.argmax(counts))]
        return _Conditions(
            skills=skills,
            hours=hours,
            shift_work=shift,
            night_work=night,
            physical_demand=demand,
            driving_licence=licence,
            languages=self._languages(own, known, country),
        )

    def _skills_of(self, rows: IntArray) -> tuple[VacancySkill, ...]:
        """The most often required (and optional) skills of real vacancies ``rows``."""
        entries = self.data.requirements.rows(rows)
        required = entries.values[:, REQ_REQUIRED] > 0
        levels = entries.values[:, REQ_MIN_LEVEL]
        uris = self.vocab.taxonomy.skills["uri"].to_numpy(object)
        chosen = _most_common(entries.columns[required], self.settings.required_skills)
        optional = _most_common(
            entries.columns[~required & ~np.isin(entries.columns, chosen)],
            self.settings.optional_skills,
        )
        skills = []
        for skill, is_required in [(c, True) for c in chosen] + [(c, False) for c in optional]:
            mask = (entries.columns == skill) & (required == is_required)
            level = int(np.clip(np.round(np.median(levels[mask])), 1, 4))
            skills.append(VacancySkill(str(uris[skill]), required=is_required, min_level=level))
        return tuple(skills)

    def _taxonomy_skills(self, occupation_uri: str, known: IntArray) -> tuple[VacancySkill, ...]:
        """The occupation's essential skills (most required by known vacancies first) and
        optional ones, at the fallback levels."""
        taxonomy = self.vocab.taxonomy
        entries = self.data.requirements.rows(known)
        popularity = np.bincount(
            entries.columns[entries.values[:, REQ_REQUIRED] > 0],
            minlength=len(taxonomy.skills),
        )
        positions = taxonomy.skill_positions

        def best(uris: list[str], n: int) -> list[str]:
            order = sorted(range(len(uris)), key=lambda i: (-popularity[positions[uris[i]]], i))
            return [uris[i] for i in order[:n]]

        essential = best(taxonomy.essential_skills(occupation_uri), self.settings.required_skills)
        optional = best(taxonomy.optional_skills(occupation_uri), self.settings.optional_skills)
        return tuple(
            [
                VacancySkill(uri, required=True, min_level=FALLBACK_REQUIRED_LEVEL)
                for uri in essential
            ]
            + [
                VacancySkill(uri, required=False, min_level=FALLBACK_OPTIONAL_LEVEL)
                for uri in optional
                if uri not in essential
            ]
        )

    def _languages(self, own: IntArray, known: IntArray, country: str) -> tuple[LanguageSkill, ...]:
        """The main language of the country at its usual level, and other usual languages."""
        vacancies = self.data.vacancies
        countries = self.vocab.geography.municipalities["country"].to_numpy(object)

        def in_country(rows: IntArray) -> IntArray:
            return rows[countries[vacancies["municipality"][rows]] == country]

        local = in_country(own)
        everywhere = in_country(known)
        main = MAIN_LANGUAGE.get(country, "en")
        skills = []
        for j, language in enumerate(LANGUAGES):
            asked = vacancies["languages"][local, j] if len(local) else np.zeros(0, np.int8)
            wanted = asked[asked > 0]
            if language == main:
                if not len(wanted) and len(everywhere):
                    steps = vacancies["languages"][everywhere, j]
                    wanted = steps[steps > 0]
                step = int(np.median(wanted)) if len(wanted) else DEFAULT_LANGUAGE_LEVEL.step
            elif len(local) and len(wanted) * 2 > len(local):
                step = int(np.median(wanted))
            else:
                continue
            skills.append(LanguageSkill(language, _STEP_LEVEL[step]))
        return tuple(skills)


def _most_common(columns: IntArray, n: int) -> list[int]:
    """The ``n`` most frequent values, ties by value (deterministic)."""
    if n <= 0 or not len(columns):
        return []
    values, counts = np.unique(columns, return_counts=True)
    order = np.lexsort((values, -counts))[:n]
    return [int(v) for v in values[order]]


def _check_taxonomy(vocab: Vocabularies, taxonomy: Taxonomy) -> None:
    """The taxonomy given must index skills and occupations as the vocabularies do."""
    if len(taxonomy.skills) != len(vocab.taxonomy.skills) or len(taxonomy.occupations) != len(
        vocab.taxonomy.occupations
    ):
        raise ValueError("taxonomy: not the taxonomy the vocabularies were built from")


def _known_before(world: WorldTables, day: date) -> WorldTables:
    """The world's assessments and outcome events dated before ``day`` (people and vacancies
    stay, for the replay's row order: who is known is decided by their dated facts)."""
    cutoff = pd.Timestamp(day, tz="UTC")
    occurred = pd.to_datetime(world.outcomes["occurred_at"], utc=True)
    assessed = pd.to_datetime(world.assessments["assessed_on"]) < pd.Timestamp(day)
    assessments = world.assessments[assessed.to_numpy()]
    observed = index_in(world.skill_observations["assessment_id"], assessments["assessment_id"])
    return dataclasses.replace(
        world,
        outcomes=world.outcomes[(occurred < cutoff).to_numpy()],
        assessments=assessments,
        skill_observations=world.skill_observations[observed >= 0],
    )
