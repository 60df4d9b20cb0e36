"""A table's rows as JSON Lines: one JSON object per row, for log and streaming tools."""

from __future__ import annotations

from typing import Any

from synthpatient.exporters.base import Exporter, Table


class JSONLinesExporter(Exporter):
    """One JSON object per line (UTF-8): missing values as ``null``, dates as ISO 8601 text.

    Examples:
        >>> JSONLinesExporter().export(synthetic, "synthetic.jsonl")
    """

    key = "jsonl"
    suffixes = (".jsonl",)
    media_type = "application/jsonl"
    description = "The table as JSON Lines (one object per row)."
    tabular = True

    def _text(self, data: Table, **options: Any) -> str:
        if data.frame.empty:
            return ""
        text = data.frame.to_json(
            orient="records", lines=True, date_format="iso", force_ascii=False
        )
        return text if text.endswith("\n") else text + "\n"
