"""Clinical notes for synthetic patients: one short narrative per row, consistent with it.

Offline, varied templates write the notes; with an OpenAI-compatible LLM configured, the LLM
writes them and :func:`check_note` accepts only notes that state nothing the row contradicts
or lacks (rejected notes are re-asked, then replaced by the template note).

Examples:
    >>> from synthpatient.notes import write_notes, check_note
    >>> notes = write_notes(synthetic, kind="admission", seed=0)
    >>> notes.attrs["notes_report"]["template_fallbacks"]
    0
    >>> check_note("A 54-year-old man.", {"age": 61, "sex": "male"})
    ['says age is 54 but the row has 61']
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pandas as pd

from synthpatient._random import as_generator
from synthpatient.errors import InvalidParameterError, SynthPatientWarning
from synthpatient.notes._check import check_note
from synthpatient.notes._llm import LLMNoteWriter, NotesReport, row_facts
from synthpatient.notes._profile import TableProfile, profile_table
from synthpatient.notes._templates import TemplateWriter
from synthpatient.schema import Schema

__all__ = [
    "NoteWriter",
    "NotesReport",
    "TableProfile",
    "check_note",
    "note_diversity",
    "profile_table",
    "row_facts",
    "write_notes",
]

KINDS = ("visit", "admission")


class NoteWriter:
    """Writes a note per row of a table; ``report`` says where each note came from.

    Args:
        kind: "visit" or "admission".
        llm: an :class:`~synthpatient.llm.LLMClient`, or None for offline templates.
        max_attempts: LLM answers tried per row before the template note is used.
        max_consecutive_failures: failed requests in a row after which the LLM is switched
            off for the remaining rows (their notes come from templates).
    """

    def __init__(
        self,
        *,
        kind: str = "visit",
        llm: Any = None,
        max_attempts: int = 2,
        max_consecutive_failures: int = 3,
    ) -> None:
        if kind not in KINDS:
            raise InvalidParameterError(
                f"The note kind must be one of {', '.join(KINDS)}. Got {kind!r}."
            )
        for name, value in (
            ("max_attempts", max_attempts),
            ("max_consecutive_failures", max_consecutive_failures),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameterError(f"{name} must be a whole number >= 1. Got {value!r}.")
        if llm is not None and not callable(getattr(llm, "chat", None)):
            raise InvalidParameterError(
                "llm must be an LLMClient (or None for offline "
                f"templates). Got {type(llm).__name__}."
            )
        self.kind, self.llm = kind, llm
        self.max_attempts, self.max_consecutive_failures = max_attempts, max_consecutive_failures
        self.report = NotesReport()

    def write(
        self,
        table: pd.DataFrame,
        *,
        schema: Schema | None = None,
        seed: Any = None,
        column: str = "note",
        profile: TableProfile | None = None,
    ) -> pd.Series:
        """One note per row of ``table``, index aligned; the same seed gives the same
        template notes."""
        if not isinstance(table, pd.DataFrame):
            raise InvalidParameterError(f"Expected a pandas DataFrame; got {type(table).__name__}.")
        self.report = NotesReport(n_rows=len(table), llm=self.llm is not None)
        if len(table) == 0:
            return pd.Series([], index=table.index, dtype=object, name=column)
        if len(set(map(str, table.columns))) != table.shape[1]:
            raise InvalidParameterError("The table has duplicate column names; rename them.")
        profile = profile or profile_table(table, schema=schema)
        rng = as_generator(seed)
        writer = TemplateWriter(profile, self.kind)
        rows = table.to_dict("records")
        notes = [writer.note(row, rng) for row in rows]
        if self.llm is not None:
            self._ask_llm(rows, notes, profile, column)
        return pd.Series(notes, index=table.index, dtype=object, name=column)

    def _ask_llm(
        self, rows: list[dict[str, Any]], notes: list[str], profile: TableProfile, column: str
    ) -> None:
        writer = LLMNoteWriter(
            self.llm,
            profile,
            kind=self.kind,
            column=column,
            max_attempts=self.max_attempts,
            max_consecutive_failures=self.max_consecutive_failures,
        )
        for index, row in enumerate(rows):
            note = writer.note(row, self.report)
            if note is None:
                self.report.template_fallbacks += 1
            else:
                notes[index] = note
        if self.report.stopped:
            warnings.warn(
                "The LLM was switched off after repeated failures; the remaining "
                f"notes come from templates. Last error: {self.report.stopped}",
                SynthPatientWarning,
                stacklevel=3,
            )


def write_notes(
    table: pd.DataFrame,
    *,
    schema: Schema | None = None,
    kind: str = "visit",
    llm: Any = None,
    seed: Any = None,
    max_attempts: int = 2,
    max_consecutive_failures: int = 3,
    column: str = "note",
) -> pd.Series:
    """One short clinical note per row, consistent with the row (see :class:`NoteWriter`).

    The returned Series carries the :class:`NotesReport` as a dict in
    ``series.attrs["notes_report"]``.

    Raises:
        InvalidParameterError: a bad kind or setting.
        LLMError: the LLM is misconfigured (wrong key, unknown model, unreachable server),
            found on the first request.
    """
    writer = NoteWriter(
        kind=kind,
        llm=llm,
        max_attempts=max_attempts,
        max_consecutive_failures=max_consecutive_failures,
    )
    notes = writer.write(table, schema=schema, seed=seed, column=column)
    notes.attrs["notes_report"] = writer.report.as_dict()
    return notes


_TOKEN = re.compile(r"[a-z]+|[^\sa-z]")
_VALUE = re.compile(
    r"\d+(?:[.,/:-]\d+)*|\b(?:january|february|march|april|may|june|july|"
    r"august|september|october|november|december)\b"
)


def note_diversity(notes: Iterable[str], table: pd.DataFrame | None = None) -> dict[str, float]:
    """How alike the notes are, with every number and date (and, given the table, every
    value of the row) replaced by a placeholder, so only the wording counts.

    Returns ``distinct_4gram_ratio`` (distinct word 4-grams / all 4-grams),
    ``distinct_structure_share`` (distinct masked notes / notes) and ``top_structure_share``
    (the share of the most common masked note).
    """
    notes = list(notes)
    rows = table.to_dict("records") if table is not None else [{}] * len(notes)
    skeletons = []
    grams: list[tuple[str, ...]] = []
    for note, row in zip(notes, rows, strict=True):
        text = note.lower()
        for value in row.values():
            if isinstance(value, str) and value:
                text = text.replace(value.lower(), " V ")
        text = _VALUE.sub(" # ", text)
        tokens = _TOKEN.findall(text)
        skeletons.append(" ".join(tokens))
        grams += [tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3)]
    counts = Counter(skeletons)
    n = max(len(notes), 1)
    return {
        "distinct_4gram_ratio": len(set(grams)) / max(len(grams), 1),
        "distinct_structure_share": len(counts) / n,
        "top_structure_share": (counts.most_common(1)[0][1] / n) if counts else 0.0,
    }
