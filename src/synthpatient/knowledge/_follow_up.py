"""Reading a request for patient histories: "5 years of follow-up", "10-year history".

A count of observations ("20 observations") keeps its meaning, the number of observation
types; only wording about time (years or months of follow-up or history, "over 3 years") or
about repeated measurement ("quarterly HbA1c", "with visits", "longitudinal") asks for a
history. An age ("women over 60 years", "aged 40-65 years") is never read as a length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synthpatient.errors import Clarification
from synthpatient.knowledge._model import Condition

#: Longest history a request may ask for (years): a 30-year history already spans most adult
#: lives in the cohort; longer runs would mostly start before the patients' diagnosis.
MAX_FOLLOW_UP_YEARS = 30.0
#: Length used when a request asks for histories without saying how long.
DEFAULT_FOLLOW_UP_YEARS = 5.0

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
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
    "twelve": 12,
    "fifteen": 15,
    "eighteen": 18,
    "twenty": 20,
    "thirty": 30,
}
_NUMBER = r"(-?\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")"
_UNIT = r"(years?|yrs?|months?|mos?)"
_SPAN = r"(?:follow[- ]?ups?|history|histories|data|records?|visits|observations|timelines?)"
# "5 years of follow-up", "10-year history", "18 months of data", "a 3 year follow up"
_LENGTH_OF = re.compile(
    rf"\b{_NUMBER}\s*(?:-\s*)?{_UNIT}(?:\s+of)?(?:\s+(?:clinical|patient|longitudinal))?\s+{_SPAN}\b"
)
# "over 3 years", "followed for 2 years", "during the last 4 years", "across 10 years"
_OVER = re.compile(
    rf"\b(over|during|across|spanning|followed(?:\s+up)?\s+for|for)\s+(?:the\s+)?"
    rf"(?:last\s+|past\s+|next\s+|following\s+)?{_NUMBER}\s*{_UNIT}\b"
    r"(?!\s*(?:old|of\s+age|or\s+older|and\s+older|or\s+more|and\s+above|\+))"
)
# an age rather than a time: "patients over 60 years", "aged over 65 years"
_AGE_BEFORE = re.compile(
    r"(?:\bage[ds]?|patients|adults|people|persons|individuals|women|men|males?|females?"
    r"|those|anyone|older|younger)\s*$"
)
_FREQUENT = re.compile(
    r"\b(quarterly|monthly|every\s+\d+\s+months|yearly|annual)\s+(?:hba1c|a1c|labs?|"
    r"visits?|measurements?|tests?|check[- ]?ups?)\b"
    r"|\bwith\s+(?:their\s+)?visits\b|\blongitudinal\b|\btimelines?\b"
    # "a history of heart failure", "family history", "past medical history" are about the
    # patients' past, not a request for visits over time
    r"|(?<!family )(?<!medical )(?<!past )(?<!smoking )"
    r"\bhistor(?:y|ies)\b(?!\s+of\s+(?:an?\s+)?[a-z])"
    r"|\bover\s+time\b|\bfollow[- ]?ups?\b"
)


@dataclass(frozen=True)
class FollowUp:
    """How long a history each patient gets, and how the request was read (for the reply)."""

    years: float  # length of history per patient, e.g. 5.0
    what: str  # e.g. "5 years of follow-up (visits every 3-6 months)"

    def __post_init__(self) -> None:
        if not 0 < self.years <= MAX_FOLLOW_UP_YEARS:
            raise Clarification(_out_of_range(self.years))


def _out_of_range(years: float) -> str:
    return (
        f"A follow-up of {years:g} years cannot be drawn: ask for more than 0 and at most "
        f"{MAX_FOLLOW_UP_YEARS:g} years (e.g. '5 years of follow-up')."
    )


def _value(number: str, unit: str) -> float:
    value = float(_NUMBER_WORDS.get(number) or number)
    return value / 12 if unit.startswith("mo") else value


def _what(years: float, how: str) -> str:
    shown = f"{years:g} years" if years != 1 else "1 year"
    return f"{shown} of follow-up per patient ({how})"


def follow_up_text(years: float, condition: Condition | None = None) -> str:
    """The history in words, for the confirmation: '5 years of follow-up per patient (...)',
    with the condition's own visit schedule when it has a history."""
    shown = f"{years:g} years" if years != 1 else "1 year"
    visits = condition.timeline.visits if condition and condition.timeline else None
    if visits is None:
        return f"{shown} of follow-up per patient"
    if visits.observation is None or visits.target is None:
        schedule = f"visits every {_interval(visits.days_at_target)}"
    else:
        names = {o.key: o.name for o in condition.observations} if condition else {}
        name = names.get(visits.observation, visits.observation)
        side = "below" if visits.direction == "below" else "above"
        schedule = (
            f"visits every {_interval(visits.days_above_target)} while {name} is {side} "
            f"{visits.target:g}"
        )
        # finer bands on the worse side ("every 3.5 months below 30"), most extreme last
        bands = sorted(visits.days_by_band.items(), key=lambda kv: float(kv[0]))
        if visits.direction == "below":
            bands.reverse()
        schedule += "".join(
            f", every {_interval(days)} {side} {float(edge):g}" for edge, days in bands
        )
        good = "at target" if side == "above" else f"at {visits.target:g} or above"
        schedule += f", every {_interval(visits.days_at_target)} {good}"
    return f"{shown} of follow-up per patient ({schedule}, yearly review)"


def _interval(days: float) -> str:
    """91 days -> '3 months', 30 -> 'month', 137 -> '4.5 months'."""
    months = round(days / 30.44 * 2) / 2
    return "month" if months <= 1 else f"{months:g} months"


def parse_follow_up(text: str) -> FollowUp | None:
    """The history a request asks for, or None when it asks for a snapshot.

    Raises :class:`~synthpatient.errors.Clarification` for a length outside (0, 30] years.

    Examples:
        >>> parse_follow_up("500 T2D patients with 5 years of follow-up").years
        5.0
        >>> parse_follow_up("2000 T2D patients with 20 observations") is None
        True
    """
    low = " ".join(text.lower().split())
    for match in _LENGTH_OF.finditer(low):
        years = _value(match.group(1), match.group(2))
        return _checked(years, f"read from '{match.group(0)}'")
    for match in _OVER.finditer(low):
        years = _value(match.group(2), match.group(3))
        adult_age = match.group(3).startswith("y") and years >= 18
        if (
            adult_age
            and match.group(1) in {"over", "for"}
            and _AGE_BEFORE.search(low[: match.start()])
        ):
            continue  # "women over 60 years": an age; "patients over 2 years" is a follow-up
        return _checked(years, f"read from '{match.group(0)}'")
    asked = _FREQUENT.search(low)
    if asked:
        return FollowUp(
            DEFAULT_FOLLOW_UP_YEARS,
            _what(
                DEFAULT_FOLLOW_UP_YEARS,
                f"'{asked.group(0)}' asks for repeated visits; no length was given, so the "
                f"default of {DEFAULT_FOLLOW_UP_YEARS:g} years",
            ),
        )
    return None


def _checked(years: float, how: str) -> FollowUp:
    if not 0 < years <= MAX_FOLLOW_UP_YEARS:
        raise Clarification(_out_of_range(years))
    return FollowUp(years, _what(years, how))
