"""The family of hidden worlds: outcome model, assessment noise and logged coach policy.

A pipeline that only ever learns the world it was designed on proves little. Each name of
``WorldConfig.hidden_model`` draws a structurally different world from the same people and
vacancies:

==============  ==========================================  ======================  ================
name            outcome model (form)                        unreliable evidence     logged policy
==============  ==========================================  ======================  ================
additive        every term linear in the log-odds (default) self-reports            coach_rules
thresholds      cut-offs: weakest skill, commute cliff,     certificates            coach_checklist
                hours veto, language threshold, long
                unemployment scars the employer's odds
interactions    skills × work-ability fit × reach (distance observation             coach_outreach
                decays regardless of radius), language only
                in ISCO 4/5, long unemployment: accept ↑,
                retain ↓
==============  ==========================================  ======================  ================

Sex, birth year and migrant background enter no outcome model. Details: the module
docstrings of :mod:`~training.synthetic.hidden_model` (additive),
:mod:`~training.synthetic.variant_thresholds` and
:mod:`~training.synthetic.variant_interactions`; every world also documents its own in
``HIDDEN_MODEL.md`` and records every parameter in ``hidden_model.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from training.synthetic.coach_policy import CoachPolicyParams, policy_document
from training.synthetic.config import HIDDEN_MODEL_NAMES
from training.synthetic.hidden_model import HiddenModel
from training.synthetic.skills import DEFAULT_NOISE, RecognitionNoise
from training.synthetic.variant_interactions import INTERACTION_NOISE, INTERACTION_POLICY
from training.synthetic.variant_thresholds import THRESHOLD_NOISE, THRESHOLD_POLICY

__all__ = ["WorldVariant", "variant_from_json", "world_variant"]


@dataclass(frozen=True, eq=False)
class WorldVariant:
    """One hidden world: how outcomes come about, how coaches err, how they chose."""

    name: str
    model: HiddenModel
    noise: RecognitionNoise
    policy: CoachPolicyParams

    def save(self, path: Path) -> None:
        """Write ``hidden_model.json`` (model, noise and policy, every parameter)."""
        self.model.save(path, policy_document(self.policy), self.noise.document())

    def markdown(self) -> str:
        """``HIDDEN_MODEL.md`` of this world."""
        return self.model.markdown(
            policy_document(self.policy), self.noise.table(), self.noise.summary
        )


_NOISE = {
    "additive": DEFAULT_NOISE,
    "thresholds": THRESHOLD_NOISE,
    "interactions": INTERACTION_NOISE,
}
_POLICY = {
    "additive": CoachPolicyParams(),
    "thresholds": THRESHOLD_POLICY,
    "interactions": INTERACTION_POLICY,
}


def world_variant(name: str) -> WorldVariant:
    """The hidden world of a name of ``HIDDEN_MODEL_NAMES`` with its default parameters."""
    if name not in HIDDEN_MODEL_NAMES:
        raise ValueError(f"unknown hidden model {name!r}; known: {', '.join(HIDDEN_MODEL_NAMES)}")
    return WorldVariant(
        name=name, model=HiddenModel.for_family(name), noise=_NOISE[name], policy=_POLICY[name]
    )


def variant_from_json(path: Path) -> WorldVariant:
    """The whole hidden world recorded in a world's ``hidden_model.json``."""
    document = HiddenModel.read_document(path)
    model = HiddenModel.from_json(path)
    noise = (
        RecognitionNoise.from_document(document["recognition"])
        if "recognition" in document
        else DEFAULT_NOISE
    )
    policy = _POLICY[model.family]
    if "logging_policy" in document:
        values: dict[str, Any] = dict(document["logging_policy"]["parameters"])
        known = {f.name for f in fields(CoachPolicyParams)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{path}: unknown logging-policy parameters {unknown}")
        recorded: dict[str, Any] = {
            key: tuple(value) if isinstance(value, list) else value for key, value in values.items()
        }
        policy = CoachPolicyParams(**recorded)
    return WorldVariant(name=model.family, model=model, noise=noise, policy=policy)
