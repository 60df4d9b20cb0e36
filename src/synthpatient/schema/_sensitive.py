"""What a column's text looks like: person names, phone numbers, emails, addresses, record codes,
free text.

Each test reads a fixed-size, seeded sample of a column's distinct values, so a column of any
length is judged in the same few milliseconds and the same table always gets the same answer.
The tests only describe content; whether that content identifies patients (it must also be
mostly distinct between patients) is decided by the caller, which knows the patient key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

#: Distinct values read per column: enough for shares within a few percent.
SAMPLE_SIZE = 1000
#: Person-name tests need this many distinct values; fewer could be ward or site names.
MIN_DISTINCT_NAMES = 5

#: Plain words for each content type, for reasons shown to the user.
CONTENT_LABELS = {
    "email": "email addresses",
    "national_id": "national id numbers",
    "phone": "phone numbers",
    "postcode": "postcodes",
    "address": "street addresses",
    "name": "person names",
    "first_name": "first names",
    "last_name": "last names",
    "code": "record codes (letters and digits of near-constant length)",
}
#: Content types that are identifier types of their own (a code is a ``string_id``).
IDENTIFIER_TYPES = {
    "email",
    "national_id",
    "phone",
    "postcode",
    "address",
    "name",
    "first_name",
    "last_name",
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,22}(\s*(x|ext\.?)\s*\d{1,6})?$", re.IGNORECASE)
_POSTCODE = re.compile(r"^\d{5}-\d{4}$|^[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$")
_CODE = re.compile(r"^(?=(?:[^\d]*\d){3})[A-Za-z0-9][A-Za-z0-9./_\-]{3,24}$")
_NAME_TOKEN = re.compile(r"^[A-Z][A-Za-z'\-]*\.?$")
_TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"}
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "v", "md", "dds", "phd", "dvm", "rn", "np"}
_EXTRA_STREET_WORDS = (
    "St",
    "Rd",
    "Ave",
    "Dr",
    "Ln",
    "Blvd",
    "Ct",
    "Pl",
    "Sq",
    "Ter",
    "Hwy",
    "Pkwy",
    "Close",
    "Cres",
    "Gdns",
    "Terr",
)


@dataclass(frozen=True)
class TextProfile:
    """What most of a column's distinct text values look like.

    Attributes:
        content: the identifying content most values share (a key of
            :data:`CONTENT_LABELS`), or None.
        share: share of the sampled distinct values that have that content.
        free_text: long values of several words, like notes or remarks.
        mean_words: mean number of words per distinct value.
        worldwide_names: no identifying content by the common (en_US) name lists, but full
            names by the first and last names of every Faker locale. Only used to pick how an
            identifier is regenerated: the larger lists also know 'North', 'Ward' or 'Grace',
            so they never decide that a column identifies people.
    """

    content: str | None
    share: float
    free_text: bool
    mean_words: float
    worldwide_names: bool = False


@cache
def _person_names(worldwide: bool = False) -> tuple[frozenset[str], frozenset[str]]:
    """First and last names, lower-cased: Faker's en_US lists, or with ``worldwide`` those of
    every Faker locale (a lazy import: Faker is large)."""
    import importlib
    import pkgutil

    from faker.providers import person

    locales = [m.name for m in pkgutil.iter_modules(person.__path__)] if worldwide else ["en_US"]
    firsts: set[str] = set()
    lasts: set[str] = set()
    for locale in locales:
        provider = importlib.import_module(f"{person.__name__}.{locale}").Provider
        for attribute, bucket in (
            ("first_names", firsts),
            ("first_names_female", firsts),
            ("first_names_male", firsts),
            ("last_names", lasts),
        ):
            names = getattr(provider, attribute, ())
            if not isinstance(names, list | tuple | dict | set | frozenset):
                continue  # a few locales compute names (properties), not lists
            bucket.update(str(n).lower() for n in names if str(n).isalpha())
    return frozenset(firsts), frozenset(lasts)


@cache
def _street_pattern() -> re.Pattern[str]:
    from faker.providers.address.en_US import Provider

    words = sorted({*Provider.street_suffixes, *_EXTRA_STREET_WORDS}, key=len, reverse=True)
    return re.compile(
        r"^\d{1,6}[A-Za-z]?(-\d+)?,?\s+([A-Za-z0-9.'\-]+\s+){0,4}?"
        rf"({'|'.join(map(re.escape, words))})\.?(\W|$)",
        re.IGNORECASE,
    )


def sample_distinct(values: pd.Series, size: int = SAMPLE_SIZE) -> list[str]:
    """Up to ``size`` distinct non-missing values as stripped text, chosen with a fixed seed."""
    distinct = pd.unique(values.dropna().astype(str).str.strip().to_numpy())
    distinct = distinct[distinct != ""]
    if len(distinct) > size:
        keep = np.random.default_rng(0).choice(len(distinct), size=size, replace=False)
        distinct = distinct[np.sort(keep)]
    return [str(v) for v in distinct]


def _share(values: Sequence[str], pattern: re.Pattern[str]) -> float:
    return sum(bool(pattern.search(v)) for v in values) / len(values)


def _name_tokens(value: str) -> list[str]:
    """A person's name without titles and suffixes; 'Smith, John' reads as 'John Smith'."""
    if value.count(",") == 1:
        last, first = value.split(",")
        value = f"{first} {last}"
    tokens = [
        t
        for t in value.replace(",", " ").split()
        if t.lower().rstrip(".") not in _TITLES | _SUFFIXES
    ]
    return tokens


