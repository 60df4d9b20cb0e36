"""Infer a :class:`Schema` from a table, with a reason for every column, and fill open
constraints of a given schema from data.

Identifier-like columns (row ids, record numbers, names, emails, phone numbers, addresses) and
free text are detected here, by name and by content, so that no synthesizer ever learns from
them. In a table with several rows per patient the decision is made at the patient level
(``_patients``): a column one-to-one with the patient key identifies the patient even though
its values repeat, and shares of distinct values are counted over patients, not rows.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthpatient.errors import DataError, SynthPatientWarning
from synthpatient.schema._columns import (
    Column,
    looks_like_codes,
    normalise_name,
    read_column,
)
from synthpatient.schema._dtypes import check_column_type
from synthpatient.schema._patients import (
    GroupProfile,
    KeyCandidate,
    PatientKey,
    codes_of,
    find_patient_key,
    is_candidate,
    is_key_name,
    names_patient_key,
)
from synthpatient.schema._sensitive import CONTENT_LABELS, IDENTIFIER_TYPES
from synthpatient.schema._spec import ColumnKind, ColumnSpec, Schema

__all__ = [
    "ColumnDecision",
    "check_table",
    "explain_schema",
    "infer_schema",
    "normalise_name",
    "repeated_patient_key",
]

#: Integer columns with at most this many distinct values are categories (sex coded 1/2).
MAX_INTEGER_CATEGORIES = 5
#: Text columns with at most this share of distinct values are categories.
MAX_CATEGORY_SHARE = 0.5
MAX_DECIMALS = 6
#: One-to-one columns are read as identifiers only with this many patients (fewer: chance).
MIN_PATIENTS = 10
#: Content that belongs to people: never learned when its values are people's, even repeated.
PERSON_CONTENT = frozenset(
    {"email", "phone", "national_id", "address", "name", "first_name", "last_name"}
)
#: People's content is genuinely shared (a clinic's generic email) when one value covers at
#: least this share of rows...
SHARED_TOP_SHARE = 0.5
#: Column names that mark free text (notes, remarks, comments) whatever the values look like.
_FREE_TEXT_NAME = re.compile(
    r"(^|_)(notes?|remarks?|comments?|free_?text|narrative|memo"
    r"|annotations?|observations_text)($|_)"
)
#: ... and only when that value is on at least this many rows.
SHARED_MIN_ROWS = 30
#: ... or, for person names, when each name is used on average by this many patients (rows,
#: without a patient key): a handful of doctors over hundreds of visits.
SHARED_NAME_UNITS = 20
#: Whole numbers beyond this magnitude are not exact in int64 output, so they stay floats.
_INT64_LIMIT = 2.0**63


@dataclass(frozen=True)
class ColumnDecision:
    """Why a column got its kind, and whether the inference is unsure.

    Reasons name counts, shares and other columns, never a value from the table.

    Examples:
        >>> schema, decisions = explain_schema(df)
        >>> [d.name for d in decisions if d.uncertain]
        ['ward_doctor']
    """

    name: str
    kind: ColumnKind
    identifier_type: str | None
    reason: str
    uncertain: bool = False
    patient_key: bool = False


# -- the table -------------------------------------------------------------------------------
def infer_schema(
    data: pd.DataFrame, *, identifiers: Iterable[str] = (), categorical: Iterable[str] = ()
) -> Schema:
    """Infer the kind, nullability and constraints of every column.

    Args:
        data: the real table.
        identifiers: columns to treat as identifiers whatever they look like.
        categorical: columns to treat as categorical whatever they look like.

    Raises:
        DataError: an empty table, duplicate column names, a column with no values, or a
            column of a type that cannot be learned.
        MixedTypesError: a column mixes numbers and text.

    Examples:
        >>> schema = infer_schema(df, identifiers=["hospital_number"])
    """
    return explain_schema(data, identifiers=identifiers, categorical=categorical)[0]


def warn_unsure(
    decisions: Iterable[ColumnDecision],
    *,
    advice: str = "Check them, or give a schema (Schema.infer(data).replace(...)).",
    skip: Iterable[str] = (),
    stacklevel: int = 2,
) -> None:
    """One warning naming the columns inference was unsure about (names and reasons only,
    never a value); ``stacklevel`` as for the caller's own ``warnings.warn``."""
    skipped = set(skip)
    unsure = [d for d in decisions if d.uncertain and d.name not in skipped]
    if unsure:
        warnings.warn(
            "Schema inference is unsure about: "
            + "; ".join(f"'{d.name}' ({d.kind}: {d.reason})" for d in unsure)
            + f". {advice}",
            SynthPatientWarning,
            stacklevel=stacklevel + 1,
        )


