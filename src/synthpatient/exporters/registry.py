"""The explicit registry of output formats: key -> exporter class, imported only when asked for.

Adding a format is one module with its exporter class and one line here (and its test): the
CLI picks table formats by extension from this registry, and the web app and the cohort
folder ask it by key.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from synthpatient.errors import UnknownExporterError

if TYPE_CHECKING:
    from synthpatient.exporters.base import Exporter

#: key -> "module:Class" (lazy: listing keys imports no format's dependencies)
_REGISTRY: dict[str, str] = {
    "csv": "synthpatient.exporters.tables:CSVExporter",
    "tsv": "synthpatient.exporters.tables:TSVExporter",
    "parquet": "synthpatient.exporters.tables:ParquetExporter",
    "jsonl": "synthpatient.exporters.jsonl:JSONLinesExporter",
    "fhir_bundles": "synthpatient.exporters.fhir:FHIRBundlesExporter",
    "fhir_ndjson": "synthpatient.exporters.fhir:FHIRNDJSONExporter",
    "html_report": "synthpatient.exporters.report:HTMLReportExporter",
    "datacard": "synthpatient.exporters.datacard:DataCardExporter",
    "datacard_json": "synthpatient.exporters.datacard:DataCardJSONExporter",
}


def available_exporters() -> list[str]:
    """Registered keys, sorted."""
    return sorted(_REGISTRY)


def get_exporter_class(key: str) -> type[Exporter]:
    """The class registered under ``key``; an unknown key lists the known ones."""
    if key not in _REGISTRY:
        raise UnknownExporterError(
            f"Unknown export format '{key}'. Known formats: {', '.join(available_exporters())}."
        )
    module_name, class_name = _REGISTRY[key].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def get_exporter(key: str) -> Exporter:
    """An exporter of the format registered under ``key``."""
    return get_exporter_class(key)()


def table_suffixes() -> dict[str, str]:
    """Extension -> key of every format that writes a table's rows as one file."""
    found: dict[str, str] = {}
    for key in available_exporters():
        klass = get_exporter_class(key)
        if klass.tabular:
            found.update({suffix: key for suffix in klass.suffixes})
    return dict(sorted(found.items()))


def exporter_for_path(path: str | Path) -> Exporter:
    """The table format a file name asks for by its extension (``--out synthetic.parquet``).

    Raises:
        UnknownExporterError: no table format has that extension; the message lists them.
    """
    path = Path(path)
    suffixes = table_suffixes()
    key = suffixes.get(path.suffix.lower())
    if key is None:
        raise UnknownExporterError(
            f"Cannot tell the table format of '{path.name}' from its extension. "
            f"Use one of: {', '.join(suffixes)}."
        )
    return get_exporter(key)
