"""A data card: what a synthetic dataset is, how it was made, how good it is, what it is for.

The card (after "Datasheets for Datasets", Gebru et al. 2021, and Hugging Face dataset cards)
says what the dataset is (rows, columns, patients when ``patient_key`` names the column of a
table with several rows per patient, where it came from), how it was made (generator,
parameters, seed, training and holdout rows), each column's kind, unit and code, the privacy
budget spent if any, the evaluation summary if one was run, the sources of a knowledge-driven
cohort, the SHA-256 of every file it describes, and its intended use and limits. A cohort
with a history (a timeline) also lists its tables: file, what one row is, rows, patients and
each column's name and kind.

It also says who is represented (shares of each sex, age band and race/ethnicity group:
real, synthetic and the knowledge base's target), the privacy guarantee (epsilon and delta,
or "none" with the measured distance to closest record and membership inference), the uses
out of scope and the known limitations (relations not enforced, unverified sources, merged
rare categories, columns not learned): see :mod:`synthpatient.exporters._card_facts`.

It holds no value of any row, real or synthetic: no minimum, maximum or category list (the
schema summary keeps kinds, units and codes only), only aggregate scores and the shares of
the demographic groups above, where a group of fewer than 5 real rows is not named. The
same content is written as Markdown (``datacard``) for people and JSON (``datacard_json``)
for programs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from synthpatient.exporters._card_facts import (
    NOT_PRIVATE_USE,
    OUT_OF_SCOPE,
    cohort_targets,
    limitation_sentences,
    limitations,
    measured_privacy,
    representation,
)
from synthpatient.exporters._card_partitions import apply_partitions, partition_lines
from synthpatient.exporters.base import HISTORY_TABLES, Exporter, Table, checksums, data_kind

CARD_FORMAT = "synthpatient.datacard/1"
_LISTED_FILES = 20  # a folder with more files is one row in the Markdown card
_OPTIONS = (
    "title",
    "description",
    "generator",
    "synthesizer",
    "parameters",
    "seed",
    "source",
    "training_rows",
    "holdout_rows",
    "patient_key",
    "privacy_spent",
    "evaluation",
    "sources",
    "files",
    "intended_use",
    "out_of_scope_use",
    "limits",
    "real",
    "partitions",
)
INTENDED_USE = (
    "Building and testing software, pipelines and dashboards on realistic data.",
    "Teaching, demonstrations and trying an analysis before real data is available.",
)
LIMITS = (
    "Every row is synthetic: it describes no real person and must not be used for "
    "clinical decisions or to estimate real effects.",
    "Relations the generator did not learn (or the knowledge base does not state) are "
    "missing or weaker than in real patients; rare subgroups may be absent.",
)


def _patients(frame: pd.DataFrame, key: str | None) -> int | None:
    """How many patients a table with several rows per patient holds (``patient_key``)."""
    return int(frame[key].nunique()) if key is not None and key in frame else None


def build_card(data: Any, **options: Any) -> dict[str, Any]:
    """The card's content as a JSON-ready dict (see the module's docstring for the options;
    ``real``: the rows the generator learned from, for the representation table only)."""
    from synthpatient import __version__

    cohort = data_kind(data) == "cohort"
    frame: pd.DataFrame = data.wide if cohort else data.frame
    facts = _cohort_facts(data) if cohort else {}
    facts.update({k: v for k, v in options.items() if v is not None})
    privacy = facts.get("privacy_spent")
    limits = list(facts.get("limits") or LIMITS)
    if not cohort and not privacy:
        limits.append(
            "The generator is not differentially private: privacy rests on the "
            "evaluation's tests against patients it never saw (see Evaluation)."
        )
    sources = list(facts.get("sources") or [])
    known = limitations(data, cohort, facts.get("evaluation"), sources, privacy)
    limits += limitation_sentences(known)
    out_of_scope = list(facts.get("out_of_scope_use") or OUT_OF_SCOPE)
    if not cohort and not privacy and not facts.get("out_of_scope_use"):
        out_of_scope.append(NOT_PRIVATE_USE)
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "title": facts.get("title") or f"{len(frame):,} synthetic rows",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "synthetic": "Every row is synthetic; none is a real person.",
        "dataset": {
            "kind": "knowledge-driven cohort" if cohort else "data-driven table",
            "description": facts.get("description"),
            "rows": len(frame),
            "patients": _patients(frame, facts.get("patient_key")),
            "columns": frame.shape[1],
            "made_from": facts.get("source"),
        },
        "generation": {
            "generator": facts.get("generator"),
            "synthesizer": facts.get("synthesizer"),
            "parameters": _jsonable(facts.get("parameters")),
            "seed": facts.get("seed"),
            "version": __version__,
            "training_rows": facts.get("training_rows"),
            "holdout_rows": facts.get("holdout_rows"),
        },
        "schema": _columns(data, cohort),
        "tables": _history_tables(data, facts.get("files")) if cohort else None,
        "representation": representation(
            frame, None if cohort else facts.get("real"), facts.get("targets")
        ),
        "privacy": {
            "guarantee": _guarantee(privacy, cohort),
            "measured": None if cohort else measured_privacy(facts.get("evaluation")),
            "differentially_private": bool(privacy),
            "spent": _jsonable(privacy),
            "note": (
                "No real patient was used: the values come from published "
                "figures, so there is nothing to leak."
            )
            if cohort
            else None,
        },
        "evaluation": _evaluation(facts.get("evaluation")),
        "sources": sources,
        "files": checksums(facts.get("files") or {}),
        "intended_use": list(facts.get("intended_use") or INTENDED_USE),
        "out_of_scope_use": out_of_scope,
        "known_limitations": known,
        "limits": limits,
    }
    if card["tables"] is None:  # a cohort without a history, or a table: the card as before
        del card["tables"]
    apply_partitions(card, facts.get("partitions"))  # a sample's card made the dataset's
    return _jsonable(card)


def _guarantee(privacy: Any, cohort: bool) -> str:
    """The privacy guarantee in one phrase: epsilon and delta, 'none', or not applicable."""
    if cohort:
        return "not applicable: no real patient record was used"
    if isinstance(privacy, Mapping) and privacy.get("epsilon") is not None:
        delta = privacy.get("delta")
        return f"differential privacy, epsilon = {privacy['epsilon']:g}" + (
            f", delta = {delta:g}" if isinstance(delta, (int, float)) else ""
        )
    return "none"


def _cohort_facts(cohort: Any) -> dict[str, Any]:
    from synthpatient import __version__
    from synthpatient.knowledge import load_knowledge_base

    kb = load_knowledge_base()
    timeline = getattr(cohort, "timeline", None)
    used = [*cohort.sources_used, *(timeline.sources_used if timeline is not None else [])]
    sources = [
        {"id": sid, "citation": kb.sources[sid].citation(), "verified": kb.sources[sid].verified}
        for sid in dict.fromkeys(used)
        if sid in kb.sources
    ]
    return {
        "title": f"{len(cohort.wide):,} synthetic patients with {cohort.condition.name}",
        "generator": f"synthpatient {__version__} (CohortSampler, knowledge-driven)",
        "parameters": cohort.spec.model_dump(mode="json"),
        "seed": cohort.spec.seed,
        "source": f"the cited knowledge base (version {kb.version}), not patient records",
        "sources": sources,
        "targets": cohort_targets(cohort.condition, cohort.spec),
    }


def _columns(data: Any, cohort: bool) -> list[dict[str, Any]]:
    """Name, kind, unit and code of each column: never a bound or a category list."""
    if cohort:
        coded = {o.key: o for o in data.observations}
        return [
            {
                "name": str(c),
                "kind": _dtype_kind(data.wide[c]),
                **(
                    {"unit": coded[c].unit, "code": f"LOINC {coded[c].loinc}"} if c in coded else {}
                ),
            }
            for c in data.wide.columns
        ]
    table: Table = data
    if table.schema is None:
        return [{"name": str(c), "kind": _dtype_kind(table.frame[c])} for c in table.frame.columns]
    columns = []
    for spec in table.schema:
        entry: dict[str, Any] = {
            "name": spec.name,
            "kind": spec.kind,
            "nullable": spec.nullable,
            "learned": spec.is_learned,
        }
        entry.update(
            {
                k: v
                for k, v in (
                    ("unit", spec.unit),
                    ("code", spec.code),
                    ("identifier_type", spec.identifier_type),
                )
                if v
            }
        )
        columns.append(entry)
    return columns


def _history_tables(cohort: Any, files: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    """Each table of a cohort with a history: its file (when written), what one row is, rows,
    patients, columns (name and kind). None without a history."""
    timeline = getattr(cohort, "timeline", None)
    if timeline is None:
        return None
    written = {Path(str(name)).stem: str(name) for name in files or {} if "/" not in str(name)}
    frames = {
        "patients": (cohort.wide, "patient (the values at the last visit)"),
        **{name: (getattr(timeline, name), what) for name, what in HISTORY_TABLES.items()},
    }
    return [
        {
            "name": name,
            "file": written.get(name),
            "one_row_per": what,
            "rows": len(frame),
            "patients": int(frame["patient_id"].nunique()),
            "columns": [{"name": str(c), "kind": _dtype_kind(frame[c])} for c in frame.columns],
        }
        for name, (frame, what) in frames.items()
    ]


def _dtype_kind(series: pd.Series) -> str:
    for kind, test in (
        ("boolean", pd.api.types.is_bool_dtype),
        ("integer", pd.api.types.is_integer_dtype),
        ("numeric", pd.api.types.is_numeric_dtype),
        ("datetime", pd.api.types.is_datetime64_any_dtype),
    ):
        if test(series):
            return kind
    return "categorical"


def _evaluation(report: Any) -> dict[str, Any] | None:
    """Aggregate scores of an EvaluationReport, or targets and rules of a realism report."""
    if report is None:
        return None
    summary = getattr(report, "summary", None)
    if isinstance(summary, pd.DataFrame):
        wanted = [c for c in ("family", "metric", "score", "verdict") if c in summary.columns]
        return {
            "kind": "evaluation against the real data",
            "scores": _jsonable(summary[wanted].to_dict("records")),
            "notices": list(getattr(report, "meta", {}).get("notices", [])),
        }
    targets, rules = getattr(report, "targets", []), getattr(report, "rules", [])
    return {
        "kind": "realism against sourced targets and clinical rules",
        "targets_met": sum(1 for t in targets if t.ok),
        "targets": len(targets),
        "rules_holding": sum(1 for r in rules if not r["violations"]),
        "rules": len(rules),
        "off_target": [t.what for t in targets if not t.ok],
    }


def _jsonable(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


# -- Markdown ----------------------------------------------------------------------------------
def card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown."""
    dataset, made = card["dataset"], card["generation"]
    lines = [
        f"# Data card: {_cell(card['title'])}",
        "",
        card["synthetic"],
        "",
        "## What this dataset is",
        "",
        f"- Kind: {dataset['kind']}",
        f"- Rows: {dataset['rows']:,}; columns: {dataset['columns']}",
    ]
    if dataset.get("patients") is not None:
        lines.append(f"- Patients: {dataset['patients']:,} (several rows each, in time order)")
    lines += [
        f"- {label}: {_cell(dataset[key])}"
        for key, label in (("description", "Description"), ("made_from", "Made from"))
        if dataset[key]
    ]
    lines += partition_lines(card)
    lines += ["", "## How it was made", ""]
    lines += [
        f"- {label}: {_cell(made[key])}"
        for key, label in (
            ("generator", "Generator"),
            ("synthesizer", "Synthesizer"),
            ("seed", "Seed"),
            ("version", "synthpatient version"),
            ("training_rows", "Training rows"),
            ("holdout_rows", "Holdout rows (never learned)"),
        )
        if made[key] is not None
    ]
    if made["parameters"]:
        lines += ["- Parameters:", "", "```json", json.dumps(made["parameters"], indent=2), "```"]
    lines += ["", "## Columns", "", *_column_rows(card["schema"])]
    if card.get("tables"):
        lines += ["", "## Tables", "", *_table_rows(card["tables"])]
    if card.get("representation"):
        lines += ["", "## Representation", "", *_representation_rows(card["representation"])]
    lines += ["", "## Privacy", "", _privacy(card["privacy"])]
    lines += ["", "## Evaluation", "", *_evaluation_lines(card["evaluation"])]
    if card["sources"]:
        lines += ["", "## Sources", ""]
        # a citation says itself when it was not verified in the source
        lines += [
            f"{i}. [{s['id']}] {_cell(s['citation'])}"
            for i, s in enumerate(card["sources"], start=1)
        ]
    if card["files"]:
        lines += [
            "",
            "## Files",
            "",
            "| file | bytes | sha256 |",
            "|---|---|---|",
            *_file_rows(card["files"]),
        ]
    lines += ["", "## Intended use", "", *(f"- {u}" for u in card["intended_use"])]
    lines += ["", "## Out of scope", "", *(f"- {u}" for u in card["out_of_scope_use"])]
    lines += ["", "## Limits", "", *(f"- {u}" for u in card["limits"])]
    return "\n".join(lines) + "\n"


