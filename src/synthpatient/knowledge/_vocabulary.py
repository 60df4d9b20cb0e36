"""The request vocabulary (``knowledge/data/vocabulary.yaml``): every word a request may use.

Synonyms, plurals, drug classes, related-but-different conditions, populations, concepts no
knowledge base records yet, filler words and other languages' function words live in that one
data file, not in the parser's code. This module validates it once and answers lookups
against the loaded knowledge base (so a condition added to the knowledge base is served as
soon as its key is there, without a code change).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthpatient.errors import KnowledgeBaseError
from synthpatient.knowledge._kb import VOCABULARY_FILE, _read_yaml, _words
from synthpatient.knowledge._model import Comorbidity, Condition, Medication, Observation


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConditionTerms(_Frozen):
    terms: tuple[str, ...] = ()
    generic: tuple[str, ...] = ()  # read as this condition, and the reply says so


class Related(_Frozen):
    """A condition close to a supported one that must never be read as it."""

    name: str
    serves: str | None = None  # the knowledge base's key for it, when one is loaded
    terms: tuple[str, ...] = Field(min_length=1)


class DrugTerms(_Frozen):
    terms: tuple[str, ...] = ()
    members: tuple[str, ...] = ()  # other drugs of the class, drawn as its representative


class Defined(_Frozen):
    """Words defined by a value ("obese": BMI >= 30)."""

    terms: tuple[str, ...] = Field(min_length=1)
    observation: str
    min: float | None = None
    max: float | None = None


class AgeGroup(_Frozen):
    """Words for an age group ("elderly": 65 or more)."""

    terms: tuple[str, ...] = Field(min_length=1)
    min: int | None = None
    max: int | None = None


class Staging(_Frozen):
    observation: str
    stages: dict[str, tuple[float | None, float | None]]


class Unavailable(_Frozen):
    name: str
    terms: tuple[str, ...] = Field(min_length=1)


class Unsupported(_Frozen):
    places: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


class Populations(_Frozen):
    us: tuple[str, ...]
    unsupported: Unsupported


class Sexes(_Frozen):
    female: tuple[str, ...]
    male: tuple[str, ...]
    both: tuple[str, ...] = ()


class Vocabulary(_Frozen):
    """The validated vocabulary file."""

    version: int
    conditions: dict[str, ConditionTerms] = Field(default_factory=dict)
    related: tuple[Related, ...] = ()
    observations: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    comorbidities: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    medications: dict[str, DrugTerms] = Field(default_factory=dict)
    defined: tuple[Defined, ...] = ()
    age_groups: tuple[AgeGroup, ...] = ()
    ckd_stages: Staging
    unavailable: tuple[Unavailable, ...] = ()
    populations: Populations
    people: tuple[str, ...]
    sex: Sexes
    filler: frozenset[str]
    other_languages: dict[str, frozenset[str]] = Field(default_factory=dict)

    # -- lookups against a knowledge base's items ------------------------------------------
    def condition_phrases(self, condition: Condition) -> list[str]:
        """Every phrase naming ``condition`` (its own names and the vocabulary's), longest
        first."""
        own = self.conditions.get(condition.key, ConditionTerms())
        names = [condition.key.replace("_", " "), condition.name, *condition.synonyms]
        return _phrases([*names, *own.terms, *own.generic])

    def generic_phrases(self, condition: Condition) -> set[str]:
        own = self.conditions.get(condition.key, ConditionTerms())
        return {_words(t) for t in own.generic}

    def item_phrases(self, item: Observation | Comorbidity | Medication) -> list[str]:
        """Every phrase naming an observation, comorbidity or drug, longest first."""
        names = [item.key.replace("_", " "), item.name, *item.synonyms]
        if isinstance(item, Observation):
            names += self.observations.get(item.key, ())
        elif isinstance(item, Comorbidity):
            names += self.comorbidities.get(item.key, ())
        else:
            for key in (item.key, getattr(item, "drug_class", None)):
                drug = self.medications.get(key or "", DrugTerms())
                names += [*drug.terms, *drug.members]
        return _phrases(names)

    def drug_members(self, medication: Medication) -> set[str]:
        """Drugs of ``medication``'s class other than the one drawn."""
        members = {
            _words(m)
            for key in (medication.key, getattr(medication, "drug_class", None))
            for m in self.medications.get(key or "", DrugTerms()).members
        }
        return members - {_words(medication.name), *(_words(s) for s in medication.synonyms)}


def _phrases(names: list[str]) -> list[str]:
    return sorted({_words(n) for n in names if _words(n)}, key=len, reverse=True)


def load_vocabulary_file(path: Path) -> Vocabulary:
    """Read and validate one vocabulary file; one :class:`KnowledgeBaseError` line if bad."""
    data = _read_yaml(path)
    try:
        return Vocabulary.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KnowledgeBaseError(
            f"{path.name}: {where}: {first['msg']} ({exc.error_count()} problem(s) in all)."
        ) from None


@cache
def load_vocabulary() -> Vocabulary:
    """The vocabulary shipped with the package (loaded once per process)."""
    folder = Path(str(resources.files("synthpatient.knowledge") / "data"))
    return load_vocabulary_file(folder / VOCABULARY_FILE)
