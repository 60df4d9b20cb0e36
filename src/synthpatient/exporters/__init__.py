"""Every output format behind one interface: tables, FHIR R4, the HTML report, a data card.

- :func:`get_exporter` / :func:`available_exporters`: the explicit registry (key -> class).
- :func:`exporter_for_path`: the table format a file name asks for by its extension.
- :class:`Exporter`: ``export(data, path, *, overwrite=False, **options) -> Path`` (atomic),
  ``to_bytes`` / ``to_text`` (in memory), ``archive`` (a folder as one zip).
- :class:`Table`: a DataFrame with its schema; a knowledge-driven ``Cohort`` and an
  ``EvaluationReport`` are taken as they are by the formats that write them.
- :func:`map_table` / :class:`FhirMapping`: the one mapping of columns to FHIR resources.

Examples:
    >>> from synthpatient.exporters import Table, get_exporter
    >>> get_exporter("parquet").export(Table(synthetic, model.schema_), "synthetic.parquet")
    >>> get_exporter("fhir_ndjson").export(cohort, "cohort-fhir")
"""

from synthpatient.exporters.base import (
    Exporter,
    Table,
    archive_folder,
    checksums,
    cohort_tables,
    text_dates,
)
from synthpatient.exporters.fhir_mapping import FhirMapping, map_table
from synthpatient.exporters.registry import (
    available_exporters,
    exporter_for_path,
    get_exporter,
    get_exporter_class,
    table_suffixes,
)

__all__ = [
    "Exporter",
    "FhirMapping",
    "Table",
    "archive_folder",
    "available_exporters",
    "checksums",
    "cohort_tables",
    "exporter_for_path",
    "get_exporter",
    "get_exporter_class",
    "map_table",
    "table_suffixes",
    "text_dates",
]
