"""The one place where seeds become random number generators.

No module seeds a global RNG: every random draw goes through a ``numpy.random.Generator``
made here, so that the same seed always gives the same rows.
"""

from __future__ import annotations

import secrets

import numpy as np

from synthpatient.errors import InvalidParameterError

Seed = int | np.random.Generator | None


def check_seed(seed: object, *, name: str = "seed") -> None:
    """Raise a clear error unless ``seed`` is None, a non-negative int or a Generator."""
    if seed is None or isinstance(seed, np.random.Generator):
        return
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
        raise InvalidParameterError(
            f"The '{name}' must be a non-negative integer or None. Got {seed!r}."
        )


def as_generator(seed: Seed) -> np.random.Generator:
    """Return a Generator: a fresh one from an int seed, the same one if given, else entropy."""
    check_seed(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(None if seed is None else int(seed))


def fresh_seed() -> int:
    """A random seed to use and record when the user gave none, so the run can be repeated."""
    return secrets.randbelow(2**31 - 1)
