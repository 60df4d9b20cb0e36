"""Which condition a request is about, and what it names that no cohort of it records.

The cohort's condition is the first one named that is not a comorbidity ("diabetic patients
with hypertension" is a diabetes cohort). Related but different conditions (type 1 or
gestational diabetes, diabetes insipidus, prediabetes, MODY, ...) come from the vocabulary
and win over a shorter name they contain, so "type 1 diabetes" is never read as "diabetes":
such a request is served by that condition's own knowledge base when one is loaded, and
refused, naming the condition, when none is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from synthpatient.errors import Clarification
from synthpatient.knowledge._kb import KnowledgeBase
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._request_numbers import _NUMBER
from synthpatient.knowledge._request_text import RequestText
from synthpatient.knowledge._vocabulary import Related, Vocabulary

_COMORBIDITY_CUES = {
    "with",
    "and",
    "without",
    "no",
    "not",
    "having",
    "plus",
    "have",
    "has",
    "also",
    "of",
    "history",
}


class ConditionNotServed(Clarification):
    """The request names a related but different condition no knowledge base serves."""


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    phrase: str
    as_comorbidity: bool
    condition: Condition | None  # None: a related condition no knowledge base serves
    related: Related | None = None


def _condition(t: RequestText, kb: KnowledgeBase, vocab: Vocabulary) -> Condition:
    """The cohort's condition, its names claimed; a Clarification when it is not served."""
    mentions = _adjectives(_without_nested(_all_mentions(t, kb, vocab)), t)
    if not mentions:
        raise Clarification(_no_condition(t, kb, vocab))
    primary = min(mentions, key=lambda m: (m.as_comorbidity, m.start, m.start - m.end))
    if primary.condition is None:
        assert primary.related is not None
        raise ConditionNotServed(_refused(primary, kb))
    condition = primary.condition
    comorbidity_words = {p for c in condition.comorbidities for p in vocab.item_phrases(c)}
    generic = vocab.generic_phrases(condition)
    for m in mentions:
        if m.condition is not None and m.condition.key == condition.key:
            t.claim(m.start, m.end, f"condition: {condition.name}", condition=True)
        elif m.condition is None and m.phrase not in comorbidity_words:
            assert m.related is not None
            t.claim(m.start, m.end, f"not honoured: {m.related.name}")
            t.problem(
                f"'{m.phrase}' ({m.related.name}) is a different condition with no knowledge "
                f"base; it is not a {condition.name} comorbidity that can be drawn"
            )
    if primary.phrase in generic and not any(
        m.condition is not None and m.condition.key == condition.key and m.phrase not in generic
        for m in mentions
    ):
        t.assumptions.append(
            f"'{primary.phrase}' read as {condition.name} (other forms, such as type 1 or "
            "gestational diabetes, must be named)"
            if "diab" in primary.phrase
            else f"'{primary.phrase}' read as {condition.name}"
        )
    return condition


def _all_mentions(t: RequestText, kb: KnowledgeBase, vocab: Vocabulary) -> list[_Mention]:
    words = t.norm
    out: list[_Mention] = []

    def cue(start: int) -> bool:
        return any(w in _COMORBIDITY_CUES for w in words[:start].split()[-4:])

    for condition in kb.conditions.values():
        for phrase in vocab.condition_phrases(condition):
            for match in t.find(phrase):
                out.append(_Mention(*match.span(), phrase, cue(match.start()), condition))
    for related in vocab.related:
        served = kb.conditions.get(related.serves) if related.serves else None
        for term in related.terms:
            for match in t.find(term):
                out.append(
                    _Mention(*match.span(), term, cue(match.start()), served, related=related)
                )
    return out


def _adjectives(mentions: list[_Mention], t: RequestText) -> list[_Mention]:
    """An adjective right before another condition ("hypertensive diabetics") describes it:
    the noun names the cohort, the adjective a comorbidity."""
    out = []
    for m in mentions:
        follows = any(
            o.start > m.end and not t.low[m.end : o.start].strip() for o in mentions if o is not m
        )
        adjective = m.phrase.endswith(("ive", "ic"))
        out.append(replace(m, as_comorbidity=True) if follows and adjective else m)
    return out