def _name_content(values: Sequence[str], *, worldwide: bool = False) -> tuple[str | None, float]:
    """'name', 'first_name' or 'last_name' when most values are shaped and spelled like one."""
    if len(values) < MIN_DISTINCT_NAMES:
        return None, 0.0
    firsts, lasts = _person_names(worldwide)
    tokens = [_name_tokens(v) for v in values]
    shaped = [t for t in tokens if 1 <= len(t) <= 4 and all(_NAME_TOKEN.match(w) for w in t)]
    if len(shaped) < 0.8 * len(values):
        return None, 0.0
    n = len(values)
    full = [t for t in shaped if len(t) >= 2]
    if len(full) >= 0.8 * n:
        # a known first name first or a known last name last; both for a fair share, so that
        # 'North Ward' (Ward is a surname) is not a person
        either = sum(t[0].lower() in firsts or t[-1].lower() in lasts for t in full) / n
        both = sum(t[0].lower() in firsts and t[-1].lower() in lasts for t in full) / n
        return ("name", either) if either >= 0.6 and both >= 0.25 else (None, 0.0)
    single = [t[0].lower().rstrip(".") for t in shaped if len(t) == 1]
    if len(single) >= 0.8 * n:
        first_share = sum(t in firsts for t in single) / n
        last_share = sum(t in lasts for t in single) / n
        if max(first_share, last_share) >= 0.6:
            return (
                ("first_name", first_share)
                if first_share >= last_share
                else ("last_name", last_share)
            )
    return None, 0.0


def _code_content(values: Sequence[str]) -> float:
    """Share of values that are letter-and-digit codes, when their lengths are near-constant."""
    if len(values) < MIN_DISTINCT_NAMES:
        return 0.0
    lengths = np.array([len(v) for v in values])
    if np.mean(np.abs(lengths - np.median(lengths)) <= 1) < 0.8:
        return 0.0
    return _share(values, _CODE)


def detect_content(values: Sequence[str]) -> tuple[str | None, float]:
    """The identifying content most ``values`` (distinct text) share, and that share."""
    if not values:
        return None, 0.0
    for content, pattern, threshold in (
        ("email", _EMAIL, 0.8),
        ("national_id", _SSN, 0.8),
        ("postcode", _POSTCODE, 0.9),
    ):
        share = _share(values, pattern)
        if share >= threshold:
            return content, share
    digits = [sum(c.isdigit() for c in v) for v in values]
    phone = sum(bool(_PHONE.match(v)) and 7 <= d <= 15 for v, d in zip(values, digits, strict=True))
    if phone >= 0.8 * len(values):
        return "phone", phone / len(values)
    share = _share(values, _street_pattern())
    if share >= 0.6:
        return "address", share
    name_content, share = _name_content(values)
    if name_content is not None:
        return name_content, share
    share = _code_content(values)
    if share >= 0.9:
        return "code", share
    return None, 0.0


def profile_text(values: Sequence[str]) -> TextProfile:
    """Content and shape of a sample of distinct values (see :func:`sample_distinct`)."""
    content, share = detect_content(values)
    if not values:
        return TextProfile(None, 0.0, False, 0.0)
    words = np.array([len(v.split()) for v in values])
    lengths = np.array([len(v) for v in values])
    mean_words, mean_length = float(words.mean()), float(lengths.mean())
    # several words and some length, or very long: what a note or a remark looks like
    free_text = (mean_words >= 3 and mean_length >= 20) or mean_length >= 40
    worldwide = content is None and _name_content(values, worldwide=True)[0] == "name"
    if content in ("name", "address") or worldwide:  # several words too, but not free text
        free_text = False
    return TextProfile(content, share, free_text, mean_words, worldwide)
