"""Type checks for synthesizer parameters (``bool`` is an ``int`` to Python, never to us)."""

from __future__ import annotations

import math

import numpy as np


def is_int(value: object) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def is_finite_number(value: object) -> bool:
    """A finite int or float (Python or numpy), not a bool, NaN or infinity."""
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool) and math.isfinite(float(value)))
