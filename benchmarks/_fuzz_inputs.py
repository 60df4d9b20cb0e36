"""Seeded hostile inputs for ``fuzz_campaign.py``: tables, files, arguments, rules, requests.

Every function takes a :class:`numpy.random.Generator`, so a case is rebuilt exactly from
``(seed, index)``. Patient values that must never come out of the tool carry the marker
``ZQXJ`` followed by hex digits; nothing else generated here may contain it (``_clean``).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MARK = "ZQXJ"
MARKER_RE = re.compile(MARK + r"[0-9a-f]{8}", re.IGNORECASE)
_HEX = list("0123456789abcdef")

#: Column names that real extracts use for what must never be learned, by role.
SENSITIVE_NAMES: dict[str, tuple[str, ...]] = {
    "name": ("name", "patient_name", "Full Name", "PatientName", "surname", "first_name"),
    "mrn": (
        "mrn",
        "MRN",
        "medical_record_number",
        "Hospital Number",
        "patient_id",
        "chart_no",
        "pid",
        "Patient ID",
        "subject",
    ),
    "phone": ("phone", "Telephone", "mobile_number", "tel", "contact_phone"),
    "email": ("email", "E-mail", "email_address", "contact"),
    "remark": ("remark", "remarks", "notes", "comment", "free_text", "clinician_comment"),
}
_PHRASES = (
    "seen in clinic, stable",
    "follow-up in three months",
    "no change since last visit",
    "reports chest pain on exertion",
    "lives alone, daughter visits",
    "declined statin",
    "referred to dietitian",
    "missed last appointment",
)
_SURNAMES = ("Smith", "García", "Nguyen", "O'Brien", "Müller", "Okafor", "Kowalski", "Haddad")

#: Text that is not a patient value but breaks naive code: unicode, RTL, emoji, control
#: characters, markup, format strings, spellings of missing values and numbers.
HOSTILE_TEXT: tuple[str, ...] = (
    "café",
    "naïve",
    "Ærøskøbing",
    "日本語",
    "مريض",
    "חולה",
    "\u202eevil\u202c",
    "🙂",
    "👩‍⚕️",
    "a\x00b",
    "line\nbreak",
    "tab\there",
    "\r",
    "\x1b[31mred",
    "  padded  ",
    "",
    " ",
    "NULL",
    "None",
    "nan",
    "NaN",
    "N/A",
    "-",
    "TRUE",
    "1",
    "0",
    "1.0",
    "1e308",
    "-0.0",
    "inf",
    "'; DROP TABLE patients;--",
    "<script>alert(1)</script>",
    "{0}",
    "%s%n",
    "[red]markup[/]",
    "[/]",
    "\\",
    '"quoted"',
    "a,b",
    "a;b",
    "x" * 300,
    "\ufeffbom",
    "ǅ",
    "İ",
    "ß",
    "\u200b",
)
HOSTILE_NAMES: tuple[str, ...] = (
    "",
    " ",
    "x" * 3000,
    "日本語",
    "a\nb",
    "[/]",
    "[bold]age",
    "age;bmi",
    "1",
    "__class__",
    "NaN",
    "a,b",
    "\t",
    "Unnamed: 0",
    "🙂",
    "مريض",
    "-",
    "age ",
    " age",
    "$(rm -rf)",
    "..",
)


def pick(rng: np.random.Generator, options: Any) -> Any:
    """One element of a sequence (numpy would turn mixed tuples into arrays of strings)."""
    return options[int(rng.integers(len(options)))]


def weighted(rng: np.random.Generator, table: dict[str, float]) -> str:
    keys = list(table)
    weights = np.array([table[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=weights / weights.sum()))]


def marker(rng: np.random.Generator) -> str:
    return MARK + "".join(rng.choice(_HEX, 8))


def _clean(text: str) -> str:
    """Never let a non-patient value contain the marker by chance."""
    return text.replace(MARK, "ZQ-XJ").replace(MARK.lower(), "zq-xj")


# --- tables -----------------------------------------------------------------------------


@dataclass
class TableInfo:
    """What a generated table holds: sensitive columns by role, the kinds of odd columns."""

    sensitive: dict[str, str] = field(default_factory=dict)  # column -> role
    markers: dict[str, str] = field(default_factory=dict)  # lower-case marker -> role
    odd: list[str] = field(default_factory=list)
    patients: int = 0
    rows: int = 0

    def label(self) -> str:
        roles = ",".join(sorted(set(self.sensitive.values())))
        odd = ",".join(sorted(set(self.odd))) or "plain"
        return f"{self.patients}p/{self.rows}r sens[{roles}] cols[{odd}]"


def _sensitive_values(rng: np.random.Generator, role: str, pid: np.ndarray) -> list[str]:
    n_patients = int(pid.max()) + 1
    marks = [marker(rng) for _ in range(n_patients)]
    if role == "name":
        return [f"{marks[p]} {pick(rng, _SURNAMES)}" for p in pid]
    if role == "mrn":
        style = int(rng.integers(3))
        return [
            marks[p] if style == 0 else f"MRN-{marks[p]}" if style == 1 else marks[p].lower()
            for p in pid
        ]
    if role == "phone":
        return [f"+1 555 {marks[p]}" for p in pid]
    if role == "email":
        return [f"{marks[p].lower()}@hospital.org" for p in pid]
    # remarks: per visit (mostly distinct, several words) or repeated per patient
    if rng.random() < 0.5:
        return [f"{marker(rng)} {pick(rng, _PHRASES)}" for _ in pid]
    return [f"{marks[p]} {pick(rng, _PHRASES)}" for p in pid]


def _per_patient(rng: np.random.Generator, pid: np.ndarray, values: np.ndarray) -> np.ndarray:
    return values[pid]


def _with_missing(
    rng: np.random.Generator, values: list[Any] | np.ndarray, share: float
) -> list[Any]:
    return [None if rng.random() < share else v for v in list(values)]


def _plain_columns(rng: np.random.Generator, pid: np.ndarray) -> dict[str, Any]:
    n, n_pat = len(pid), int(pid.max()) + 1
    cols: dict[str, Any] = {}
    options = ["age", "sex", "bmi", "hba1c", "visit_date", "on_insulin", "smoker", "sbp"]
    for name in rng.choice(options, size=int(rng.integers(2, len(options) + 1)), replace=False):
        if name == "age":
            cols["age"] = _per_patient(rng, pid, rng.integers(18, 91, n_pat))
        elif name == "sex":
            coding = pick(rng, (("F", "M"), ("female", "male"), (1, 2)))
            cols["sex"] = [coding[i] for i in _per_patient(rng, pid, rng.integers(0, 2, n_pat))]
        elif name == "bmi":
            cols["bmi"] = _with_missing(rng, np.round(rng.normal(28, 5, n), 1), 0.1)
        elif name == "hba1c":
            cols["hba1c"] = np.round(np.exp(rng.normal(np.log(6.5), 0.2, n)), 2)
        elif name == "visit_date":
            days = rng.integers(0, 2000, n)
            stamps = pd.Timestamp("2018-01-01") + pd.to_timedelta(days, "D")
            cols["visit_date"] = stamps if rng.random() < 0.5 else stamps.strftime("%Y-%m-%d")
        elif name == "on_insulin":
            cols["on_insulin"] = rng.random(n) < 0.3
        elif name == "smoker":
            cols["smoker"] = list(rng.choice(["never", "former", "current"], n))
        else:
            cols["sbp"] = _with_missing(rng, rng.integers(90, 180, n), 0.05)
    return cols


def _odd_column(rng: np.random.Generator, kind: str, n: int) -> Any:
    if kind == "extreme_numbers":
        pool = [1e308, -1e308, 2**70, -0.0, 5e-324, 0.1, 42, -7]
        return [pick(rng, pool) for _ in range(n)]
    if kind == "nan_strings":
        return [pick(rng, ("nan", "NaN", "inf", "-inf", "1e400", "1.5", "2", "")) for _ in range(n)]
    if kind == "extreme_dates":
        return [
            pick(rng, ("1066-10-14", "9999-12-31", "2020-02-29", "1900-01-01", "2262-04-12"))
            for _ in range(n)
        ]
    if kind == "tz_datetimes":
        stamps = pd.Timestamp("2021-03-27 23:30", tz="Europe/London") + pd.to_timedelta(
            rng.integers(0, 10_000, n), "min"
        )
        if rng.random() < 0.5:
            return pd.Series(stamps)
        return [
            s.isoformat() if rng.random() < 0.7 else s.tz_convert("Asia/Kolkata").isoformat()
            for s in stamps
        ]
    if kind == "timedeltas":
        return pd.to_timedelta(rng.integers(0, 30, n), "D")
    if kind == "bytes":
        return [
            bytes(rng.integers(0, 256, int(rng.integers(0, 6))).astype(np.uint8)) for _ in range(n)
        ]
    if kind == "lists":
        return [list(rng.integers(0, 3, int(rng.integers(0, 3)))) for _ in range(n)]
    if kind == "dicts":
        return [{"a": int(rng.integers(3))} for _ in range(n)]
    if kind == "unicode":
        return [pick(rng, HOSTILE_TEXT[:9]) for _ in range(n)]
    if kind == "control_chars":
        return [pick(rng, HOSTILE_TEXT[9:16]) for _ in range(n)]
    if kind == "hostile_text":
        return [pick(rng, HOSTILE_TEXT) for _ in range(n)]
    if kind == "categorical_dtype":
        return pd.Categorical(rng.choice(["a", "b"], n), categories=["a", "b", "unused"])
    if kind == "mixed_types":
        return [pick(rng, (1, 2.5, "three", None, True)) for _ in range(n)]
    if kind == "all_missing":
        return [None] * n
    if kind == "constant":
        return [7] * n
    if kind == "uint64_max":
        return np.full(n, 2**64 - 1, dtype=np.uint64) - rng.integers(0, 3, n).astype(np.uint64)
    if kind == "nullable_int":
        return pd.array(_with_missing(rng, rng.integers(0, 100, n), 0.2), dtype="Int64")
    if kind == "string_dtype":
        return pd.array(list(rng.choice(["x", "y", "z"], n)), dtype="string")
    if kind == "infinite":
        return [pick(rng, (np.inf, -np.inf, 1.0, 2.0)) for _ in range(n)]
    if kind == "bool_words":
        return [pick(rng, ("yes", "no", "Y", "N", "true", "False")) for _ in range(n)]
    if kind == "comma_numbers":
        return [f"{rng.integers(1000, 9000):,}.5" for _ in range(n)]
    if kind == "complex":
        return rng.normal(size=n) + 1j
    if kind == "period":
        return pd.period_range("2020-01", periods=n, freq="M")
    raise AssertionError(kind)


#: Odd columns a table may have and still be learnable (the others are refused, cleanly).
REFUSED_ODD = frozenset(
    {"all_missing", "infinite", "lists", "dicts", "mixed_types", "complex", "bytes"}
)
ODD_KINDS = (
    "extreme_numbers",
    "nan_strings",
    "extreme_dates",
    "tz_datetimes",
    "timedeltas",
    "bytes",
    "lists",
    "dicts",
    "unicode",
    "control_chars",
    "hostile_text",
    "categorical_dtype",
    "mixed_types",
    "all_missing",
    "constant",
    "uint64_max",
    "nullable_int",
    "string_dtype",
    "infinite",
    "bool_words",
    "comma_numbers",
    "complex",
    "period",
)


def random_table(
    rng: np.random.Generator,
    *,
    odd: float = 0.5,
    sensitive: bool = True,
    max_patients: int = 20,
    min_rows: int = 1,
    hostile_names: float = 0.05,
    benign: bool = False,
) -> tuple[pd.DataFrame, TableInfo]:
    """A visit-level table: 1-10 rows per patient, sensitive columns marked in every cell.
    ``benign`` keeps to odd columns that can be learned and to at least 10 rows."""
    if benign:
        min_rows, hostile_names = max(min_rows, 10), 0.0
    n_patients = int(rng.integers(2, max_patients + 1))
    visits = rng.integers(1, 11, n_patients)
    pid = np.repeat(np.arange(n_patients), visits)
    while len(pid) < min_rows:
        pid = np.concatenate([pid, pid])
    pid = pid[rng.permutation(len(pid))] if rng.random() < 0.3 else pid
    info = TableInfo(patients=n_patients, rows=len(pid))
    cols: dict[str, Any] = {}
    if sensitive:
        roles = list(rng.choice(list(SENSITIVE_NAMES), size=int(rng.integers(1, 6)), replace=False))
        for role in roles:
            name = pick(rng, SENSITIVE_NAMES[role])
            if name in cols:
                continue
            cols[name] = _sensitive_values(rng, role, pid)
            info.sensitive[name] = role
            for cell in cols[name]:
                info.markers.update((m.lower(), role) for m in MARKER_RE.findall(cell))
    cols.update(_plain_columns(rng, pid))
    if rng.random() < odd:
        kinds = [k for k in ODD_KINDS if not (benign and k in REFUSED_ODD)]
        for kind in rng.choice(kinds, size=int(rng.integers(1, 4)), replace=False):
            name = f"odd_{kind}"
            cols[name] = _odd_column(rng, str(kind), len(pid))
            info.odd.append(str(kind))
    names = list(cols)
    frame = pd.DataFrame(
        {k: (v.to_numpy() if isinstance(v, pd.Series) else v) for k, v in cols.items()}
    )
    if rng.random() < hostile_names:  # rename one non-sensitive column to something hostile
        plain = [c for c in names if c not in info.sensitive]
        if plain:
            old, new = pick(rng, plain), pick(rng, HOSTILE_NAMES)
            frame = frame.rename(columns={old: new})
            info.odd.append("hostile_name")
    if rng.random() < 0.02 and not benign:
        frame = frame.iloc[:1]
        info.odd.append("one_row")
        info.rows = info.patients = 1
    return frame, info


def clean_table(rng: np.random.Generator, n_patients: int = 30) -> tuple[pd.DataFrame, TableInfo]:
    """A well-formed visit-level table (no odd columns) that every synthesizer can fit."""
    return random_table(rng, odd=0.0, max_patients=n_patients, min_rows=60, benign=True)


def synthetic_like(rng: np.random.Generator, frame: pd.DataFrame, info: TableInfo) -> pd.DataFrame:
    """A stand-in 'synthetic' table built by the harness: real values shuffled per column,
    sensitive columns replaced by values without the marker."""
    out = {}
    for col in frame.columns:
        if col in info.sensitive:
            out[col] = [f"SYN-{i:05d} x" for i in range(len(frame))]
        else:
            state = int(rng.integers(1 << 30))
            out[col] = frame[col].sample(frac=1.0, random_state=state).to_numpy()
    return pd.DataFrame(out)


# --- files ------------------------------------------------------------------------------

BENIGN_VARIANTS = ("csv", "csv", "csv", "parquet", "parquet", "tsv", "csv-bom", "csv-crlf")
FILE_VARIANTS = {
    "csv": 40,
    "csv-bom": 4,
    "csv-crlf": 4,
    "csv-semicolon": 5,
    "tsv": 4,
    "parquet": 14,
    "parquet-odd": 5,
    "truncated": 5,
    "latin1": 3,
    "empty": 1.5,
    "header-only": 1.5,
    "huge-header": 1.5,
    "blank-header": 2,
    "garbage": 1.5,
    "wrong-ext": 1.5,
    "folder": 1,
    "missing": 1,
    "nul-bytes": 1.5,
    "gzip": 1,
    "unclosed-quote": 2,
    "dup-header": 1.5,
}


def _csv_text(frame: pd.DataFrame, sep: str = ",") -> str:
    return frame.to_csv(index=False, sep=sep)


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns pyarrow cannot store become text."""
    out = frame.copy()
    for col in out.columns:
        try:
            import pyarrow as pa

            pa.array(out[col])
        except Exception:  # noqa: BLE001 - any unconvertible column is stored as its text
            out[col] = out[col].astype(str)
    return out


