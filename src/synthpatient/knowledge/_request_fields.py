"""The offline parser's readers, one per field of a request except filters.

Each takes the lower-cased request and returns one field (condition, count, population, ages,
sex, observations, formats) or raises a :class:`Clarification` naming what it could not place
and what is supported; nothing is guessed.
"""

from __future__ import annotations

import re

from synthpatient.errors import Clarification
from synthpatient.knowledge._kb import KnowledgeBase, _words
from synthpatient.knowledge._model import Comorbidity, Condition, Medication, Observation
from synthpatient.knowledge._request_numbers import _NUMBER, _checked_count, _to_int
from synthpatient.knowledge._spec import MAX_PATIENTS

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


_COMORBIDITY_CUES = {"with", "and", "without", "no", "having", "plus", "have", "has", "also"}


_FORMATS = (
    ("fhir ndjson", "fhir-ndjson"),
    ("ndjson", "fhir-ndjson"),
    ("fhir", "fhir"),
    ("parquet", "parquet"),
    ("csv", "csv"),
)


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


_N_OBSERVATIONS = re.compile(
    rf"({_NUMBER})\s+(?:[a-z0-9'-]+\s+){{0,3}}?(?:observations?|measurements?|"
    rf"labs?|lab values|variables|features|vitals and labs|data points)"
)


def _n_observations(low: str) -> int | None:
    # searched again one character on when a match is not a number ('... follow-up and 10
    # observations' first matches 'and', a word of written numbers): the next start finds 10
    start = 0
    while match := _N_OBSERVATIONS.search(low, start):
        value = _to_int(match.group(1))
        if value is not None:
            if value < 1:
                raise Clarification("Ask for at least one observation.")
            return value
        start = match.start() + 1
    return None


def _phrases(obs_or_item: Observation | Comorbidity | Medication | Condition) -> list[str]:
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
