"""What each column of a table means for a clinical note: its role, label, unit and wording.

Roles are recognised from the column name and the schema kind, never from one known table, so
any table with ``age``, ``sex``/``gender``, ``bmi``, blood pressure, HbA1c, glucose, lipids,
smoking, yes/no flags, dates and outcomes gets the same treatment. Units come from the schema,
then from the bundled datasets' catalogue when the table is one of them, then from a cautious
default for a few roles (only where the magnitude leaves no doubt).

A column stored on a log scale (``log_triglycerides`` in ``ln(mg/dL)``) is written in its
clinical unit when the base of the log is known from the unit or the name: "triglycerides
129 mg/dL", not "log triglycerides 4.86 ln(mg/dL)", which no clinician reads. The writer, the
checker and the LLM's facts all go through :meth:`ColumnRole.number`, so they agree; a log of
unknown base keeps its value and its "log" label.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.schema import ColumnKind, ColumnSpec, Schema

FEMALE_VALUES = {"female", "f", "woman", "women", "girl", "w"}
MALE_VALUES = {"male", "m", "man", "men", "boy"}
MISSING_TEXT = "not recorded"

#: role -> (display label, extra words that name it in prose)
ROLE_WORDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "age": ("age", ("age", "aged")),
    "sex": ("sex", ("sex", "gender")),
    "bmi": ("BMI", ("bmi", "body mass index")),
    "bp": ("blood pressure", ("blood pressure", "bp")),
    "sbp": ("systolic blood pressure", ("systolic blood pressure", "systolic", "sbp")),
    "dbp": ("diastolic blood pressure", ("diastolic blood pressure", "diastolic", "dbp")),
    "hba1c": ("HbA1c", ("hba1c", "a1c", "glycated haemoglobin", "glycated hemoglobin")),
    "glucose": ("glucose", ("glucose", "blood sugar", "blood glucose")),
    "total_cholesterol": ("total cholesterol", ("total cholesterol", "cholesterol")),
    "ldl": ("LDL cholesterol", ("ldl cholesterol", "ldl")),
    "hdl": ("HDL cholesterol", ("hdl cholesterol", "hdl")),
    "triglycerides": ("triglycerides", ("triglycerides", "triglyceride")),
    "death": (
        "outcome",
        (
            "died",
            "die",
            "deceased",
            "death",
            "passed away",
            "dead",
            "expired",
            "alive",
            "survived",
            "living",
        ),
    ),
    "admission_date": ("admission date", ("admitted", "admission date", "admission")),
    "discharge_date": ("discharge date", ("discharged", "discharge date", "discharge")),
}
#: death words that say the opposite (the patient lived)
ALIVE_WORDS = frozenset({"alive", "survived", "living"})
LAB_ROLES = ("hba1c", "glucose", "total_cholesterol", "ldl", "hdl", "triglycerides")
VITAL_ROLES = ("bmi", "bp", "sbp", "dbp")


@dataclass(frozen=True)
class ColumnRole:
    """One column as a note sees it."""

    name: str
    kind: str  # schema kind
    role: str  # a key of ROLE_WORDS, or generic_numeric/categorical/boolean/date, identifier,
    #            text, smoking
    label: str
    unit: str | None = None
    decimals: int | None = None
    categories: tuple[Any, ...] | None = None
    identifier_type: str | None = None
    keywords: tuple[str, ...] = ()
    #: for yes/no flags: how to say yes and no ("on insulin" / "not on insulin")
    phrases: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    #: the base of the log a stored value is in (math.e, 10, 2); None for a plain value
    log_base: float | None = None

    def number(self, value: object) -> float | None:
        """The value as a note states it: ``log_base ** value`` for a log column."""
        number = as_number(value)
        return number if number is None or self.log_base is None else unlog(number, self.log_base)

    def shown_decimals(self, number: float) -> int | None:
        """Decimals to write: three significant digits for a value brought back from a log
        (exp(4.123) is 61.7 mg/dL, not 61.74), the schema's decimals otherwise."""
        if self.log_base is None:
            return self.decimals
        if number == 0:
            return 0
        return max(0, 2 - math.floor(math.log10(abs(number))))


@dataclass
class TableProfile:
    """The roles of every column of a table, built once and shared by writer and checker."""

    columns: dict[str, ColumnRole] = field(default_factory=dict)

    def by_role(self, role: str) -> list[ColumnRole]:
        return [c for c in self.columns.values() if c.role == role]

    def first(self, role: str) -> ColumnRole | None:
        found = self.by_role(role)
        return found[0] if found else None

    @property
    def units(self) -> list[str]:
        return sorted({c.unit for c in self.columns.values() if c.unit}, key=len, reverse=True)


