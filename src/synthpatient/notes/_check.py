"""The consistency check: does a note state anything its row does not say?

The same checker judges the offline templates (in the tests) and every answer of an LLM (at run
time, before a note is accepted). It reads the note back:

- every number: a number right after a column's label (``HbA1c 7.4%``, ``BMI was 31``,
  ``72-year-old``, ``130/85 mmHg``) must equal that column's value up to the rounding the note
  wrote; a number for a missing value is invented; any other number must be one of the row's;
- every date likewise (ISO, ``4 March 2021`` or ``March 4, 2021``);
- yes/no flags and outcomes: "not on insulin" against ``on_insulin``, "died"/"survived";
- sex (gendered words against the row's sex; none allowed when it is unknown or coded),
  smoking status (never / former / current), and category labels of other columns.

It is deliberately strict (an unexplained number is a problem), since a rejected LLM note only
costs a retry or a template note, while a contradicting note would mislead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from synthpatient.notes._profile import (
    ALIVE_WORDS,
    ColumnRole,
    TableProfile,
    as_number,
    format_number,
    is_missing,
    profile_table,
    sex_of,
    smoking_states,
)

PAIR = "__blood_pressure_pair__"
_UNITS_WITH_DIGITS = (
    "kg/m2",
    "x10^9/l",
    "x10^12/l",
    "10^9/l",
    "10^12/l",
    "m2",
    "1.73 m2",
    "1.73m2",
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|"
    "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE_PATTERNS = (
    re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?:[ t]\d{1,2}:\d{2}(?::\d{2})?)?(?!\d)"),
    re.compile(rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th)? ({_MONTHS})\.?,? (\d{{4}})(?!\d)"),
    re.compile(rf"\b({_MONTHS})\.? (\d{{1,2}})(?:st|nd|rd|th)?,? (\d{{4}})(?!\d)"),
    re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)"),
)
_NUMBER = re.compile(r"(?<![a-z0-9.,^_])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
_AGE_AFTER = re.compile(
    r"^\s*(?:-|\s)?\s*(?:years?|yrs?|y)[\s-]*(?:old|of age)\b|^\s*y/?o\b|"
    r"^-year\b"
)
_FRACTION_AFTER = re.compile(r"^\s*/\s*(\d+(?:\.\d+)?)")
_NUMBER_WORDS = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"\w+teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"[- ](?:years?[- ]old|per ?cent|percent|mmhg|mg/dl|mmol)"
)
_WHITELIST = re.compile(r"\btype [12]\b(?= diabet)")
_GAP_MAX = 40
_GAP_BAD = re.compile(r"[\d.;!?\n]")
_BOUNDARY_BEFORE = re.compile(r"[.;,:!?\n]|\band\b|\bbut\b|\bwhile\b|\bwhereas\b")
_BOUNDARY_AFTER = re.compile(r"[.;,!?\n]|\band\b|\bbut\b")
_NEGATION = re.compile(
    r"\b(?:not|no|non|without|denies|denied|never|nor|neither|negative "
    r"for|absence of|free of|off)\b|n't\b"
)
_UNKNOWN = re.compile(
    r"not recorded|not documented|unknown|unrecorded|missing|not known|"
    r"not available"
)
_AFTER_NO = re.compile(
    r"^\s*[:=-]?\s*(?:\w+\s+){0,2}?(?:no|false|absent|negative|none|not "
    r"present)\b"
)
_AFTER_YES = re.compile(r"^\s*[:=-]?\s*(?:\w+\s+){0,2}?(?:yes|true|present|positive)\b")
_FEMALE = re.compile(
    r"\b(?:she|her|hers|herself|woman|women|female|lady|girl|mrs\.?|ms\.)"
    r"(?![a-z])"
)
_MALE = re.compile(r"\b(?:he|him|his|himself|man|men|male|gentleman|boy|mr\.?)(?![a-z])")
_SMOKING = (
    (re.compile(r"\bnever[- ]?smok\w*|\bhas never smoked|\blifelong non-?smoker"), {"never"}),
    (
        re.compile(
            r"\b(?:former|ex-|ex |previous|past)\s*smoker|\bquit smoking|\bstopped "
            r"smoking|\bgave up smoking|\b(?:previously|formerly) smoked|\bused to smoke"
        ),
        {"former"},
    ),
    (
        re.compile(
            r"\bnon-?smoker|\bdo(?:es)? not (?:currently )?smoke|\bdoesn't (?:currently )?"
            r"smoke|\bnot (?:a )?(?:current )?smok\w*|\bdenies (?:current )?smoking|\bno "
            r"(?:current )?smoking"
        ),
        {"never", "former"},
    ),
    (
        re.compile(
            r"\bcurrent(?:ly)?\s+smok\w*|\bactive smoker|\bsmokes\b|\bis a smoker|\bdaily "
            r"smoker|\bheavy smoker"
        ),
        {"current"},
    ),
)
#: "smoking status: former", "smoker: no": the value is read like a table value
_SMOKING_LABEL = re.compile(
    r"\b(?:smoking(?: status)?|smoker|tobacco(?: use)?)\s*(?::|=|was|is|"
    r"recorded as)\s*([a-z][a-z-]*)"
)
_CATEGORY_STOPWORDS = {
    "yes",
    "no",
    "none",
    "other",
    "unknown",
    "normal",
    "true",
    "false",
    "missing",
    "never",
    "former",
    "current",
}


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    column: str
    text: str


def check_note(
    note: str, row: Mapping[str, Any] | pd.Series, *, profile: TableProfile | None = None
) -> list[str]:
    """Every way ``note`` contradicts ``row`` or states what the row does not hold.

    An empty list means the note is consistent. ``profile`` (from ``profile_table``) names
    the columns' roles; without it the row alone is profiled.

    Examples:
        >>> check_note("A 54-year-old man, HbA1c 9.1%.", {"age": 54, "sex": "male",
        ...            "hba1c": 7.2})
        ["says hba1c is 9.1 but the row has 7.2"]
    """
    row = dict(row.items()) if isinstance(row, pd.Series) else dict(row)
    if profile is None:
        profile = profile_table(pd.DataFrame([row]))
    return _Checker(note, row, profile).problems()


class _Checker:
    def __init__(self, note: str, row: dict[str, Any], profile: TableProfile) -> None:
        self.row, self.profile = row, profile
        self.text = self._mask(note.lower())
        self.found: list[str] = []
        self.matches = self._keyword_matches()

    # -- preparation ---------------------------------------------------------------------------
    def _mask(self, text: str) -> str:
        """Blank identifier values (synthetic names may hold "Mrs"), units with digits and
        whitelisted phrases, keeping every other character where it was."""
        spans = []
        for column in self.profile.columns.values():
            value = self.row.get(column.name)
            if column.role == "identifier" and not is_missing(value):
                token = str(value).lower()
                if token and not token.isdigit():
                    spans += [m.span() for m in re.finditer(re.escape(token), text)]
        for unit in {
            *_UNITS_WITH_DIGITS,
            *(u.lower() for u in self.profile.units if re.search(r"\d", u)),
        }:
            spans += [
                m.span()
                for m in re.finditer(r"(?<![a-z0-9])" + re.escape(unit) + r"(?![a-z0-9])", text)
            ]
        spans += [m.span() for m in _WHITELIST.finditer(text)]
        chars = list(text)
        for start, end in spans:
            chars[start:end] = " " * (end - start)
        return "".join(chars)

    def _keywords(self) -> list[tuple[str, str]]:
        pairs = []
        for column in self.profile.columns.values():
            if column.role in ("identifier", "text", "smoking"):
                continue
            pairs += [(k, column.name) for k in column.keywords]
        roles = {c.role for c in self.profile.columns.values()}
        if {"sbp", "dbp"} <= roles and "bp" not in roles:
            pairs += [("blood pressure", PAIR), ("bp", PAIR)]
        return pairs

    def _keyword_matches(self) -> list[_Match]:
        """Label mentions, longest first, never overlapping (``LDL cholesterol`` is not also
        ``cholesterol``)."""
        candidates = []
        for keyword, column in self._keywords():
            words = [re.escape(w) for w in re.split(r"[\s_]+", keyword.lower()) if w]
            pattern = r"(?<![a-z0-9])" + r"[\s_/-]+".join(words) + r"(?![a-z0-9])"
            candidates += [
                _Match(m.start(), m.end(), column, m.group())
                for m in re.finditer(pattern, self.text)
            ]
        candidates.sort(key=lambda m: (-(m.end - m.start), m.start))
        taken: list[_Match] = []
        for match in candidates:
            if all(match.end <= t.start or match.start >= t.end for t in taken):
                taken.append(match)
        return sorted(taken, key=lambda m: m.start)

    def _label_before(self, position: int) -> _Match | None:
        """The label a value at ``position`` belongs to: the nearest one before it, within a
        short gap holding no digit and no end of sentence."""
        before = [m for m in self.matches if m.end <= position]
        if not before:
            return None
        match = before[-1]
        gap = self.text[match.end : position]
        if len(gap) > _GAP_MAX or _GAP_BAD.search(gap):
            return None
        return match

    def _column(self, name: str) -> ColumnRole | None:
        return self.profile.columns.get(name)

    # -- checks --------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        self._check_dates()
        self._check_numbers()
        self._check_flags()
        self._check_sex()
        self._check_smoking()
        self._check_categories()
        return list(dict.fromkeys(self.found))

    def _blank(self, start: int, end: int) -> None:
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]

    def _row_dates(self) -> dict[str, date]:
        out = {}
        for column in self.profile.columns.values():
            value = self.row.get(column.name)
            if column.kind == "datetime" and not is_missing(value):
                out[column.name] = pd.Timestamp(value).date()
        return out

    def _check_dates(self) -> None:
        row_dates = self._row_dates()
        for pattern in _DATE_PATTERNS:
            for m in list(pattern.finditer(self.text)):
                candidates = _parse_date(pattern, m)
                label = self._label_before(m.start())
                self._blank(*m.span())
                column = self._column(label.column) if label else None
                if column is not None and column.kind == "datetime":
                    value = row_dates.get(column.name)
                    if value is None:
                        self.found.append(f"states a date for {column.name}, which is not recorded")
                    elif value not in candidates:
                        self.found.append(
                            f"says {column.name} is {m.group()} but the row has {value.isoformat()}"
                        )
                elif not set(candidates) & set(row_dates.values()):
                    self.found.append(f"states the date {m.group()}, which is not in the row")

    def _allowed_numbers(self) -> list[float]:
        allowed: list[float] = []
        for column in self.profile.columns.values():
            value = self.row.get(column.name)
            if is_missing(value) or isinstance(value, bool):
                continue
            number = as_number(value)
            if number is not None:
                allowed.append(number)
                shown = column.number(value)  # a log column is written in its clinical unit
                if shown is not None and shown != number:
                    allowed.append(shown)
            elif column.kind == "datetime":  # a year alone ("in 2021"); a bare day or month
                allowed.append(pd.Timestamp(value).year)  # is too easy to invent
            else:
                allowed += [
                    float(x.replace(",", "")) for x in re.findall(r"\d+(?:\.\d+)?", str(value))
                ]
        return allowed

    def _check_numbers(self) -> None:
        for m in _NUMBER_WORDS.finditer(self.text):
            self.found.append(f"writes '{m.group()}' in words; numbers must be digits")
        allowed = self._allowed_numbers()
        pair_done: set[int] = set()
        for m in _NUMBER.finditer(self.text):
            if m.start() in pair_done:
                continue
            written = m.group()
            if (
                m.start() > 1
                and self.text[m.start() - 1] in "-\u2212"
                and (m.start() < 2 or self.text[m.start() - 2] in " (:=\n")
            ):
                written = "-" + written
            after = self.text[m.end() :]
            if _AGE_AFTER.search(after):
                age = self.profile.first("age")
                self._against(age.name if age else None, written, "age")
                continue
            label = self._label_before(m.start())
            fraction = _FRACTION_AFTER.match(after)
            if fraction and label and label.column in (PAIR, *self._names("sbp")):
                self._against(self._first_name("sbp"), written, "systolic blood pressure")
                self._against(
                    self._first_name("dbp"), fraction.group(1), "diastolic blood pressure"
                )
                pair_done.add(m.end() + fraction.start(1))
                continue
            if label is not None and label.column != PAIR:
                # the word before the label too: "ln triglycerides" names the log
                said = self.text[max(0, label.start - 6) : label.end]
                self._against(label.column, written, said)
            elif not any(_close(written, v) for v in allowed):
                self.found.append(f"states the number {written}, which is not in the row")

    def _names(self, role: str) -> list[str]:
        return [c.name for c in self.profile.by_role(role)]

    def _first_name(self, role: str) -> str | None:
        names = self._names(role)
        return names[0] if names else None

    def _against(self, name: str | None, written: str, said: str) -> None:
        """A number stated for column ``name``: must equal its value (rounding allowed)."""
        if name is None:
            self.found.append(f"states {said} {written}, but the table has no such column")
            return
        column = self.profile.columns[name]
        value = self.row.get(name)
        if is_missing(value):
            self.found.append(f"states {written} for {name}, which is not recorded")
            return
        if column.kind == "datetime":
            stamp = pd.Timestamp(value)
            ok = any(_close(written, v) for v in (stamp.year, stamp.month, stamp.day))
        elif isinstance(value, bool) or column.kind == "boolean":
            ok = _close(written, float(bool(value)))
        elif (number := _stated(column, value, said)) is not None:
            ok = _close(written, number)
        else:
            ok = written.lstrip("-") in re.findall(r"\d+(?:\.\d+)?", str(value))
        if not ok:
            shown = (
                format_number(number, None)
                if (number := _stated(column, value, said)) is not None
                else str(value)
            )
            self.found.append(f"says {name} is {written} but the row has {shown}")

    def _polarity(self, match: _Match) -> bool | None:
        """True (affirmed), False (denied) or None (said to be unknown) for a flag mention."""
        head = self.text[: match.start]
        cuts = list(_BOUNDARY_BEFORE.finditer(head))
        before = head[cuts[-1].end() :] if cuts else head
        tail = self.text[match.end :]
        stop = _BOUNDARY_AFTER.search(tail)
        after = tail[: stop.start()] if stop else tail
        if _UNKNOWN.search(before) or _UNKNOWN.search(after):
            return None
        if _AFTER_NO.search(after):
            return False
        if _AFTER_YES.search(after):
            return True
        return not _NEGATION.search(before)

    def _check_flags(self) -> None:
        for match in self.matches:
            column = self._column(match.column)
            if column is None or column.role not in ("generic_boolean", "death"):
                continue
            claim = self._polarity(match)
            if claim is None:
                continue
            if column.role == "death" and match.text in ALIVE_WORDS:
                claim = not claim
            value = self.row.get(column.name)
            if is_missing(value):
                self.found.append(f"states '{match.text}' but {column.name} is not recorded")
            elif bool(value) != claim:
                self.found.append(
                    f"says {column.name} is {claim} ('{match.text}') but the row has {bool(value)}"
                )

    def _check_sex(self) -> None:
        column = self.profile.first("sex")
        sex = sex_of(self.row.get(column.name)) if column else None
        female, male = _FEMALE.search(self.text), _MALE.search(self.text)
        if sex == "female" and male:
            self.found.append(f"uses '{male.group()}' but the patient is female")
        elif sex == "male" and female:
            self.found.append(f"uses '{female.group()}' but the patient is male")
        elif sex is None and (either := female or male):
            word = either.group()
            self.found.append(
                f"uses '{word}' but the row does not give the patient's sex as female or male"
            )

    def _check_smoking(self) -> None:
        column = self.profile.first("smoking")
        allowed = smoking_states(self.row.get(column.name)) if column else frozenset()
        text = self.text
        for m in _SMOKING_LABEL.finditer(text):
            said = smoking_states(m.group(1))
            if said and not said & allowed:
                self.found.append(f"says '{m.group()}' but smoking status is {self._shown(column)}")
        text = _SMOKING_LABEL.sub(lambda m: " " * len(m.group()), text)
        for pattern, states in _SMOKING:
            for m in pattern.finditer(text):
                if not states & allowed:
                    self.found.append(
                        f"says '{m.group()}' but smoking status is {self._shown(column)}"
                    )
            text = pattern.sub(lambda m: " " * len(m.group()), text)

    def _shown(self, column: ColumnRole | None) -> str:
        value = None if column is None else self.row.get(column.name)
        return "not recorded" if is_missing(value) else str(value)

    def _check_categories(self) -> None:
        strings = {str(v).lower() for v in self.row.values() if not is_missing(v)}
        for column in self.profile.by_role("generic_categorical"):
            value = self.row.get(column.name)
            own = "" if is_missing(value) else str(value).lower()
            for category in column.categories or ():
                word = str(category).lower()
                if (
                    word == own
                    or len(word) < 4
                    or word in _CATEGORY_STOPWORDS
                    or word.replace(".", "").isdigit()
                    or any(word in s for s in strings)
                ):
                    continue
                if re.search(r"(?<![a-z0-9])" + re.escape(word) + r"(?![a-z0-9])", self.text):
                    self.found.append(
                        f"mentions '{category}' but {column.name} is {own or 'not recorded'}"
                    )


_LOG_WORD = re.compile(r"(?<![a-z0-9])(?:log|ln|loge|log10|log2|lg)(?![a-z0-9])")


def _stated(column: ColumnRole, value: Any, said: str) -> float | None:
    """The number a label must be followed by: the stored log when the note names the log
    ("log triglycerides 4.86"), the value in its clinical unit otherwise ("triglycerides
    129 mg/dL")."""
    if column.log_base is not None and _LOG_WORD.search(said):
        return as_number(value)
    return column.number(value)


def _close(written: str, value: float) -> bool:
    """Equal up to the rounding the note wrote (``31`` or ``31.3`` for 31.27)."""
    number = float(written.replace(",", ""))
    decimals = len(written.split(".")[1]) if "." in written else 0
    return abs(number - float(value)) <= 0.5 * 10.0**-decimals + 1e-9 * max(1.0, abs(value))


_MONTH_NUMBER = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}


def _parse_date(pattern: re.Pattern[str], m: re.Match[str]) -> list[date]:
    """Every date the text can mean (day/month order is ambiguous in ``04/03/2021``)."""
    groups = m.groups()
    options: list[tuple[int, int, int]]
    if pattern is _DATE_PATTERNS[0]:
        options = [(int(groups[0]), int(groups[1]), int(groups[2]))]
    elif pattern is _DATE_PATTERNS[1]:
        options = [(int(groups[2]), _MONTH_NUMBER[groups[1]], int(groups[0]))]
    elif pattern is _DATE_PATTERNS[2]:
        options = [(int(groups[2]), _MONTH_NUMBER[groups[0]], int(groups[1]))]
    else:
        a, b, year = int(groups[0]), int(groups[1]), int(groups[2])
        options = [(year, b, a), (year, a, b)]
    out = []
    for year, month, day in options:
        try:
            out.append(date(year, month, day))
        except ValueError:
            continue
    return out
