"""Infer a :class:`Schema` from a table, and fill open constraints of a given schema from data.

Identifier-like columns (row ids, record numbers, names, emails, phone numbers, addresses)
are detected here, by name and by content, so that no synthesizer ever learns from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from synthpatient.errors import DataError, MixedTypesError
from synthpatient.schema._spec import ColumnSpec, Schema

#: Integer columns with at most this many distinct values are categories (sex coded 1/2).
MAX_INTEGER_CATEGORIES = 5
#: Text columns with at most this share of distinct values are categories.
MAX_CATEGORY_SHARE = 0.5
MAX_DECIMALS = 6

_ID_TOKENS = {"id", "uuid", "guid", "mrn", "identifier", "ssn", "nhs", "medicare", "medicaid",
              "passport", "encounter", "accession"}
_NAME_PATTERNS = {
    "first_name": re.compile(r"^(patient_)?(first|given|fore)_?name$"),
    "last_name": re.compile(r"^(patient_)?(last|family|sur)_?name$|^surname$"),
    "name": re.compile(r"^(patient_|full_|person_)?name$|^(patient|full)_?name$"),
    "email": re.compile(r"(^|_)e_?mail(_address)?($|_)"),
    "phone": re.compile(r"(^|_)(phone|telephone|tel|mobile|cell|fax)(_?(number|no|nr))?($|_)"),
    "address": re.compile(r"(^|_)(address|street|addr|address_line_?\d?)($|_)"),
    "postcode": re.compile(r"^(zip|zipcode|zip_code|postcode|post_code|postal_code)$"),
    "national_id": re.compile(r"(^|_)(ssn|social_security(_number)?|nhs_number|national_id|passport(_number)?)($|_)"),
}
_RECORD_NUMBER = re.compile(r"(^|_)(record|patient|subject|case|chart|row)_?(number|no|nr|num|id|key)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
_DATE_LIKE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
                        r"|^\d{1,2}/\d{1,2}/\d{4}$")
_TRUE_FALSE = {"true": True, "false": False}


def normalise_name(name: str) -> str:
    """``'Patient ID'`` -> ``'patient_id'``: the form identifier patterns are matched against."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def _identifier_from_name(name: str) -> str | None:
    norm = normalise_name(name)
    for identifier_type, pattern in _NAME_PATTERNS.items():
        if pattern.search(norm):
            return identifier_type
    tokens = set(norm.split("_"))
    if tokens & _ID_TOKENS or _RECORD_NUMBER.search(norm):
        return "id"
    return None


def infer_schema(data: pd.DataFrame, *, identifiers: Iterable[str] = (),
                 categorical: Iterable[str] = ()) -> Schema:
    """Infer the kind, nullability and constraints of every column.

    Args:
        data: the real table.
        identifiers: columns to treat as identifiers whatever they look like.
        categorical: columns to treat as categorical whatever they look like.

    Raises:
        DataError: an empty table, duplicate column names, or a column with no values.
        MixedTypesError: a column mixes numbers and text.

    Examples:
        >>> schema = infer_schema(df, identifiers=["hospital_number"])
    """
    check_table(data)
    forced_ids, forced_cats = set(identifiers), set(categorical)
    unknown = (forced_ids | forced_cats) - set(map(str, data.columns))
    if unknown:
        raise DataError(f"Columns named as identifiers/categorical are not in the table: "
                        f"{', '.join(sorted(unknown))}.")
    specs = [_infer_column(str(name), data[name], force_identifier=name in forced_ids,
                           force_categorical=name in forced_cats) for name in data.columns]
    return Schema(columns=tuple(specs))


