"""The data card of a partitioned dataset (``ask --engine``): the whole dataset's size, its
partitions, tables and formats, and what the evaluation was judged on.

The card is built from a sample of the dataset (the columns, representation and evaluation are
measured on it); the ``partitions`` option (:func:`synthpatient.scale.describe_partitions`)
puts the whole dataset's counts in place of the sample's and says which patients the sample
holds, so no figure of the sample passes for one of the dataset.
"""

from __future__ import annotations

from typing import Any

#: what one row is, for the tables of a cohort without a history (a history's tables say it)
_ONE_ROW_PER = {"patients": "patient", "observations": "patient and observation"}


def apply_partitions(card: dict[str, Any], partitions: dict[str, Any] | None) -> None:
    """Put the whole dataset's counts into ``card`` (built on a sample of it), in place."""
    if not partitions:
        return
    card["dataset"]["rows"] = partitions["rows"]
    card["dataset"]["kind"] += ", partitioned"
    # the sample's own tables (a history's) give each table's columns; their rows are the
    # sample's, so the whole dataset's rows replace them
    sample_tables = {t["name"]: t for t in card.pop("tables", None) or []}
    card["partitions"] = {
        **partitions,
        "tables": [
            {
                "name": name,
                "folder": f"{name}/",
                "rows": rows,
                "one_row_per": sample_tables.get(name, {}).get("one_row_per")
                or _ONE_ROW_PER.get(name),
            }
            for name, rows in partitions["tables"].items()
        ],
    }
    if card.get("evaluation"):
        card["evaluation"]["judged_on"] = partitions["judged_on"]


def partition_lines(card: dict[str, Any]) -> list[str]:
    """The Markdown section of the partitions (nothing for a dataset in one piece)."""
    parts = card.get("partitions")
    if not parts:
        return []
    lines = [
        "",
        "## Partitions",
        "",
        f"- {parts['n_partitions']:,} partition(s) of up to {parts['partition_size']:,} "
        f"{parts['unit']}, written by the {parts['engine']} engine",
        f"- Formats: {', '.join(parts['formats'])}",
        f"- Checksums: every partition file's SHA-256 is in {parts['manifest']}",
    ]
    if parts.get("fhir_resources"):
        lines.append(
            "- FHIR resources: "
            + ", ".join(f"{kind} {n:,}" for kind, n in sorted(parts["fhir_resources"].items()))
        )
    if parts["tables"]:
        lines += ["", "| table | folder | one row per | rows |", "|---|---|---|---|"]
        lines += [
            f"| {t['name']} | {t['folder']} | {t['one_row_per'] or ''} | {t['rows']:,} |"
            for t in parts["tables"]
        ]
    lines += [
        "",
        f"The shares and scores below were measured on {parts['judged_on']}, not on every "
        f"one of the dataset's {parts['rows']:,} {parts['unit']}.",
    ]
    return lines