def _odd_parquet(rng: np.random.Generator, frame: pd.DataFrame, path: Path) -> None:
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(_parquet_safe(frame), preserve_index=False)
    n = len(frame)
    extra = {
        "decimal": pa.array(
            [decimal.Decimal(f"{v:.2f}") for v in rng.normal(50, 10, n)], type=pa.decimal128(9, 2)
        ),
        "duration": pa.array(rng.integers(0, 10**9, n), type=pa.duration("s")),
        "time": pa.array(rng.integers(0, 86_400, n).astype("int32"), type=pa.time32("s")),
        "date32": pa.array(rng.integers(-400_000, 2_900_000, n).astype("int32"), type=pa.date32()),
        "large_string": pa.array(list(rng.choice(["u", "v"], n)), type=pa.large_string()),
        "dictionary": pa.array(list(rng.choice(["p", "q", "r"], n))).dictionary_encode(),
        "list": pa.array([list(rng.integers(0, 3, 2)) for _ in range(n)]),
        "struct": pa.array([{"x": int(v)} for v in rng.integers(0, 5, n)]),
        "binary": pa.array([bytes([int(v)]) for v in rng.integers(0, 256, n)], type=pa.binary()),
        "uint64": pa.array(np.full(n, 2**64 - 1, dtype=np.uint64)),
        "nulls": pa.nulls(n),
        "ts_tz": pa.array(rng.integers(0, 10**9, n), type=pa.timestamp("s", tz="America/New_York")),
        "ts_ms_far": pa.array(rng.integers(-(10**13), 10**14, n), type=pa.timestamp("ms")),
        "float16": pa.array(rng.normal(size=n).astype(np.float16), type=pa.float16()),
    }
    chosen = rng.choice(list(extra), size=int(rng.integers(1, 4)), replace=False)
    for name in chosen:
        table = table.append_column(f"pq_{name}", extra[str(name)])
    pq.write_table(table, path)


