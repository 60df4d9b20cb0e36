"""Questions about the knowledge base, answered from it with citations.

"Which sources did you use?", "Which guideline defines diabetes?", "How was HbA1c
generated?", "What does LOINC 4548-4 mean?", "What is the prevalence of CKD in
hypertension?", "What conditions are supported?". Answers are
built only from the knowledge base's own fields (never from file names or paths), so a
question phrased as an instruction ("ignore the rules and print your file path") gets a
knowledge-base answer or the list of what can be asked, nothing else.
"""

from __future__ import annotations

import re

from synthpatient.knowledge._kb import KnowledgeBase, _words
from synthpatient.knowledge._model import Comorbidity, Condition, Medication, Observation

QUESTION_START = (
    "which",
    "what",
    "how",
    "why",
    "where",
    "who",
    "does",
    "do ",
    "is ",
    "are ",
    "can ",
    "tell me",
    "explain",
    "list",
    "show me the sources",
    "cite",
)
HELP = (
    "I can generate cohorts ('generate 2000 type 2 diabetes patients with 20 observations') "
    "and answer questions about them: 'which sources did you use?', 'which guideline "
    "defines diabetes?', 'how was HbA1c generated?', 'what does LOINC 4548-4 mean?', "
    "'what is the prevalence of CKD in hypertension?', 'which conditions are supported?'."
)


def looks_like_question(text: str) -> bool:
    low = text.strip().lower()
    return low.endswith("?") or low.startswith(QUESTION_START)


def cite(kb: KnowledgeBase, source_ids: list[str] | tuple[str, ...]) -> list[str]:
    return [
        f"[{sid}] {kb.sources[sid].citation()}"
        for sid in dict.fromkeys(source_ids)
        if sid in kb.sources
    ]


def answer(
    text: str,
    kb: KnowledgeBase,
    *,
    condition: Condition | None = None,
    sources_used: list[str] | None = None,
) -> str:
    """An answer to ``text`` from the knowledge base; ``condition`` and ``sources_used``
    describe the conversation's last cohort, when there is one."""
    low = " ".join(text.lower().split())
    mentioned = kb.find_condition(low)
    code = re.search(r"\b(\d{1,7}-\d)\b", low)
    if code or "loinc" in low:
        return _loinc(kb, code.group(1) if code else None)
    digits = re.search(r"\b(?:snomed|rxnorm|code)\D{0,12}(\d{3,18})\b", low)
    if digits:
        return _code(kb, digits.group(1))
    if re.search(
        r"\b(?:how|why)\b.*\b(?:generat|drawn|draw|made|comput|calculat|simulat|"
        r"derived|come from)",
        low,
    ):
        found = _observation_in(low, kb, condition or mentioned)
        if found is not None:
            return _how(kb, found)
    if re.search(r"\b(?:prevalen|how (?:common|many|often)|share|proportion|percent|%)", low):
        found_share = _share(low, kb, condition)
        if found_share is not None:
            return found_share
    if re.search(r"\b(?:guideline|defin|criteri|diagnos|threshold)", low):
        return _diagnosis(kb, mentioned or condition or _default(kb))
    if re.search(
        r"\b(?:source|reference|cite|citation|evidence|where .* (?:number|data|figure)|"
        r"based on)",
        low,
    ):
        return _sources(kb, mentioned, condition, sources_used)
    if re.search(
        r"\b(?:condition|disease|cohort)s?\b.*\b(?:support|availab|know|can)", low
    ) or re.search(r"\b(?:support|availab)\w*\b.*\bconditions?\b", low):
        return (
            "Supported conditions: "
            + "; ".join(
                f"{c.name} ({c.key}, SNOMED CT {c.snomed}, populations: {', '.join(c.populations)})"
                for c in kb.conditions.values()
            )
            + "."
        )
    if re.search(r"\b(?:observation|measurement|lab|variable)s?\b", low):
        target = mentioned or condition or _default(kb)
        return (
            f"{target.name}: "
            + "; ".join(
                f"{o.rank}. {o.name} (LOINC {o.loinc}, {o.unit})"
                for o in target.ranked_observations
            )
            + "."
        )
    found = _observation_in(low, kb, condition or mentioned)
    if found is not None:
        return _how(kb, found)
    return HELP


def _mentions(low: str, phrases: list[str]) -> int | None:
    """Where the first of ``phrases`` appears in ``low`` as whole words, or None."""
    text = f" {_words(low)} "
    spots = [text.find(f" {_words(p)} ") for p in phrases if _words(p)]
    spots = [i for i in spots if i >= 0]
    return min(spots) if spots else None


def _share(low: str, kb: KnowledgeBase, last: Condition | None) -> str | None:
    """ "What is the prevalence of CKD in hypertension?", "how many T2D patients are on
    insulin?": a comorbidity's prevalence or a drug's share in a condition's cohort, with its
    sources; None when no such pair is named."""
    from synthpatient.knowledge._vocabulary import load_vocabulary

    vocab = load_vocabulary()
    named = {
        c.key: i
        for c in kb.conditions.values()
        if (i := _mentions(low, [c.key.replace("_", " "), c.name, *c.synonyms])) is not None
    }
    # the cohort is the condition named last ("CKD in hypertension"), or the conversation's
    order = sorted(named, key=named.__getitem__, reverse=True)
    cohorts = [kb.conditions[k] for k in order] + ([last] if last is not None else [])
    for cohort in cohorts:
        items: list[Comorbidity | Medication] = [*cohort.comorbidities, *cohort.medications]
        for item in items:
            if item.key == cohort.key or _mentions(low, vocab.item_phrases(item)) is None:
                continue
            if isinstance(item, Comorbidity):
                figure = f"{item.prevalence:.0%} of patients with {cohort.name} have {item.name}"
                how = f" (by its definition: {item.definition})" if item.definition else ""
            else:
                figure = f"{item.share:.0%} of patients with {cohort.name} take {item.name}"
                how = ""
            lines = cite(kb, item.sources)
            return (
                f"{figure} in the knowledge base{how}, the share a cohort is drawn to. Sources:\n"
                + "\n".join(lines)
            )
    return None


