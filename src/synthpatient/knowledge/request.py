"""Plain-English cohort requests -> a validated :class:`CohortRequest`, offline.

The parser reads the common phrasings ("generate 2000 T2D patients with 20 important
observations based on the US population", "women aged 40 to 65 with CKD stage 3 on insulin",
"two thousand diabetic men over 65 with HbA1c and BMI") with regular expressions and the
knowledge base's synonyms. It never guesses: a condition, population or filter it cannot
place is reported back with what is supported. An LLM can fill the same model instead
(:mod:`synthpatient.knowledge.llm_parser`); both end in :meth:`CohortRequest.to_spec`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from synthpatient.errors import Clarification, InvalidParameterError
from synthpatient.knowledge._follow_up import follow_up_text, parse_follow_up
from synthpatient.knowledge._kb import KnowledgeBase
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._request_fields import (
    _ages,
    _condition,
    _contradictions,
    _count,
    _formats,
    _n_observations,
    _named_observations,
    _not_recorded,
    _population,
    _sex,
)
from synthpatient.knowledge._request_filters import _filters
from synthpatient.knowledge._request_numbers import words_to_number
from synthpatient.knowledge.sampler import MAX_PATIENTS, CohortSpec, Filter

# words_to_number lives with the other number readers; it stays importable from here
__all__ = [
    "MAX_REQUEST_CHARS",
    "Clarification",
    "CohortRequest",
    "OutputFormat",
    "clean_request_text",
    "parse_request",
    "words_to_number",
]

#: Requests longer than this are refused (no real request needs more).
MAX_REQUEST_CHARS = 2000
OutputFormat = Literal["csv", "parquet", "fhir", "fhir-ndjson"]
_DEFAULT_FORMATS: tuple[OutputFormat, ...] = ("csv", "fhir")

# Terminal escape sequences (colours, cursor moves, window titles) pasted with a request: CSI,
# string commands closed by BEL or ST, then any other escape. Read as text, "\x1b[0m500"
# would be the number 0 million.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]?"
)
_KEPT_CONTROLS = frozenset("\t\n\r")


class CohortRequest(BaseModel):
    """What the user asked for, before it becomes a :class:`CohortSpec`."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(description="number of patients", ge=1, le=MAX_PATIENTS)
    condition: str = Field(description="knowledge-base condition key, e.g. type2_diabetes")
    n_observations: int | None = Field(
        default=None, ge=1, description="how many ranked observations"
    )
    observations: list[str] = Field(
        default_factory=list, description="observation keys that must be included"
    )
    population: str = "us"
    age_min: int = Field(default=18, ge=18, le=90)
    age_max: int = Field(default=90, ge=18, le=90)
    sex: Literal["female", "male"] | None = None
    filters: list[Filter] = Field(default_factory=list)
    formats: list[OutputFormat] = Field(default_factory=lambda: list(_DEFAULT_FORMATS))
    seed: int | None = None
    follow_up_years: float | None = Field(
        default=None,
        gt=0,
        le=30,
        description="years of history per patient (visits over time), only when asked for",
    )
    # what the parser changed in the text before reading it; not part of the JSON schema an
    # LLM fills, nor of what is saved (it is about the wording, not the cohort)
    _notes: list[str] = PrivateAttr(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """What the parser had to change in the request's text to read it, in words."""
        return list(self._notes)

    def observation_keys(self, condition: Condition) -> list[str]:
        """Named observations first, then by rank up to ``n_observations`` (default: the
        named ones alone, or 20 when none is named); observations a filter reads are added."""
        named = list(dict.fromkeys(self.observations))
        wanted = self.n_observations or (len(named) if named else 20)
        for obs in condition.ranked_observations:
            if len(named) >= wanted:
                break
            if obs.key not in named:
                named.append(obs.key)
        for f in self.filters:
            if f.kind == "observation" and f.key not in named:
                named.append(f.key)
        return named

    def to_spec(self, kb: KnowledgeBase) -> CohortSpec:
        condition = kb.conditions.get(self.condition)
        if condition is None:
            raise InvalidParameterError(
                f"Unknown condition '{self.condition}'. Supported: "
                f"{', '.join(sorted(kb.conditions))}."
            )
        if self.n_observations and self.n_observations > len(condition.observations):
            raise InvalidParameterError(
                f"{condition.name} has {len(condition.observations)} observations in the "
                f"knowledge base; {self.n_observations} were asked for."
            )
        spec = CohortSpec(
            condition=self.condition,
            n=self.count,
            observations=tuple(self.observation_keys(condition)),
            n_observations=None,
            population=self.population,
            age_min=self.age_min,
            age_max=self.age_max,
            sex=self.sex,
            filters=tuple(self.filters),
            seed=self.seed,
            follow_up_years=self.follow_up_years,
        )
        spec.validate_against(kb)
        return spec

    def describe(self, kb: KnowledgeBase) -> str:
        """The request in words, shown back to the user before anything is generated."""
        condition = kb.conditions[self.condition]
        who = {"female": "women", "male": "men", None: "adults"}[self.sex]
        parts = [
            f"{self.count:,} {who} with {condition.name}",
            f"aged {self.age_min}-{self.age_max}",
            f"population: {self.population.upper()}",
        ]
        parts += [f.describe() for f in self.filters]
        keys = self.observation_keys(condition)
        kinds = "observation type" if len(keys) == 1 else "observation types"
        parts.append(f"{len(keys)} {kinds} ({', '.join(keys)})")
        if self.follow_up_years is not None:
            parts.append(follow_up_text(self.follow_up_years))
        else:
            parts.append("one visit per patient (ask e.g. '5 years of follow-up' for histories)")
        parts.append(f"outputs: {', '.join(self.formats)}")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        parts += [f"note: {note}" for note in self._notes]
        return "; ".join(parts)


def clean_request_text(text: str) -> tuple[str, int]:
    """``text`` without terminal escape sequences and control or invisible format characters
    (tabs and line breaks are kept), and how many were removed.

    A removed escape or control character becomes a space, so that the words on either side
    stay apart; an invisible format character (zero-width space, bidirectional override)
    or a lone surrogate is dropped.
    """
    text, escapes = _ESCAPES.subn(" ", text)
    out: list[str] = []
    removed = escapes
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc" and char not in _KEPT_CONTROLS:
            out.append(" ")
            removed += 1
        elif category in ("Cf", "Cs"):
            removed += 1
        else:
            out.append(char)
    return "".join(out), removed


# --- parsing ------------------------------------------------------------------------------


def parse_request(text: str, kb: KnowledgeBase) -> CohortRequest:
    """Parse a request to generate a cohort; :class:`Clarification` when it cannot be placed.

    Terminal escape sequences and control characters are removed first (pasted from a
    terminal, ``\\x1b[0m500`` would read as 0); the result's :attr:`CohortRequest.notes`,
    or the clarification, says so.
    """
    if not isinstance(text, str):
        raise Clarification(
            "A request must be text, e.g. 'generate 2000 type 2 diabetes patients'."
        )
    if len(text) > MAX_REQUEST_CHARS:
        raise Clarification(
            f"The request is {len(text):,} characters long; keep it under "
            f"{MAX_REQUEST_CHARS:,} (one sentence is enough)."
        )
    text, removed = clean_request_text(text)
    note = (
        (
            f"{removed:,} terminal escape code{'s' if removed != 1 else ''} or control "
            f"character{'s' if removed != 1 else ''} removed from the request"
        )
        if removed
        else ""
    )
    try:
        request = _parse(text, kb)
    except Clarification as exc:
        if note:
            raise Clarification(f"{exc} (Note: {note}.)") from None
        raise
    if note:
        request._notes.append(note)
    return request


def _parse(text: str, kb: KnowledgeBase) -> CohortRequest:
    low = " ".join(text.lower().split())
    low = re.sub(r"\ban? (hundred|thousand|million)\b", r"one \1", low)
    condition = _condition(low, kb)
    count = _count(low)
    fields: dict = {"count": count, "condition": condition.key}
    fields.update(_population(low))
    filters, _, spans = _filters(low, condition)
    fields["filters"] = filters
    without_filters = low
    for start, end in spans:  # "HbA1c over 9" must not read as an age
        without_filters = without_filters[:start] + " " * (end - start) + without_filters[end:]
    fields.update(_ages(without_filters))
    sex = _sex(low)
    if sex:
        fields["sex"] = sex
    n_obs = _n_observations(low)
    if n_obs is not None:
        fields["n_observations"] = n_obs
    fields["observations"] = _named_observations(without_filters, condition)
    _not_recorded(without_filters, condition, kb)
    formats = _formats(low)
    if formats:
        fields["formats"] = formats
    follow_up = parse_follow_up(low)
    if follow_up is not None:
        fields["follow_up_years"] = follow_up.years
    seed = re.search(r"\bseed\s*(?:=|of|:)?\s*(\d+)", low)
    if seed:
        if len(seed.group(1)) > 18:  # an absurd seed: refused before it becomes a huge int
            raise Clarification("A seed is a whole number of up to 18 digits, e.g. 'seed 42'.")
        fields["seed"] = int(seed.group(1))
    _contradictions(low, fields)
    try:
        return CohortRequest(**fields)
    except ValueError as exc:  # pydantic: only the first problem, in words
        raise Clarification(_pydantic_message(exc)) from None


def _pydantic_message(exc: Exception) -> str:
    errors: list[dict[str, Any]] = getattr(exc, "errors", lambda: [])()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg')}."
