"""Prompts that ask a chat model for table rows, at the levels published work compares.

Prompt levels follow SynLLM's families (arXiv 2508.08529), with the flaws its artefacts show
fixed: statistics are computed from the real table (not hand-typed), and real rows are sent
only when the user opts in (``examples``), labelled as rows that must not be repeated.

* ``basic``: the schema (columns, kinds, bounds, decimals, the exact category vocabulary).
* ``improved``: + summary statistics (missing rate, category shares, mean, sd, quantiles).
* ``advanced``: + the strongest correlations and rule hints read off the real table.

System-instruction levels: ``none`` (no system message), ``role`` (a clinical data scientist
making records of no real person), ``strict`` (role + JSON-only rules).

The table description travels twice: as instructions in words and as one machine-readable
JSON block between ``<table_spec>`` tags (models read JSON well; the tests' local server,
``tests/fake_llm_server.py``, reads it too). Example rows, when sent, sit between
``<example_rows>`` tags.
"""

from __future__ import annotations

import json
import re
from typing import Any

PROMPT_LEVELS = ("basic", "improved", "advanced")
SYSTEM_LEVELS = ("none", "role", "strict")

_STAT_KEYS = ("missing_rate", "frequencies", "share_true", "mean", "sd", "quantiles")
_SCHEMA_KEYS = (
    "name",
    "kind",
    "nullable",
    "minimum",
    "maximum",
    "decimals",
    "categories",
    "unit",
    "description",
    "date_format",
)
_SPEC = re.compile(r"<table_spec>\n(.*?)\n</table_spec>", re.S)
_EXAMPLES = re.compile(r"<example_rows>\n(.*?)\n</example_rows>", re.S)

ROLE = (
    "You are an expert clinical data scientist who creates realistic synthetic patient "
    "records for research and software testing. The records you write describe no real "
    "person."
)
STRICT_RULES = (
    "Answer with JSON only: no prose, no markdown, no code fences, no comments. "
    "Use exactly the keys and the category spellings you are given, never invent a "
    "column or a category, write null for a missing value, and never repeat a row "
    "you were shown."
)


def system_message(level: str) -> str | None:
    """The system instruction for ``level`` (None for ``none``)."""
    return {"none": None, "role": ROLE, "strict": f"{ROLE} {STRICT_RULES}"}[level]


def table_spec(
    profile: dict[str, Any], level: str, n_rows: int, conditions: list[dict[str, Any]]
) -> dict[str, Any]:
    """The machine-readable request: what the prompt at ``level`` may reveal, no more."""
    keep = _SCHEMA_KEYS + (_STAT_KEYS if level in ("improved", "advanced") else ())
    columns = [
        {k: v for k, v in column.items() if k in keep and v is not None}
        for column in profile["columns"]
    ]
    spec: dict[str, Any] = {"n_rows": n_rows, "columns": columns}
    if level == "advanced":
        spec["correlations"] = profile.get("correlations", [])
        spec["rules"] = profile.get("rules", [])
    if conditions:
        spec["conditions"] = conditions
    spec["answer_format"] = {"rows": [{c["name"]: "..." for c in columns}]}
    return spec


def user_message(
    profile: dict[str, Any],
    level: str,
    n_rows: int,
    *,
    conditions: list[dict[str, Any]] | None = None,
    examples: list[dict[str, Any]] | None = None,
) -> str:
    """The request for ``n_rows`` rows at prompt ``level``; ``examples`` only when opted in."""
    conditions = conditions or []
    spec = table_spec(profile, level, n_rows, conditions)
    names = ", ".join(c["name"] for c in profile["columns"])
    lines = [
        f"Generate {n_rows} new, realistic and varied synthetic patient records for the table "
        "described in the table_spec block below.",
        "",
        "Rules:",
        f'- Answer with one JSON object {{"rows": [...]}} holding exactly {n_rows} row '
        "objects and nothing else.",
        f"- Every row has exactly these keys: {names}.",
        "- Numbers lie within [minimum, maximum] and have at most `decimals` decimals; "
        "integer columns hold whole numbers.",
        "- A categorical value is spelled exactly as one of the column's `categories` "
        "(same case, same type); never a new category.",
        "- Dates are written YYYY-MM-DD (date-times as YYYY-MM-DDTHH:MM:SS).",
        "- Use null for a missing value, and only in columns with nullable = true.",
        "- Rows must differ from one another.",
    ]
    if level in ("improved", "advanced"):
        lines += [
            "- Follow the statistics: category `frequencies`, `share_true`, `mean`, "
            "`sd` and `quantiles`, and leave values missing about as often as "
            "`missing_rate` says."
        ]
    if level == "advanced":
        lines += [
            "- Keep the listed `correlations` (Spearman, between columns) and `rules`: "
            "each row must be clinically coherent."
        ]
    if conditions:
        lines += [f"- Every row must satisfy all `conditions`: {describe_conditions(conditions)}."]
    lines += ["", "<table_spec>", json.dumps(spec, ensure_ascii=False), "</table_spec>"]
    if examples:
        lines += [
            "",
            "Example rows from the real table, for format and plausibility only. "
            "They are real patients: never repeat them or write rows close to them. "
            "Rows equal to an example are discarded.",
            "<example_rows>",
            json.dumps(examples, ensure_ascii=False),
            "</example_rows>",
        ]
    return "\n".join(lines)


