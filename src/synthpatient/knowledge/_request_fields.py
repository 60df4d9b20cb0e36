"""The offline parser's readers, one per field of a request except the condition and filters.

Each takes the request's :class:`RequestText`, claims the words it used (with what they
became) and returns one field (count, population, ages, sex, observations, formats, seed,
follow-up), or raises a :class:`Clarification` naming what it could not place and what is
supported; nothing is guessed. Words come from the vocabulary file, not from this code.
"""

from __future__ import annotations

import re

from synthpatient.errors import Clarification
from synthpatient.knowledge._follow_up import _FREQUENT, _LENGTH_OF, _OVER, parse_follow_up
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._request_numbers import _NUMBER, _checked_count, _to_int
from synthpatient.knowledge._request_text import CONDITION_MARK, RequestText
from synthpatient.knowledge._spec import MAX_PATIENTS, MAX_REQUEST_PATIENTS
from synthpatient.knowledge._vocabulary import Vocabulary

_FORMATS = (
    ("fhir ndjson", "fhir-ndjson"),
    ("ndjson", "fhir-ndjson"),
    ("fhir", "fhir"),
    ("parquet", "parquet"),
    ("csv", "csv"),
)
# a number right after one of these words is a clinical number ("stage 3", "type 2",
# "class IV"), never a count of patients
_QUALIFIERS = (
    r"(?:stage|stages|type|grade|class|nyha|gold|level|category|tier|phase|step|g|a|"
    r"hba1c|a1c|bmi|egfr|over|under|above|below|aged|age|ages|than|least|most|>|<|=)"
)


def _population(t: RequestText, vocab: Vocabulary) -> dict:
    """The population: the US, or a Clarification naming the place or group asked for."""
    unsupported = vocab.populations.unsupported
    for phrase in sorted(unsupported.places, key=len, reverse=True):
        if any(True for _ in _mentions(t, phrase)):
            raise Clarification(
                f"I only have data for the US population; '{phrase}' is not covered yet. "
                "Say 'US population' or leave the population out."
            )
    for phrase in sorted(unsupported.groups, key=len, reverse=True):
        if any(True for _ in _mentions(t, phrase)):
            raise Clarification(
                f"Only adults aged 18 to 90 are covered; '{phrase}' cannot be generated "
                "from the knowledge base (its figures are for adults)."
            )
    for phrase in sorted(vocab.populations.us, key=len, reverse=True):
        for match in _mentions(t, phrase):
            if re.search(r"\b(?:african|native|asian|mexican)[\s-]+$", t.low[: match.start()]):
                continue  # "African American": a group, named by the unsupported filters
            t.claim(*match.span(), "population: US")
    return {"population": "us"}


def _mentions(t: RequestText, phrase: str) -> list[re.Match[str]]:
    # a hyphen before the phrase joins it to another word ("real-world" is not "world")
    return [m for m in t.find(phrase) if not (m.start() and t.norm[m.start() - 1] == "-")]