def normalise(name: str) -> str:
    """``'On Insulin'`` -> ``'on_insulin'``: the form role patterns are matched against."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def humanise(name: str) -> str:
    return normalise(name).replace("_", " ")


def _numeric_role(norm: str, tokens: set[str]) -> str | None:
    if "age" in tokens:
        return "age"
    if "bmi" in tokens or "body_mass" in norm:
        return "bmi"
    if tokens & {"sbp", "systolic"}:
        return "sbp"
    if tokens & {"dbp", "diastolic"}:
        return "dbp"
    if "bp" in tokens or "blood_pressure" in norm:
        return "bp"
    if "a1c" in norm or "glycated" in norm:
        return "hba1c"
    if "log" in tokens or "ratio" in tokens or len(tokens & {"ldl", "hdl", "cholesterol"}) > 1:
        return None
    if "glucose" in norm or tokens & {"glu", "fpg"} or "blood_sugar" in norm:
        return "glucose"
    if "ldl" in tokens:
        return "ldl"
    if "hdl" in tokens:
        return "hdl"
    if "cholesterol" in norm or tokens & {"tc", "chol"}:
        return "total_cholesterol"
    if "triglycerid" in norm or "tg" in tokens:
        return "triglycerides"
    return None


#: log names and unit prefixes -> base (None: a log whose base is not said)
_LOG_BASES: dict[str, float | None] = {
    "ln": math.e,
    "loge": math.e,
    "log10": 10.0,
    "lg": 10.0,
    "log2": 2.0,
    "log": None,
}
_LOG_UNIT = re.compile(r"^\s*(ln|loge|log10|log2|lg|log)\s*\((.*)\)\s*$", re.IGNORECASE)


def log_scale(name: str, unit: str | None) -> tuple[bool, float | None, str | None]:
    """Whether a column is stored as a log, the base when the unit or name says it, and the
    unit of the value itself (``ln(mg/dL)`` -> True, e, "mg/dL")."""
    tokens = [t for t in normalise(name).split("_") if t in _LOG_BASES]
    match = _LOG_UNIT.match(unit or "")
    if match is None and not tokens:
        return False, None, None
    base = _LOG_BASES[match.group(1).lower()] if match else None
    if base is None and tokens:
        base = _LOG_BASES[tokens[0]]
    inner = match.group(2).strip() or None if match else None
    return True, base, inner


def unlog(number: float, base: float) -> float | None:
    """``base ** number``, or None when it is not a finite number."""
    try:
        shown = base**number
    except OverflowError:
        return None
    return shown if math.isfinite(shown) else None


def _unlogged_name(name: str) -> str:
    """``log_triglycerides`` -> ``triglycerides``: the name without its log words."""
    words = [w for w in normalise(name).split("_") if w and w not in _LOG_BASES]
    return "_".join(words) or normalise(name)


def _date_role(norm: str) -> str:
    if "admi" in norm:
        return "admission_date"
    if "discharg" in norm:
        return "discharge_date"
    return "generic_date"


def _role_of(spec: ColumnSpec, name: str | None = None) -> str:
    norm = normalise(spec.name if name is None else name)
    tokens = set(norm.split("_"))
    if spec.kind in ("identifier", "text"):
        return spec.kind
    if "smok" in norm or "tobacco" in norm:
        return "smoking"
    if tokens & {"sex", "gender"}:
        return "sex"
    if spec.kind == "datetime":
        return _date_role(norm)
    if spec.kind == "boolean":
        deathly = {"died", "death", "deceased", "dead", "mortality", "expired"}
        return "death" if tokens & deathly and not tokens & {"cause"} else "generic_boolean"
    if spec.kind in ("numeric", "integer"):
        return _numeric_role(norm, tokens) or "generic_numeric"
    if _numeric_categories(spec):  # few distinct numbers (a small table) are still values
        return _numeric_role(norm, tokens) or "generic_categorical"
    return "generic_categorical"


def _numeric_categories(spec: ColumnSpec) -> bool:
    return bool(spec.categories) and all(
        isinstance(c, int | float) and not isinstance(c, bool) for c in spec.categories or ()
    )


def _flag_phrases(name: str) -> tuple[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The term a yes/no flag is about, and several ways to say yes and no.

    Phrases starting with a verb follow a pronoun ("She is on insulin"); the others stand alone
    ("hypertension: yes"). Every phrase contains the term, so the checker finds it and reads
    its polarity from the words around it.
    """
    words = normalise(name).split("_")
    head, rest = words[0], " ".join(words[1:])
    if head == "on" and rest:
        return rest, (
            (f"is on {rest}", f"is taking {rest}", f"is currently on {rest}"),
            (f"is not on {rest}", f"is not taking {rest}", f"takes no {rest}"),
        )
    if head == "history" and words[1:2] == ["of"] and len(words) > 2:
        head, rest = "has", " ".join(words[2:])
    if head in ("has", "had", "hx") and rest:
        return rest, (
            (f"has {rest}", f"has a history of {rest}", f"has known {rest}"),
            (f"has no {rest}", f"has no history of {rest}", f"does not have {rest}"),
        )
    if head == "is" and rest:
        return rest, ((f"is {rest}",), (f"is not {rest}",))
    term = " ".join(words)
    return term, (
        (f"{term}: yes", f"{term} recorded as yes"),
        (f"{term}: no", f"{term} recorded as no"),
    )


