"""What cohort to draw: :class:`CohortSpec` and its :class:`Filter` narrowings, validated.

Kept apart from the sampler so that the request parser and the conversation can build and
validate a spec without the drawing machinery; ``sampler`` re-exports both names.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from synthpatient._labels import unit_words
from synthpatient.errors import InvalidParameterError
from synthpatient.knowledge._clauses import _disjunction
from synthpatient.knowledge._kb import KnowledgeBase
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._regimen import conflicting_pairs

MAX_PATIENTS = 10_000_000
#: a request written in partitions (``ask --engine``): each partition is one draw of at most
#: MAX_PATIENTS
MAX_REQUEST_PATIENTS = 1_000_000_000


class Filter(BaseModel):
    """A narrowing of the cohort: an observation range, a comorbidity or a medication."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["observation", "comorbidity", "medication"]
    key: str
    min: float | None = None
    max: float | None = None
    present: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> Filter:
        if self.kind == "observation" and self.min is None and self.max is None:
            raise ValueError(f"a filter on {self.key} needs a min or a max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.key}: min ({self.min}) is above max ({self.max})")
        return self

    def describe(self, condition: Condition | None = None) -> str:
        """The filter in words: by keys ("hba1c >= 9.1", "without type2_diabetes"), or with
        ``condition`` by the clinical names and units a reader asked in ("Hemoglobin A1c >=
        9.1 %", "without Type 2 diabetes mellitus")."""
        name, unit = self.key, ""
        if condition is not None and self.kind == "observation":
            obs = next((o for o in condition.observations if o.key == self.key), None)
            if obs is not None:
                shown = unit_words(obs.unit)
                name, unit = obs.name, f" {shown}" if shown else ""
        elif condition is not None:
            items = condition.comorbidities if self.kind == "comorbidity" else condition.medications
            found = next((i for i in items if i.key == self.key), None)
            name = found.name if found is not None else name
        if self.kind == "observation":
            if self.min is not None and self.max is not None:
                return f"{name} {self.min:g}-{self.max:g}{unit}"
            return (
                f"{name} >= {self.min:g}{unit}"
                if self.min is not None
                else f"{name} <= {self.max:g}{unit}"
            )
        verb = {"comorbidity": ("with", "without"), "medication": ("on", "not on")}[self.kind]
        return f"{verb[0] if self.present else verb[1]} {name}"


class CohortSpec(BaseModel):
    """What cohort to draw: condition, size, observations, population and filters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    condition: str
    n: int = Field(ge=1, le=MAX_PATIENTS)
    observations: tuple[str, ...] | None = None
    n_observations: int | None = Field(default=20, ge=1)
    population: str = "us"
    age_min: int = Field(default=18, ge=18, le=90)
    age_max: int = Field(default=90, ge=18, le=90)
    sex: Literal["female", "male"] | None = None
    # the share of women when a mix is asked; None: the sourced share of the population
    female_share: float | None = Field(default=None, ge=0, le=1)
    filters: tuple[Filter, ...] = ()
    seed: int | None = None
    # years of history per patient (visits over time); None draws a snapshot
    follow_up_years: float | None = Field(default=None, gt=0, le=30)

    @model_validator(mode="after")
    def _ages(self) -> CohortSpec:
        if self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) is above age_max ({self.age_max})")
        if self.sex is not None and self.female_share is not None:
            raise ValueError(
                f"sex '{self.sex}' and a female_share of {self.female_share:g} contradict "
                "each other; give one"
            )
        return self

    def observation_keys(self, condition: Condition) -> list[str]:
        """The observations the cohort records, in rank order unless named explicitly."""
        if self.observations:
            return list(self.observations)
        count = self.n_observations or len(condition.observations)
        return [o.key for o in condition.ranked_observations[:count]]

    def validate_against(self, kb: KnowledgeBase) -> Condition:
        """The condition, after checking that the knowledge base supports every request."""
        if self.condition not in kb.conditions:
            raise InvalidParameterError(
                f"Unknown condition '{self.condition}'. Supported: "
                f"{', '.join(sorted(kb.conditions))}."
            )
        condition = kb.conditions[self.condition]
        if self.population not in condition.populations:
            raise InvalidParameterError(
                f"No data for population '{self.population}' with {condition.name}. "
                f"Supported: {', '.join(condition.populations)}."
            )
        if self.follow_up_years is not None and condition.timeline is None:
            # refused before the confirmation, never an empty or made-up history
            have = sorted(c.name for c in kb.conditions.values() if c.timeline is not None)
            raise InvalidParameterError(
                f"Follow-up histories are available for: {', '.join(have)}; not yet for "
                f"{condition.name}. Ask without a follow-up for a one-visit cohort."
            )
        by_key = {o.key: o for o in condition.observations}
        unknown = [k for k in self.observations or () if k not in by_key]
        if unknown:
            raise InvalidParameterError(
                f"Unknown observation(s) {', '.join(unknown)} for {condition.name}. "
                f"Available: {', '.join(o.key for o in condition.ranked_observations)}."
            )
        if self.n_observations and self.n_observations > len(by_key) and not self.observations:
            raise InvalidParameterError(
                f"{condition.name} has {len(by_key)} observations in the knowledge base; "
                f"{self.n_observations} were asked for."
            )
        comorbidities = {c.key: c for c in condition.comorbidities}
        medications = {m.key for m in condition.medications}
        affected = {m.effect.observation for m in condition.medications if m.effect}
        for f in self.filters:
            if f.kind == "observation":
                if f.key not in by_key:
                    raise InvalidParameterError(
                        f"Cannot filter on '{f.key}': not an observation of {condition.name}."
                    )
                if by_key[f.key].derived or f.key in affected:
                    raise InvalidParameterError(
                        f"Filtering on {by_key[f.key].name} is not supported (it is computed "
                        f"from other values); filter on the values it comes from instead."
                    )
                dist = by_key[f.key].distribution
                if (f.min is not None and f.min > dist["max"]) or (
                    f.max is not None and f.max < dist["min"]
                ):
                    raise InvalidParameterError(
                        f"The filter {f.describe()} contradicts the possible range of "
                        f"{by_key[f.key].name} ({dist['min']}-{dist['max']} "
                        f"{by_key[f.key].unit})."
                    )
            elif f.kind == "comorbidity":
                if f.key not in comorbidities:
                    raise InvalidParameterError(
                        f"Unknown comorbidity '{f.key}' for {condition.name}. Known: "
                        f"{', '.join(comorbidities)}."
                    )
                definition = comorbidities[f.key].definition
                if definition and not _disjunction(definition, condition):
                    raise InvalidParameterError(f"Filtering on {f.key} is not supported.")
            elif f.key not in medications:
                raise InvalidParameterError(
                    f"Unknown medication '{f.key}' for {condition.name}. Known: "
                    f"{', '.join(medications)}."
                )
        asked = {f.key for f in self.filters if f.kind == "medication" and f.present}
        for pair in conflicting_pairs(condition):
            if {pair.a.key, pair.b.key} <= asked:  # never drawn: it would be unsafe care
                raise InvalidParameterError(
                    f"{pair.a.name} and {pair.b.name} are never given together ({pair.kind}: "
                    f"{pair.why}); ask for one of them."
                )
        return condition