def _ages(t: RequestText, vocab: Vocabulary | None = None) -> dict:
    """Age bounds from every age phrase (all apply: "aged 40 to 45 over 80" is empty), and
    from the vocabulary's age groups ("elderly"), said back as read."""
    number = r"(\d{1,3})"
    patterns = [
        (rf"\b(?:aged?|ages|between|from)\s+{number}\s*(?:-|–|to|and)\s*{number}", "range"),
        (rf"\b{number}\s*(?:-|–|to)\s*{number}\s*(?:years?|yrs?|y/?o)", "range"),
        (
            rf"\b(?:over|older than|above|more than)\s+(?:the\s+)?(?:age\s+(?:of\s+)?)?{number}"
            r"(?!\s*(?:-|–|to)\s*\d)",
            "over",
        ),
        (
            rf"\b(?:aged?\s+)?{number}\s*(?:\+|years? (?:old )?and (?:older|over|above)|"
            rf"or older|and older|and over|or over|and above)",
            "at_least",
        ),
        (
            rf"\b(?:under|younger than|below|less than)\s+(?:the\s+)?(?:age\s+(?:of\s+)?)?{number}",
            "under",
        ),
        # "aged >= 65", "age ≥ 65", "age > 64", "aged <= 40", "age < 40"
        (rf"\b(?:aged?|ages)\s*(?:>=|≥|=>)\s*{number}", "at_least"),
        (rf"\b(?:aged?|ages)\s*>\s*{number}", "above"),
        (rf"\b(?:aged?|ages)\s*(?:<=|≤|=<)\s*{number}", "at_most"),
        (rf"\b(?:aged?|ages)\s*<\s*{number}", "under"),
    ]
    text = t.masked()
    lows: list[int] = []
    highs: list[int] = []
    for pattern, kind in patterns:
        for match in re.finditer(pattern, text):
            if t.is_claimed(*match.span()):
                continue
            negated = re.search(r"\b(?:not|no|never)\s+$", text[: match.start()])
            if negated:  # "not older than 60": named, never read as its opposite
                t.claim(negated.start(), match.end(), "not honoured: a negated age", masked=True)
                t.problem(
                    f"'{t.low[negated.start() : match.end()]}': a negated age; say e.g. "
                    "'under 60' or 'aged 40 to 60'"
                )
                continue
            a = int(match.group(1))
            end = match.end()
            after = re.match(r"\s*(?:years?(?:\s+old)?|yrs?|y/?o)\b", text[end:])
            if after:
                end += after.end()
            if kind == "range":
                lows.append(a)
                highs.append(int(match.group(2)))
                meaning = f"aged {a} to {match.group(2)}"
            elif kind == "over":
                # ages are whole years completed: anyone past their 65th birthday is "over
                # 65", so the clinical sense (65 and over) is also the exact one
                lows.append(a)
                meaning = f"over {a}: aged {a} or more"
                t.assumptions.append(
                    f"'{match.group(0)}' read as aged {a} or more (ages in whole years; say "
                    f"'{a + 1} and over' to leave out {a}-year-olds)"
                )
            elif kind == "at_least":
                lows.append(a)
                meaning = f"aged {a} or more"
            elif kind == "above":  # ages are whole years: "> 64" is 65 and over
                lows.append(a + 1)
                meaning = f"older than {a}: aged {a + 1} or more"
            elif kind == "at_most":
                highs.append(a)
                meaning = f"aged {a} or less"
            else:
                highs.append(a - 1)
                meaning = f"younger than {a}: aged {a - 1} or less"
                t.assumptions.append(f"'{match.group(0)}' read as aged {a - 1} or less")
            t.claim(match.start(), end, meaning, masked=True)
    for group in vocab.age_groups if vocab else ():
        for term in group.terms:
            for found in t.find(term):
                if t.is_claimed(*found.span()):
                    continue
                lows += [group.min] if group.min is not None else []
                highs += [group.max] if group.max is not None else []
                shown = f"{group.min or 18}-{group.max or 90}"
                t.claim(*found.span(), f"age group: {shown}")
                t.assumptions.append(f"'{term}' read as aged {shown}")
    return _age_bounds(lows, highs)


def _age_bounds(lows: list[int], highs: list[int]) -> dict:
    for value in lows + highs:
        if not 18 <= value <= 90:
            raise Clarification(
                f"Ages from 18 to 90 are supported (adults); {value} was asked for."
            )
    out: dict = {}
    if lows:
        out["age_min"] = max(lows)
    if highs:
        out["age_max"] = min(highs)
    if out.get("age_min", 18) > out.get("age_max", 90):
        raise Clarification(
            f"The age range {out.get('age_min', 18)}-{out.get('age_max', 90)} "
            "is empty; give the lower age first."
        )
    return out


_SEX_WORD = r"(male|men|man|female|women|woman|males|females)"
_PERCENT = r"(\d{1,3}(?:\.\d+)?)\s*(?:%|percent\b|per\s+cent\b)"
# "60% male", "60 percent of them women", "male 60%", "half women"
_SEX_SHARES = (
    re.compile(
        rf"\b{_PERCENT}\s*(?:of\s+(?:them|the\s+patients|patients)\s+)?"
        rf"(?:are\s+|being\s+)?{_SEX_WORD}\b"
    ),
    re.compile(rf"\b{_SEX_WORD}\s*(?::|=)?\s*{_PERCENT}"),
    re.compile(rf"\b(half)\s+(?:of\s+(?:them|the\s+patients)\s+)?(?:are\s+)?{_SEX_WORD}\b"),
)


