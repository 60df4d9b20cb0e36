"""Privacy: does the synthetic table reveal the real patients the generator was trained on?

Every test compares the TRAINING rows (``real``, which the generator saw) with HOLDOUT rows
(real patients it never saw). A generator that learned the population, not the people, is as
close to the holdout as to the training rows; one that copies is closer to training. This is
what makes these scores impossible to win by copying or by collapsing to a few rows, unlike
privacy scores computed on the synthetic table alone (e.g. SynLLM's k-anonymity "violation
rate", which is best for duplicated data).

The tests live in three modules, all re-exported here:

* :mod:`~synthpatient.evaluation.distances`: distance to closest record (``dcr``) and the
  nearest-neighbour distance ratio (``nndr``);
* :mod:`~synthpatient.evaluation.copies`: ``exact_copies`` of training rows and rows
  ``copied_from_examples`` shown to a prompted generator;
* :mod:`~synthpatient.evaluation.attacks`: ``membership_inference`` and
  ``attribute_inference``.

All of them:

* never modify the tables they get;
* compare only the schema's learned columns (identifiers and free text are ignored), encoded
  with :mod:`synthpatient.evaluation._encoding` (robust-scaled numbers, weighted one-hot
  categories, missing indicators), with Euclidean distance;
* subsample large tables with ``seed`` (recorded in ``details``, drawn fresh and recorded when
  None, so any run can be repeated);
* return a frozen result whose ``score`` is in [0, 1], 1 = most private, plus JSON-serialisable
  ``details`` (long per-row lists only under keys named ``distances_*`` / ``*_values``).

Each has a registered :class:`~synthpatient.evaluation.Metric` (``dcr``, ``nndr``,
``exact_copies``, ``copied_from_examples``, ``membership_inference``,
``attribute_inference``) that ``evaluate()`` runs.
"""

from __future__ import annotations

from synthpatient.evaluation.attacks import (
    MAX_ATTACK_RECORDS,
    AttributeInference,
    AttributeInferenceResult,
    MembershipInference,
    MIAResult,
    attribute_inference,
    membership_inference,
)
from synthpatient.evaluation.copies import (
    CopiedFromExamples,
    ExactCopies,
    ExactCopyResult,
    ExampleCopyResult,
    copied_from_examples,
    exact_copies,
)
from synthpatient.evaluation.distances import (
    DCR,
    MAX_REFERENCE_ROWS,
    MAX_SYNTHETIC_ROWS,
    NNDR,
    DCRResult,
    NNDRResult,
    dcr,
    nndr,
)

__all__ = [
    "DCR",
    "MAX_ATTACK_RECORDS",
    "MAX_REFERENCE_ROWS",
    "MAX_SYNTHETIC_ROWS",
    "NNDR",
    "AttributeInference",
    "AttributeInferenceResult",
    "CopiedFromExamples",
    "DCRResult",
    "ExactCopies",
    "ExactCopyResult",
    "ExampleCopyResult",
    "MIAResult",
    "MembershipInference",
    "NNDRResult",
    "attribute_inference",
    "copied_from_examples",
    "dcr",
    "exact_copies",
    "membership_inference",
    "nndr",
]
