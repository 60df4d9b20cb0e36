"""Exact copies: synthetic rows equal to a training row, or to a prompt example.

Rows are compared on the schema's learned columns after normalising dtypes (1 == 1.0 == "1",
missing == missing), by hashing, so every row is compared. See
:mod:`synthpatient.evaluation.privacy` for what every privacy test shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._row_hash import row_hashes
from synthpatient.evaluation._encoding import (
    check_columns,
    check_frame,
    learned_columns,
    prepare_tables,
    sample_rows,
)
from synthpatient.evaluation._metric import Inputs, Metric, Verdicts, flat_details
from synthpatient.schema import Schema


@dataclass(frozen=True)
class ExactCopyResult:
    """Share of synthetic rows identical to a training row (and, as a baseline, to a holdout row).

    Identical means equal on every learned column after normalising dtypes (1 == 1.0 == "1",
    missing == missing). Data with few distinct rows (all-categorical tables) copy "by
    coincidence"; the holdout share measures that. ``score = 1 - max(0, share_training -
    share_holdout) / (1 - share_holdout)`` with a holdout, ``1 - share_training`` without: 0
    when every synthetic row is a training row.
    """

    score: float
    share_training: float
    share_holdout: float | None
    share_duplicated_within_synthetic: float
    n_synthetic: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExampleCopyResult:
    """Share of synthetic rows identical to one of the example rows shown to an LLM generator;
    ``score = 1 - share_copied``."""

    score: float
    share_copied: float
    n_copied: int
    n_synthetic: int
    n_examples: int
    details: dict[str, Any] = field(default_factory=dict)


def exact_copies(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    *,
    schema: Schema | None = None,
    seed: int | None = None,
) -> ExactCopyResult:
    """Share of synthetic rows equal to a training row on every learned column.

    All synthetic and training rows are compared (hashing is fast). With a ``holdout``, the
    share equal to a holdout row is the baseline of natural coincidences; a holdout larger than
    the training table is cut (seeded) to the training size, so that the baseline is not
    inflated. A holdout smaller than the training table makes the baseline a little low, which
    errs on the side of privacy. See :class:`ExactCopyResult` for the score.

    Args:
        real: Training rows the generator saw.
        synthetic: Generated rows.
        holdout: Real rows the generator never saw (optional baseline).
        schema: Column kinds; inferred from ``real`` when None.
        seed: Seed of the holdout subsampling.
    """
    s = prepare_tables(real, synthetic, holdout, schema, seed)
    kinds = {c: s.schema[c].kind for c in s.columns}
    syn_hash = row_hashes(synthetic, kinds)
    in_train = np.isin(syn_hash, row_hashes(real, kinds))
    share_train = float(in_train.mean())
    share_dup = 1.0 - len(np.unique(syn_hash)) / len(syn_hash)
    details: dict[str, Any] = {
        "seed": s.seed,
        "columns": s.columns,
        "n_copies_training": int(in_train.sum()),
        "n_training": len(real),
    }
    share_hold: float | None = None
    if holdout is not None:
        hold_rows = sample_rows(len(holdout), len(real), s.rng)
        in_hold = np.isin(syn_hash, row_hashes(holdout.iloc[hold_rows], kinds))
        share_hold = float(in_hold.mean())
        excess = max(0.0, share_train - share_hold)
        score = 1.0 if share_hold >= 1.0 else 1.0 - excess / (1.0 - share_hold)
        details.update(
            {
                "n_copies_holdout": int(in_hold.sum()),
                "n_holdout": len(hold_rows),
                "holdout_subsampled": len(holdout) > len(hold_rows),
                "score_formula": "1 - max(0, share_training - share_holdout) / (1 - share_holdout)",
            }
        )
    else:
        score = 1.0 - share_train
        details["score_formula"] = "1 - share_training"
    return ExactCopyResult(
        score=float(np.clip(score, 0.0, 1.0)),
        share_training=share_train,
        share_holdout=share_hold,
        share_duplicated_within_synthetic=float(share_dup),
        n_synthetic=len(synthetic),
        details=details,
    )


def copied_from_examples(
    synthetic: pd.DataFrame, examples: pd.DataFrame, *, schema: Schema | None = None
) -> ExampleCopyResult:
    """Share of synthetic rows identical to one of the example rows given to an LLM generator.

    Prompts that show a few "example" rows invite the model to repeat them; in SynLLM's
    outputs about half the rows of example-bearing prompts were verbatim copies. Rows are
    compared on the learned columns, as in :func:`exact_copies`.

    Args:
        synthetic: Generated rows.
        examples: The rows shown in the prompt(s).
        schema: Column kinds; inferred from ``synthetic`` when None (there are usually too
            few examples to infer from).

    Returns:
        An :class:`ExampleCopyResult`; ``details["copies_per_example"]`` counts, for each
        example row in order, the synthetic rows that repeat it.
    """
    check_frame(synthetic, "synthetic")
    check_frame(examples, "examples")
    schema = schema or Schema.infer(synthetic)
    columns = learned_columns(schema)
    check_columns(synthetic, columns, "synthetic")
    check_columns(examples, columns, "examples")
    kinds = {c: schema[c].kind for c in columns}
    syn_hash, ex_hash = row_hashes(synthetic, kinds), row_hashes(examples, kinds)
    copied = np.isin(syn_hash, ex_hash)
    uniq, counts = np.unique(syn_hash, return_counts=True)
    per_example = dict(zip(uniq.tolist(), counts.tolist(), strict=True))
    share = float(copied.mean())
    return ExampleCopyResult(
        score=1.0 - share,
        share_copied=share,
        n_copied=int(copied.sum()),
        n_synthetic=len(synthetic),
        n_examples=len(examples),
        details={
            "columns": columns,
            "copies_per_example": [int(per_example.get(h, 0)) for h in ex_hash.tolist()],
        },
    )


# -- the registered metrics ------------------------------------------------------------------
class ExactCopies(Metric):
    """1 - the excess share of synthetic rows that are training rows (see :func:`exact_copies`).

    Runs without a holdout too (then ``1 - share_training``); with one, copies of unseen
    holdout rows are the baseline of coincidences. Details: every field of
    :class:`ExactCopyResult` and its details.

    Examples:
        >>> ExactCopies().compute(train, synthetic, holdout=holdout).details["share_training"]
        0.0
    """

    key = "exact_copies"
    family = "privacy"
    name = "Exact copies"
    verdicts = Verdicts(
        1.0,
        0.99,
        "no synthetic row copies a training row",
        "a few synthetic rows copy training rows",
        "many rows are copies",
    )

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        result = exact_copies(
            inputs.real, inputs.synthetic, inputs.holdout, schema=inputs.schema, seed=inputs.seed
        )
        return result.score, flat_details(result)


class CopiedFromExamples(Metric):
    """1 - the share of synthetic rows that repeat an example row shown to a prompted generator
    (see :func:`copied_from_examples`).

    Examples:
        >>> CopiedFromExamples().compute(train, synthetic, examples=shown).score
        0.97
    """

    key = "copied_from_examples"
    family = "privacy"
    name = "Copied from prompt examples"
    verdicts = Verdicts(
        1.0,
        0.95,
        "nothing copied from the prompt examples",
        "a few rows copied from the examples",
        "many rows copied",
    )
    requires = frozenset({"examples"})

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        result = copied_from_examples(
            inputs.synthetic,
            inputs.examples,
            schema=inputs.schema,
        )
        return result.score, flat_details(result)