def _sex_share(t: RequestText) -> float | None:
    """The share of women asked for ("60% male" is 0.4), or None when no mix is given.

    Read before the sex words, so that "60% male" is never read as men only."""
    found: list[tuple[float, int, int]] = []
    for pattern in _SEX_SHARES:
        for match in pattern.finditer(t.low):
            before = t.low[: match.start()].split()
            if t.is_claimed(*match.span()) or (before and re.fullmatch(_QUALIFIERS, before[-1])):
                continue  # "HbA1c above 9% men": the 9% is a value, not a share
            number, word = match.groups() if pattern is not _SEX_SHARES[1] else match.groups()[::-1]
            percent = 50.0 if number == "half" else float(number)
            if not 0 <= percent <= 100:
                raise Clarification(
                    f"'{match.group(0)}': a share of patients is between 0% and 100%."
                )
            female = percent / 100 if word.startswith(("f", "w")) else 1 - percent / 100
            t.claim(*match.span(), f"sex mix: {female:.0%} women")
            found.append((round(female, 4), *match.span()))
    shares = {f for f, _, _ in found}
    if len(shares) > 1:
        raise Clarification(
            "The request gives two different sex mixes ("
            + " and ".join(f"{f:.0%} women" for f in sorted(shares))
            + "); keep one."
        )
    return shares.pop() if shares else None


_VAGUE_MIX = re.compile(
    rf"\b(?:mostly|mainly|majority|predominantly|largely|more|fewer|less|some|few)\s+"
    rf"(?:of\s+(?:them\s+)?)?(?:are\s+)?{_SEX_WORD}\b"
)


def _sex(t: RequestText, vocab: Vocabulary) -> str | None:
    """'female', 'male', or None for both or unsaid ("men and women" is both)."""
    for match in _VAGUE_MIX.finditer(t.low):
        # "mostly women" is a mix without a figure, never one sex only
        t.claim(*match.span(), "not honoured: a sex mix without a share")
        t.problem(f"'{match.group(0)}': give the mix as a share, e.g. '60% women'")
    found: set[str] = set()
    for phrase in vocab.sex.both:
        for match in t.find(phrase):
            t.claim(*match.span(), "sex: men and women")
            found.add("both")
    for sex, phrases in (("female", vocab.sex.female), ("male", vocab.sex.male)):
        for phrase in phrases:
            for match in t.find(phrase):
                if not t.is_claimed(*match.span()):
                    t.claim(*match.span(), f"sex: {sex}")
                    found.add(sex)
    if "both" in found or {"female", "male"} <= found:
        return None
    return "female" if "female" in found else "male" if "male" in found else None


_N_OBSERVATIONS = re.compile(
    rf"({_NUMBER})\s+(?:(?!\d)[a-z0-9'-]+\s+){{0,3}}?(?:observations?|measurements?|"
    rf"labs?|lab values|variables|features|vitals and labs|data points)\b"
)


def _n_observations(t: RequestText) -> int | None:
    # searched again one character on when a match is not a number ('... follow-up and 10
    # observations' first matches 'and', a word of written numbers): the next start finds 10
    text = t.masked()
    start = 0
    while match := _N_OBSERVATIONS.search(text, start):
        value = _to_int(match.group(1))
        if value is not None:
            if value < 1:
                raise Clarification("Ask for at least one observation.")
            t.claim(match.start(1), match.end(1), f"{value} observation types", masked=True)
            return value
        start = match.start() + 1
    return None