def _column_rows(columns: list[dict[str, Any]]) -> list[str]:
    learned = any("learned" in c for c in columns)  # a cohort learns nothing: no such column
    head = ["column", "kind", "unit", "code", *(["learned"] if learned else [])]
    rows = [f"| {' | '.join(head)} |", "|" + "---|" * len(head)]
    for c in columns:
        cells = [_cell(c["name"]), c["kind"], _cell(c.get("unit")), _cell(c.get("code"))]
        rows.append("| " + " | ".join(cells + ([_yes(c.get("learned"))] if learned else [])) + " |")
    return rows


def _table_rows(tables: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| table | file | one row per | rows | patients | columns |",
        "|---|---|---|---|---|---|",
    ]
    for t in tables:
        columns = ", ".join(f"{c['name']} ({c['kind']})" for c in t["columns"])
        rows.append(
            f"| {_cell(t['name'])} | {_cell(t['file'])} | {_cell(t['one_row_per'])} "
            f"| {t['rows']:,} | {t['patients']:,} | {_cell(columns)} |"
        )
    return rows


def _file_rows(files: dict[str, dict[str, Any]]) -> list[str]:
    """A row per file; a folder of many files (FHIR bundles) is one row, its files' checksums
    being in the JSON card."""
    folders: dict[str, list[dict[str, Any]]] = {}
    for name, entry in files.items():
        folders.setdefault(name.split("/")[0] if "/" in name else name, []).append(entry)
    rows = []
    for name, entry in files.items():
        top = name.split("/")[0]
        if "/" in name and len(folders[top]) > _LISTED_FILES:
            if name == next(n for n in files if n.startswith(f"{top}/")):
                size = sum(e["bytes"] for e in folders[top])
                rows.append(
                    f"| {_cell(top)}/ ({len(folders[top]):,} files) | {size:,} | "
                    "each file's in datacard.json |"
                )
            continue
        rows.append(f"| {_cell(name)} | {entry['bytes']:,} | `{entry['sha256']}` |")
    return rows


