"""Plain-English cohort requests -> a validated :class:`CohortRequest`, offline.

The parser reads the common phrasings ("generate 2000 T2D patients with 20 important
observations based on the US population", "women aged 40 to 65 with CKD stage 3 on insulin",
"two thousand diabetic men over 65 with HbA1c and BMI") with regular expressions and the
knowledge base's synonyms. It never guesses: a condition, population or filter it cannot
place is reported back with what is supported. An LLM can fill the same model instead
(:mod:`synthpatient.knowledge.llm_parser`); both end in :meth:`CohortRequest.to_spec`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from synthpatient.errors import (
    Clarification,  # noqa: F401  (defined in errors.py; re-exported)
    InvalidParameterError,
)
from synthpatient.knowledge._kb import KnowledgeBase, _words
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge.sampler import MAX_PATIENTS, CohortSpec, Filter

#: Requests longer than this are refused (no real request needs more).
MAX_REQUEST_CHARS = 2000
OutputFormat = Literal["csv", "parquet", "fhir", "fhir-ndjson"]
_DEFAULT_FORMATS: tuple[OutputFormat, ...] = ("csv", "fhir")

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_PEOPLE = r"(?:patients?|people|persons?|individuals?|adults?|subjects?|cases?|records?|men|women)"
_US = (
    "us",
    "u.s.",
    "u.s",
    "usa",
    "u.s.a.",
    "united states",
    "america",
    "american",
    "americans",
    "us population",
    "us adults",
)
_OTHER_POPULATIONS = (
    "uk",
    "united kingdom",
    "britain",
    "british",
    "england",
    "europe",
    "european",
    "germany",
    "german",
    "france",
    "french",
    "china",
    "chinese",
    "india",
    "indian",
    "japan",
    "japanese",
    "canada",
    "canadian",
    "mexico",
    "mexican population",
    "brazil",
    "africa",
    "african population",
    "australia",
    "australian",
    "global",
    "worldwide",
    "world",
)
_CKD_STAGES = {
    "1": (90, None),
    "2": (60, 89),
    "3": (30, 59),
    "3a": (45, 59),
    "3b": (30, 44),
    "4": (15, 29),
    "5": (None, 14),
}
_COMORBIDITY_CUES = {"with", "and", "without", "no", "having", "plus", "have", "has", "also"}
_FORMATS = (
    ("fhir ndjson", "fhir-ndjson"),
    ("ndjson", "fhir-ndjson"),
    ("fhir", "fhir"),
    ("parquet", "parquet"),
    ("csv", "csv"),
)
#: A number this large is absurd for a count; it is refused before it is built as an int.
_ABSURD = Decimal(10) ** 15
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
        parts.append(f"{len(keys)} observations ({', '.join(keys)})")
        parts.append(f"outputs: {', '.join(self.formats)}")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        parts += [f"note: {note}" for note in self._notes]
        return "; ".join(parts)


# --- numbers ------------------------------------------------------------------------------


def words_to_number(text: str) -> int | None:
    """'two thousand five hundred' -> 2500; None when the words are not a number."""
    total, current, seen = 0, 0, False
    for word in text.replace("-", " ").split():
        if word == "and":
            continue
        if word in _UNITS:
            current += _UNITS[word]
            seen = True
        elif word in _SCALES:
            current = max(current, 1) * _SCALES[word]
            if _SCALES[word] >= 1000:
                total, current = total + current, 0
            seen = True
        else:
            return None
    return total + current if seen else None


_NUMBER_WORDS = "|".join(sorted([*_UNITS, *_SCALES, "and"], key=len, reverse=True))
_POWER = r"\d{1,6}\s*(?:\*\*|\^)\s*-?\d{1,6}"  # "10**6", "10^30": read, not cut to the exponent
_NUMBER = (
    rf"(?:{_POWER}\b|-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?\s*"
    rf"(?:k|m|thousand|million|hundred)?\b|"
    rf"(?:(?:{_NUMBER_WORDS})[\s-]+)*(?:{_NUMBER_WORDS})\b)"
)
_SCALE = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000, "hundred": 100}


def _to_int(token: str) -> int | None:
    """The whole number ``token`` writes; None when it is not a number.

    Exact (decimal, never float) and bounded: an absurd number (``1e400``, ``10**30``,
    "hundred hundred ...") is refused by size before it is ever built as an int.
    """
    token = " ".join(token.lower().split())
    power = re.fullmatch(r"(\d{1,6})\s*(?:\*\*|\^)\s*(-?\d{1,6})", token)
    if power:
        base, exponent = int(power.group(1)), int(power.group(2))
        if base > 1 and exponent * math.log10(base) > 15:
            _absurd(token)
        if exponent < 0 and base != 1:
            raise Clarification(f"The number of patients must be a whole number (got {token}).")
        return base ** max(exponent, 0)  # bounded above: at most 10**15
    match = re.fullmatch(
        r"(-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?)\s*"
        r"(k|m|thousand|million|hundred)?",
        token,
    )
    if match:
        value: Decimal
        try:
            value = Decimal(match.group(1).replace(",", ""))
        except InvalidOperation:
            return None
        if value.adjusted() > 15:  # before scaling, which could overflow the decimal context
            _absurd(token)
        value *= _SCALE.get(match.group(2) or "", 1)
        if abs(value) > _ABSURD:
            _absurd(token)
        if value != value.to_integral_value():
            raise Clarification(
                f"The number of patients must be a whole number (got {_short(token)})."
            )
        return int(value)
    words = words_to_number(token)
    if words is not None and words > _ABSURD:
        _absurd(token)
    return words


def _absurd(token: str) -> None:
    raise Clarification(
        f"The number {_short(token)} is far too large: at most "
        f"{MAX_PATIENTS:,} patients can be asked for per request."
    )


def _short(token: str) -> str:
    return token if len(token) <= 24 else token[:21] + "..."


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


def _condition(low: str, kb: KnowledgeBase) -> Condition:
    """The cohort's condition: the first one named that is not a comorbidity ("diabetic
    patients with hypertension" is a diabetes cohort)."""
    words = _words(low)
    mentions = []
    for condition in kb.conditions.values():
        for phrase in _phrases(condition):
            for match in re.finditer(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", words):
                before = words[: match.start()].split()[-4:]
                as_comorbidity = any(w in _COMORBIDITY_CUES for w in before)
                mentions.append((as_comorbidity, match.start(), -len(phrase), condition))
    if mentions:
        return min(mentions, key=lambda m: m[:3])[3]
    named = re.search(
        rf"\b{_NUMBER}\s+(?:[a-z]+\s+){{0,2}}?([a-z][a-z0-9' -]{{2,40}}?)"
        rf"\s+{_PEOPLE}",
        low,
    )
    what = f"'{named.group(1).strip()}'" if named else "the condition you asked for"
    raise Clarification(
        f"I have no knowledge base for {what}. Supported conditions: "
        + "; ".join(f"{c.name} ({c.key})" for c in kb.conditions.values())
        + "."
    )


def _count(low: str) -> int:
    # up to six words between the number and "patients", none of them a number of their own
    # (a single digit is allowed: "type 2 diabetes") nor what counts observations
    between = r"(?:(?!observations?\b|measurements?\b|labs?\b)(?:[a-z][a-z0-9'-]*|\d)\s+)"
    pattern = rf"({_NUMBER})\s+{between}{{0,6}}?{_PEOPLE}\b"
    for match in re.finditer(pattern, low):
        value = _to_int(match.group(1))
        if value is not None:
            return _checked_count(value)
    verb = re.search(
        rf"\b(?:generate|create|make|simulate|give me|draw|produce|build)\s+"
        rf"({_NUMBER})",
        low,
    )
    verb_count = _to_int(verb.group(1)) if verb else None
    if verb_count is not None:
        return _checked_count(verb_count)
    raise Clarification(
        "How many patients? Say for example 'generate 2000 type 2 diabetes "
        f"patients' (1 to {MAX_PATIENTS:,})."
    )


def _checked_count(value: int) -> int:
    if value < 1:
        raise Clarification(f"The number of patients must be at least 1 (got {value}).")
    if value > MAX_PATIENTS:
        raise Clarification(
            f"{value:,} patients is more than the limit of {MAX_PATIENTS:,} per "
            "request; ask for fewer (and run several requests if needed)."
        )
    return value


def _population(low: str) -> dict:
    for phrase in _OTHER_POPULATIONS:
        if re.search(rf"\b{re.escape(phrase)}\b", low):
            raise Clarification(
                f"I only have data for the US population; '{phrase}' is not "
                "covered yet. Say 'US population' or leave the population out."
            )
    return {"population": "us"}


def _ages(low: str) -> dict:
    number = r"(\d{1,3})"
    patterns = [
        (rf"\b(?:aged?|ages|between|from)\s+{number}\s*(?:-|–|to|and)\s*{number}", "range"),
        (rf"\b{number}\s*(?:-|–|to)\s*{number}\s*(?:years?|yrs?|y/?o)", "range"),
        (
            rf"\b(?:over|older than|above|more than)\s+(?:the\s+)?(?:age\s+(?:of\s+)?)?{number}",
            "over",
        ),
        (
            rf"\b(?:aged?\s+)?{number}\s*(?:\+|years? (?:old )?and (?:older|over|above)|"
            rf"or older|and older|and over)",
            "at_least",
        ),
        (
            rf"\b(?:under|younger than|below|less than)\s+(?:the\s+)?(?:age\s+(?:of\s+)?)?{number}",
            "under",
        ),
    ]
    # every age phrase applies: "aged 40 to 45 over 80" is an empty range, not 40-45
    lows: list[int] = []
    highs: list[int] = []
    for pattern, kind in patterns:
        for match in re.finditer(pattern, low):
            a = int(match.group(1))
            if kind == "range":
                lows.append(a)
                highs.append(int(match.group(2)))
            elif kind == "over":
                lows.append(a + 1)
            elif kind == "at_least":
                lows.append(a)
            else:
                highs.append(a - 1)
    out: dict = {}
    for value in lows + highs:
        if not 18 <= value <= 90:
            raise Clarification(
                f"Ages from 18 to 90 are supported (adults); {value} was asked for."
            )
    if lows:
        out["age_min"] = max(lows)
    if highs:
        out["age_max"] = min(highs)
    for value in out.values():
        if not 18 <= value <= 90:
            raise Clarification(
                f"Ages from 18 to 90 are supported (adults); {value} was asked for."
            )
    if out.get("age_min", 18) > out.get("age_max", 90):
        raise Clarification(
            f"The age range {out.get('age_min', 18)}-{out.get('age_max', 90)} "
            "is empty; give the lower age first."
        )
    return out


def _sex(low: str) -> str | None:
    women = re.search(r"\b(?:women|woman|female|females|girls|ladies)\b", low)
    men = re.search(r"\b(?:men|man|male|males|boys|gentlemen)\b", low)
    if women and men:
        return None  # "men and women": both
    return "female" if women else "male" if men else None


def _n_observations(low: str) -> int | None:
    match = re.search(
        rf"({_NUMBER})\s+(?:[a-z0-9'-]+\s+){{0,3}}?(?:observations?|measurements?|"
        rf"labs?|lab values|variables|features|vitals and labs|data points)",
        low,
    )
    if not match:
        return None
    value = _to_int(match.group(1))
    if value is None or value < 1:
        raise Clarification("Ask for at least one observation.")
    return value


def _phrases(obs_or_item) -> list[str]:  # type: ignore[no-untyped-def]
    names = [obs_or_item.key.replace("_", " "), obs_or_item.name, *obs_or_item.synonyms]
    return sorted({_words(n) for n in names if n}, key=len, reverse=True)


def _mentions(low: str, phrase: str) -> re.Match | None:
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", _words(low))


def _named_observations(low: str, condition: Condition) -> list[str]:
    condition_words = {_words(s) for s in (condition.name, *condition.synonyms)}
    found = []
    for obs in condition.ranked_observations:
        for phrase in _phrases(obs):
            if phrase in condition_words or len(phrase) < 2:
                continue
            if _mentions(low, phrase):
                found.append(obs.key)
                break
    return found


def _polarity(words: str, negative: str, positives: list[str], both: str) -> bool | None:
    """True / False when the phrase is asked for with / without; None when not mentioned.
    A mention is negative when a negative pattern ends where it ends ("not on insulin" also
    contains "on insulin"); positive and negative mentions together are a contradiction."""
    negative_ends = {m.end() for m in re.finditer(negative, words)}
    positive_ends = {m.end() for pattern in positives for m in re.finditer(pattern, words)}
    if negative_ends and positive_ends - negative_ends:
        raise Clarification(f"The request asks for patients {both}; keep one.")
    if negative_ends:
        return False
    return True if positive_ends else None


def _not_recorded(low: str, condition: Condition, kb: KnowledgeBase) -> None:
    """Refuse an observation, comorbidity or drug the knowledge base has for other conditions
    but not for this one ("COPD patients with HbA1c"), rather than leaving it out silently."""
    own = {
        _words(s) for s in (condition.name, condition.key.replace("_", " "), *condition.synonyms)
    }
    for items, what in (
        (lambda c: c.observations, "observation"),
        (lambda c: c.comorbidities, "comorbidity"),
        (lambda c: c.medications, "medication"),
    ):
        known = {phrase for item in items(condition) for phrase in _phrases(item)}
        for other in kb.conditions.values():
            if other.key == condition.key:
                continue
            for item in items(other):
                if item.key == condition.key:
                    continue
                for phrase in _phrases(item):
                    if phrase in known or phrase in own or len(phrase) < 3:
                        continue
                    # a longer name that contains one of ours ("insulin glargine" vs
                    # "insulin") is ours; a mere substring ("hb" in "hba1c") is not
                    if _mentions(low, phrase) and not any(
                        _mentions(phrase, k) or _mentions(k, phrase) for k in known | own
                    ):
                        available = ", ".join(i.key for i in items(condition)) or "none"
                        raise Clarification(
                            f"'{phrase}' is not recorded for {condition.name} cohorts in the "
                            f"knowledge base. Available {what}s: {available}."
                        )


def _filters(
    low: str, condition: Condition
) -> tuple[list[Filter], list[str], list[tuple[int, int]]]:
    filters: list[Filter] = []
    observations: list[str] = []
    spans: list[tuple[int, int]] = []
    words = _words(low)
    stage = re.search(
        r"\b(?:ckd|chronic kidney disease|kidney disease)\s+(?:stage|g)\s*"
        r"(1|2|3a|3b|3|4|5)\b",
        low,
    )
    if stage:
        lo, hi = _CKD_STAGES[stage.group(1)]
        filters.append(Filter(kind="observation", key="egfr", min=lo, max=hi))
        observations.append("egfr")
    for c in condition.comorbidities:
        if stage and c.key == "chronic_kidney_disease":
            continue
        for phrase in _phrases(c):
            p = re.escape(phrase)
            present = _polarity(
                words,
                rf"\b(?:without|no|not|free of)\s+(?:[a-z]+\s+)?{p}\b",
                [
                    rf"\b(?:with|and|having|who have|has|plus)\s+(?:[a-z]+\s+){{0,3}}?{p}\b",
                    rf"\b{p}\s+(?:patients|comorbidity)\b",
                    *([rf"(?<![a-z0-9]){p}(?![a-z0-9])"] if phrase.endswith("ive") else []),
                ],
                f"both with and without {c.name}",
            )
            if present is not None:
                filters.append(Filter(kind="comorbidity", key=c.key, present=present))
                break
    for m in condition.medications:
        for phrase in _phrases(m):
            p = re.escape(phrase)
            present = _polarity(
                words,
                rf"\b(?:not on|not taking|without|no|off)\s+{p}\b",
                [rf"\b(?:on|taking|using|treated with|prescribed)\s+{p}\b"],
                f"both on and not on {m.name}",
            )
            if present is not None:
                filters.append(Filter(kind="medication", key=m.key, present=present))
                break
    comparisons = {
        "above": "min",
        "over": "min",
        "greater than": "min",
        "more than": "min",
        ">": "min",
        ">=": "min",
        "at least": "min",
        "below": "max",
        "under": "max",
        "less than": "max",
        "<": "max",
        "<=": "max",
        "at most": "max",
    }
    ops = "|".join(re.escape(k) for k in sorted(comparisons, key=len, reverse=True))
    for obs in condition.observations:
        for phrase in _phrases(obs):
            match = re.search(
                rf"(?<![a-z0-9]){re.escape(phrase)}\s*(?:of\s+|is\s+)?({ops})\s*"
                rf"(\d+(?:\.\d+)?)",
                low,
            )
            between = re.search(
                rf"(?<![a-z0-9]){re.escape(phrase)}\s+(?:between|from)\s+"
                rf"(\d+(?:\.\d+)?)\s*(?:and|to|-)\s*(\d+(?:\.\d+)?)",
                low,
            )
            found = between or match
            if found:
                spans.append(found.span())
            if between:
                low_value, high_value = float(between.group(1)), float(between.group(2))
                if low_value > high_value:
                    raise Clarification(
                        f"The range {between.group(1)}-{between.group(2)} for "
                        f"{obs.name} is empty; give the lower value first."
                    )
                filters.append(
                    Filter(kind="observation", key=obs.key, min=low_value, max=high_value)
                )
            elif match:
                side = comparisons[match.group(1)]
                value = float(match.group(2))
                # "above 9" on written values: strictly above, at the observation's precision
                step = 10.0 ** -int(obs.distribution.get("decimals", 1))
                if match.group(1) in ("above", "over", "greater than", "more than", ">"):
                    value += step
                elif match.group(1) in ("below", "under", "less than", "<"):
                    value -= step
                low_bound, high_bound = (value, None) if side == "min" else (None, value)
                filters.append(
                    Filter(kind="observation", key=obs.key, min=low_bound, max=high_bound)
                )
            else:
                continue
            observations.append(obs.key)
            break
    return filters, observations, spans


def _formats(low: str) -> list[str]:
    found = []
    for phrase, fmt in _FORMATS:
        if re.search(rf"\b{phrase}\b", low) and not (fmt == "fhir" and "fhir-ndjson" in found):
            found.append(fmt)
    return list(dict.fromkeys(found))


def _contradictions(low: str, fields: dict) -> None:
    if re.search(r"\bpregnan", low):
        if fields.get("sex") == "male":
            raise Clarification(
                "Men cannot be pregnant: the request contradicts itself. Ask for "
                "women, or leave pregnancy out."
            )
        raise Clarification(
            "Pregnancy is not in the knowledge base yet, so it cannot be a "
            "filter; leave it out to generate the cohort."
        )
