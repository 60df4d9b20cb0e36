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
from synthpatient.knowledge._follow_up import follow_up_text
from synthpatient.knowledge._kb import KnowledgeBase
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._request_conditions import _condition, _other_items
from synthpatient.knowledge._request_fields import (
    _ages,
    _contradictions,
    _count,
    _follow_up,
    _formats,
    _missing_count,
    _n_observations,
    _named_observations,
    _population,
    _seed,
    _sex,
    _sex_share,
)
from synthpatient.knowledge._request_filters import _filters
from synthpatient.knowledge._request_numbers import words_to_number
from synthpatient.knowledge._request_text import RequestText, check_language
from synthpatient.knowledge._spec import MAX_REQUEST_PATIENTS
from synthpatient.knowledge._vocabulary import Vocabulary, load_vocabulary
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

    count: int = Field(description="number of patients", ge=1, le=MAX_REQUEST_PATIENTS)
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
    female_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="share of women when a mix is asked ('60% male' is 0.4); "
        "None follows the population",
    )
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
    # what each span of the text became, and what could not be understood or honoured
    _understood: list[tuple[str, str]] = PrivateAttr(default_factory=list)
    _not_understood: list[str] = PrivateAttr(default_factory=list)
    _assumptions: list[str] = PrivateAttr(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """What the parser had to change or assume to read the request, in words."""
        return list(self._notes)

    @property
    def understood(self) -> list[tuple[str, str]]:
        """(words of the request, what they became), in the order of the text."""
        return list(self._understood)

    @property
    def assumptions(self) -> list[str]:
        """How a word open to more than one reading was read ("'diabetes' read as type 2")."""
        return list(self._assumptions)

    @property
    def not_understood(self) -> list[str]:
        """Each part of the request that was not understood or cannot be honoured, in words.
        A request with any is only drawn after the user agrees to leave them out."""
        return list(self._not_understood)

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

    def to_spec(self, kb: KnowledgeBase, *, partitioned: bool = False) -> CohortSpec:
        """The sampler's spec; ``partitioned``: the request is drawn in partitions
        (``synthpatient.scale``), so its count may pass one draw's limit (the spec then holds
        one draw's worth, and the partitioned run the whole count)."""
        if self.count > MAX_PATIENTS and not partitioned:
            raise Clarification(
                f"{self.count:,} patients is more than the limit of {MAX_PATIENTS:,} for "
                "one run in memory: write them in partitions with `synthpatient ask "
                "--engine local` (or `--engine dask`), or ask for fewer."
            )
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
        try:
            spec = self._spec(condition)
        except ValueError as exc:  # pydantic: sex and a sex mix both set (an LLM may do it)
            message = _pydantic_message(exc).lstrip(": ").removeprefix("Value error, ")
            raise Clarification(message[:1].upper() + message[1:]) from None
        spec.validate_against(kb)
        return spec

    def _spec(self, condition: Condition) -> CohortSpec:
        return CohortSpec(
            condition=self.condition,
            n=min(self.count, MAX_PATIENTS),
            observations=tuple(self.observation_keys(condition)),
            n_observations=None,
            population=self.population,
            age_min=self.age_min,
            age_max=self.age_max,
            sex=self.sex,
            female_share=self.female_share,
            filters=tuple(self.filters),
            seed=self.seed,
            follow_up_years=self.follow_up_years,
        )

    def describe_understood(self, kb: KnowledgeBase) -> str:
        """The request in words, without the parts it could not honour."""
        return self.describe(kb, with_problems=False)

    def describe(self, kb: KnowledgeBase, *, with_problems: bool = True) -> str:
        """The request in words, shown back to the user before anything is generated."""
        condition = kb.conditions[self.condition]
        who = {"female": "women", "male": "men", None: "adults"}[self.sex]
        parts = [
            f"{self.count:,} {who} with {condition.name}",
            f"aged {self.age_min}-{self.age_max}",
            f"population: {self.population.upper()}",
        ]
        if self.female_share is not None:
            parts.append(f"{self.female_share:.0%} women, {1 - self.female_share:.0%} men")
        parts += [f.describe(condition) for f in self.filters]
        keys = self.observation_keys(condition)
        kinds = "observation type" if len(keys) == 1 else "observation types"
        # the clinical names a reader asked in, not the column keys of the files
        names = {o.key: o.name for o in condition.observations}
        parts.append(f"{len(keys)} {kinds} ({', '.join(names.get(k, k) for k in keys)})")
        if self.follow_up_years is not None:
            parts.append(follow_up_text(self.follow_up_years, condition))
        else:
            parts.append("one visit per patient (ask e.g. '5 years of follow-up' for histories)")
        parts.append(f"outputs: {', '.join(self.formats)}")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        parts += [f"read: {assumption}" for assumption in self._assumptions]
        parts += [f"note: {note}" for note in self._notes]
        if self._not_understood and with_problems:
            parts.append("NOT understood, left out: " + "; ".join(self._not_understood))
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


def parse_request(text: str, kb: KnowledgeBase, *, partial: bool = False) -> CohortRequest:
    """Parse a request to generate a cohort; :class:`Clarification` when it cannot be placed.

    Every span of the text is accounted for: what it became is in the result's
    :attr:`CohortRequest.understood`. A part that was not understood or cannot be honoured
    (an unknown word, a filter on something the cohort does not record, a drug class that is
    two drugs) is a :class:`Clarification` naming it, unless ``partial`` is true: the request
    is then returned with those parts in :attr:`CohortRequest.not_understood`, for a caller
    that shows them and asks before generating (as :class:`Conversation` does). What can
    never be drawn (another condition, population or language, an absurd value, no count)
    is always a :class:`Clarification`.

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
        request = _parse(text, kb, load_vocabulary())
        if request.not_understood and not partial:
            raise Clarification(not_understood_message(request, kb))
    except Clarification as exc:
        if note:
            raise Clarification(f"{exc} (Note: {note}.)") from None
        raise
    if note:
        request._notes.append(note)
    return request


def not_understood_message(request: CohortRequest, kb: KnowledgeBase) -> str:
    """What was understood and what was not, asking whether to go on without the latter."""
    return (
        "Not everything in the request could be understood or honoured: "
        + "; ".join(request.not_understood)
        + f". I understood: {request.describe_understood(kb)}. Rephrase the request, or say "
        "'yes' to generate it without those parts."
    )


def _parse(text: str, kb: KnowledgeBase, vocab: Vocabulary) -> CohortRequest:
    """Readers claim the words they use, clinical numbers before the count (so that "stage
    3" or "HbA1c over 9" is never a number of patients); what no reader claims is named."""
    check_language(text, vocab.other_languages, _english_words(vocab))
    t = RequestText.of(text)
    condition = _condition(t, kb, vocab)
    fields: dict[str, Any] = {"condition": condition.key}
    fields.update(_population(t, vocab))
    female_share = _sex_share(t)
    if female_share is not None:
        fields["female_share"] = female_share
    years = _follow_up(t)
    if years is not None:
        fields["follow_up_years"] = years
    seed = _seed(t)
    if seed is not None:
        fields["seed"] = seed
    others = [o for c in kb.conditions.values() if c.key != condition.key for o in c.observations]
    fields["filters"] = _filters(t, condition, vocab, others)
    fields.update(_ages(t, vocab))
    sex = _sex(t, vocab)
    if sex:
        fields["sex"] = sex
    n_obs = _n_observations(t)
    if n_obs is not None:
        fields["n_observations"] = n_obs
    fields["observations"] = _named_observations(t, condition, vocab)
    _other_items(t, condition, kb, vocab)
    formats = _formats(t)
    if formats:
        fields["formats"] = formats
    count = _count(t, vocab)
    _contradictions(t, fields)
    problems = list(t.problems)
    unread = t.leftovers(vocab.filler | set(vocab.people), _CUES)
    problems += [f"'{_clipped(words)}' not understood" for words in unread[:_SHOWN]]
    if len(unread) > _SHOWN:  # a long paste: the first parts are enough to rephrase
        problems.append(f"and {len(unread) - _SHOWN} more part(s) not understood")
    if count is None:
        raise Clarification(
            str(_missing_count())
            + (f" (Also not understood: {'; '.join(problems)}.)" if problems else "")
        )
    fields["count"] = count
    try:
        request = CohortRequest(**fields)
    except ValueError as exc:  # pydantic: only the first problem, in words
        raise Clarification(_pydantic_message(exc)) from None
    request._understood = t.understood()
    request._not_understood = problems
    request._assumptions = list(t.assumptions)
    return request


#: How many unread parts a reply lists, and how long each may be.
_SHOWN, _WIDTH = 8, 40


def _clipped(words: str) -> str:
    return words if len(words) <= _WIDTH else words[: _WIDTH - 3] + "..."


#: Words shown with an unknown word that follows them ("without depression").
_CUES = ("with", "without", "not", "no", "on", "off", "who", "having", "taking", "plus")


def _english_words(vocab: Vocabulary) -> set[str]:
    return set(vocab.filler) | set(vocab.people) | set(vocab.sex.female) | set(vocab.sex.male)


def _pydantic_message(exc: Exception) -> str:
    errors: list[dict[str, Any]] = getattr(exc, "errors", lambda: [])()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg')}."
