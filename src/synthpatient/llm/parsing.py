"""Reading table rows out of what a language model actually answers.

Models wrap JSON in code fences and prose, stop mid-row when they hit ``max_tokens``, forget a
comma, write Python literals (``None``, ``True``, single quotes) or trailing commas. Rather
than trusting one ``json.loads`` of the whole answer, rows are read as the *flat* JSON objects
the answer contains: a wrapper such as ``{"rows": [...]}`` has nested objects and is skipped,
each row object is read on its own, so one broken row costs that row only and a cut-off array
still gives every row that was complete.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PY_LITERALS = re.compile(r"\b(None|True|False|NaN|nan)\b")
_PY_TO_JSON = {"None": "null", "True": "true", "False": "false", "NaN": "null", "nan": "null"}


@dataclass
class ParsedAnswer:
    """Rows found in one answer, and how the answer was shaped.

    ``strict`` means the answer (less code fences) was one valid JSON document;
    ``wrapped`` that prose surrounded the JSON; ``cut_off`` that an object was still open when
    the text ended (an answer cut mid-row); ``bad_fragments`` counts row-like objects that
    could not be read even after light repairs.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    strict: bool = False
    wrapped: bool = False
    cut_off: bool = False
    bad_fragments: int = 0
    repaired: int = 0


def parse_rows(text: str | None) -> ParsedAnswer:
    """Every flat JSON object in ``text``, in order; see the module docstring for why."""
    answer = ParsedAnswer()
    if not text:
        return answer
    body = _strip_fences(text)
    first = min((i for i in (body.find("{"), body.find("[")) if i != -1), default=-1)
    last = max(body.rfind("}"), body.rfind("]"))
    core = body[first : last + 1] if first != -1 and last > first else body
    answer.strict = _is_json_document(core)
    answer.wrapped = text.strip() != core.strip()
    for fragment, complete in _flat_objects(body):
        if not complete:
            answer.cut_off = True
            continue
        row, repaired = _load_object(fragment)
        if row is None:
            answer.bad_fragments += 1
        else:
            answer.rows.append(row)
            answer.repaired += repaired
    return answer


def _strip_fences(text: str) -> str:
    """The inside of the first ```json fence when there is one (even an unclosed one)."""
    start = text.find("```")
    if start == -1:
        return text.strip()
    newline = text.find("\n", start)
    inner_start = newline + 1 if newline != -1 else start + 3
    end = text.find("```", inner_start)
    return text[inner_start : end if end != -1 else len(text)].strip()


def _is_json_document(body: str) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _flat_objects(text: str) -> list[tuple[str, bool]]:
    """``(text, complete)`` of each ``{...}`` holding no nested object, string-aware.

    An object still open when the text ends is returned with ``complete=False`` so that a
    cut-off answer is recognised even when its closing brackets are missing.
    """
    found: list[tuple[str, bool]] = []
    stack: list[list[int]] = []  # [start, has_child]
    in_string, escaped, quote = False, False, ""
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                in_string = False
            continue
        if char in "\"'":
            # a single quote opens a string only where a Python-style dict would have one
            if char == "'" and not _opens_single_quoted(text, i):
                continue
            in_string, quote = True, char
        elif char == "{":
            if stack:
                stack[-1][1] = 1
            stack.append([i, 0])
        elif char == "}" and stack:
            start, has_child = stack.pop()
            if not has_child:
                found.append((text[start : i + 1], True))
    if stack and not stack[-1][1]:
        found.append((text[stack[-1][0] :], False))
    return found


def _opens_single_quoted(text: str, i: int) -> bool:
    before = text[:i].rstrip()
    return bool(before) and before[-1] in "{[,:"


def _load_object(fragment: str) -> tuple[dict[str, Any] | None, int]:
    """A row dict from one object's text: as is, else after light repairs (counted)."""
    try:
        value = json.loads(fragment)
        return (value, 0) if isinstance(value, dict) else (None, 0)
    except ValueError:
        pass
    fixed = _TRAILING_COMMA.sub(r"\1", fragment)
    fixed = _PY_LITERALS.sub(lambda m: _PY_TO_JSON[m.group(1)], fixed)
    if '"' not in fixed:
        fixed = fixed.replace("'", '"')
    try:
        value = json.loads(fixed)
    except ValueError:
        return None, 0
    return (value, 1) if isinstance(value, dict) else (None, 0)
