"""The offline parser's filter reader: CKD stages, comorbidities, drugs and value ranges.

"CKD stage 3" is an eGFR range (KDIGO categories, from the vocabulary); "with"/"without" a
comorbidity and "on"/"not on" a drug are presence filters (both at once is a contradiction,
said back); "HbA1c over 9" is a bound on written values at the observation's precision, and
a value outside the observation's plausible range is refused. A drug or comorbidity named
without a word saying how it applies, or a class that is two drugs of the cohort, is left
unclaimed or recorded as a problem, so the reply names it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from synthpatient.errors import Clarification
from synthpatient.knowledge._model import Comorbidity, Condition, Medication, Observation
from synthpatient.knowledge._request_text import RequestText
from synthpatient.knowledge._spec import Filter
from synthpatient.knowledge._vocabulary import Vocabulary

_NEGATIVE_BEFORE = re.compile(
    r"(?:\bnot|\bwithout|\bw/o|\bno one|\bnobody|\bnone of them|\bno|\bfree of|\bfree from|"
    r"\bnever had|\bnever|\bexcluding|\bexclude|\bexcludes|\bexcluded|\bexcept|\bother than|"
    r"\bnone|\boff|\bnon|"
    r"\b(?:do|does|did)\s*n[o']t|\bdon't|\bdoesn't|\bisn't|\baren't)"
    r"\s*(?:-\s*)?(?:(?:those|patients|people|anyone)\s+)?"
    r"(?:(?:who\s+(?:are|is|have|has)\s+)?(?:on|taking|using|treated with|with|having|"
    r"prescribed|receiving|have|has|had)\s+)?"
    # "no history of heart failure", "no known CKD", "without a prior diagnosis of..."
    r"(?:(?:any|an?|the|known|prior|previous|past)\s+)*"
    r"(?:(?:history|diagnosis)\s+of\s+(?:(?:an?|the)\s+)?)?$"
)
_POSITIVE_COMORBIDITY = re.compile(
    r"(?:\bwith|\bw/|\band|\bhaving|\bwho have|\bwho also have|\bhas|\bplus|\balso with|"
    r"\bhistory of|\bknown)\s+(?:[a-z]+\s+){0,3}?$"
)
_POSITIVE_DRUG = re.compile(
    r"(?:\bon|\btaking|\busing|\btreated with|\bprescribed|\breceiving|\bgiven|\btake|"
    r"\buse|\busers of|\bon both|\btherapy with|\btreatment with)\s+"
    r"(?:(?:both|either|an?|the|current|a\s+drug\s+from\s+the)\s+)?$"
)
_POSITIVE_AFTER = re.compile(
    r"^\s*(?:-\s*)?(?:users?|treated|therapy|treatment|use|patients|comorbidity)\b"
)
_CHAIN = re.compile(r",?\s*(?:and|or|plus|nor|,)")
_COMPARISONS = {
    "above": "min",
    "over": "min",
    "greater than": "min",
    "more than": "min",
    "higher than": "min",
    ">": "min",
    ">=": "min",
    "≥": "min",
    "at least": "min",
    "of at least": "min",
    "below": "max",
    "under": "max",
    "less than": "max",
    "lower than": "max",
    "<": "max",
    "<=": "max",
    "≤": "max",
    "at most": "max",
}
_STRICT = {"above", "over", "greater than", "more than", "higher than", ">"}
_STRICT |= {"below", "under", "less than", "lower than", "<"}
_VALUE = r"(\d+(?:\.\d+)?)"
_UNIT = (
    r"(?:\s*(?:%|percent|mg/dl|mmol/l|mmol/mol|kg/m2|kg/m²|mmhg|mm hg|ml/min(?:/1\.73\s*m2)?|"
    r"mg/g|pg/ml|bpm|/min|kg|cm|g/dl|meq/l|u/l))?"
    # "blood pressure over 2 years" is a length of follow-up, never a value of 2
    r"(?!\s*(?:-\s*)?(?:years?|yrs?|months?|mos?|weeks?|wks?|days?)\b)"
)


def _filters(
    t: RequestText,
    condition: Condition,
    vocab: Vocabulary,
    others: Sequence[Observation] = (),
) -> list[Filter]:
    """Filters asked for (a CKD stage, comorbidities, drugs, value ranges), their words
    claimed; values first, so that "HbA1c over 9" is never an age or a count. A value
    filter on an observation of ``others`` (recorded for other conditions only) is named."""
    filters = _value_filters(t, condition, vocab)
    _refuse_either_value(t)
    _foreign_values(t, condition, vocab, others)
    filters += _stage(t, condition, vocab)
    filters += _defined(t, condition, vocab)
    filters += _comorbidities(t, condition, vocab, stage=any(f.key == "egfr" for f in filters))
    filters += _drugs(t, condition, vocab)
    return _merged(filters)


_EITHER = re.compile(r"\s*,?\s*(?:or|either|and/or)\s+(?:(?:with|an?|their|the)\s+)?")


def _refuse_either_value(t: RequestText) -> None:
    """ "eGFR below 60 or UACR over 30": patients meeting either cannot be drawn as filters,
    which all hold at once; refused rather than read as both."""
    spans = sorted((c.start, c.end) for c in t.claims if c.meaning.startswith("filter: "))
    for (_, end), (start, stop) in zip(spans, spans[1:], strict=False):
        if _EITHER.fullmatch(t.low[end:start]):
            first = next(a for a, b in spans if b == end)
            raise Clarification(
                f"'{t.low[first:stop]}': patients meeting either condition cannot be drawn "
                "yet (every filter holds for every patient); ask for both with 'and', or "
                "for one of them."
            )


def _stage(t: RequestText, condition: Condition, vocab: Vocabulary) -> list[Filter]:
    stages = "|".join(sorted(vocab.ckd_stages.stages, key=len, reverse=True))
    kidney = r"(?:ckd|chronic kidney disease|kidney disease|renal disease)"
    out = []
    pattern = rf"\b{kidney}\s*(?:stage|g)?\s*({stages})\b|\bstage\s*({stages})\s+{kidney}"
    if condition.key == "chronic_kidney_disease":
        # in a CKD cohort a bare "stage 4" can only be the CKD stage
        pattern += rf"|\bstage\s*({stages})\b"
    for match in re.finditer(pattern, t.low):
        if t.is_claimed(*match.span(), but_condition=True):  # "ckd" names the condition too
            continue
        stage = next(g for g in match.groups() if g)
        key = vocab.ckd_stages.observation
        if key not in {o.key for o in condition.observations}:
            t.claim(*match.span(), "not honoured: CKD stage", masked=True)
            t.problem(f"'{match.group(0)}': {condition.name} cohorts do not record {key}")
            continue
        lo, hi = vocab.ckd_stages.stages[stage]
        t.claim(*match.span(), f"CKD stage {stage}: {key} {_range(lo, hi)}", masked=True)
        out.append(Filter(kind="observation", key=key, min=lo, max=hi))
    return out


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo:g}-{hi:g}"
    return f">= {lo:g}" if lo is not None else f"<= {hi:g}"


def _defined(t: RequestText, condition: Condition, vocab: Vocabulary) -> list[Filter]:
    observed = {o.key for o in condition.observations}
    out = []
    for item in vocab.defined:
        for term in sorted(item.terms, key=len, reverse=True):
            for match in t.find(term):
                if t.is_claimed(*match.span(), but_condition=True):
                    continue
                if item.observation not in observed or _NEGATIVE_BEFORE.search(
                    t.low[: match.start()]
                ):
                    continue  # left unclaimed: the reply names it
                what = f"{item.observation} {_range(item.min, item.max)}"
                t.claim(*match.span(), f"'{term}': {what}")
                out.append(
                    Filter(kind="observation", key=item.observation, min=item.min, max=item.max)
                )
    return out


def _polarity(
    t: RequestText, start: int, end: int, positive: re.Pattern[str]
) -> tuple[int, bool] | None:
    """(start of the claimed words, present?) for a mention, or None when no word before or
    after it says how it applies."""
    before = t.low[:start]
    negative = _NEGATIVE_BEFORE.search(before)
    if negative:
        return negative.start(), False
    pos = positive.search(before)
    if pos:
        return pos.start(), True
    if _POSITIVE_AFTER.match(t.low[end:]):
        return start, True
    return None


_SHARE_BEFORE = re.compile(
    r"(?:\b\d+(?:\.\d+)?\s*(?:%|percent\b|per\s+cent\b)|\bhalf|\ba\s+third|\ba\s+quarter|"
    r"\bmost|\bsome|\bmajority|\bminority|\bfew)\s*(?:of\s+(?:them|the\s+patients|patients)\s+)?"
    r"(?:are\s+|being\s+)?$"
)
_STRAY_NEGATION = re.compile(
    r"\b(?:not|never|no|nobody|without|excluding|exclude[sd]?|except|other than|none|neither|"
    r"nor|non|"
    r"don't|doesn't|isn't|aren't)\b[^,;.]{0,30}$"
)


def _stray_negation(t: RequestText, start: int) -> int | None:
    """Where an unclaimed negation word stands shortly before ``start``, if one does."""
    found = _STRAY_NEGATION.search(t.low[:start])
    if found is None or t.is_claimed(found.start(), found.start() + 1):
        return None
    return found.start()


def _mentions(
    t: RequestText, phrases: list[str], positive: re.Pattern[str]
) -> list[tuple[int, int, str, bool]]:
    """(claim start, end, phrase, present?) of each unclaimed mention whose polarity is said,
    in the order of the text; "on metformin or insulin" carries "on" to insulin."""
    # one phrase per span ("beta blockers" and "beta-blockers" find the same words)
    spans = {(m.start(), m.end()): p for p in reversed(phrases) for m in t.find(p)}
    hits = [(start, end, p) for (start, end), p in spans.items() if not t.is_claimed(start, end)]
    hits = [
        h
        for h in hits
        if not any(o[0] <= h[0] and h[1] <= o[1] and o[1] - o[0] > h[1] - h[0] for o in hits)
    ]
    out: list[tuple[int, int, str, bool]] = []
    for start, end, phrase in sorted(hits):
        found = _polarity(t, start, end, positive)
        share = _SHARE_BEFORE.search(t.low[: found[0]]) if found is not None else None
        if share is not None and t.is_claimed(share.start(), share.end()):
            share = None  # "HbA1c above 8% on insulin": the 8 % is the HbA1c's
        if found is not None and share is not None:
            # "30% on insulin", "half with hypertension": a share, never all of them
            words = t.low[share.start() : end]
            say = "with" if positive is _POSITIVE_COMORBIDITY else "on"
            t.claim(share.start(), end, f"not honoured: a share {say} {phrase}", masked=True)
            t.problem(
                f"'{words}': a share of the patients cannot be asked yet (the knowledge "
                f"base's own share is drawn); say '{say} {phrase}' for all of them, or leave "
                "it out"
            )
            continue
        negation = _stray_negation(t, found[0]) if found is not None and found[1] else None
        if found is not None and negation is not None:
            # "who have never been on insulin": a negation the patterns do not place is named,
            # never read as its opposite (at the text's very start too: "never on insulin" as
            # a chat follow-up, where the position 0 once read as no negation at all)
            words = t.low[negation:end]
            t.claim(negation, end, f"not honoured: {phrase} (negation)")
            say = "without" if positive is _POSITIVE_COMORBIDITY else "not on"
            t.problem(f"'{words}': a negation I cannot place; say e.g. '{say} {phrase}'")
            continue
        gap = t.low[out[-1][1] : start].strip() if out else ""
        if out and _CHAIN.fullmatch(gap):
            found = (out[-1][1], out[-1][3])  # the chain word joins the previous mention
            if found[1] and re.search(r"\bor\b", gap):
                # "on metformin or insulin": patients on either cannot be drawn as one filter
                t.claim(out[-1][0], end, f"not honoured: either {out[-1][2]} or {phrase}")
                t.problem(
                    f"'{out[-1][2]} or {phrase}': a cohort on either one cannot be drawn; "
                    "ask for one, or for both with 'and'"
                )
                out.pop()
                continue
        if found is None and phrase.endswith(("ive", "ic")) and positive is _POSITIVE_COMORBIDITY:
            found = (start, True)  # "hypertensive", "diabetic": an adjective of presence
        if found is not None:
            out.append((found[0], end, phrase, found[1]))
    return out


def _comorbidities(
    t: RequestText, condition: Condition, vocab: Vocabulary, *, stage: bool
) -> list[Filter]:
    by_phrase: dict[str, Comorbidity] = {}
    for c in condition.comorbidities:
        if stage and c.key == "chronic_kidney_disease":
            continue  # the stage is the filter; its own words were claimed with it
        for phrase in vocab.item_phrases(c):
            by_phrase.setdefault(phrase, c)
    wanted: dict[str, bool] = {}
    for start, end, phrase, present in _mentions(t, list(by_phrase), _POSITIVE_COMORBIDITY):
        c = by_phrase[phrase]
        if wanted.get(c.key, present) != present:
            raise Clarification(
                f"The request asks for patients both with and without {c.name}; keep one."
            )
        wanted[c.key] = present
        t.claim(start, end, f"filter: {'with' if present else 'without'} {c.key}")
    return [Filter(kind="comorbidity", key=k, present=p) for k, p in wanted.items()]


def _drugs(t: RequestText, condition: Condition, vocab: Vocabulary) -> list[Filter]:
    by_phrase: dict[str, list[Medication]] = {}
    for m in condition.medications:
        for phrase in vocab.item_phrases(m):
            by_phrase.setdefault(phrase, []).append(m)
    wanted: dict[str, bool] = {}
    for start, end, phrase, present in _mentions(t, list(by_phrase), _POSITIVE_DRUG):
        _read_drug(t, phrase, by_phrase[phrase], (start, end), present, wanted, vocab)
    return [Filter(kind="medication", key=k, present=p) for k, p in wanted.items()]


def _read_drug(
    t: RequestText,
    phrase: str,
    meds: list[Medication],
    span: tuple[int, int],
    present: bool,
    wanted: dict[str, bool],
    vocab: Vocabulary,
) -> None:
    if present and len(meds) > 1:
        keys = " or ".join(m.key for m in meds)
        t.claim(*span, f"not honoured: '{phrase}' is {keys}")
        t.problem(
            f"'{phrase}' is more than one drug of these cohorts ({keys}); name the one wanted"
        )
        return
    for m in meds:
        if wanted.get(m.key, present) != present:
            raise Clarification(
                f"The request asks for patients both on and not on {m.name}; keep one."
            )
        wanted[m.key] = present
        if phrase in vocab.drug_members(m):
            t.assumptions.append(f"'{phrase}' read as its class, drawn as {m.name} ({m.key})")
    verb = "on" if present else "not on"
    only = re.match(r"\s*(?:-\s*)?(?:only|alone|monotherapy)\b", t.low[span[1] :])
    before = re.search(r"\bonly\s+(?:on\s+|taking\s+)?$", t.low[: span[0]])
    if present and (only or before):
        # "metformin only": on it and on none of the other drugs, but which others (statins
        # too?) is a clinical choice the request does not make; named, not guessed
        start = before.start() if before else span[0]
        end = span[1] + only.end() if only else span[1]
        t.claim(span[0], span[1], f"filter: {verb} {' and '.join(m.key for m in meds)}")
        t.claim(start, end, "not honoured: the only drug")
        t.problem(
            f"'{t.low[start:end]}': patients on {phrase} are drawn, but 'only' (no other "
            "drug) cannot be honoured yet; name the drugs they must not be on, e.g. 'not on "
            "insulin'"
        )
        return
    t.claim(*span, f"filter: {verb} {' and '.join(m.key for m in meds)}")


def _value_filters(t: RequestText, condition: Condition, vocab: Vocabulary) -> list[Filter]:
    """Value filters ("HbA1c over 9", "eGFR between 30 and 59", "BMI 30-35")."""
    ops = "|".join(re.escape(k) for k in sorted(_COMPARISONS, key=len, reverse=True))
    out: list[Filter] = []
    for obs in condition.observations:
        for phrase in vocab.item_phrases(obs):
            for match in t.find(phrase):
                if t.is_claimed(*match.span()):
                    continue
                rest = t.low[match.end() :]
                between = re.match(
                    rf"\s*(?:of\s+|is\s+|levels?\s+)?(?:between|from)?\s*{_VALUE}{_UNIT}\s*"
                    rf"(?:and|to|-|–)\s*{_VALUE}{_UNIT}",
                    rest,
                )
                compared = re.match(
                    rf"\s*(?:of\s+|is\s+|levels?\s+|values?\s+)?({ops})\s*{_VALUE}{_UNIT}", rest
                )
                bare = re.match(rf"\s*(?:of\s+|=\s*|:\s*)?{_VALUE}{_UNIT}(?![\d.])", rest)
                found = between or compared or bare
                end = match.end() + found.end() if found else match.end()
                if between:
                    lo, hi = float(between.group(1)), float(between.group(2))
                    if lo > hi:
                        raise Clarification(
                            f"The range {between.group(1)}-{between.group(2)} for {obs.name} "
                            "is empty; give the lower value first."
                        )
                    bounds: tuple[float | None, float | None] = (lo, hi)
                elif compared:
                    bounds = _bound(obs, compared.group(1), float(compared.group(2)))
                elif bare:
                    t.claim(match.start(), end, f"not honoured: {obs.key} value", masked=True)
                    t.problem(
                        f"'{t.low[match.start() : end]}': a value without a comparison; say "
                        f"e.g. '{phrase} over {bare.group(1)}' or '{phrase} between ... and ...'"
                    )
                    continue
                else:
                    continue
                _plausible(obs, t.low[match.start() : end], *bounds)
                t.claim(match.start(), end, f"filter: {obs.key} {_range(*bounds)}", masked=True)
                out.append(Filter(kind="observation", key=obs.key, min=bounds[0], max=bounds[1]))
    return out


def _foreign_values(
    t: RequestText, condition: Condition, vocab: Vocabulary, others: Sequence[Observation]
) -> None:
    """'HbA1c over 8' in a COPD request: named as not recorded, and never read as an age."""
    ops = "|".join(re.escape(k) for k in sorted(_COMPARISONS, key=len, reverse=True))
    own = {o.key for o in condition.observations}
    for obs in others:
        if obs.key in own:
            continue
        for phrase in vocab.item_phrases(obs):
            for match in t.find(phrase):
                if t.is_claimed(*match.span()):
                    continue
                value = re.match(
                    rf"\s*(?:of\s+|is\s+)?(?:(?:{ops})\s*|between\s+|from\s+)?{_VALUE}{_UNIT}"
                    rf"(?:\s*(?:and|to|-|–)\s*{_VALUE}{_UNIT})?",
                    t.low[match.end() :],
                )
                if value is None:
                    continue
                end = match.end() + value.end()
                t.claim(match.start(), end, f"not honoured: {obs.key}", masked=True)
                t.problem(
                    f"'{t.low[match.start() : end]}': {obs.name} is not recorded for "
                    f"{condition.name} cohorts in the knowledge base"
                )


def _bound(obs: Observation, op: str, value: float) -> tuple[float | None, float | None]:
    # "above 9" on written values: strictly above, at the observation's precision
    step = 10.0 ** -int(obs.distribution.get("decimals", 1))
    if op in _STRICT:
        value = value + step if _COMPARISONS[op] == "min" else value - step
    return (value, None) if _COMPARISONS[op] == "min" else (None, value)


def _plausible(obs: Observation, words: str, lo: float | None, hi: float | None) -> None:
    """A bound outside the observation's range in the knowledge base cannot be drawn."""
    low, high = obs.distribution.get("min"), obs.distribution.get("max")
    if low is None or high is None:
        return
    if (lo is not None and lo > high) or (hi is not None and hi < low):
        raise Clarification(
            f"'{words}' is outside the plausible range of {obs.name} in the knowledge base "
            f"({low:g}-{high:g} {obs.unit}); check the value and its unit."
        )


def _merged(filters: list[Filter]) -> list[Filter]:
    """One filter per observation: several bounds on one value are intersected."""
    out: dict[tuple[str, str], Filter] = {}
    for f in filters:
        key = (f.kind, f.key)
        old = out.get(key)
        if old is None or f.kind != "observation":
            out[key] = f
            continue
        lows = [v for v in (old.min, f.min) if v is not None]
        highs = [v for v in (old.max, f.max) if v is not None]
        lo, hi = (max(lows) if lows else None), (min(highs) if highs else None)
        if lo is not None and hi is not None and lo > hi:
            raise Clarification(f"The request's bounds on {f.key} leave no possible value.")
        out[key] = Filter(kind="observation", key=f.key, min=lo, max=hi)
    return list(out.values())