def describe_conditions(conditions: list[dict[str, Any]]) -> str:
    """``sex = "female"; age between 40 and 65`` from the JSON conditions."""
    parts = []
    for cond in conditions:
        if "equals" in cond:
            parts.append(f"{cond['column']} = {json.dumps(cond['equals'])}")
        else:
            low, high = cond.get("minimum"), cond.get("maximum")
            if low is not None and high is not None:
                parts.append(f"{cond['column']} between {low} and {high}")
            elif low is not None:
                parts.append(f"{cond['column']} >= {low}")
            else:
                parts.append(f"{cond['column']} <= {high}")
    return "; ".join(parts)


def messages(
    profile: dict[str, Any],
    *,
    prompt_level: str,
    system_level: str,
    n_rows: int,
    conditions: list[dict[str, Any]] | None = None,
    examples: list[dict[str, Any]] | None = None,
) -> list[dict[str, str]]:
    """The chat messages of one request.

    The system instruction is also repeated at the top of the user message: some chat
    formats have no system role and drop it (llama.cpp's ``gemma`` template does), and the
    model would then see only the table.
    """
    out = []
    system = system_message(system_level)
    user = user_message(profile, prompt_level, n_rows, conditions=conditions, examples=examples)
    if system:
        out.append({"role": "system", "content": system})
        user = f"{system}\n\n{user}"
    out.append({"role": "user", "content": user})
    return out


def response_format(
    profile: dict[str, Any],
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """OpenAI ``json_schema`` structured output: ``{"rows": [row, ...]}`` with each column's
    type, vocabulary and bounds (narrowed by ``conditions``), in strict mode."""
    by_column = {c["column"]: c for c in conditions or []}
    properties = {
        c["name"]: _column_schema(c, by_column.get(c["name"])) for c in profile["columns"]
    }
    row = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": row}},
        "required": ["rows"],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": "synthetic_rows", "strict": True, "schema": schema},
    }


def _column_schema(column: dict[str, Any], condition: dict[str, Any] | None) -> dict[str, Any]:
    kind = column["kind"]
    out: dict[str, Any]
    if kind == "categorical":
        values = list(column.get("categories") or [])
        if condition is not None and "equals" in condition:
            values = [condition["equals"]]
        out = {"type": _json_type(values), "enum": values}
    elif kind == "boolean":
        out = {"type": "boolean"}
        if condition is not None and "equals" in condition:
            out["enum"] = [condition["equals"]]
    elif kind == "datetime":
        out = {
            "type": "string",
            "format": "date" if column.get("date_format") == "YYYY-MM-DD" else "date-time",
        }
    else:
        out = {"type": "integer" if kind == "integer" else "number"}
        low, high = column.get("minimum"), column.get("maximum")
        if condition is not None:
            if "equals" in condition:
                low = high = condition["equals"]
            else:
                low = _tighter(low, condition.get("minimum"), max)
                high = _tighter(high, condition.get("maximum"), min)
        if low is not None:
            out["minimum"] = low
        if high is not None:
            out["maximum"] = high
    if column.get("nullable") and condition is None:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _tighter(a: Any, b: Any, pick: Any) -> Any:
    return b if a is None else a if b is None else pick(a, b)


def _json_type(values: list[Any]) -> str | list[str]:
    types = sorted(
        {
            "boolean"
            if isinstance(v, bool)
            else "integer"
            if isinstance(v, int)
            else "number"
            if isinstance(v, float)
            else "string"
            for v in values
        }
    )
    if types == ["integer", "number"]:
        return "number"
    return types[0] if len(types) == 1 else types


def read_spec(text: str) -> dict[str, Any] | None:
    """The ``<table_spec>`` JSON of a user message (None if absent or unreadable)."""
    match = _SPEC.search(text or "")
    try:
        value = json.loads(match.group(1)) if match else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_examples(text: str) -> list[dict[str, Any]]:
    """The ``<example_rows>`` of a user message ([] if none were sent)."""
    match = _EXAMPLES.search(text or "")
    try:
        value = json.loads(match.group(1)) if match else []
    except ValueError:
        return []
    return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []
