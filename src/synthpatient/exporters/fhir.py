"""FHIR R4 exports of a table or a cohort: transaction Bundles, or bulk-data NDJSON.

Both go through the one mapping of :mod:`synthpatient.exporters.fhir_mapping`: a cohort's
columns by its own codes, any other table's by the knowledge base's (a column without a known
code is named in :meth:`FhirMapping.notice` and left out). A cohort with a history gives an
Encounter per visit and dated Observations, MedicationRequests and Conditions
(:mod:`synthpatient.exporters.fhir_timeline`). Every resource is validated with
``fhir.resources`` (the ``fhir`` extra) before its folder is renamed into place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from synthpatient.exporters.base import Exporter, Table, data_kind, safe_name
from synthpatient.exporters.fhir_mapping import (
    FhirMapping,
    bundles,
    map_table,
    resources_by_type,
)


def fhir_mapping(data: Any) -> FhirMapping:
    """The mapping of a cohort (its own codes) or a table (the knowledge base's codes)."""
    if data_kind(data) == "cohort":
        from synthpatient.knowledge.fhir import map_cohort

        return map_cohort(data)
    table = data if isinstance(data, Table) else Table(data)
    return map_table(table.frame, table.schema)


def _frame(data: Any) -> Any:
    if data_kind(data) == "cohort":
        from synthpatient.knowledge.fhir import fhir_frame

        return fhir_frame(data)  # with each patient's staged ICD-10-CM code where it has one
    return data.frame


class FHIRBundlesExporter(Exporter):
    """A folder with one FHIR R4 transaction Bundle (JSON) per patient.

    Examples:
        >>> FHIRBundlesExporter().export(cohort, "cohort/fhir")
    """

    key = "fhir_bundles"
    kind = "folder"
    media_type = "application/zip"
    description = "FHIR R4: a folder with one transaction Bundle (JSON) per patient."
    accepts = frozenset({"table", "cohort"})

    def _files(self, data: Any, **options: Any) -> Iterator[tuple[str, Iterable[bytes]]]:
        for index, (pid, bundle) in enumerate(bundles(_frame(data), fhir_mapping(data)), start=1):
            yield f"{safe_name(pid, f'patient-{index}')}.json", [json.dumps(bundle).encode()]


class FHIRNDJSONExporter(Exporter):
    """A folder with one ``<ResourceType>.ndjson`` file per resource type (FHIR bulk data).

    Examples:
        >>> FHIRNDJSONExporter().export(Table(synthetic, schema), "synthetic-fhir")
    """

    key = "fhir_ndjson"
    kind = "folder"
    media_type = "application/zip"
    description = "FHIR R4 bulk data: one NDJSON file per resource type."
    accepts = frozenset({"table", "cohort"})

    def _files(self, data: Any, **options: Any) -> Iterator[tuple[str, Iterable[bytes]]]:
        # every resource is validated before the first file is written
        grouped = resources_by_type(_frame(data), fhir_mapping(data))
        for kind, items in grouped.items():
            yield f"{kind}.ndjson", ((json.dumps(item) + "\n").encode() for item in items)