def explain_schema(
    data: pd.DataFrame, *, identifiers: Iterable[str] = (), categorical: Iterable[str] = ()
) -> tuple[Schema, list[ColumnDecision]]:
    """Infer a schema and say why each column got its kind, flagging uncertain columns.

    Takes the arguments of :func:`infer_schema`. The patient key, when the table has several
    rows per patient, is the decision with ``patient_key=True``.

    Examples:
        >>> schema, decisions = explain_schema(visits)
        >>> next(d.name for d in decisions if d.patient_key)
        'mrn'
    """
    check_table(data)
    forced_ids, forced_cats = set(map(str, identifiers)), set(map(str, categorical))
    unknown = (forced_ids | forced_cats) - set(map(str, data.columns))
    if unknown:
        raise DataError(
            f"Columns named as identifiers/categorical are not in the table: "
            f"{', '.join(sorted(unknown))}."
        )
    columns = [
        read_column(str(name), data[name], as_is=str(name) in forced_cats) for name in data.columns
    ]
    key = _patient_key(columns, forced_ids, forced_cats)
    verdicts = [
        _decide(c, key, forced_id=c.name in forced_ids, forced_cat=c.name in forced_cats)
        for c in columns
    ]
    schema = Schema(columns=tuple(v.spec for v in verdicts))
    decisions = [
        ColumnDecision(
            name=v.spec.name,
            kind=v.spec.kind,
            identifier_type=v.spec.identifier_type,
            reason="; ".join([v.reason, *col.notes, *col.doubts]),
            uncertain=v.uncertain or bool(col.doubts),
            patient_key=key is not None and key.name == col.name,
        )
        for v, col in zip(verdicts, columns, strict=True)
    ]
    return schema, decisions


