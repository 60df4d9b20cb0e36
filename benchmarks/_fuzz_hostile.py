"""Seeded hostile inputs beyond tables for ``fuzz_campaign.py``: rules files (expressions
that explode, YAML that nests or aliases without end), cohort requests, and damage done to a
saved model folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from _fuzz_inputs import HOSTILE_TEXT, _clean, pick, weighted

# --- rules ------------------------------------------------------------------------------


def _expression(rng: np.random.Generator, columns: list[str], depth: int = 0) -> str:
    col = pick(rng, columns) if columns else "age"
    if depth > 2 or rng.random() < 0.3:
        return pick(
            rng,
            (
                col,
                str(int(rng.integers(-5, 200))),
                f"{rng.normal():.3f}",
                "True",
                f"'{pick(rng, ('a', 'F', ''))}'",
            ),
        )
    form = int(rng.integers(6))
    a, b = _expression(rng, columns, depth + 1), _expression(rng, columns, depth + 1)
    if form == 0:
        return f"({a}) {pick(rng, ('+', '-', '*', '/', '%', '**'))} ({b})"
    if form == 1:
        return f"{a} {pick(rng, ('<', '<=', '>', '>=', '==', '!='))} {b}"
    if form == 2:
        return f"({a}) {pick(rng, ('and', 'or'))} ({b})"
    if form == 3:
        return f"{pick(rng, ('abs', 'exp', 'log', 'sqrt', 'isnull', 'notnull'))}({a})"
    if form == 4:
        return f"{col} in [{a}, {b}]"
    return f"not ({a})"


HOSTILE_EXPRESSIONS = {
    "nested-power": (
        "9**9**9",
        "2**2**2**2**2**2",
        "{c}**{c}**{c}**{c}",
        "10**10**10",
        "(-2)**0.5 > 1",
        "{c}**9999 > 1",
    ),
    "huge-repetition": (
        "+".join(["{c}"] * 20_000) + " > 0",
        "(" * 5000 + "{c}" + ")" * 5000,
        "not " * 3000 + "{c}",
        "-" * 5000 + "1 > 0",
        "[" * 3000 + "]" * 3000,
    ),
    "string-mult": ("'x' * 10**9 == 'x'", "[1] * 10**9 == [1]", "'x' * {c} == 'x'"),
    "forbidden": (
        "__import__('os').system('true')",
        "().__class__",
        "(lambda: 1)()",
        "{c}.real > 0",
        "open('x')",
        "{{1: 2}}",
        "f'{{{c}}}'",
        "{c} if 1 else 2",
        "[x for x in {c}]",
        "{c}[0] > 1",
        "exp(x=1)",
        "exp({c}, 1)",
        "exp()",
        "eval('1')",
        "{c} := 1",
    ),
    "bad-syntax": ("{c} >", "((", "{c} ==== 1", "âge > 1", "\x00", "", "   ", "1 +", "#"),
    "type-mix": (
        "{c} > 'abc'",
        "{c} + 'a' == 'b'",
        "abs({c}) > 'a'",
        "{c} in 5",
        "{c} in [1, 'a', None]",
        "isnull({c}) + 1 > 0",
        "{c} < [1, 2]",
    ),
    "div-zero": ("{c} / 0 > 1", "{c} % 0 == 1", "log(0) < {c}", "sqrt(-1) == {c}"),
    "big-literal": ("{c} > 1e309", "{c} > 10**400", "{c} < -10**10000", "{c} == " + "9" * 5000),
}


def rules_yaml(rng: np.random.Generator, columns: list[str]) -> tuple[str, str]:
    """A rules file as YAML text (often hostile); returns (text, label)."""
    style = weighted(
        rng,
        {
            "random": 8,
            "hostile-expression": 4,
            "yaml-broken": 2,
            "schema-broken": 2,
            "deep-yaml": 0.5,
            "alias-bomb": 0.5,
            "pack": 1,
        },
    )
    columns = columns or ["age"]
    if style == "pack":
        return "diabetes", "pack"
    if style == "deep-yaml":
        return "rules: " + "[" * 20_000 + "]" * 20_000 + "\n", style
    if style == "alias-bomb":
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
        lines.append("rules:\n  - id: bomb\n    description: *a8\n    expression: 'True'")
        return "\n".join(lines) + "\n", style
    if style == "yaml-broken":
        return pick(
            rng,
            (
                "rules: [",
                "rules:\n\t- id: x",
                "- id: a\n  range: {column: age",
                "rules: !!python/object/apply:os.system ['true']",
                ":\n:",
                "\x00",
                "rules: 5",
                "rules: [1, 2]",
                "[]",
                "name: x",
                "rules: {}",
            ),
        ), style
    rules = []
    for i in range(int(rng.integers(1, 5))):
        col = pick(rng, columns)
        kind = weighted(rng, {"range": 3, "compare": 2, "implies": 2, "expression": 4})
        if style == "hostile-expression" and kind == "expression":
            family = pick(rng, list(HOSTILE_EXPRESSIONS))
            # the catastrophic ones (a 387-million-digit power) are kept rare: each can cost
            # the whole per-case deadline, and one or two are enough to show the problem
            if family == "nested-power" and rng.random() < 0.8:
                family = "div-zero"
            text = pick(rng, HOSTILE_EXPRESSIONS[family]).format(c=col)
            rules.append({"id": f"r{i}", "expression": text})
            style = f"hostile-expression:{family}"
            continue
        if kind == "range":
            spec = {
                "column": col,
                "min": pick(rng, (0, -1e308, "abc", None, 18, float("nan"))),
                "max": pick(rng, (100, 1e308, "2020-01-01", None, 10**30)),
            }
            rules.append({"id": f"r{i}", "range": spec})
        elif kind == "compare":
            rules.append(
                {
                    "id": f"r{i}",
                    "compare": {
                        "left": col,
                        "op": pick(rng, ("<", ">=", "==")),
                        "right": pick(rng, columns + [3.5, "nope"]),
                    },
                }
            )
        elif kind == "implies":
            rules.append(
                {
                    "id": f"r{i}",
                    "implies": {"if": _expression(rng, columns), "then": _expression(rng, columns)},
                }
            )
        else:
            rules.append({"id": f"r{i}", "expression": _expression(rng, columns)})
    if style == "schema-broken":
        mangled = pick(rng, ("dup-id", "no-id", "two-kinds", "extra-key", "bad-op"))
        if mangled == "dup-id" and len(rules) > 1:
            rules[1]["id"] = rules[0]["id"]
        elif mangled == "no-id":
            rules[0].pop("id")
        elif mangled == "two-kinds":
            rules[0]["expression"] = "True"
            rules[0]["range"] = {"column": columns[0]}
        elif mangled == "extra-key":
            rules[0]["evil"] = 1
        else:
            rules[0] = {"id": "bad", "compare": {"left": columns[0], "op": "=>", "right": 1}}
        style = f"schema-broken:{mangled}"
    import yaml

    return yaml.safe_dump({"name": "fuzz", "rules": rules}, allow_unicode=True), style


# --- requests ---------------------------------------------------------------------------

_CONDITIONS = (
    "type 2 diabetes",
    "T2D",
    "diabetic",
    "CKD stage 3",
    "chronic kidney disease",
    "COPD",
    "heart failure",
    "hypertension",
    "hypertensive",
    "zebra fever",
    "asthma",
    "cancer",
    "type 1 diabetes",
)
_COUNTS = (
    "0",
    "-5",
    "1",
    "25",
    "200",
    "two thousand",
    "a million",
    "10000000000",
    "1e3",
    "½",
    "٣٠٠٠",
    "1,000",
    "99999999999999999999999",
    "twelve",
    "",
    "3.5",
)
_EXTRAS = (
    "women aged 40 to 65",
    "aged 90 to 18",
    "men over 65",
    "aged 17 to 200",
    "with HbA1c over 9",
    "with HbA1c over 1e308",
    "eGFR below -5",
    "on insulin",
    "without insulin",
    "with hypertension and without hypertension",
    "seed 42",
    "seed 99999999999999999999999",
    "as FHIR",
    "as parquet and ndjson",
    "with 20 observations",
    "with 0 observations",
    "with 9999 observations",
    "based on the US population",
    "in the UK",
    "BMI between 50 and 20",
    "with eGFR and HbA1c",
    "who smoke",
    "pregnant men",
    "aged 40-65",
    "over 0",
)
_HOSTILE_REQUESTS = (
    "",
    "   ",
    "\x00",
    "\u202egenerate 10 patients",
    "🙂" * 50,
    "<script>alert(1)</script>",
    "{{7*7}} %s %n {0}",
    "1 " * 999,
    "a " * 999,
    "type 2 diabetes " * 120,
    "with " * 399 + "patients",
    "generate " + "9" * 1990,
    "x" * 2001,
    "which sources did you use?",
    "what is HbA1c?",
    "yes",
    "no",
    "export as fhir",
    "now make them over 65",
    "generate 10 patients with " + "HbA1c over 9 and " * 100,
    "generate ten T2D patients aged " + "40 to " * 300 + "65",
)


def request_text(rng: np.random.Generator, *, small: bool = False) -> tuple[str, str]:
    """A cohort request or question, often hostile; ``small`` keeps the count low so that a
    confirmed request generates quickly. Returns (text, label)."""
    if not small and rng.random() < 0.3:
        return _clean(pick(rng, _HOSTILE_REQUESTS)), "hostile"
    count = str(int(rng.integers(5, 150))) if small else pick(rng, _COUNTS)
    verb = pick(rng, ("generate", "create", "make me", "give me", "", "simulate"))
    extras = list(rng.choice(_EXTRAS, size=int(rng.integers(0, 4)), replace=False))
    text = f"{verb} {count} {pick(rng, _CONDITIONS)} patients {' '.join(extras)}".strip()
    if not small and rng.random() < 0.2:
        cut = int(rng.integers(0, len(text) + 1))
        text = text[:cut] + pick(rng, HOSTILE_TEXT) + text[cut:]
    return _clean(text), "template" + ("-small" if small else "")


# --- model folders ----------------------------------------------------------------------

_JSON_HOSTILE: tuple[Any, ...] = (
    None,
    True,
    -1,
    0,
    2**70,
    1e308,
    float("nan"),
    "",
    "x" * 100_000,
    [],
    {},
    "copula",
    [1, "a", None],
    {"a": {"b": []}},
)


def _json_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _json_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:20]):
            paths += _json_paths(value, (*prefix, i))
    return paths


def _set_path(root: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = root
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        parent.pop(path[-1], None)
    elif delete and isinstance(parent, list):
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value
    return root


def tamper_model(rng: np.random.Generator, folder: Path) -> str:
    """Damage a saved model folder in one of many ways; returns a label of what was done."""
    manifest, arrays = folder / "manifest.json", folder / "arrays.npz"
    how = weighted(
        rng,
        {
            "json-mutate": 10,
            "targeted": 6,
            "arrays": 6,
            "delete": 1.5,
            "truncate": 2,
            "garbage": 1,
            "dir-instead": 0.5,
            "symlink": 1,
            "deep-json": 0.7,
            "encoding": 0.5,
            "extra-file": 0.5,
        },
    )
    if how == "delete":
        victim = pick(rng, (manifest, arrays))
        victim.unlink()
        return f"delete-{victim.name}"
    if how == "truncate":
        victim = pick(rng, (manifest, arrays))
        data = victim.read_bytes()
        victim.write_bytes(data[: int(rng.integers(0, len(data)))])
        return f"truncate-{victim.name}"
    if how == "garbage":
        victim = pick(rng, (manifest, arrays))
        victim.write_bytes(bytes(rng.integers(0, 256, 500).astype(np.uint8)))
        return f"garbage-{victim.name}"
    if how == "dir-instead":
        victim = pick(rng, (manifest, arrays))
        victim.unlink()
        victim.mkdir()
        return f"dir-{victim.name}"
    if how == "symlink":
        victim = pick(rng, (manifest, arrays))
        victim.unlink()
        target = pick(rng, ("/dev/null", "/nonexistent/file", str(victim)))
        victim.symlink_to(target)
        return f"symlink-{victim.name}->{'loop' if target == str(victim) else target}"
    if how == "deep-json":
        manifest.write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
        return how
    if how == "encoding":
        text = manifest.read_text(encoding="utf-8")
        manifest.write_bytes(
            text.encode("utf-16") if rng.random() < 0.5 else b"\xef\xbb\xbf" + text.encode("utf-8")
        )
        return how
    if how == "extra-file":
        (folder / "notes.txt").write_text("hello", encoding="utf-8")
        return how
    if how == "arrays":
        with np.load(arrays, allow_pickle=False) as archive:
            data = {k: archive[k] for k in archive.files}
        action = pick(rng, ("drop", "empty", "nan", "shape", "dtype", "object", "huge", "add"))
        if data and action != "add":
            key = pick(rng, sorted(data))
            if action == "drop":
                data.pop(key)
            elif action == "empty":
                data[key] = np.array([])
            elif action == "nan":
                data[key] = np.full(data[key].shape, np.nan)
            elif action == "shape":
                shape = (int(rng.integers(1, 7)),) * int(rng.integers(1, 3))
                data[key] = np.resize(data[key], shape)
            elif action == "dtype":
                data[key] = data[key].astype(str if rng.random() < 0.5 else complex)
            elif action == "object":
                data[key] = np.array([{"evil": 1}, None], dtype=object)
            else:
                data[key] = np.full(data[key].shape, 1e308)
        else:
            data["extra"] = np.arange(3)
        np.savez(arrays, **data)
        return f"arrays-{action}"
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    if how == "targeted":
        target = pick(
            rng,
            (
                "format",
                "synthesizer",
                "params",
                "schema",
                "n_training_rows",
                "state",
                "columns",
                "kind",
                "categories",
            ),
        )
        if target == "format":
            doc["format"] = pick(rng, ("synthpatient.model/2", None, 1, ""))
        elif target == "synthesizer":
            doc["synthesizer"] = pick(
                rng, ("nope", "ctgan", "mst", "", None, 5, "__init__", "../copula", "llm")
            )
        elif target == "params":
            doc["params"] = pick(
                rng,
                (
                    {"n_quantiles": "x"},
                    {"evil": 1},
                    [],
                    None,
                    {"n_quantiles": -5},
                    {"seed": "abc"},
                    "x",
                ),
            )
        elif target == "schema":
            doc["schema"] = pick(
                rng, ({"columns": []}, {"columns": 5}, None, {}, [], {"format": "x", "columns": []})
            )
        elif target == "n_training_rows":
            doc["n_training_rows"] = pick(rng, ("abc", -5, None, 1e308, 2**70, [1]))
        elif target == "state":
            state = doc.get("state")
            if isinstance(state, dict) and state:
                state.pop(pick(rng, sorted(state)))
            else:
                doc["state"] = None
        else:
            columns = doc.get("schema", {}).get("columns", [])
            if columns:
                col = pick(rng, columns)
                if target == "columns":
                    columns.remove(col)
                elif target == "kind":
                    col["kind"] = pick(
                        rng, ("identifier", "text", "datetime", "boolean", "numeric", "alien")
                    )
                    col.setdefault("identifier_type", "string_id")
                else:
                    col["categories"] = pick(rng, (["a"], [], None, [1, 1], list(range(3000))))
        manifest.write_text(json.dumps(doc), encoding="utf-8")
        return f"targeted-{target}"
    paths = _json_paths(doc)
    for _ in range(int(rng.integers(1, 4))):
        path = pick(rng, paths[1:] or paths)
        try:
            doc = _set_path(doc, path, pick(rng, _JSON_HOSTILE), delete=rng.random() < 0.3)
        except (KeyError, IndexError, TypeError):
            continue
    manifest.write_text(json.dumps(doc), encoding="utf-8")
    return "json-mutate"