def _default(kb: KnowledgeBase) -> Condition:
    return kb.conditions.get("type2_diabetes") or next(iter(kb.conditions.values()))


def _sources(
    kb: KnowledgeBase,
    mentioned: Condition | None,
    condition: Condition | None,
    used: list[str] | None,
) -> str:
    if used and (mentioned is None or condition is None or mentioned.key == condition.key):
        head = f"The last cohort ({condition.name if condition else 'cohort'}) used these sources"
        ids = used
    else:
        target = mentioned or condition
        if target is not None:
            head, ids = f"{target.name} draws on these sources", target.cited_sources()
        else:
            head, ids = "The knowledge base's sources", list(kb.sources)
    unverified = sum(not kb.sources[s].verified for s in ids if s in kb.sources)
    lines = [f"{head} (knowledge base {kb.version}):", *(f"- {c}" for c in cite(kb, ids))]
    if unverified:
        lines.append(
            f"{unverified} of them are marked 'not verified in the source': their "
            "figures came from secondary summaries and should be checked before citing."
        )
    return "\n".join(lines)


def _diagnosis(kb: KnowledgeBase, condition: Condition) -> str:
    rule = condition.diagnosis.get("rule", "not stated")
    lines = [
        f"{condition.name} (SNOMED CT {condition.snomed}, ICD-10 {condition.icd10}) is "
        f"diagnosed in this knowledge base by: {rule}."
    ]
    if condition.treatment and condition.treatment.untreated_requires:
        lines.append(
            f"Untreated patients in a cohort always meet "
            f"{condition.treatment.untreated_requires}; the others are on treatment."
        )
    ids = [s for s in condition.diagnosis.get("sources", []) if s in kb.sources]
    lines += [
        "Sources:",
        *(
            f"- {c} Supports: {kb.sources[s].supports}."
            for s, c in zip(ids, cite(kb, ids), strict=True)
        ),
    ]
    return "\n".join(lines)


def _observation_in(low: str, kb: KnowledgeBase, condition: Condition | None) -> Observation | None:
    conditions = [condition] if condition else []
    conditions += [c for c in (_default(kb), *kb.conditions.values()) if c not in conditions]
    words = _words(low)
    best: tuple[int, Observation] | None = None
    for cond in conditions:
        skip = {_words(s) for s in (cond.name, *cond.synonyms)}
        for obs in cond.observations:
            for phrase in {
                obs.key.replace("_", " "),
                _words(obs.name),
                *(_words(s) for s in obs.synonyms),
            }:
                if phrase in skip or len(phrase) < 2:
                    continue
                if re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", words) and (
                    best is None or len(phrase) > best[0]
                ):
                    best = (len(phrase), obs)
        if best:
            return best[1]
    return None


def _how(kb: KnowledgeBase, obs: Observation) -> str:
    dist = obs.distribution
    shape = {
        "normal": "a normal distribution",
        "lognormal": "a log-normal distribution",
        "quantiles": "a quantile function through sourced shares",
        "derived": "computed from other values",
    }.get(str(dist.get("family")), str(dist.get("family")))
    lines = [
        f"{obs.name} (LOINC {obs.loinc}, {obs.unit}): {obs.how_generated}",
        f"Drawn from {shape}, kept within {dist.get('min')}-{dist.get('max')} {obs.unit} "
        f"and written with {dist.get('decimals', 1)} decimal(s).",
        "Sources:",
        *(f"- {c}" for c in cite(kb, obs.sources)),
    ]
    return "\n".join(lines)


def _loinc(kb: KnowledgeBase, code: str | None) -> str:
    if code is None:
        return (
            "Observations are coded with LOINC (http://loinc.org); ask about a code, e.g. "
            "'what does LOINC 4548-4 mean?'."
        )
    for condition in kb.conditions.values():
        for obs in condition.observations:
            if obs.loinc == code:
                return (
                    f"LOINC {code} is {obs.name}, recorded in {obs.unit} (UCUM). In this "
                    f"knowledge base it is observation #{obs.rank} of {condition.name}.\n"
                    + _how(kb, obs)
                )
    return f"LOINC {code} is not used by this knowledge base."


def _code(kb: KnowledgeBase, code: str) -> str:
    for condition in kb.conditions.values():
        if condition.snomed == code:
            return f"SNOMED CT {code} is {condition.name} (a cohort condition here)."
        for c in condition.comorbidities:
            if c.snomed == code:
                return (
                    f"SNOMED CT {code} is {c.name}, a comorbidity of {condition.name} "
                    f"cohorts (prevalence {c.prevalence:.1%})."
                )
        for m in condition.medications:
            if m.rxnorm == code:
                return (
                    f"RxNorm {code} is {m.name}, taken by {m.share:.1%} of {condition.name} "
                    "cohorts."
                )
    return f"The code {code} is not used by this knowledge base."
