"""Declarative parameter constraints, checked by :class:`~synthpatient.synthesizers.Synthesizer`.

Each backend declares a table, like scikit-learn's ``_parameter_constraints``::

    _parameter_constraints = {
        "steps": Param(Interval(int, 1, None)),
        "device": Param(Options("auto", "cpu", "cuda"), Pattern(r"cuda:\\d+", "'cuda:N'")),
        "max_modes": Param(Interval(int, 1, None), None, hint="None chooses from the rows"),
    }

and the base class checks it in ``_validate_params`` with the project's one-line message,
"The 'steps' parameter of CTGANSynthesizer must be an int >= 1. Got 0." ``None`` among a
parameter's constraints allows None. What one table cannot say (one parameter against
another, such as ``batch_size`` a multiple of ``pac``) stays a check in ``_validate_params``.
Every constraint can also produce a value it refuses, so the conformance suite checks that
each declared constraint rejects a bad value and accepts the default.
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

import numpy as np


class Constraint(ABC):
    """One kind of value a parameter may take."""

    @abstractmethod
    def allows(self, value: object) -> bool:
        """Whether ``value`` meets this constraint."""

    @abstractmethod
    def describe(self) -> str:
        """What it takes, as the message says it: ``an int >= 1``."""

    @abstractmethod
    def bad_values(self) -> list[Any]:
        """Values this constraint refuses (for the conformance suite)."""


def _is_int(value: object) -> TypeGuard[int | np.integer]:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float | np.integer | np.floating]:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


@dataclass(frozen=True)
class Interval(Constraint):
    """An int (``int``) or any finite number (``float``) between ``low`` and ``high``
    (None: unbounded); ``closed`` says which ends are included."""

    type: type
    low: float | None
    high: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def allows(self, value: object) -> bool:
        if self.type is int:
            if not _is_int(value):
                return False
        elif not _is_number(value):
            return False
        number = float(value)
        if self.low is not None and (
            number < self.low or (number == self.low and self.closed in ("right", "neither"))
        ):
            return False
        return self.high is None or not (
            number > self.high or (number == self.high and self.closed in ("left", "neither"))
        )

    def describe(self) -> str:
        noun = "an int" if self.type is int else "a number"
        low_in, high_in = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return (
                f"{noun} in {'[' if low_in else '('}{self.low:g}, {self.high:g}"
                f"{']' if high_in else ')'}"
            )
        if self.type is not int and self.high is None:
            noun = "a finite number"
        if self.low is not None:
            return f"{noun} {'>=' if low_in else '>'} {self.low:g}"
        if self.high is not None:
            return f"{noun} {'<=' if high_in else '<'} {self.high:g}"
        return noun

    def bad_values(self) -> list[Any]:
        out: list[Any] = ["1", True]
        if self.low is not None:
            out.append(self.low if self.closed in ("right", "neither") else self.low - 1)
        if self.high is not None:
            out.append(self.high if self.closed in ("left", "neither") else self.high + 1)
        if self.type is int:
            out.append(1.5)
        else:
            out.append(math.inf)
        return out


@dataclass(frozen=True, init=False)
class Options(Constraint):
    """One of a few values."""

    options: tuple[Any, ...]

    def __init__(self, *options: Any) -> None:
        object.__setattr__(self, "options", options)

    def allows(self, value: object) -> bool:
        return (
            isinstance(value, str | int | float)
            and not isinstance(value, bool)
            and value in self.options
        )

    def describe(self) -> str:
        shown = [repr(o) for o in self.options]
        return "one of " + ", ".join(shown)

    def bad_values(self) -> list[Any]:
        return ["not-an-option", 3.5]


@dataclass(frozen=True)
class Pattern(Constraint):
    """A string that matches ``regex`` in full; ``text`` says what it is."""

    regex: str
    text: str

    def allows(self, value: object) -> bool:
        return isinstance(value, str) and re.fullmatch(self.regex, value) is not None

    def describe(self) -> str:
        return self.text

    def bad_values(self) -> list[Any]:
        return ["", "no such value!", 3]


class Boolean(Constraint):
    """True or False (not 0/1, not the string "true")."""

    def allows(self, value: object) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "True or False"

    def bad_values(self) -> list[Any]:
        return ["yes", 1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Boolean)

    def __hash__(self) -> int:
        return hash(Boolean)


@dataclass(frozen=True)
class Text(Constraint):
    """A string that is not blank; ``text`` says what it names."""

    text: str = "a non-empty string"

    def allows(self, value: object) -> bool:
        return isinstance(value, str) and value.strip() != ""

    def describe(self) -> str:
        return self.text

    def bad_values(self) -> list[Any]:
        return ["", "   ", 3]


@dataclass(frozen=True)
class URL(Constraint):
    """An http:// or https:// URL."""

    text: str = "an http:// or https:// URL"

    def allows(self, value: object) -> bool:
        return isinstance(value, str) and value.startswith(("http://", "https://"))

    def describe(self) -> str:
        return self.text

    def bad_values(self) -> list[Any]:
        return ["localhost:8000", 8000]