def _named_observations(t: RequestText, condition: Condition, vocab: Vocabulary) -> list[str]:
    condition_words = set(vocab.condition_phrases(condition))
    found = []
    for obs in condition.ranked_observations:
        for phrase in vocab.item_phrases(obs):
            if phrase in condition_words or len(phrase) < 2:
                continue
            for match in t.find(phrase):
                if t.is_claimed(*match.span()):
                    continue
                t.claim(*match.span(), f"observation: {obs.key}")
                if obs.key not in found:
                    found.append(obs.key)
    return found


def _formats(t: RequestText) -> list[str]:
    found = []
    for phrase, fmt in _FORMATS:
        for match in re.finditer(rf"\b{phrase}\b", t.low):
            if t.is_claimed(*match.span()):
                continue
            t.claim(*match.span(), f"output: {fmt}")
            if not (fmt == "fhir" and "fhir-ndjson" in found):
                found.append(fmt)
    return list(dict.fromkeys(found))


def _follow_up(t: RequestText) -> float | None:
    follow_up = parse_follow_up(t.low)
    if follow_up is None:
        return None
    for pattern in (_LENGTH_OF, _OVER, _FREQUENT):
        for match in pattern.finditer(t.low):
            if not t.is_claimed(*match.span()):
                t.claim(*match.span(), follow_up.what, masked=True)
                break
    return follow_up.years


def _seed(t: RequestText) -> int | None:
    seed = re.search(r"\b(?:random\s+)?seed\s*(?:=|of|:)?\s*(\d+)", t.low)
    if seed is None:
        return None
    if len(seed.group(1)) > 18:  # an absurd seed: refused before it becomes a huge int
        raise Clarification("A seed is a whole number of up to 18 digits, e.g. 'seed 42'.")
    t.claim(*seed.span(), f"seed {seed.group(1)}", masked=True)
    return int(seed.group(1))


def _count(t: RequestText, vocab: Vocabulary) -> int | None:
    """The number of patients, from text where clinical numbers are masked; None if absent."""
    text = t.masked()
    people = "|".join(re.escape(p) for p in sorted(vocab.people, key=len, reverse=True))
    subject = rf"(?:{people}|{CONDITION_MARK}+)"
    # up to six words between the number and "patients", none a number of its own
    between = r"(?:(?!observations?\b|measurements?\b|labs?\b)[a-z][a-z0-9'-]*\s+)"
    patterns = [
        rf"(?<![\w.])({_NUMBER})\s+{between}{{0,6}}?{subject}\b",
        rf"\b(?:n\s*=|cohort of|sample of|sample size(?: of)?|total of|group of)\s*({_NUMBER})",
        rf"\b(?:generate|create|make|simulate|give me|draw|produce|build|synthesi[sz]e)\s+"
        rf"(?:me\s+)?({_NUMBER})",
    ]
    for pattern in patterns:
        for match in re.finditer(pattern, text):
            before = text[: match.start(1)].split()
            if before and re.fullmatch(_QUALIFIERS, before[-1]):
                continue  # "stage 3 patients", "type 2 patients": a clinical number
            value = _to_int(match.group(1))
            if value is not None:
                start = match.start(1) if pattern is patterns[0] else match.start()
                prefix = re.search(r"\bn\s*=\s*$", text[:start])  # "n=500"
                start = prefix.start() if prefix else start
                t.claim(start, match.end(1), f"count {value:,}", masked=True)
                return _checked_count(value)
    return None


def _missing_count() -> Clarification:
    return Clarification(
        "How many patients? Say for example 'generate 2000 type 2 diabetes "
        f"patients' (1 to {MAX_PATIENTS:,}; up to {MAX_REQUEST_PATIENTS:,} written in "
        "partitions with `synthpatient ask --engine`)."
    )


def _contradictions(t: RequestText, fields: dict) -> None:
    if fields.get("sex") and fields.get("female_share") is not None:
        raise Clarification(
            f"The request asks for {'women' if fields['sex'] == 'female' else 'men'} only and "
            f"for a mix of {fields['female_share']:.0%} women; keep one."
        )
    if re.search(r"\bpregnan", t.low) and fields.get("sex") == "male":
        raise Clarification(
            "Men cannot be pregnant: the request contradicts itself. Ask for "
            "women, or leave pregnancy out."
        )