def _catalog_columns(names: list[str]) -> dict[str, tuple[str, str | None]]:
    """Descriptions and units from the bundled datasets when the table is one of them."""
    from synthpatient.datasets import list_datasets

    for meta in list_datasets():
        known = {c.name: (c.description, c.unit) for c in meta.columns}
        if names and sum(n in known for n in names) >= 0.8 * len(names):
            return {n: known[n] for n in names if n in known}
    return {}


def _default_unit(role: str, typical: float | None) -> str | None:
    """A unit only where the role and the magnitude leave no doubt about it."""
    if role == "bmi":
        return "kg/m2"
    if role in ("bp", "sbp", "dbp"):
        return "mmHg"
    if typical is None:
        return None
    if role == "hba1c":
        return "%" if typical < 20 else "mmol/mol"
    if role == "glucose":
        return "mg/dL" if typical > 40 else "mmol/L"
    if role in ("total_cholesterol", "ldl", "hdl", "triglycerides"):
        return "mg/dL" if typical > 25 else "mmol/L"
    return None


def _keywords(role: str, label: str, name: str, unique: bool) -> tuple[str, ...]:
    words = {humanise(name), label.lower()}
    if unique and role in ROLE_WORDS:
        words |= set(ROLE_WORDS[role][1])
    return tuple(sorted(w for w in words if w))


def profile_table(table: pd.DataFrame, *, schema: Schema | None = None) -> TableProfile:
    """Recognise every column's role (see the module docstring); the schema is inferred when
    not given."""
    if schema is None:
        schema = _infer(table)
    names = [spec.name for spec in schema if spec.kind not in ("identifier", "text")]
    catalogue = _catalog_columns(names)
    roles = {spec.name: _role_of(spec) for spec in schema}
    logs = _log_columns(schema, catalogue, roles)
    counts: dict[str, int] = {}
    for role in roles.values():
        counts[role] = counts.get(role, 0) + 1
    profile = TableProfile()
    for spec in schema:
        profile.columns[spec.name] = _column_role(
            spec,
            roles[spec.name],
            table,
            catalogue,
            unique=counts[roles[spec.name]] == 1,
            log=logs.get(spec.name),
        )
    return profile


def _log_columns(
    schema: Schema, catalogue: Mapping[str, tuple[str, str | None]], roles: dict[str, str]
) -> dict[str, tuple[float, str | None]]:
    """Numeric log columns of known base -> (base, unit of the value); their role in
    ``roles`` becomes that of the name without "log", unless another column already has it
    (``triglycerides`` beside ``log_triglycerides``: the log one keeps its log label)."""
    found: dict[str, tuple[float, str | None]] = {}
    for spec in schema:
        if spec.kind not in ("numeric", "integer") or roles[spec.name] not in (
            "generic_numeric",
            *LAB_ROLES,
            *VITAL_ROLES,
        ):
            continue
        unit = spec.unit or catalogue.get(spec.name, (None, None))[1]
        is_log, base, inner = log_scale(spec.name, unit)
        if not is_log or base is None:
            continue
        role = _role_of(spec, _unlogged_name(spec.name))
        taken = role != "generic_numeric" and any(
            r == role for n, r in roles.items() if n != spec.name
        )
        if not taken:
            roles[spec.name] = role
            found[spec.name] = (base, inner)
    return found