@dataclass(frozen=True)
class Widths(Constraint):
    """Layer widths: a list or tuple of ints >= 1, such as (128, 128)."""

    def allows(self, value: object) -> bool:
        return isinstance(value, list | tuple) and all(_is_int(v) and v >= 1 for v in value)

    def describe(self) -> str:
        return "a list of layer widths, each an int >= 1, such as (128, 128)"

    def bad_values(self) -> list[Any]:
        return [[0], "128", [1.5]]


@dataclass(frozen=True)
class Names(Constraint):
    """A list or tuple of column names (not one string)."""

    def allows(self, value: object) -> bool:
        return (
            isinstance(value, Sequence)
            and not isinstance(value, str)
            and all(isinstance(v, str) for v in value)
        )

    def describe(self) -> str:
        return "a list of column names"

    def bad_values(self) -> list[Any]:
        return ["notes", [1]]


@dataclass(frozen=True)
class JSONMapping(Constraint):
    """A dict of JSON values, without the keys in ``without``."""

    without: tuple[str, ...] = ()
    text: str = "a dict of JSON values"

    def allows(self, value: object) -> bool:
        if not isinstance(value, Mapping) or any(k in value for k in self.without):
            return False
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return False
        return True

    def describe(self) -> str:
        return self.text

    def bad_values(self) -> list[Any]:
        return ["a=1", {"x": object()}] + [{k: 1} for k in self.without]


class Param:
    """What one parameter may be: any of ``allowed`` (a :class:`Constraint`, or None to allow
    None); ``hint`` is added to the message; ``secret`` keeps the value out of it (a value
    passed by mistake may be a key)."""

    def __init__(self, *allowed: Constraint | None, hint: str = "", secret: bool = False) -> None:
        self.constraints = tuple(c for c in allowed if c is not None)
        self.none_ok = any(c is None for c in allowed)
        self.hint, self.secret = hint, secret

    def allows(self, value: object) -> bool:
        return (value is None and self.none_ok) or any(c.allows(value) for c in self.constraints)

    def describe(self) -> str:
        parts = [c.describe() for c in self.constraints] + (["None"] if self.none_ok else [])
        text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]
        return f"{text} ({self.hint})" if self.hint else text

    def message(self, name: str, owner: str, value: object) -> str:
        """The one-line error for ``value``."""
        got = "" if self.secret else f" Got {_shown(value)}."
        return f"The '{name}' parameter of {owner} must be {self.describe()}.{got}"

    def bad_value(self) -> Any:
        """A value this parameter refuses."""
        candidates = [c for constraint in self.constraints for c in constraint.bad_values()]
        for candidate in candidates + ([None] if not self.none_ok else []) + [object()]:
            if not self.allows(candidate):
                return candidate
        raise AssertionError("every candidate is allowed")  # pragma: no cover


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


#: The name of the environment variable holding an API key: the same rule wherever a key is
#: read, and the value is never echoed (someone may have passed the key itself).
API_KEY_ENV = Param(
    Pattern(
        r"[A-Za-z_][A-Za-z0-9_]*",
        "the NAME of an environment variable holding the key (e.g. OPENAI_API_KEY), not the key",
    ),
    secret=True,
)