def _representation_rows(rows: list[dict[str, Any]]) -> list[str]:
    """Shares of each group: real, synthetic, knowledge-base target ('' when not known)."""

    def share(value: Any) -> str:
        return f"{value:.1%}" if isinstance(value, (int, float)) else ""

    out = [
        "Share of each group (groups under 5 real rows are not shown on their own).",
        "",
        "| attribute | group | real | synthetic | target |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {r['attribute']} | {_cell(str(r['group']).replace('_', ' '))} | {share(r['real'])} "
        f"| {share(r['synthetic'])} | {share(r['target'])} |"
        for r in rows
    ]
    return out


def _privacy(privacy: dict[str, Any]) -> str:
    guarantee = f"Guarantee: {privacy.get('guarantee', 'none')}."
    if privacy["note"]:
        return f"{guarantee} {privacy['note']}"
    measured = privacy.get("measured")
    if measured:
        guarantee += (
            " Measured against real rows the generator never saw: "
            + "; ".join(
                f"{key.replace('_', ' ')} {v['score']:.3f} ({_cell(v['verdict'])})"
                for key, v in measured.items()
            )
            + "."
        )
    elif privacy.get("guarantee") == "none":
        guarantee += " Not measured: no real rows were kept aside."
    spent = privacy["spent"]
    if not spent:
        return f"{guarantee} The generator is not differentially private."
    text = (
        f"{guarantee} Differentially private: epsilon = {spent.get('epsilon')}, "
        f"delta = {spent.get('delta')}."
    )
    if spent.get("preprocessing"):
        text += f" Not covered: {spent['preprocessing']}"
    return text


