"""Offline notes: varied templates that state a row's values and nothing else.

Variety comes from several headers, openings, list styles, verbs, joins, synonyms and a
shuffled order of the middle sections, all drawn from one seeded generator, so the same seed
gives the same notes. Every value is written right after its label (``HbA1c 7.1%``, ``BMI was
31.2 kg/m2``) so that :func:`synthpatient.notes.check_note` can read it back; missing values
are said to be "not recorded" or left out, never filled in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.notes._profile import (
    LAB_ROLES,
    MISSING_TEXT,
    VITAL_ROLES,
    ColumnRole,
    TableProfile,
    as_number,
    format_number,
    is_missing,
    sex_of,
    smoking_states,
)

NoteKind = str  # "visit" or "admission"

HEADERS = {
    "visit": (
        "Clinic visit note.",
        "Outpatient review.",
        "Follow-up visit.",
        "Visit summary.",
        "Progress note.",
        "Clinic letter.",
    ),
    "admission": (
        "Admission note.",
        "Hospital admission.",
        "Admission summary.",
        "Admitting note.",
        "Inpatient admission record.",
    ),
}
SETTINGS = {
    "visit": (
        " seen in clinic",
        " reviewed in the outpatient clinic",
        " attending for review",
        " seen for follow-up",
        "",
    ),
    "admission": (
        " admitted to hospital",
        " admitted to the ward",
        " admitted for assessment",
        " admitted",
    ),
}
CLOSINGS = (
    "Plan: continue routine follow-up.",
    "Follow-up as planned.",
    "Findings reviewed with the patient.",
    "Next review to be arranged.",
    "No further comments.",
    "Plan discussed and agreed.",
    "",
)
VITAL_INTROS = ("Vital signs", "Observations", "On examination", "Examination")
LAB_INTROS = ("Laboratory results", "Labs", "Blood tests", "Recent bloods", "Results")
OTHER_INTROS = ("Other results", "Further values", "Additional measurements", "Also recorded")
VERBS = ("measured", "recorded", "documented", "noted")
DATE_FORMATS = ("%Y-%m-%d", "{day} %B %Y", "%B {day}, %Y")
_VERB_STARTS = {"is", "has", "takes", "does"}


def _pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(parts: list[str], rng: np.random.Generator) -> str:
    if len(parts) == 1:
        return parts[0]
    style = int(rng.integers(3))
    if style == 0:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    return ("; " if style == 1 else ", ").join(parts)


def format_value(column: ColumnRole, value: Any) -> str:
    """A value as a note writes it: rounded numbers with units, plain category labels."""
    number = column.number(value)
    if number is not None and column.kind in ("numeric", "integer"):
        text = format_number(number, column.shown_decimals(number))
        if column.unit:
            text += column.unit if column.unit.startswith("%") else f" {column.unit}"
        return text
    return str(value)


def format_date(value: Any, rng: np.random.Generator) -> str:
    stamp = pd.Timestamp(value)
    pattern = _pick(rng, DATE_FORMATS)
    return stamp.strftime(pattern.replace("{day}", str(stamp.day)))


class TemplateWriter:
    """Writes one note per row from a :class:`TableProfile`."""

    def __init__(self, profile: TableProfile, kind: NoteKind = "visit") -> None:
        self.profile = profile
        self.kind = kind

    # -- the note ------------------------------------------------------------------------------
    def note(self, row: Mapping[str, Any], rng: np.random.Generator) -> str:
        """Header, opening, the middle sections in a random order, a neutral closing."""
        pronoun = {"female": "she", "male": "he"}.get(self._sex(row) or "", "the patient")
        used: set[str] = set()
        parts = [self._header(row, rng, used), self._opening(row, rng, used)]
        builders: list[Callable[[], str]] = [
            lambda: self._values(row, rng, used, VITAL_ROLES, VITAL_INTROS, pronoun),
            lambda: self._values(row, rng, used, LAB_ROLES, LAB_INTROS, pronoun),
            lambda: self._flags(row, rng, used, pronoun),
            lambda: self._smoking(row, rng, used, pronoun),
            lambda: self._categories(row, rng, used),
            lambda: self._dates(row, rng, used),
            lambda: self._death(row, rng, used, pronoun),
        ]
        for index in rng.permutation(len(builders)):
            parts.append(builders[int(index)]())
        parts.append(self._values(row, rng, used, None, OTHER_INTROS, pronoun))
        if len(used) <= sum(c.role == "identifier" for c in self.profile.columns.values()):
            parts.append("No clinical values are recorded.")
        parts.append(_pick(rng, CLOSINGS))
        return " ".join(p for p in parts if p)

    def _sex(self, row: Mapping[str, Any]) -> str | None:
        column = self.profile.first("sex")
        return sex_of(row.get(column.name)) if column else None

    def _header(self, row: Mapping[str, Any], rng: np.random.Generator, used: set[str]) -> str:
        header = _pick(rng, HEADERS[self.kind])
        names = [
            c
            for c in self.profile.by_role("identifier")
            if c.identifier_type in ("name", "first_name", "last_name")
        ]
        ids = [
            c
            for c in self.profile.by_role("identifier")
            if c.identifier_type in ("integer_id", "string_id")
        ]
        who = " ".join(str(row[c.name]) for c in names if not is_missing(row.get(c.name)))
        ident = next((str(row[c.name]) for c in ids if not is_missing(row.get(c.name))), "")
        used.update(c.name for c in names + ids)
        if who and ident:
            return f"{header} Patient: {who} (record {ident})."
        if who or ident:
            return f"{header} Patient: {who or 'record ' + ident}."
        return header

    def _opening(self, row: Mapping[str, Any], rng: np.random.Generator, used: set[str]) -> str:
        age_col, sex_col = self.profile.first("age"), self.profile.first("sex")
        age = as_number(row.get(age_col.name)) if age_col else None
        sex = self._sex(row)
        noun = {"female": ("woman", "female patient"), "male": ("man", "male patient")}.get(
            sex or "", ("patient",)
        )
        noun_text = _pick(rng, noun)
        extra = ""
        if sex_col is not None:
            used.add(sex_col.name)
            value = row.get(sex_col.name)
            if is_missing(value):
                extra = f" ({sex_col.label} {MISSING_TEXT})"
            elif sex is None:  # a code whose meaning the data does not give: say it is a code
                extra = _pick(
                    rng,
                    (
                        f" ({sex_col.label} code {value})",
                        f" (recorded {sex_col.label} code {value})",
                    ),
                )
        setting = self._setting(row, rng, used)
        if age_col is not None:
            used.add(age_col.name)
        if age is None:
            tail = f" {_cap(age_col.label)} {MISSING_TEXT}." if age_col is not None else ""
            return f"{_cap(noun_text)}{extra}{setting}.{tail}"
        years = format_number(age, 0)
        article = "An" if years.startswith("8") or years in ("11", "18") else "A"
        style = int(rng.integers(3))
        if style == 0:
            return f"{article} {years}-year-old {noun_text}{extra}{setting}."
        if style == 1:
            return f"{_cap(noun_text)}{extra}, aged {years},{setting or ' seen'}."
        return (
            f"Patient aged {years} years{extra}{setting}."
            if sex is None
            else f"{_cap(noun_text)}, {years} years old{extra},{setting or ' seen'}."
        )

    def _setting(self, row: Mapping[str, Any], rng: np.random.Generator, used: set[str]) -> str:
        setting = _pick(rng, SETTINGS[self.kind])
        admission = self.profile.first("admission_date")
        if self.kind == "admission" and admission is not None:
            value = row.get(admission.name)
            if not is_missing(value):
                used.add(admission.name)
                return f" admitted on {format_date(value, rng)}"
        return setting

    # -- sections ------------------------------------------------------------------------------
    def _numeric_columns(self, roles: Sequence[str] | None, used: set[str]) -> list[ColumnRole]:
        columns = [
            c
            for c in self.profile.columns.values()
            if c.name not in used
            and c.kind in ("numeric", "integer")
            and c.role not in ("age", "sex", "smoking", "identifier")
        ]
        if roles is None:
            return columns
        return sorted((c for c in columns if c.role in roles), key=lambda c: roles.index(c.role))

    def _values(
        self,
        row: Mapping[str, Any],
        rng: np.random.Generator,
        used: set[str],
        roles: Sequence[str] | None,
        intros: Sequence[str],
        pronoun: str,
    ) -> str:
        """Labelled values in one of several list styles; missing ones said or left out."""
        columns = self._numeric_columns(roles, used)
        used.update(c.name for c in columns)
        items, missing = self._items(row, columns)
        sentences = []
        for start in range(0, len(items), 6):
            sentences.append(self._list_sentence(items[start : start + 6], rng, intros, pronoun))
        if missing and rng.random() < 0.6:
            labels = ", ".join(missing)
            sentences.append(
                _pick(rng, (f"{_cap(labels)} {MISSING_TEXT}.", f"Not recorded: {labels}."))
            )
        return " ".join(sentences)

    def _items(
        self, row: Mapping[str, Any], columns: list[ColumnRole]
    ) -> tuple[list[tuple[str, str]], list[str]]:
        items: list[tuple[str, str]] = []
        missing: list[str] = []
        by_role = {c.role: c for c in columns}
        pair = by_role.get("sbp"), by_role.get("dbp")
        paired = (
            pair[0] is not None
            and pair[1] is not None
            and not any(is_missing(row.get(c.name)) for c in pair if c is not None)
        )
        for column in columns:
            if paired and column.role in ("sbp", "dbp"):
                systolic, diastolic = pair
                if column.role == "sbp" and systolic is not None and diastolic is not None:
                    text = (
                        f"{format_number(float(row[systolic.name]), 0)}/"
                        f"{format_number(float(row[diastolic.name]), 0)} mmHg"
                    )
                    items.append(("blood pressure", text))
                continue
            value = row.get(column.name)
            if is_missing(value):
                missing.append(column.label)
            else:
                items.append((column.label, format_value(column, value)))
        return items, missing

    @staticmethod
    def _list_sentence(
        items: list[tuple[str, str]], rng: np.random.Generator, intros: Sequence[str], pronoun: str
    ) -> str:
        if not items:
            return ""
        style = int(rng.integers(5))
        if style == 0:
            return f"{_pick(rng, intros)}: " + _join([f"{k} {v}" for k, v in items], rng) + "."
        if style == 1:
            return _cap(_join([f"{k} was {v}" for k, v in items], rng)) + "."
        if style == 2:
            verb = _pick(rng, VERBS)
            return _cap(_join([f"{k} {verb} at {v}" for k, v in items], rng)) + "."
        if style == 3:
            return f"{_pick(rng, intros)}: " + _join([f"{k} = {v}" for k, v in items], rng) + "."
        lead = _pick(rng, (f"{_cap(pronoun)} had", "Findings include", "Values include"))
        return f"{lead} " + _join([f"{k} of {v}" for k, v in items], rng) + "."

    def _flags(
        self, row: Mapping[str, Any], rng: np.random.Generator, used: set[str], pronoun: str
    ) -> str:
        verb_phrases: list[str] = []
        label_phrases: list[str] = []
        missing: list[str] = []
        for column in self.profile.by_role("generic_boolean"):
            used.add(column.name)
            value = row.get(column.name)
            if is_missing(value):
                missing.append(f"{column.label}: {MISSING_TEXT}")
                continue
            assert column.phrases is not None
            phrase = _pick(rng, column.phrases[0] if bool(value) else column.phrases[1])
            target = verb_phrases if phrase.split()[0] in _VERB_STARTS else label_phrases
            target.append(phrase)
        sentences = []
        if verb_phrases:
            sentences.append(f"{_cap(pronoun)} " + _join(verb_phrases, rng) + ".")
        if label_phrases:
            sentences.append(_cap("; ".join(label_phrases)) + ".")
        if missing and rng.random() < 0.6:
            sentences.append(_cap("; ".join(missing)) + ".")
        return " ".join(sentences)

    def _smoking(
        self, row: Mapping[str, Any], rng: np.random.Generator, used: set[str], pronoun: str
    ) -> str:
        column = self.profile.first("smoking")
        if column is None:
            return ""
        used.update(c.name for c in self.profile.by_role("smoking"))
        value = row.get(column.name)
        if is_missing(value):
            return _pick(rng, ("Smoking status not recorded.", ""))
        states = smoking_states(value)
        options = {
            frozenset({"never"}): (
                "has never smoked",
                "is a lifelong non-smoker",
                "is a never-smoker",
            ),
            frozenset({"former"}): ("is a former smoker", "is an ex-smoker", "quit smoking"),
            frozenset({"current"}): ("is a current smoker", "currently smokes", "smokes"),
            frozenset({"never", "former"}): ("does not currently smoke", "is a non-smoker"),
        }.get(states)
        if options is None:
            return f"Smoking status recorded as {value}."
        return f"{_cap(pronoun)} {_pick(rng, options)}."

    def _categories(self, row: Mapping[str, Any], rng: np.random.Generator, used: set[str]) -> str:
        parts = []
        for column in self.profile.by_role("generic_categorical"):
            used.add(column.name)
            value = row.get(column.name)
            if is_missing(value):
                if rng.random() < 0.5:
                    parts.append(f"{column.label}: {MISSING_TEXT}")
                continue
            text = format_value(column, value)
            parts.append(
                _pick(
                    rng,
                    (
                        f"{column.label}: {text}",
                        f"{column.label} recorded as {text}",
                        f"{column.label} was {text}",
                    ),
                )
            )
        return _cap("; ".join(parts)) + "." if parts else ""

    def _dates(self, row: Mapping[str, Any], rng: np.random.Generator, used: set[str]) -> str:
        parts = []
        for column in self.profile.columns.values():
            if column.kind != "datetime" or column.name in used:
                continue
            used.add(column.name)
            value = row.get(column.name)
            if is_missing(value):
                continue
            date = format_date(value, rng)
            label = column.label
            options = (
                (f"{label}: {date}", f"{label} was {date}", f"{label} {date}")
                if label.endswith("date")
                else (f"{label}: {date}", f"{label} on {date}")
            )
            parts.append(_pick(rng, options))
        return _cap("; ".join(parts)) + "." if parts else ""

    def _death(
        self, row: Mapping[str, Any], rng: np.random.Generator, used: set[str], pronoun: str
    ) -> str:
        column = self.profile.first("death")
        if column is None:
            return ""
        used.update(c.name for c in self.profile.by_role("death"))
        value = row.get(column.name)
        if is_missing(value):
            return _pick(rng, ("Outcome not recorded.", ""))
        if bool(value):
            return _pick(
                rng,
                (
                    f"{_cap(pronoun)} died.",
                    "Outcome: died.",
                    f"{_cap(pronoun)} is recorded as deceased.",
                ),
            )
        return _pick(
            rng, (f"{_cap(pronoun)} survived.", "Outcome: alive.", f"{_cap(pronoun)} did not die.")
        )
