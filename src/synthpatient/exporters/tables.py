"""A table's rows as CSV, TSV or Parquet, written by the atomic table writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from synthpatient._atomic import write_table
from synthpatient.exporters.base import Exporter, Table, table_bytes


class _TableExporter(Exporter):
    """The rows of a table in one file; a cohort gives its patients table (dates as text)."""

    tabular: ClassVar[bool] = True

    def _write(self, data: Table, path: Path, *, overwrite: bool, **options: Any) -> Path:
        # write_table picks the format by extension, which _check_suffix has tied to this class
        return write_table(data.frame, path, overwrite=overwrite)

    def _bytes(self, data: Table, **options: Any) -> bytes:
        return table_bytes(self, data)

    def _text(self, data: Table, **options: Any) -> str:
        return self._bytes(data).decode("utf-8")


class CSVExporter(_TableExporter):
    """Comma-separated values with a header row, UTF-8, no index.

    Examples:
        >>> CSVExporter().export(synthetic, "synthetic.csv")
    """

    key = "csv"
    suffixes = (".csv",)
    media_type = "text/csv"
    description = "The table as comma-separated values (UTF-8, header row)."


class TSVExporter(_TableExporter):
    """Tab-separated values with a header row, UTF-8, no index.

    Examples:
        >>> TSVExporter().export(synthetic, "synthetic.tsv")
    """

    key = "tsv"
    suffixes = (".tsv",)
    media_type = "text/tab-separated-values"
    description = "The table as tab-separated values (UTF-8, header row)."


class ParquetExporter(_TableExporter):
    """Apache Parquet, keeping each column's type; a column Parquet cannot store is named.

    Examples:
        >>> ParquetExporter().export(synthetic, "synthetic.parquet")
    """

    key = "parquet"
    suffixes = (".parquet", ".pq")
    media_type = "application/vnd.apache.parquet"
    description = "The table as Apache Parquet (column types kept)."
    binary = True