def _evaluation_lines(evaluation: dict[str, Any] | None) -> list[str]:
    if evaluation is None:
        return ["No evaluation was run."]
    if "scores" in evaluation:
        lines = [
            f"Kind: {evaluation['kind']}.",
            "",
            "| family | metric | score | verdict |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r.get('family', '')} | {r.get('metric', '')} | {_score(r.get('score'))} "
            f"| {_cell(r.get('verdict', ''))} |"
            for r in evaluation["scores"]
        ]
        return lines + [f"- {_cell(n)}" for n in evaluation["notices"]]
    lines = [
        f"Kind: {evaluation['kind']}.",
        "",
        f"- Sourced targets met: {evaluation['targets_met']} of {evaluation['targets']}",
        f"- Clinical rules holding: {evaluation['rules_holding']} of {evaluation['rules']}",
    ]
    if evaluation["off_target"]:
        lines.append(f"- Off target: {', '.join(evaluation['off_target'])}")
    return lines


def _score(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else _cell(value)


def _yes(value: Any) -> str:
    return "" if value is None else ("yes" if value else "no")


def _cell(value: Any) -> str:
    """Text safe in a Markdown table cell or list item: one line, no column separators."""
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


class DataCardExporter(Exporter):
    """The data card as Markdown, for people.

    Examples:
        >>> DataCardExporter().export(Table(synthetic, model.schema_), "datacard.md",
        ...                           synthesizer="copula", seed=0, evaluation=report)
    """

    key = "datacard"
    suffixes = (".md",)
    media_type = "text/markdown"
    description = "A data card (Markdown): what the data are, how made, scores, limits."
    accepts = frozenset({"table", "cohort"})
    options = _OPTIONS

    def _text(self, data: Any, **options: Any) -> str:
        return card_markdown(build_card(data, **options))


class DataCardJSONExporter(Exporter):
    """The same data card as JSON, for programs.

    Examples:
        >>> DataCardJSONExporter().export(cohort, "datacard.json", files={"fhir": folder})
    """

    key = "datacard_json"
    suffixes = (".json",)
    media_type = "application/json"
    description = "The data card as JSON."
    accepts = frozenset({"table", "cohort"})
    options = _OPTIONS

    def _text(self, data: Any, **options: Any) -> str:
        return json.dumps(build_card(data, **options), indent=2) + "\n"