def check_table(data: object) -> None:
    """The checks every table must pass before anything is inferred or learned."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"Expected a pandas DataFrame; got {type(data).__name__}.")
    if data.shape[1] == 0:
        raise DataError("The table has no columns.")
    if data.shape[0] == 0:
        raise DataError("The table has no rows. Give at least a few rows of data.")
    names = [str(c) for c in data.columns]
    for position, name in enumerate(names, start=1):
        if not name.strip():  # '' (or only spaces) cannot be named in a schema, a condition...
            raise DataError(f"Column {position} has no name; give every column a name.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(
            f"The table has duplicate column names: {', '.join(dupes)}. "
            "Rename them so that each column name is unique."
        )
    empty = [str(c) for c in data.columns if data[c].isna().all()]
    if empty:
        raise DataError(
            f"Column(s) {', '.join(empty)} have no values at all. Drop them "
            "(they carry nothing to learn) and try again."
        )
    for column in data.columns:
        check_column_type(str(column), data[column])


def _patient_key(
    columns: list[Column], forced_ids: set[str], forced_cats: set[str]
) -> PatientKey | None:
    candidates = []
    for column in columns:
        codes, n_distinct = column.codes
        if column.name in forced_cats or not is_candidate(codes, n_distinct):
            continue
        named = is_key_name(normalise_name(column.name))
        # a declared identifier may group patients too, but never displaces a named key
        declared = column.name in forced_ids
        looks_like = (
            column.hint is not None
            or (
                column.family == "text"
                and column.text.content is not None
                and not column.text.free_text
            )
            or looks_like_codes(column)
        )
        if named or declared or looks_like:
            candidates.append(KeyCandidate(column.name, codes, n_distinct, named, declared))
    if not candidates:
        return None
    return find_patient_key(candidates, {c.name: c.codes for c in columns})


def repeated_patient_key(data: pd.DataFrame, identifiers: Iterable[str]) -> PatientKey | None:
    """The identifier column among ``identifiers`` that groups ``data``'s rows into patients
    with several rows each, or None: the check a row-wise generator makes before it learns a
    visit-level table as if every row were a patient. A repeating identifier needs a name that
    says patient key, or attributes constant within its groups (as in inference), so that a
    site or ward code is not taken for a patient."""
    candidates = []
    for name in identifiers:
        codes, n_distinct = codes_of(data[name])
        if is_candidate(codes, n_distinct):
            named = is_key_name(normalise_name(name))
            candidates.append(KeyCandidate(name, codes, n_distinct, named))
    if not candidates:
        return None
    return find_patient_key(candidates, {str(c): codes_of(data[c]) for c in data.columns})


# -- one column ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Verdict:
    spec: ColumnSpec
    reason: str
    uncertain: bool = False


@dataclass(frozen=True)
class _Units:
    """Distinct values counted over patients (one value each) or over rows."""

    n_distinct: int
    n_units: int
    word: str

    @property
    def share(self) -> float:
        return self.n_distinct / max(self.n_units, 1)

    def __str__(self) -> str:
        return f"{self.n_distinct} distinct value(s) over {self.n_units} {self.word}"


def _units(column: Column, profile: GroupProfile | None) -> _Units:
    if profile is not None and profile.is_constant and profile.n_patients:
        return _Units(profile.n_distinct, profile.n_patients, "patients")
    return _Units(column.codes[1], len(column.present), "rows")


def _decide(
    column: Column, key: PatientKey | None, *, forced_id: bool, forced_cat: bool
) -> _Verdict:
    name, nullable = column.name, column.nullable
    if forced_cat:
        spec = categorical_spec(name, column.present, nullable)
        return _Verdict(spec, "declared categorical")
    is_key = key is not None and key.name == name
    profile = key.profile(column.codes[0]) if key is not None and not is_key else None
    units = _units(column, profile)
    if forced_id:
        return _Verdict(_identifier(column, _content_type(column)), "declared an identifier")
    if column.hint is not None and column.hint != "id":
        label = CONTENT_LABELS.get(column.hint, column.hint.replace("_", " "))
        return _Verdict(_identifier(column, column.hint), f"its name says it holds {label}")
    if is_key and key is not None:
        how = (
            "its name marks a patient key"
            if key.named
            else f"{', '.join(key.evidence)} stay(s) constant within each of its groups"
        )
        reason = (
            f"patient key: groups the {column.n_rows} rows into {key.n_patients} patients ({how})"
        )
        return _Verdict(_identifier(column, _content_type(column)), reason)
    if names_patient_key(normalise_name(name)):
        # too few patients to be found as the key, but never something to learn
        return _Verdict(
            _identifier(column, _content_type(column)),
            f"its name marks a patient key or record number ({units})",
        )
    if (
        column.family == "text"
        and is_key_name(normalise_name(name))
        and units.n_distinct < MIN_PATIENTS
    ):
        # a bare 'subject' or 'participant' holding text, in a table too small to see its
        # patients: learning it could only copy them ('pt' as prothrombin time is a number)
        return _Verdict(
            _identifier(column, _content_type(column)),
            f"its name marks a patient key and the table is too small to tell otherwise ({units})",
            uncertain=True,
        )
    if column.hint == "id" and units.share > 0.9:
        return _Verdict(
            _identifier(column, _content_type(column)),
            f"its name marks an identifier and its values are distinct ({units})",
        )
    if (
        profile is not None
        and key is not None
        and profile.one_to_one
        and profile.n_patients >= MIN_PATIENTS
    ):
        verdict = _one_to_one(column, key, profile)
        if verdict is not None:
            return verdict
    if column.family == "boolean":
        return _Verdict(
            ColumnSpec(name=name, kind="boolean", nullable=nullable), "true/false values"
        )
    if column.family == "datetime":
        return _Verdict(_datetime(name, column.present, nullable), "dates and times")
    if column.family == "number":
        return _numeric(column, units)
    return _text_like(column, units)


def _one_to_one(column: Column, key: PatientKey, profile: GroupProfile) -> _Verdict | None:
    """A column with one value per patient, different for each: the patient's identity."""
    where = (
        f"one value per patient and a different one for almost every patient "
        f"(one-to-one with the patient key '{key.name}')"
    )
    if column.family == "text":
        if column.text.free_text:
            spec = ColumnSpec(name=column.name, kind="text", nullable=column.nullable)
            return _Verdict(spec, f"free text with {where}")
        content = _content_type(column)
        if column.text.content is not None:
            label = CONTENT_LABELS[column.text.content]
            return _Verdict(_identifier(column, content), f"{label}, {where}")
        if column.text.worldwide_names:
            return _Verdict(_identifier(column, content), f"person names, {where}")
        # no telling content: it might be a patient attribute that happens to be distinct
        return _Verdict(_identifier(column, content), where, uncertain=True)
    if (
        column.family == "number"
        and looks_like_codes(column)
        and profile.n_patients >= 20
        and profile.distinct_share >= 0.95
    ):
        return _Verdict(_identifier(column, "integer_id"), f"record-number-like integers, {where}")
    return None


