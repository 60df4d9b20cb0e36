"""Past one machine's memory: samples written as a partitioned Parquet dataset.

``sample_partitioned`` draws ``n`` rows (or patients) from a saved model in partitions of a
fixed size, each partition seeded from (seed, partition index) and numbered from its first
row, so the dataset is the same whatever the number of workers; each partition is written
whole (temporary file, then rename) and recorded with its checksum in ``_manifest.json``, so an
interrupted run resumes by skipping the partitions already written. The work runs in this
process (``engine="local"``) or on Dask (``engine="dask"``: a LocalCluster with one worker per
core, or an existing cluster at ``scheduler=``); a worker loads the model from its folder
(never a pickled model) and holds one partition at a time. A knowledge-driven cohort
(a ``CohortSpec``, with or without a follow-up) is written as one Parquet dataset per table
and, with ``fhir=True``, FHIR NDJSON per partition (``check_fhir_partition`` counts its
resources and the references that do not resolve inside it); ``write_cohort_records`` then
writes its realism report (judged on a bounded sample), data card and provenance, and
``write_model_records`` a model's sample's data card and provenance.

Examples:
    >>> from synthpatient.scale import sample_partitioned
    >>> manifest = sample_partitioned("model/", 10_000_000, "big/", partition_size=500_000,
    ...                               seed=1, engine="dask")
"""

from synthpatient.scale._cohort_records import describe_partitions, write_cohort_records
from synthpatient.scale._evaluate import evaluate_partitioned, partitioned_quality
from synthpatient.scale._fhir_partitions import FhirPartitionCheck, check_fhir_partition
from synthpatient.scale._manifest import Manifest, PartitionRecord
from synthpatient.scale._model_records import write_model_records
from synthpatient.scale._sample import sample_partitioned
from synthpatient.scale._stream_fit import FitReport, fit_partitioned

__all__ = [
    "FhirPartitionCheck",
    "FitReport",
    "Manifest",
    "PartitionRecord",
    "check_fhir_partition",
    "describe_partitions",
    "evaluate_partitioned",
    "fit_partitioned",
    "partitioned_quality",
    "sample_partitioned",
    "write_cohort_records",
    "write_model_records",
]