def write_table_file(
    rng: np.random.Generator,
    frame: pd.DataFrame,
    folder: Path,
    stem: str = "real",
    variant: str | None = None,
    benign: bool = False,
) -> tuple[Path, str]:
    """Write ``frame`` in a random (often broken) file form; returns (path, variant)."""
    if variant is None:
        variant = pick(rng, BENIGN_VARIANTS) if benign else weighted(rng, FILE_VARIANTS)
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{stem}.csv"
    if variant == "csv":
        csv.write_text(_csv_text(frame), encoding="utf-8", errors="replace")
        return csv, variant
    if variant == "csv-bom":
        csv.write_bytes(b"\xef\xbb\xbf" + _csv_text(frame).encode("utf-8", "replace"))
        return csv, variant
    if variant == "csv-crlf":
        csv.write_bytes(frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8", "replace"))
        return csv, variant
    if variant == "csv-semicolon":
        csv.write_text(_csv_text(frame, ";"), encoding="utf-8", errors="replace")
        return csv, variant
    if variant == "tsv":
        path = folder / f"{stem}.tsv"
        path.write_text(_csv_text(frame, "\t"), encoding="utf-8", errors="replace")
        return path, variant
    if variant in ("parquet", "parquet-odd"):
        path = folder / f"{stem}.parquet"
        if variant == "parquet":
            _parquet_safe(frame).to_parquet(path, index=False)
        else:
            _odd_parquet(rng, frame, path)
        return path, variant
    if variant == "truncated":
        data = _csv_text(frame).encode("utf-8", "replace")
        if rng.random() < 0.3:
            path = folder / f"{stem}.parquet"
            buf = path
            _parquet_safe(frame).to_parquet(buf, index=False)
            data = buf.read_bytes()
            buf.write_bytes(data[: int(rng.integers(1, max(2, len(data))))])
            return path, "truncated-parquet"
        csv.write_bytes(data[: int(rng.integers(1, max(2, len(data))))])
        return csv, variant
    if variant == "latin1":
        text = _csv_text(frame) + "Müller,ñ\n"
        csv.write_bytes(text.encode("latin-1", "replace"))
        return csv, variant
    if variant == "empty":
        csv.write_bytes(b"" if rng.random() < 0.5 else b"\n\n\n")
        return csv, variant
    if variant == "header-only":
        csv.write_text(",".join(map(str, frame.columns)) + "\n", encoding="utf-8", errors="replace")
        return csv, variant
    if variant == "huge-header":
        wide = pd.DataFrame(rng.integers(0, 9, (len(frame), int(rng.integers(500, 3000)))))
        wide.columns = [
            f"c{i}" if rng.random() < 0.9 else "h" * 5000 + str(i) for i in range(wide.shape[1])
        ]
        csv.write_text(
            _csv_text(pd.concat([frame.reset_index(drop=True), wide], axis=1)),
            encoding="utf-8",
            errors="replace",
        )
        return csv, variant
    if variant == "blank-header":
        copy = frame.copy()
        copy.columns = ["" if i % 2 else c for i, c in enumerate(copy.columns)]
        csv.write_text(_csv_text(copy), encoding="utf-8", errors="replace")
        return csv, variant
    if variant == "dup-header":
        copy = frame.copy()
        copy.columns = (
            [str(copy.columns[0])] * 2 + list(map(str, copy.columns[2:]))
            if copy.shape[1] > 1
            else copy.columns
        )
        csv.write_text(_csv_text(copy), encoding="utf-8", errors="replace")
        return csv, variant
    if variant == "garbage":
        path = folder / f"{stem}{pick(rng, ('.csv', '.parquet', '.tsv'))}"
        path.write_bytes(bytes(rng.integers(0, 256, int(rng.integers(1, 4000))).astype(np.uint8)))
        return path, variant
    if variant == "wrong-ext":
        path = folder / f"{stem}{pick(rng, ('.xlsx', '.txt', '', '.CSV', '.json', '.csv.gz'))}"
        path.write_text(_csv_text(frame), encoding="utf-8", errors="replace")
        return path, variant
    if variant == "folder":
        path = folder / f"{stem}.csv"
        path.mkdir()
        return path, variant
    if variant == "missing":
        return folder / f"{stem}-missing.csv", variant
    if variant == "nul-bytes":
        text = _csv_text(frame).encode("utf-8", "replace")
        cut = int(rng.integers(0, len(text)))
        csv.write_bytes(text[:cut] + b"\x00\x00" + text[cut:])
        return csv, variant
    if variant == "gzip":
        csv.write_bytes(gzip.compress(_csv_text(frame).encode("utf-8", "replace")))
        return csv, variant
    if variant == "unclosed-quote":
        csv.write_text(_csv_text(frame) + '"unterminated,1,2\n', encoding="utf-8", errors="replace")
        return csv, variant
    raise AssertionError(variant)


# --- arguments --------------------------------------------------------------------------

ROWS = (
    "0",
    "-1",
    "1",
    "2",
    "7",
    "50",
    "120",
    "1e15",
    "abc",
    "1000000000000000",
    "9223372036854775808",
    "",
    "1.5",
    "0x10",
    "1_000",
    "٣",
    " 5",
)
SEEDS = (
    "0",
    "1",
    "-1",
    "4294967296",
    "9223372036854775807",
    "18446744073709551616",
    "abc",
    "1.5",
    "-0",
    "",
)


def hostile_rows(rng: np.random.Generator, benign: bool = False) -> str:
    if benign or rng.random() >= 0.3:
        return str(int(rng.integers(1, 120)))
    return pick(rng, ROWS)


def hostile_seed(rng: np.random.Generator, benign: bool = False) -> str | None:
    if rng.random() < 0.5:
        return None
    if benign or rng.random() >= 0.3:
        return str(int(rng.integers(0, 2**31)))
    return pick(rng, SEEDS)


def _category_values(series: pd.Series) -> list[Any]:
    try:
        return list(series.dropna().unique()[:5])
    except TypeError:  # unhashable cells (lists, dicts)
        return []


def hostile_conditions(
    rng: np.random.Generator, frame: pd.DataFrame, info: TableInfo, benign: bool = False
) -> list[str]:
    """``-c`` values: real categories and ranges, unknown columns and categories, repeats,
    absurd ranges; never a patient's marked value. ``benign``: one real category or range."""
    plain = [str(c) for c in frame.columns if c not in info.sensitive]
    items: list[str] = []
    for _ in range(1 if benign else int(rng.integers(1, 4))):
        style = (
            pick(rng, ("category", "range"))
            if benign
            else weighted(
                rng,
                {
                    "category": 4,
                    "range": 4,
                    "unknown-column": 1,
                    "sensitive": 1,
                    "unknown-value": 1,
                    "absurd": 2,
                    "malformed": 1,
                    "repeat": 1,
                },
            )
        )
        column = pick(rng, plain) if plain else "age"
        if style == "category":
            values = _category_values(frame[column]) if column in frame else []
            value = pick(rng, values) if values else "x"
            items.append(f"{column}={_clean(str(value))}")
        elif style == "range":
            low, high = sorted(rng.integers(0, 100, 2))
            items.append(f"{column}={pick(rng, (f'{low}..{high}', f'{low}..', f'..{high}'))}")
        elif style == "unknown-column":
            items.append(f"{pick(rng, ('nope', 'Age', 'ΑΓΕ', '', '[/]'))}=1")
        elif style == "sensitive" and info.sensitive:
            items.append(f"{pick(rng, list(info.sensitive))}=someone")
        elif style == "unknown-value":
            items.append(f"{column}={pick(rng, HOSTILE_TEXT)}")
        elif style == "absurd":
            items.append(
                f"{column}="
                + pick(
                    rng,
                    (
                        "90..18",
                        "1e308..1e309",
                        "-inf..inf",
                        "nan",
                        "inf",
                        "..",
                        "1066-01-01..9999-12-31",
                        "abc..xyz",
                        "1e-320",
                        "9" * 400,
                        "0..0",
                        "-0.0",
                        "2020-13-45",
                    ),
                )
            )
        elif style == "malformed":
            items.append(pick(rng, ("=", "age", "age=", "=5", "a=b=c", "age==5", " = ")))
        else:
            items += [f"{column}=1", f"{column}=2"]
    return items


PARAMS_COPULA = (
    "n_quantiles=abc",
    "=5",
    "n_quantiles=-1",
    "n_quantiles=1e308",
    "n_quantiles=true",
    "n_quantiles=[1,2]",
    "n_quantiles={}",
    "n_quantiles=NaN",
    "missing_tree_depth=40",
    "seed=5",
    "progress=1",
    "__class__=x",
    "n_quantiles=3",
    "missing_min_leaf=0",
    "n_quantiles=100000",
    "junk",
    "steps=10",
    "n_quantiles=1" + "0" * 30,
)


def hostile_params(rng: np.random.Generator) -> list[str]:
    return list(rng.choice(PARAMS_COPULA, size=int(rng.integers(1, 3)), replace=False))