def _content_type(column: Column) -> str:
    if column.family == "text" and column.text.content in IDENTIFIER_TYPES:
        return column.text.content
    if column.family == "text" and column.text.worldwide_names:
        return "name"  # already an identifier: only how it is regenerated is chosen here
    return "integer_id" if column.integral else "string_id"


def _identifier(column: Column, id_type: str | None) -> ColumnSpec:
    if id_type not in (*IDENTIFIER_TYPES, "integer_id", "string_id"):
        id_type = "integer_id" if column.integral else "string_id"
    # pydantic checks the identifier type against IdentifierType
    return ColumnSpec.model_validate(
        {
            "name": column.name,
            "kind": "identifier",
            "identifier_type": id_type,
            "nullable": column.nullable,
        }
    )


def _datetime(name: str, values: pd.Series, nullable: bool) -> ColumnSpec:
    stamps = pd.to_datetime(values)
    at_midnight = bool((stamps == stamps.dt.normalize()).all())
    return ColumnSpec(
        name=name,
        kind="datetime",
        nullable=nullable,
        observed=True,
        datetime_unit="day" if at_midnight else "second",
        minimum=stamps.min().isoformat(),
        maximum=stamps.max().isoformat(),
    )


def _decimals(values: np.ndarray) -> int | None:
    for decimals in range(MAX_DECIMALS + 1):
        tolerance = 1e-9 * max(1.0, np.abs(values).max())
        if np.allclose(np.round(values, decimals), values, rtol=0, atol=tolerance):
            return decimals
    return None


def _numeric(column: Column, units: _Units) -> _Verdict:
    name, values, nullable = column.name, column.present, column.nullable
    array = values.to_numpy(dtype=float)
    if not np.all(np.isfinite(array)):
        raise DataError(
            f"Column '{name}' holds infinite values. Replace them with blanks "
            "(missing) or real numbers."
        )
    integral = column.integral
    n_unique = column.codes[1]
    if integral and np.abs(array).max() >= _INT64_LIMIT:
        # not exact as int64 (neither as a category nor as an integer): floats keep them
        spec = ColumnSpec(
            name=name,
            kind="numeric",
            nullable=nullable,
            observed=True,
            minimum=float(array.min()),
            maximum=float(array.max()),
            decimals=0,
            unit=column.unit,
        )
        return _Verdict(
            spec, "whole numbers beyond the 64-bit integer range, kept as floating-point numbers"
        )
    if integral and n_unique <= MAX_INTEGER_CATEGORIES and len(array) >= 2 * n_unique:
        return _Verdict(
            categorical_spec(name, values.astype("int64"), nullable),
            f"whole numbers with only {n_unique} distinct values: codes",
        )
    if column.hint == "id" and integral and n_unique == len(array) >= 20:
        return _Verdict(
            _identifier(column, "integer_id"),
            "its name marks an identifier and every value is distinct",
        )
    spec = ColumnSpec(
        name=name,
        kind="integer" if integral else "numeric",
        nullable=nullable,
        observed=True,
        minimum=float(array.min()),
        maximum=float(array.max()),
        decimals=0 if integral else _decimals(array),
        unit=column.unit,
    )
    reason = "whole numbers" if integral else "numbers"
    if integral and units.n_units >= 20 and units.n_distinct == units.n_units:
        consecutive = array.max() - array.min() + 1 == n_unique
        if consecutive or np.median(np.abs(array)) >= 100_000:
            shape = "consecutive" if consecutive else "long"
            return _Verdict(
                spec,
                f"{reason}, but every value is distinct and {shape}, like a "
                "record number: declare it an identifier if it is one",
                uncertain=True,
            )
    return _Verdict(spec, reason)


