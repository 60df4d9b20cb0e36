"""The knowledge base as validated data: sources, conditions, observations, codes.

Every number a cohort is built from lives in the YAML files of ``knowledge/data`` and names
the source it comes from; loading checks that each cited source exists, that codes and units
are present and well formed, and that ranks are unique, so a broken edit fails at load time
with one line saying where.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LOINC = re.compile(r"^\d{1,7}-\d$")
DIGITS = re.compile(r"^\d+$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    """A publication or dataset behind numbers of the knowledge base."""

    id: str
    title: str
    publisher: str
    year: int
    table_or_section: str
    supports: str
    url: str | None = None
    verified: bool = Field(description="True only if the figure was read in the source itself.")

    def citation(self) -> str:
        mark = "" if self.verified else " [not verified in the source]"
        return f"{self.title}. {self.publisher}, {self.year}; {self.table_or_section}.{mark}"


class Effects(_Frozen):
    """Additive shifts of a drawn observation by age and sex (value units unless latent)."""

    per_year_of_age: float = 0.0  # added per year above (or taken per year below) age 60
    per_year_after_60: float = 0.0  # added per year above 60 only (e.g. diastolic pressure)
    female_minus_male: float = 0.0  # women get +half, men -half, the mean is kept
    latent_per_year_of_age: float = 0.0  # normal-score shift per year from 60 (keeps marginal)


class Observation(_Frozen):
    """One clinical measurement: what it is (LOINC, UCUM), how it is drawn, what it must match."""

    key: str
    name: str
    loinc: str
    unit: str
    rank: int = Field(ge=1)
    synonyms: tuple[str, ...] = ()
    distribution: dict[str, Any]
    targets: dict[str, Any] = Field(default_factory=dict)
    effects: Effects = Effects()
    category: Literal["laboratory", "vital-signs", "exam", "social-history"] = "laboratory"
    how_generated: str
    sources: tuple[str, ...] = Field(min_length=1)

    @property
    def derived(self) -> bool:
        return self.distribution.get("family") == "derived"

    @field_validator("loinc")
    @classmethod
    def _loinc(cls, value: str) -> str:
        if not LOINC.match(value):
            raise ValueError(f"'{value}' is not a LOINC code (digits, a dash, a check digit)")
        return value


class Comorbidity(_Frozen):
    """A condition patients of the cohort may also have.

    Either ``definition`` (an expression over observations, e.g. ``egfr < 60 or uacr >= 30``:
    the flag follows the values and ``prevalence`` is only a target) or a latent liability
    with loadings ``drivers`` on observations' normal scores, cut at ``prevalence``.
    """

    key: str
    name: str
    snomed: str
    synonyms: tuple[str, ...] = ()
    prevalence: float = Field(ge=0, le=1)
    tolerance: float | None = None
    definition: str | None = None
    drivers: dict[str, float] = Field(default_factory=dict)
    sources: tuple[str, ...] = Field(min_length=1)


class TreatmentEffect(_Frozen):
    """A bounded multiplicative effect of a drug on an observation (drawn per patient)."""

    observation: str
    factor_min: float = Field(gt=0)
    factor_max: float = Field(gt=0)


class Medication(_Frozen):
    """A drug patients of the cohort may take; ``treats`` marks therapy of the condition itself."""

    key: str
    name: str
    rxnorm: str
    synonyms: tuple[str, ...] = ()
    share: float = Field(ge=0, le=1)
    treats: bool = False
    requires: str | None = None  # a comorbidity key (e.g. an ACE inhibitor needs hypertension)
    contraindication: str | None = None  # e.g. "egfr < 30": never prescribed where it holds
    drivers: dict[str, float] = Field(default_factory=dict)
    effect: TreatmentEffect | None = None
    sources: tuple[str, ...] = Field(min_length=1)


class Treatment(_Frozen):
    """Share of the cohort on any therapy of the condition, and who must be treated."""

    share: float = Field(ge=0, le=1)
    # untreated patients must meet this (the diagnosis rests on their values), others are treated
    untreated_requires: str | None = None
    sources: tuple[str, ...] = Field(min_length=1)


class Correlation(_Frozen):
    """A latent (normal-scores) correlation between two drawn observations."""

    a: str
    b: str
    r: float = Field(gt=-1, lt=1)
    sources: tuple[str, ...] = Field(min_length=1)


class Condition(_Frozen):
    """A cohort specification: who the patients are and what is recorded about them."""

    key: str
    name: str
    snomed: str
    icd10: str
    synonyms: tuple[str, ...]
    populations: tuple[str, ...]
    description: str
    diagnosis: dict[str, Any]
    demographics: dict[str, Any]
    observations: tuple[Observation, ...]
    comorbidities: tuple[Comorbidity, ...] = ()
    medications: tuple[Medication, ...] = ()
    correlations: tuple[Correlation, ...] = ()
    treatment: Treatment | None = None

    @field_validator("snomed")
    @classmethod
    def _snomed(cls, value: str) -> str:
        if not DIGITS.match(value):
            raise ValueError(f"'{value}' is not a SNOMED CT concept id (digits only)")
        return value

    @model_validator(mode="after")
    def _unique(self) -> Condition:
        for what, keys in (
            ("observation", [o.key for o in self.observations]),
            ("observation rank", [o.rank for o in self.observations]),
            ("comorbidity", [c.key for c in self.comorbidities]),
            ("medication", [m.key for m in self.medications]),
        ):
            values: list[object] = list(keys)
            duplicated = sorted({str(k) for k in values if values.count(k) > 1})
            if duplicated:
                raise ValueError(f"duplicate {what}: {', '.join(duplicated)}")
        known = {o.key for o in self.observations}
        drawn = {o.key for o in self.observations if not o.derived}
        unknown = sorted({k for c in self.correlations for k in (c.a, c.b)} - drawn)
        if unknown:
            raise ValueError(
                f"correlations name unknown or derived observations: {', '.join(unknown)}"
            )
        driven: list[Comorbidity | Medication] = [*self.comorbidities, *self.medications]
        for item in driven:
            bad = sorted(set(item.drivers) - drawn)
            if bad:
                raise ValueError(
                    f"{item.key}: drivers name unknown or derived observations: {', '.join(bad)}"
                )
        comorbidities = {c.key for c in self.comorbidities}
        for med in self.medications:
            if med.requires and med.requires not in comorbidities:
                raise ValueError(f"{med.key}: requires unknown comorbidity '{med.requires}'")
            if med.effect and med.effect.observation not in known:
                raise ValueError(
                    f"{med.key}: effect on unknown observation '{med.effect.observation}'"
                )
        if any(m.treats for m in self.medications) and self.treatment is None:
            raise ValueError("medications that treat the condition need a 'treatment' block")
        return self

    @property
    def ranked_observations(self) -> list[Observation]:
        return sorted(self.observations, key=lambda o: o.rank)

    def cited_sources(self) -> list[str]:
        """Every source id this condition's numbers cite, in first-use order."""
        ids: list[str] = []

        def add(items: Any) -> None:
            if isinstance(items, dict):
                for key, value in items.items():
                    if key == "sources":
                        ids.extend(value)
                    else:
                        add(value)
            elif isinstance(items, list | tuple):
                for item in items:
                    add(item)

        add(self.model_dump())
        return list(dict.fromkeys(ids))