def check_table(data: object) -> None:
    """The checks every table must pass before anything is inferred or learned."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"Expected a pandas DataFrame; got {type(data).__name__}.")
    if data.shape[1] == 0:
        raise DataError("The table has no columns.")
    if data.shape[0] == 0:
        raise DataError("The table has no rows. Give at least a few rows of data.")
    names = [str(c) for c in data.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"The table has duplicate column names: {', '.join(dupes)}. "
                        "Rename them so that each column name is unique.")
    empty = [str(c) for c in data.columns if data[c].isna().all()]
    if empty:
        raise DataError(f"Column(s) {', '.join(empty)} have no values at all. Drop them "
                        "(they carry nothing to learn) and try again.")


def _infer_column(name: str, series: pd.Series, *, force_identifier: bool,
                  force_categorical: bool) -> ColumnSpec:
    values = series.dropna()
    nullable = bool(series.isna().any())
    name_hint = _identifier_from_name(name)

    if force_categorical:
        return _categorical(name, values, nullable)
    kind_values = _as_typed(name, values)
    unique_share = values.nunique() / max(len(values), 1)

    if force_identifier or name_hint in _NAME_PATTERNS or (
        name_hint == "id" and unique_share > 0.9
    ):
        return _identifier(name, kind_values, nullable, name_hint)
    if pd.api.types.is_bool_dtype(kind_values):
        return ColumnSpec(name=name, kind="boolean", nullable=nullable)
    if pd.api.types.is_datetime64_any_dtype(kind_values):
        return _datetime(name, kind_values, nullable)
    if pd.api.types.is_numeric_dtype(kind_values):
        return _numeric(name, kind_values, nullable)
    return _text_like(name, kind_values.astype(str), nullable)


def _as_typed(name: str, values: pd.Series) -> pd.Series:
    """Values in their natural dtype: numbers and dates in text are parsed, mixtures refused."""
    if (pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values)
            or pd.api.types.is_datetime64_any_dtype(values)):
        return values
    python_types = {type(v) for v in values}
    if python_types <= {bool, np.bool_}:
        return values.astype(bool)
    text = values.astype(str).str.strip()
    lowered = text.str.lower()
    if set(lowered.unique()) <= set(_TRUE_FALSE):
        return lowered.map(_TRUE_FALSE).astype(bool)
    numbers = pd.to_numeric(text, errors="coerce")
    n_numeric = int(numbers.notna().sum())
    if n_numeric == len(text):
        return numbers
    if n_numeric and n_numeric >= 0.5 * len(text):
        first_bad = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        raise MixedTypesError(
            f"Column '{name}' mixes numbers and text: {len(text) - n_numeric} of {len(text)} "
            f"values are not numbers (first at row {values.index[first_bad]}). Clean those "
            "entries, or declare the column categorical with --categorical or a schema file."
        )
    if text.str.match(_DATE_LIKE).mean() >= 0.95:
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        if parsed.notna().mean() >= 0.95:
            return parsed
    return text


def _identifier(name: str, values: pd.Series, nullable: bool, hint: str | None) -> ColumnSpec:
    if hint in _NAME_PATTERNS:
        id_type = hint
    elif pd.api.types.is_integer_dtype(values) or (
        pd.api.types.is_float_dtype(values) and np.all(np.mod(values, 1) == 0)
    ):
        id_type = "integer_id"
    else:
        id_type = "string_id"
    return ColumnSpec(name=name, kind="identifier", identifier_type=id_type, nullable=nullable)


def _datetime(name: str, values: pd.Series, nullable: bool) -> ColumnSpec:
    stamps = pd.to_datetime(values)
    at_midnight = bool((stamps == stamps.dt.normalize()).all())
    return ColumnSpec(name=name, kind="datetime", nullable=nullable, observed=True,
                      datetime_unit="day" if at_midnight else "second",
                      minimum=stamps.min().isoformat(), maximum=stamps.max().isoformat())


def _decimals(values: np.ndarray) -> int | None:
    for decimals in range(MAX_DECIMALS + 1):
        if np.allclose(np.round(values, decimals), values, rtol=0, atol=1e-9 * max(1.0, np.abs(values).max())):
            return decimals
    return None


def _numeric(name: str, values: pd.Series, nullable: bool) -> ColumnSpec:
    array = values.to_numpy(dtype=float)
    if not np.all(np.isfinite(array)):
        raise DataError(f"Column '{name}' holds infinite values. Replace them with blanks "
                        "(missing) or real numbers.")
    integral = bool(np.all(np.mod(array, 1) == 0))
    n_unique = len(np.unique(array))
    if integral and n_unique <= MAX_INTEGER_CATEGORIES and len(array) >= 2 * n_unique:
        return _categorical(name, values.astype("int64"), nullable)
    if _identifier_from_name(name) == "id" and integral and n_unique == len(array) >= 20:
        return _identifier(name, values, nullable, "id")
    return ColumnSpec(
        name=name, kind="integer" if integral else "numeric", nullable=nullable, observed=True,
        minimum=float(array.min()), maximum=float(array.max()),
        decimals=0 if integral else _decimals(array),
    )


def _text_like(name: str, text: pd.Series, nullable: bool) -> ColumnSpec:
    n, n_unique = len(text), text.nunique()
    if n >= 20 and text.str.match(_EMAIL).mean() >= 0.9:
        return ColumnSpec(name=name, kind="identifier", identifier_type="email", nullable=nullable)
    if n >= 20 and n_unique / n > 0.9 and text.str.match(_PHONE).mean() >= 0.9 \
            and text.str.count(r"\d").min() >= 7:
        return ColumnSpec(name=name, kind="identifier", identifier_type="phone", nullable=nullable)
    if n_unique <= max(2, MAX_CATEGORY_SHARE * n) or n_unique <= 20:
        return _categorical(name, text, nullable)
    words = text.str.split().str.len().mean()
    if words >= 3 or text.str.len().mean() >= 40:
        return ColumnSpec(name=name, kind="text", nullable=nullable)
    # Mostly distinct short strings (codes, ids, names without a telling header): learning
    # them would only copy real patients' values, so they are regenerated instead.
    return ColumnSpec(name=name, kind="identifier", identifier_type="string_id", nullable=nullable)


def _categorical(name: str, values: pd.Series, nullable: bool) -> ColumnSpec:
    counts = values.value_counts(sort=False)
    categories = tuple(_plain(v) for v in sorted(counts.index, key=lambda v: (str(type(v)), v)))
    return ColumnSpec(name=name, kind="categorical", nullable=nullable, observed=True,
                      categories=categories)


def _plain(value: object) -> str | int | float | bool:
    """numpy scalars -> Python ones, so categories serialise to JSON as they look."""
    if isinstance(value, np.generic):
        return value.item()  # type: ignore[no-any-return]
    return value  # type: ignore[return-value]


def complete_schema(schema: Schema, data: pd.DataFrame) -> Schema:
    """Fill bounds, categories, decimals and datetime units that ``schema`` leaves open.

    Declared constraints are kept: they are the user's (public) knowledge, not the data's.
    """
    from synthpatient.schema._validate import coerce_frame

    typed = coerce_frame(schema, data)
    columns = []
    for spec in schema:
        if spec.name not in typed or not spec.is_learned:
            columns.append(spec)
            continue
        values = typed[spec.name].dropna()
        update: dict[str, object] = {}
        if spec.kind == "categorical" and spec.categories is None:
            update["categories"] = _categorical(spec.name, values, spec.nullable).categories
        elif spec.kind in ("numeric", "integer"):
            array = values.to_numpy(dtype=float)
            if spec.minimum is None:
                update["minimum"] = float(array.min())
            if spec.maximum is None:
                update["maximum"] = float(array.max())
            if spec.decimals is None:
                update["decimals"] = 0 if spec.kind == "integer" else _decimals(array)
        elif spec.kind == "datetime":
            if spec.minimum is None:
                update["minimum"] = values.min().isoformat()
            if spec.maximum is None:
                update["maximum"] = values.max().isoformat()
            if spec.datetime_unit is None:
                update["datetime_unit"] = "day" if bool((values == values.dt.normalize()).all()) else "second"
        if update:
            update["observed"] = True
            spec = spec.model_copy(update=update)
        columns.append(spec)
    return Schema(columns=tuple(columns))
