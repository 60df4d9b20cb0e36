"""The knowledge base as validated data: sources, conditions, observations, codes.

Every number a cohort is built from lives in the YAML files of ``knowledge/data`` and names
the source it comes from; loading checks that each cited source exists, that codes and units
are present and well formed, and that ranks are unique, so a broken edit fails at load time
with one line saying where.
"""

from __future__ import annotations

import re
from typing import Any

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
    how_generated: str
    sources: tuple[str, ...] = Field(min_length=1)

    @field_validator("loinc")
    @classmethod
    def _loinc(cls, value: str) -> str:
        if not LOINC.match(value):
            raise ValueError(f"'{value}' is not a LOINC code (digits, a dash, a check digit)")
        return value


class Comorbidity(_Frozen):
    key: str
    name: str
    snomed: str
    prevalence: float = Field(ge=0, le=1)
    tolerance: float | None = None
    sources: tuple[str, ...] = Field(min_length=1)


class Medication(_Frozen):
    key: str
    name: str
    rxnorm: str
    share: float = Field(ge=0, le=1)
    contraindication: str | None = None
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

    @field_validator("snomed")
    @classmethod
    def _snomed(cls, value: str) -> str:
        if not DIGITS.match(value):
            raise ValueError(f"'{value}' is not a SNOMED CT concept id (digits only)")
        return value

    @model_validator(mode="after")
    def _unique(self) -> Condition:
        for what, keys in (("observation", [o.key for o in self.observations]),
                           ("observation rank", [o.rank for o in self.observations]),
                           ("comorbidity", [c.key for c in self.comorbidities]),
                           ("medication", [m.key for m in self.medications])):
            duplicated = sorted({str(k) for k in keys if keys.count(k) > 1})
            if duplicated:
                raise ValueError(f"duplicate {what}: {', '.join(duplicated)}")
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