def _without_nested(mentions: list[_Mention]) -> list[_Mention]:
    """Mentions not inside a longer one ("diabetes" inside "diabetes insipidus")."""
    kept = []
    for m in mentions:
        inside = any(
            o.start <= m.start and m.end <= o.end and (o.end - o.start) > (m.end - m.start)
            for o in mentions
        )
        if not inside:
            kept.append(m)
    return kept


def _refused(mention: _Mention, kb: KnowledgeBase) -> str:
    assert mention.related is not None
    return (
        f"'{mention.phrase}' is {mention.related.name}, a condition this knowledge base does "
        "not cover, so no cohort is generated (it is never replaced by a related "
        "condition). Supported conditions: "
        + "; ".join(f"{c.name} ({c.key})" for c in kb.conditions.values())
        + "."
    )


def _no_condition(t: RequestText, kb: KnowledgeBase, vocab: Vocabulary) -> str:
    # the words before "patients" name what was asked for ("500 lupus patients")
    people = "|".join(re.escape(p) for p in vocab.people)
    named = re.search(
        rf"\b{_NUMBER}\s+(?:[a-z]+\s+){{0,2}}?([a-z][a-z0-9' -]{{2,40}}?)\s+(?:{people})\b",
        t.low,
    )
    unknown = [w for w in t.leftovers(vocab.filler) if not re.fullmatch(r"[\d.,]+", w)]
    if named:
        what = f"'{named.group(1).strip()}'"
    elif unknown:
        what = " or ".join(f"'{w}'" for w in unknown[:3])
    else:
        what = "the condition you asked for"
    return (
        f"I have no knowledge base for {what}. Supported conditions: "
        + "; ".join(f"{c.name} ({c.key})" for c in kb.conditions.values())
        + "."
    )


def _other_items(
    t: RequestText, condition: Condition, kb: KnowledgeBase, vocab: Vocabulary
) -> None:
    """Name what the request asks for that this condition's cohorts do not record: another
    condition's observation, comorbidity or drug, or a concept no knowledge base has."""
    own = {
        kind: {item.key for item in items}
        for kind, items in (
            ("observation", condition.observations),
            ("comorbidity", condition.comorbidities),
            ("medication", condition.medications),
        )
    }
    for other in kb.conditions.values():
        for kind, items in (
            ("observation", other.observations),
            ("comorbidity", other.comorbidities),
            ("medication", other.medications),
        ):
            for item in items:
                if item.key in own[kind] or item.key == condition.key:
                    continue
                for phrase in vocab.item_phrases(item):
                    _flag(t, phrase, f"{kind} '{item.key}'", _available(condition, kind))
    for concept in vocab.unavailable:
        for term in sorted(concept.terms, key=len, reverse=True):
            for match in t.find(term):
                if t.is_claimed(*match.span()):
                    continue
                t.claim(*match.span(), f"not honoured: {concept.name}")
                t.problem(
                    f"'{term}': {concept.name} is not in the knowledge base yet, so it cannot "
                    "be honoured"
                )


def _flag(t: RequestText, phrase: str, what: str, available: str) -> None:
    if len(phrase) < 3:
        return
    for match in t.find(phrase):
        if t.is_claimed(*match.span()):
            continue
        t.claim(*match.span(), f"not honoured: {what}")
        t.problem(f"'{phrase}' is not recorded for {available}")


def _available(condition: Condition, kind: str) -> str:
    keys = {
        "observation": [o.key for o in condition.observations],
        "comorbidity": [c.key for c in condition.comorbidities],
        "medication": [m.key for m in condition.medications],
    }[kind]
    names = ", ".join(keys) or "none"
    return f"{condition.name} cohorts in the knowledge base (available {kind}s: {names})"


def screen_condition(text: str, kb: KnowledgeBase, vocab: Vocabulary) -> str | None:
    """The condition key the words of ``text`` name, or None when they name none; raises
    :class:`ConditionNotServed` for a related condition no knowledge base serves. Used to
    check a language model's reading of a request, which must not change the disease."""
    try:
        return _condition(RequestText.of(text), kb, vocab).key
    except ConditionNotServed:
        raise
    except Clarification:
        return None