def _infer(table: pd.DataFrame) -> Schema:
    """``Schema.infer``, tolerating what a note does not mind: columns with no value (a small
    synthetic sample may have none) get a kind from their dtype."""
    filled = [c for c in table.columns if table[c].notna().any()]
    inferred = Schema.infer(table[filled]) if filled else Schema(columns=())
    specs = []
    for name in table.columns:
        if name in filled:
            specs.append(inferred[str(name)])
            continue
        dtype = table[name].dtype
        kind: ColumnKind = (
            "boolean"
            if pd.api.types.is_bool_dtype(dtype)
            else "datetime"
            if pd.api.types.is_datetime64_any_dtype(dtype)
            else "numeric"
            if pd.api.types.is_numeric_dtype(dtype)
            else "categorical"
        )
        specs.append(ColumnSpec(name=str(name), kind=kind, nullable=True))
    return Schema(columns=tuple(specs))


def _column_role(
    spec: ColumnSpec,
    role: str,
    table: pd.DataFrame,
    catalogue: Mapping[str, tuple[str, str | None]],
    *,
    unique: bool,
    log: tuple[float, str | None] | None = None,
) -> ColumnRole:
    if role in ROLE_WORDS and role not in ("death", "admission_date", "discharge_date") and unique:
        label = ROLE_WORDS[role][0]
    elif log is not None:
        label = humanise(_unlogged_name(spec.name))
    else:
        label = humanise(spec.name)
    typical = _typical(table, spec.name)
    unit = spec.unit or catalogue.get(spec.name, (None, None))[1]
    if log is not None:
        typical = None if typical is None else unlog(typical, log[0])
        unit = log[1]
    elif unit is not None and log_scale(spec.name, unit)[0]:
        unit = None  # "4.86 log(mg/dL)" reads as nonsense; the label already says "log"
    unit = unit or _default_unit(role, typical)
    if role == "age":
        unit = None  # written as "N-year-old" or "aged N"
    kind = spec.kind
    if kind == "categorical" and role not in ("generic_categorical", "sex", "smoking"):
        kind = "numeric"  # a lab or age read as categories because the table is small
    decimals = 0 if kind == "integer" else spec.decimals
    phrases = None
    keywords = _keywords(role, label, spec.name, unique)
    if role == "generic_boolean":
        term, phrases = _flag_phrases(spec.name)
        keywords = tuple(sorted({*keywords, term}))
    return ColumnRole(
        name=spec.name,
        kind=kind,
        role=role,
        label=label,
        unit=unit,
        decimals=decimals,
        categories=spec.categories,
        identifier_type=spec.identifier_type,
        keywords=keywords,
        phrases=phrases,
        log_base=None if log is None else log[0],
    )


def _typical(table: pd.DataFrame, name: str) -> float | None:
    if name not in table:
        return None
    values = pd.to_numeric(table[name], errors="coerce").dropna()
    return float(values.median()) if len(values) else None


# -- values -----------------------------------------------------------------------------------
def is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def as_number(value: object) -> float | None:
    """A finite float for numbers (and bools as 0/1 are not numbers here)."""
    if isinstance(value, bool | np.bool_) or is_missing(value):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def format_number(value: float, decimals: int | None) -> str:
    """At most two decimals (notes are read by people), none for whole numbers."""
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 6
    wanted = 2
    if 0 < abs(value) < 1:  # two significant digits: 0.0034, not 0
        wanted = 1 - math.floor(math.log10(abs(value)))
    decimals = min(decimals, wanted)
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def sex_of(value: object) -> str | None:
    """'female', 'male' or None when the value does not say (codes 1/2, 'other', missing)."""
    if is_missing(value) or isinstance(value, bool | np.bool_):
        return None
    text = str(value).strip().lower()
    if text in FEMALE_VALUES:
        return "female"
    if text in MALE_VALUES:
        return "male"
    return None


SMOKING_STATES = ("never", "former", "current")


def smoking_states(value: object) -> frozenset[str]:
    """The smoking states a value allows: {'current'}, {'never', 'former'} for a plain no,
    or nothing when the value says nothing (missing, 'unknown')."""
    if is_missing(value):
        return frozenset()
    if isinstance(value, bool | np.bool_):
        return frozenset({"current"}) if value else frozenset({"never", "former"})
    text = str(value).strip().lower()
    if re.search(r"never|non", text):
        return frozenset({"never"})
    if re.search(r"former|^ex|past|quit|previous|stopped", text):
        return frozenset({"former"})
    if re.search(r"current|active|daily|^yes$|^y$|^smoker$|^true$|^1$", text):
        return frozenset({"current"})
    if re.fullmatch(r"no|n|false|0", text):
        return frozenset({"never", "former"})
    return frozenset()
