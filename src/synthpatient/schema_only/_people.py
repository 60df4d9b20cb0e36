"""People and places for tables without data: patients, hospitals, their doctors, insurers.

Names come from Faker's en_US first and last name lists, drawn with the run's seeded RNG
(uniformly, so that common names do not repeat more than the table needs), first names by the
row's sex. Hospitals and insurers are fictional names made from Faker's last names and cities;
each hospital has its own pool of doctors (a doctor works at one hospital), each with a sex
and a first name that matches it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

HOSPITAL_FORMS = (
    "{last} Memorial Hospital",
    "{city} General Hospital",
    "{last} Medical Center",
    "{city} Regional Medical Center",
    "{last} Community Hospital",
    "St. {first} Hospital",
)
INSURER_FORMS = ("{last} Health", "{last} Mutual", "{city} Health Plan", "{last} Care Insurance")
#: a table of this many rows per hospital (at least 3 hospitals, at most 500)
ROWS_PER_HOSPITAL = 200
DOCTORS_PER_HOSPITAL = 12
N_INSURERS = 6


def _lists() -> dict[str, np.ndarray]:
    from faker.providers.person.en_US import Provider as Person  # lazy: Faker is large

    return {
        "female": np.array(sorted(Person.first_names_female), dtype=object),
        "male": np.array(sorted(Person.first_names_male), dtype=object),
        "last": np.array(sorted(Person.last_names), dtype=object),
    }


def person_names(female: np.ndarray, rng: np.random.Generator, *, rounds: int = 3) -> np.ndarray:
    """'First Last' for each row, the first name by sex; repeated names are redrawn a few times
    (a table of n people rarely repeats a full name as often as independent draws do)."""
    lists = _lists()
    names = _draw_names(female, lists, rng)
    for _ in range(rounds):
        _, first_index, counts = np.unique(names, return_index=True, return_counts=True)
        repeated = np.ones(len(names), dtype=bool)
        repeated[first_index] = False  # keep the first holder of every name
        if not repeated.any():
            break
        names[repeated] = _draw_names(female[repeated], lists, rng)
    return names


def _draw_names(
    female: np.ndarray, lists: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    n = len(female)
    firsts = np.where(
        female,
        lists["female"][rng.integers(0, len(lists["female"]), n)],
        lists["male"][rng.integers(0, len(lists["male"]), n)],
    )
    lasts = lists["last"][rng.integers(0, len(lists["last"]), n)]
    return np.array([f"{a} {b}" for a, b in zip(firsts, lasts, strict=True)], dtype=object)


def _places(forms: tuple[str, ...], count: int, rng: np.random.Generator) -> list[str]:
    fake = _faker(rng)
    lists = _lists()
    names: list[str] = []
    for _ in range(count * 20):  # a bounded number of tries; collisions are rare
        if len(names) == count:
            break
        form = forms[int(rng.integers(0, len(forms)))]
        name = form.format(
            last=lists["last"][int(rng.integers(0, len(lists["last"])))],
            first=lists["male"][int(rng.integers(0, len(lists["male"])))],
            city=fake.city(),
        )
        if name not in names:
            names.append(name)
    return names


def _faker(rng: np.random.Generator) -> Any:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(int(rng.integers(0, 2**31 - 1)))
    return fake


def hospitals(n_rows: int, rng: np.random.Generator) -> list[str]:
    return _places(HOSPITAL_FORMS, int(np.clip(n_rows // ROWS_PER_HOSPITAL, 3, 500)), rng)


def insurers(rng: np.random.Generator) -> list[str]:
    return _places(INSURER_FORMS, N_INSURERS, rng)


def doctor_pools(n_hospitals: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(names, female) of ``DOCTORS_PER_HOSPITAL`` doctors per hospital, row h*k..h*k+k-1 for
    hospital h; every doctor's name is unique over all hospitals."""
    total = n_hospitals * DOCTORS_PER_HOSPITAL
    female = rng.random(total) < 0.5
    names = person_names(female, rng, rounds=10)
    return np.array([f"Dr. {name}" for name in names], dtype=object), female
