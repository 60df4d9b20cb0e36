"""The offline parser's filter reader: CKD stages, comorbidities, drugs and value ranges.

"CKD stage 3" is an eGFR range; "with"/"without" a comorbidity and "on"/"not on" a drug
are presence filters (both at once is a contradiction, said back); "HbA1c over 9" is a bound
on written values at the observation's precision.
"""

from __future__ import annotations

import re

from synthpatient.errors import Clarification
from synthpatient.knowledge._kb import _words
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._request_fields import _phrases
from synthpatient.knowledge._spec import Filter

_CKD_STAGES = {
    "1": (90, None),
    "2": (60, 89),
    "3": (30, 59),
    "3a": (45, 59),
    "3b": (30, 44),
    "4": (15, 29),
    "5": (None, 14),
}


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


def _filters(
    low: str, condition: Condition
) -> tuple[list[Filter], list[str], list[tuple[int, int]]]:
    """Filters asked for (a CKD stage, comorbidities, drugs, value ranges), the observations
    they read, and the spans of the value phrases (so that "HbA1c over 9" is not an age)."""
    filters: list[Filter] = []
    observations: list[str] = []
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
    value_filters, value_observations, spans = _value_filters(low, condition)
    filters += value_filters
    observations += value_observations
    return filters, observations, spans


def _value_filters(
    low: str, condition: Condition
) -> tuple[list[Filter], list[str], list[tuple[int, int]]]:
    """Value filters ("HbA1c over 9", "eGFR between 30 and 59"), one per observation at most."""
    filters: list[Filter] = []
    observations: list[str] = []
    spans: list[tuple[int, int]] = []
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
