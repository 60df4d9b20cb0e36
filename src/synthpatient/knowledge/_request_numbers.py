"""Numbers in request text: digits, words, powers and scales, read exactly and bounded.

"two thousand five hundred", "2.5k", "10**6": each read with decimals (never floats); an
absurd number (``1e400``) is refused by size before it is built, and a count outside 1 to
:data:`MAX_PATIENTS` is a :class:`Clarification`, never a silent clip.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from synthpatient.errors import Clarification
from synthpatient.knowledge._spec import MAX_REQUEST_PATIENTS

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


#: A number this large is absurd for a count; it is refused before it is built as an int.
_ABSURD = Decimal(10) ** 15


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
        f"{MAX_REQUEST_PATIENTS:,} patients can be asked for per request."
    )


def _short(token: str) -> str:
    return token if len(token) <= 24 else token[:21] + "..."


def _checked_count(value: int) -> int:
    if value < 1:
        raise Clarification(f"The number of patients must be at least 1 (got {value}).")
    if value > MAX_REQUEST_PATIENTS:
        raise Clarification(
            f"{value:,} patients is more than the limit of {MAX_REQUEST_PATIENTS:,} per "
            "request; ask for fewer (and run several requests if needed)."
        )
    return value
