"""One column as inference reads it: name hints, parsed values, conversions and doubts, codes.

Numbers and dates written as text are parsed here (each distinct value once, so a 100,000-row
column costs what its few thousand distinct values cost); a column that mixes numbers and text
is refused. What was converted (time zones, durations) becomes part of the column's reason,
and what could not be read (a few invalid dates) a doubt that flags the column as uncertain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from synthpatient.errors import MixedTypesError
from synthpatient.schema._dtypes import out_of_range, plain_values, refuse_out_of_range
from synthpatient.schema._patients import codes_of
from synthpatient.schema._sensitive import TextProfile, profile_text, sample_distinct

_ID_TOKENS = {
    "id",
    "uuid",
    "guid",
    "mrn",
    "identifier",
    "ssn",
    "nhs",
    "medicare",
    "medicaid",
    "passport",
    "encounter",
    "accession",
}
_NAME_PATTERNS = {
    "first_name": re.compile(r"^(patient_)?(first|given|fore)_?name$"),
    "last_name": re.compile(r"^(patient_)?(last|family|sur)_?name$|^surname$"),
    "name": re.compile(r"^(patient_|full_|person_)?name$|^(patient|full)_?name$"),
    "email": re.compile(r"(^|_)e_?mail(_address)?($|_)"),
    "phone": re.compile(r"(^|_)(phone|telephone|tel|mobile|cell|fax)(_?(number|no|nr))?($|_)"),
    "address": re.compile(r"(^|_)(address|street|addr|address_line_?\d?)($|_)"),
    "postcode": re.compile(r"^(zip|zipcode|zip_code|postcode|post_code|postal_code)$"),
    "national_id": re.compile(
        r"(^|_)(ssn|social_security(_number)?|nhs_number|national_id"
        r"|passport(_number)?)($|_)"
    ),
}
_RECORD_NUMBER = re.compile(
    r"(^|_)(record|patient|subject|case|chart|row)_?(number|no|nr|num|id|key)$"
)
_DATE_LIKE = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
    r"|^\d{1,2}/\d{1,2}/\d{4}$"
)
_UTC_OFFSET = re.compile(r"\d(?:Z|[+-]\d{2}:?\d{2})$")
_LEADING_ZERO_CODE = re.compile(r"^0\d{3,}$")
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


@dataclass
class Column:
    """One column as inference reads it: typed values, what was converted, and its codes."""

    name: str
    values: pd.Series  # present values in their natural dtype, original index
    positions: np.ndarray  # where ``values`` sit in the table
    n_rows: int
    nullable: bool
    notes: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)
    unit: str | None = None

    @cached_property
    def hint(self) -> str | None:
        return _identifier_from_name(self.name)

    @cached_property
    def family(self) -> str:
        if pd.api.types.is_bool_dtype(self.values):
            return "boolean"
        if pd.api.types.is_datetime64_any_dtype(self.values):
            return "datetime"
        if pd.api.types.is_numeric_dtype(self.values):
            return "number"
        return "text"

    @cached_property
    def codes(self) -> tuple[np.ndarray, int]:
        """Full-length codes (-1 where missing or unparsed) and the number of distinct values."""
        codes, n_distinct = codes_of(self.values)
        full = np.full(self.n_rows, -1, dtype=np.int64)
        full[self.positions] = codes
        return full, n_distinct

    @cached_property
    def present(self) -> pd.Series:
        return self.values.dropna()

    @cached_property
    def text(self) -> TextProfile:
        return profile_text(sample_distinct(self.present))

    @cached_property
    def integral(self) -> bool:
        if self.family != "number" or not len(self.present):
            return False
        array = self.present.to_numpy(dtype=float)
        return bool(np.all(np.isfinite(array)) and np.all(np.mod(array, 1) == 0))

    @cached_property
    def top_share(self) -> float:
        codes = self.codes[0]
        present = codes[codes >= 0]
        return float(np.bincount(present).max() / len(present)) if len(present) else 1.0


def read_column(name: str, series: pd.Series, *, as_is: bool) -> Column:
    """``series`` read for inference; ``as_is`` (declared categorical) skips parsing."""
    plain = plain_values(name, series)
    present = plain.values.notna().to_numpy()
    values = plain.values[present]
    column = Column(
        name=name,
        values=values,
        positions=np.flatnonzero(present),
        n_rows=len(series),
        nullable=not bool(present.all()),
        unit=plain.unit,
    )
    if plain.note:
        column.notes.append(plain.note)
    keep_text = as_is or (column.hint is not None and column.hint != "id")
    if not keep_text:  # a telling name (phone, email) needs no parsing, and may mix digits
        column.values = _as_typed(column, values)
    return column


def _as_typed(column: Column, values: pd.Series) -> pd.Series:
    """Values in their natural dtype: numbers and dates in text are parsed, mixtures refused."""
    name = column.name
    if (
        pd.api.types.is_bool_dtype(values)
        or pd.api.types.is_numeric_dtype(values)
        or pd.api.types.is_datetime64_any_dtype(values)
    ):
        return values
    if values.dtype == object and {type(v) for v in values} <= {bool, np.bool_}:
        return values.astype(bool)
    text = values.astype(str).str.strip()
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype=object).astype(str)
    if set(distinct.str.lower()) <= set(_TRUE_FALSE):
        return text.str.lower().map(_TRUE_FALSE).astype(bool)
    if distinct.str.match(_LEADING_ZERO_CODE).mean() >= 0.05 and distinct.str.isdigit().all():
        column.notes.append("digit strings with leading zeros kept as text (codes, not numbers)")
        return text
    # parsed once per distinct value: a 100,000-row column often holds a few thousand
    parsed = pd.to_numeric(distinct, errors="coerce")
    if not pd.api.types.is_numeric_dtype(parsed):
        parsed = parsed.astype(float)
    numbers = pd.Series(parsed.to_numpy()[codes], index=text.index)
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
    if distinct.str.match(_DATE_LIKE).to_numpy()[codes].mean() >= 0.95:
        return _as_dates(column, text, codes, distinct)
    return text


def _as_dates(column: Column, text: pd.Series, codes: np.ndarray, distinct: pd.Series) -> pd.Series:
    """Date-like text parsed (distinct values once); offsets to UTC; bad dates counted."""
    offsets = bool(distinct.str.contains(_UTC_OFFSET).any())
    parsed = pd.to_datetime(distinct, errors="coerce", format="mixed", utc=offsets)
    if offsets:
        parsed = parsed.dt.tz_localize(None)
    stamps = pd.Series(parsed.to_numpy()[codes], index=text.index)
    if stamps.notna().mean() < 0.95:
        return text
    mask = out_of_range(stamps)
    if mask.any():
        refuse_out_of_range(column.name, stamps, mask)
    stamps = stamps.astype("datetime64[ns]")
    if offsets:
        column.notes.append("times with UTC offsets converted to UTC")
    n_bad = int(stamps.isna().sum())
    if n_bad:
        column.nullable = True
        column.doubts.append(f"{n_bad} value(s) are not valid dates and are treated as missing")
    return stamps


def looks_like_codes(column: Column) -> bool:
    """Whole numbers that read as record numbers: dense runs (1001..1120) or long numbers."""
    if not column.integral:
        return False
    array = column.present.to_numpy(dtype=float)
    n_distinct = column.codes[1]
    if n_distinct < 10 or array.min() < 0:
        return False
    dense = array.max() - array.min() + 1 <= 2 * n_distinct
    return bool(dense or np.median(np.abs(array)) >= 10_000)
