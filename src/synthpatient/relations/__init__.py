"""Learned constraints: relations between columns found in the training table, recorded in the
schema (editable) and kept in every synthesizer's samples.

* :func:`discover_relations` finds identities (Friedewald LDL), ratios (BMI), orders
  (diastolic < systolic), presence structures ("set only if") and fixed category mappings.
* :func:`check_relation` tells where a relation applies and holds in a table.
* :func:`enforce_relations` derives, resamples and repairs sampled rows (the base class
  calls it) and reports what it did (:class:`RelationReport`).
"""

from synthpatient.relations._check import RelationCheck, check_relation
from synthpatient.relations._discover import discover_relations
from synthpatient.relations._enforce import RelationReport, enforce_relations
from synthpatient.schema import Relation, Term

__all__ = [
    "Relation",
    "RelationCheck",
    "RelationReport",
    "Term",
    "check_relation",
    "discover_relations",
    "enforce_relations",
]
