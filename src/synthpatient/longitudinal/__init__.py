"""Patient timelines: a long table as a patients table plus an event table in time.

A visit-level table (several rows per patient) is read at the patient level: the patient key
(found by :mod:`synthpatient.schema`), the time column (dates, or days or visit numbers), the
static columns that hold one value per patient and the varying ones that change between
visits. Synthesizers and evaluation exchange the long form; :class:`PatientTable` is the split.

Examples:
    >>> from synthpatient import datasets
    >>> from synthpatient.longitudinal import PatientTable
    >>> table = PatientTable.from_long(datasets.load("pbcseq"))
    >>> table.layout.key, table.layout.time, table.layout.static
    ('id', 'day', ('futime', 'status', 'trt', 'age', 'sex'))
    >>> int(table.events_per_patient().max())
    16
"""

from synthpatient.longitudinal._checks import MAX_EVENTS_PER_PATIENT
from synthpatient.longitudinal._layout import Layout, frames_layout, infer_layout
from synthpatient.longitudinal._table import PatientTable
from synthpatient.longitudinal._tables import PatientTables, check_table_name

__all__ = [
    "MAX_EVENTS_PER_PATIENT",
    "Layout",
    "PatientTable",
    "PatientTables",
    "check_table_name",
    "frames_layout",
    "infer_layout",
]
