"""Fresh values for identifier columns, which no synthesizer ever learns from.

Ids are new sequences; names and addresses come from Faker; emails use the reserved
``example.org`` domain, phone numbers the 555-01xx range reserved for fiction and national ids
the never-issued 000 area, so no generated identifier can belong to a real person.

Names follow the row's sex when the table has a column that surely records sex (its name says
sex or gender, and its values are female/male words, or numeric codes whose meaning the name
or description states); otherwise they are drawn without regard to sex, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnSpec, Schema, category_key

#: Faker is slow per call; a pool this large, sampled with the seeded RNG, keeps it fast.
POOL_SIZE = 4096


def _faker(rng: np.random.Generator) -> Any:  # a Faker (imported lazily)
    from faker import Faker  # lazy: Faker takes a while to import

    fake = Faker("en_US")
    fake.seed_instance(int(rng.integers(0, 2**31 - 1)))
    return fake


def _pool(rng: np.random.Generator, make: Callable[[], Any], size: int) -> np.ndarray:
    pool = np.array([make() for _ in range(min(size, POOL_SIZE))], dtype=object)
    return pool[rng.integers(0, len(pool), size=size)]


_SEX_NAME = re.compile(r"(^|_)(sex|gender)($|_)")
_SEX_FLAG = re.compile(r"^(is_|sex_|gender_)?(female|male|woman|man)$")
_FEMALE = {"f", "female", "woman", "women", "w", "girl", "fem"}
_MALE = {"m", "male", "man", "men", "boy"}
#: Other answers a sex column may hold: their rows get names drawn without regard to sex.
_OTHER = {
    "u",
    "unknown",
    "other",
    "x",
    "o",
    "not known",
    "not stated",
    "unspecified",
    "nonbinary",
    "non-binary",
    "intersex",
    "prefer not to say",
    "diverse",
    "na",
    "n/a",
}
#: '1=male, 2=female' in a column's name or description.
_CODE_LABEL = re.compile(r"(\d+)\s*[=:_]\s*(female|male|woman|man|f|m)(?![a-z])", re.IGNORECASE)
_SEXED_KINDS = ("name", "first_name")


def _word_sex(word: str) -> str | None:
    word = word.lower()
    return "female" if word in _FEMALE else "male" if word in _MALE else None


def sex_labels(spec: ColumnSpec) -> dict[str, str] | None:
    """Category key (lower case) -> 'female'/'male' for a column that records sex, else None.

    Conservative: the column's name must say sex or gender (or be a flag such as
    ``is_female``), and every value must be a known answer; numeric codes count only when the
    name or description states what they mean ('sex (1=male, 2=female)').
    """
    from synthpatient.schema import normalise_name

    name = normalise_name(spec.name)
    flag = _SEX_FLAG.match(name)
    if spec.kind == "boolean" and flag:
        sex = _word_sex(flag.group(2))
        assert sex is not None  # _SEX_FLAG admits only words that _word_sex knows
        other = "male" if sex == "female" else "female"
        return {"true": sex, "1": sex, "false": other, "0": other}
    if spec.kind != "categorical" or not spec.categories or not _SEX_NAME.search(name):
        return None
    coded = {
        m.group(1): _word_sex(m.group(2))
        for text in (spec.name, spec.description or "")
        for m in _CODE_LABEL.finditer(text)
    }
    labels: dict[str, str] = {}
    for category in spec.categories:
        key = category_key(category).lower()
        sex = coded.get(key) if key.isdigit() else _word_sex(key)
        if sex is not None:
            labels[key] = sex
        elif key not in _OTHER:
            return None  # an answer we cannot read: leave names unconditioned
    return labels or None


def sex_of_rows(schema: Schema, frame: pd.DataFrame) -> np.ndarray | None:
    """Each row's 'female'/'male' (None where unknown) from the table's sex column, if any.

    None when no name column needs it, or when no column surely records sex.
    """
    if not any(c.kind == "identifier" and c.identifier_type in _SEXED_KINDS for c in schema):
        return None
    for spec in schema.learned:
        labels = sex_labels(spec)
        if labels is not None and spec.name in frame:
            keys = frame[spec.name].map(lambda v: category_key(v).lower(), na_action="ignore")
            return np.array(
                [labels.get(k) if isinstance(k, str) else None for k in keys], dtype=object
            )
    return None


def _sexed_pool(rng: np.random.Generator, makers: tuple, sex: np.ndarray) -> np.ndarray:
    """One value per row from the female, male or unconditioned maker, as the row's sex says."""
    female, male, neutral = makers
    values = np.empty(len(sex), dtype=object)
    is_female, is_male = sex == "female", sex == "male"
    for mask, make in ((is_female, female), (is_male, male), (~(is_female | is_male), neutral)):
        if mask.any():
            values[mask] = _pool(rng, make, int(mask.sum()))
    return values


def regenerate(
    spec: ColumnSpec, n_rows: int, rng: np.random.Generator, sex: np.ndarray | None = None
) -> pd.Series:
    """``n_rows`` fresh values for an identifier column, reproducible for the same RNG state.

    ``sex`` ('female'/'male'/None per row, see :func:`sex_of_rows`) makes full and first names
    agree with each row's sex.
    """
    kind = spec.identifier_type
    if kind == "integer_id":  # from the schema's floor, above every real id (complete_schema)
        start = int(spec.minimum) if isinstance(spec.minimum, int | float) else 1
        return pd.Series(np.arange(start, start + n_rows, dtype="int64"), name=spec.name)
    if kind in ("string_id", None):
        return pd.Series(
            [f"SYN-{i:07d}" for i in range(1, n_rows + 1)], name=spec.name, dtype=object
        )
    if n_rows == 0:
        return pd.Series([], name=spec.name, dtype=object)
    fake = _faker(rng)
    makers = {
        "name": fake.name,
        "first_name": fake.first_name,
        "last_name": fake.last_name,
        "address": lambda: fake.address().replace("\n", ", "),
        "postcode": fake.postcode,
    }
    if kind in _SEXED_KINDS and sex is not None and len(sex) == n_rows:
        sexed = {
            "name": (fake.name_female, fake.name_male, fake.name),
            "first_name": (fake.first_name_female, fake.first_name_male, fake.first_name),
        }
        values = _sexed_pool(rng, sexed[kind], sex)
    elif kind in makers:
        values = _pool(rng, makers[kind], n_rows)
    elif kind == "email":
        firsts = _pool(rng, fake.first_name, n_rows)
        lasts = _pool(rng, fake.last_name, n_rows)
        values = np.array(
            [
                f"{f}.{last}{i}@example.org".lower()
                for i, (f, last) in enumerate(zip(firsts, lasts, strict=True))
            ],
            dtype=object,
        )
    elif kind == "phone":
        area = rng.integers(201, 990, size=n_rows)
        line = rng.integers(100, 200, size=n_rows)  # 555-0100..0199: reserved for fiction
        values = np.array(
            [f"({a}) 555-0{ln}" for a, ln in zip(area, line, strict=True)], dtype=object
        )
    elif kind == "national_id":
        group = rng.integers(1, 100, size=n_rows)
        serial = rng.integers(1, 10000, size=n_rows)
        values = np.array(
            [f"000-{g:02d}-{s:04d}" for g, s in zip(group, serial, strict=True)], dtype=object
        )
    else:  # pragma: no cover - the schema's Literal forbids other values
        raise ValueError(f"unknown identifier type {kind!r}")
    return pd.Series(values, name=spec.name, dtype=object)