def _text_like(column: Column, units: _Units) -> _Verdict:
    name, nullable, text = column.name, column.nullable, column.text
    # many distinct values, none common: the mark of a key even when rows repeat
    keylike = units.n_distinct >= 20 and column.top_share <= 0.05
    spread = units.share >= MAX_CATEGORY_SHARE or keylike
    doubt = None
    if text.content is not None:
        label = CONTENT_LABELS[text.content]
        if spread:
            return _Verdict(
                _identifier(column, _content_type(column)),
                f"{label} ({text.share:.0%} of distinct values), mostly distinct ({units})",
            )
        if text.content in PERSON_CONTENT and not _widely_shared(column, units):
            return _Verdict(
                _identifier(column, _content_type(column)),
                f"{label}, repeated but not shared widely ({units}): people's "
                "values are never learned; declare it categorical if they are not",
            )
        if text.content != "code":
            doubt = (
                f"values look like {label} but are shared between "
                f"{units.word}; kept as categories: declare an identifier if they "
                "identify people"
            )
    named_text = bool(_FREE_TEXT_NAME.search(normalise_name(name)))
    if text.free_text or named_text:
        if spread or named_text:
            # a column named as notes or remarks is free text even when its phrases are short
            # and repeat (a small table, 'declined statin'): learning it could copy a patient's
            how = (
                "long values of several words, few repeats"
                if text.free_text
                else "its name marks notes or remarks"
            )
            return _Verdict(
                ColumnSpec(name=name, kind="text", nullable=nullable),
                f"free text: {how} ({units})",
                uncertain=not (spread and text.free_text),
            )
        if doubt is None and (units.share >= 0.2 or units.n_distinct > 20):
            doubt = (
                "long values of several words, kept as categories because they "
                "repeat; set the kind to 'text' in the schema if this is free text"
            )
    n_unique, n = units.n_distinct, units.n_units
    if n_unique <= max(2, MAX_CATEGORY_SHARE * n) or n_unique <= 20:
        spec = categorical_spec(name, column.present, nullable)
        return _Verdict(
            spec, doubt or f"text with repeated values ({units})", uncertain=doubt is not None
        )
    # Mostly distinct short strings (codes, ids, names without a telling header): learning
    # them would only copy real patients' values, so they are regenerated instead.
    return _Verdict(
        _identifier(column, "string_id"),
        f"mostly distinct short text ({units}): regenerated rather than learned",
        uncertain=text.content is None,
    )


def _widely_shared(column: Column, units: _Units) -> bool:
    """Whether people's content (emails, names...) is shared as a category is, not a person's:
    one value on most rows (a clinic's address), or person names each on many patients (a few
    doctors). A family's email on a few patients is still theirs."""
    if column.top_share >= SHARED_TOP_SHARE and column.top_share * column.n_rows >= SHARED_MIN_ROWS:
        return True  # on few rows, half of them may be one patient's: still theirs
    names = column.text.content in ("name", "first_name", "last_name")
    return names and units.n_units >= SHARED_NAME_UNITS * units.n_distinct


def categorical_spec(name: str, values: pd.Series, nullable: bool) -> ColumnSpec:
    counts = values.value_counts(sort=False)
    plain = [_plain(v) for v in sorted(counts.index, key=lambda v: (str(type(v)), v))]
    odd = next((v for v in plain if not isinstance(v, str | int | float | bool)), None)
    if odd is not None:
        # a category must be a JSON scalar; a date would come back as text, silently retyped
        what = (
            "dates and times"
            if isinstance(odd, pd.Timestamp | np.datetime64)
            else f"values of type {type(odd).__name__}"
        )
        raise DataError(
            f"Column '{name}' holds {what}, which cannot be categories (text, "
            "numbers or true/false): do not declare it categorical (dates are "
            "learned as dates), or convert it to text first."
        )
    # every value, as just checked (the test narrows the type)
    categories = tuple(v for v in plain if isinstance(v, str | int | float | bool))
    return ColumnSpec(
        name=name, kind="categorical", nullable=nullable, observed=True, categories=categories
    )


def _plain(value: object) -> object:
    """numpy scalars -> Python ones, so categories serialise to JSON as they look (any other
    value as it is: the caller names those that cannot be categories)."""
    if isinstance(value, np.generic):
        return value.item()
    return value
