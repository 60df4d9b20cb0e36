"""Fresh values for identifier columns, which no synthesizer ever learns from.

Ids are new sequences; names and addresses come from Faker; emails use the reserved
``example.org`` domain, phone numbers the 555-01xx range reserved for fiction and national ids
the never-issued 000 area, so no generated identifier can belong to a real person.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnSpec

#: Faker is slow per call; a pool this large, sampled with the seeded RNG, keeps it fast.
POOL_SIZE = 4096


def _faker(rng: np.random.Generator):  # type: ignore[no-untyped-def]
    from faker import Faker  # lazy: Faker takes a while to import

    fake = Faker("en_US")
    fake.seed_instance(int(rng.integers(0, 2**31 - 1)))
    return fake


def _pool(rng: np.random.Generator, make, size: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    pool = np.array([make() for _ in range(min(size, POOL_SIZE))], dtype=object)
    return pool[rng.integers(0, len(pool), size=size)]


def regenerate(spec: ColumnSpec, n_rows: int, rng: np.random.Generator) -> pd.Series:
    """``n_rows`` fresh values for an identifier column, reproducible for the same RNG state."""
    kind = spec.identifier_type
    if kind == "integer_id":
        return pd.Series(np.arange(1, n_rows + 1, dtype="int64"), name=spec.name)
    if kind in ("string_id", None):
        return pd.Series([f"SYN-{i:07d}" for i in range(1, n_rows + 1)], name=spec.name,
                         dtype=object)
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
    if kind in makers:
        values = _pool(rng, makers[kind], n_rows)
    elif kind == "email":
        firsts = _pool(rng, fake.first_name, n_rows)
        lasts = _pool(rng, fake.last_name, n_rows)
        values = np.array([f"{f}.{last}{i}@example.org".lower()
                           for i, (f, last) in enumerate(zip(firsts, lasts, strict=True))],
                          dtype=object)
    elif kind == "phone":
        area = rng.integers(201, 990, size=n_rows)
        line = rng.integers(100, 200, size=n_rows)  # 555-0100..0199: reserved for fiction
        values = np.array([f"({a}) 555-0{ln}" for a, ln in zip(area, line, strict=True)],
                          dtype=object)
    elif kind == "national_id":
        group = rng.integers(1, 100, size=n_rows)
        serial = rng.integers(1, 10000, size=n_rows)
        values = np.array([f"000-{g:02d}-{s:04d}" for g, s in zip(group, serial, strict=True)],
                          dtype=object)
    else:  # pragma: no cover - the schema's Literal forbids other values
        raise ValueError(f"unknown identifier type {kind!r}")
    return pd.Series(values, name=spec.name, dtype=object)
