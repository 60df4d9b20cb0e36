"""Alpha-precision and beta-recall (Alaa et al., ICML 2022, "How Faithful is your Synthetic
Data?"), on the project's mixed-type encoding with k-nearest-neighbour supports.

The alpha-support of a distribution is its smallest region holding a share alpha of its mass
(its densest part). Alpha-precision P(alpha) is the share of synthetic rows inside the
alpha-support of the real rows; beta-recall R(beta) the share of real rows inside the
beta-support of the synthetic rows. A faithful generator puts P(alpha) = alpha at every
level: above it, its rows crowd the typical patients (mode collapse, or copies); below it, they
fall where real patients are rare (implausible rows). Likewise a generator that covers the
real population's diversity has R(beta) = beta. The scores are the paper's integrated
measures, ``1 - 2 * mean over levels of |P(alpha) - alpha|`` (and the same for R): 1 when the
curve follows the diagonal, 0 at worst.

Simplified from the paper, which embeds rows with a learned one-class network (deep SVDD) and
takes the alpha-support as a hypersphere about its centre:

* rows are placed in the shared evaluation encoding (:mod:`synthpatient.evaluation._encoding`:
  robust-scaled numbers, weighted one-hot categories, missing indicators), fitted on the real
  rows, instead of a learned embedding;
* supports are k-nearest-neighbour balls, as in the k-NN precision/recall estimators the
  paper's reference implementations also use: a row lies in the alpha-support of a table when
  at least ``k`` of the table's rows fall within radius r(alpha) of it, r(alpha) being the
  alpha-quantile of the table's own k-NN radii (distance from each of its rows to its k-th
  nearest other row). This is a k-NN density level set, the minimum-volume set of mass alpha;
* equal distances (tables of categories) are shared evenly between the levels they tie
  across (the expectation of a randomised quantile), so that a fresh sample of a discrete
  table still scores near 1;
* the integral is a mean over ``n_levels`` evenly spaced levels; tables above ``max_rows``
  rows are subsampled with the seed; the paper's third measure, authenticity, is left to the
  privacy family (``dcr``, ``exact_copies``).

A copy of the real rows does not score 1: each copied row sits on a real row, one neighbour
nearer than a fresh row would, so its precision curve runs above the diagonal.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from synthpatient.evaluation._encoding import (
    check_positive_int,
    fit_encoder,
    nearest_neighbours,
    prepare_tables,
    sample_rows,
)
from synthpatient.evaluation._metric import Inputs, Metric, Verdicts

DEFAULT_K = 5
N_LEVELS = 20
MAX_ROWS = 5_000
_DECIMALS = 4


def _own_radii(points: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest OTHER row (the row itself is at distance 0
    among its k + 1 nearest, whatever ties there are)."""
    distances, _ = nearest_neighbours(points, points, k=k + 1)
    return distances[:, k]


def support_curve(
    reference: np.ndarray, query: np.ndarray, k: int, levels: np.ndarray
) -> np.ndarray:
    """Share of ``query`` rows inside each level-support of ``reference`` (k-NN balls).

    A query row's k-NN radius in ``reference`` is placed among the reference rows' own radii;
    a row tied with several of them counts inside a level in proportion to the part of its tie
    below the level.
    """
    own = np.sort(_own_radii(reference, k))
    radius = nearest_neighbours(query, reference, k=k)[0][:, k - 1]
    below = np.searchsorted(own, radius, side="left") / len(own)
    upto = np.searchsorted(own, radius, side="right") / len(own)
    width = (upto - below)[:, None]
    tied = width > 0
    share = np.where(
        tied,
        (levels[None, :] - below[:, None]) / np.where(tied, width, 1.0),
        (upto[:, None] <= levels[None, :]).astype(float),
    )
    return np.clip(share, 0.0, 1.0).mean(axis=0)


class _SupportMetric(Metric):
    """The integrated share of one table's rows inside the other table's level-supports."""

    family = "fidelity"
    repeat = True
    #: True: synthetic rows in the real supports (precision); False: the other way (recall).
    synthetic_in_real: ClassVar[bool]

    def __init__(
        self, *, k: int = DEFAULT_K, n_levels: int = N_LEVELS, max_rows: int = MAX_ROWS
    ) -> None:
        self.k = k
        self.n_levels = n_levels
        self.max_rows = max_rows
        super().__init__()

    def _validate_params(self) -> None:
        check_positive_int(self.k, "k")
        check_positive_int(self.n_levels, "n_levels")
        check_positive_int(self.max_rows, "max_rows")

    def _compute(self, inputs: Inputs) -> tuple[float, dict[str, Any]]:
        tables = prepare_tables(inputs.real, inputs.synthetic, None, inputs.schema, inputs.seed)
        real = inputs.real.iloc[sample_rows(len(inputs.real), self.max_rows, tables.rng)]
        synthetic = inputs.synthetic.iloc[
            sample_rows(len(inputs.synthetic), self.max_rows, tables.rng)
        ]
        encoder = fit_encoder(inputs.real, tables.schema, columns=tables.columns)
        reference, query = encoder.transform(real), encoder.transform(synthetic)
        if not self.synthetic_in_real:
            reference, query = query, reference
        details: dict[str, Any] = {
            "seed": tables.seed,
            "k": self.k,
            "n_real": len(real),
            "n_synthetic": len(synthetic),
            "score_formula": "1 - 2 * mean |share inside - level|",
        }
        k = min(self.k, len(reference) - 1)
        if k < 1:  # one reference row has no neighbour: no support can be estimated
            return float("nan"), {**details, "error": "the reference table has a single row"}
        levels = (np.arange(self.n_levels) + 0.5) / self.n_levels
        curve = support_curve(reference, query, k, levels)
        score = float(np.clip(1.0 - 2.0 * np.mean(np.abs(curve - levels)), 0.0, 1.0))
        return score, {
            **details,
            "k_used": k,
            "levels": np.round(levels, _DECIMALS).tolist(),
            "curve": np.round(curve, _DECIMALS).tolist(),
        }


class AlphaPrecision(_SupportMetric):
    """Integrated alpha-precision: are synthetic rows where real patients are, as often?

    Details: ``levels`` (alpha) and ``curve`` (the share of synthetic rows inside each
    alpha-support of the real rows), ``k``, the rows used and the ``seed``.

    Examples:
        >>> result = AlphaPrecision(k=5).compute(real, synthetic, seed=0)
        >>> result.score, result.details["curve"]
    """

    key = "alpha_precision"
    name = "Alpha-precision"
    verdicts = Verdicts(
        0.85,
        0.7,
        "synthetic rows lie where real patients are, as often",
        "some synthetic rows crowd or leave the real patients' region",
        "synthetic rows are implausible or collapsed",
    )
    synthetic_in_real = True


class BetaRecall(_SupportMetric):
    """Integrated beta-recall: does the synthetic table cover the real patients' diversity?

    Details: ``levels`` (beta) and ``curve`` (the share of real rows inside each beta-support
    of the synthetic rows), ``k``, the rows used and the ``seed``.

    Examples:
        >>> BetaRecall().compute(real, synthetic, seed=0).score
    """

    key = "beta_recall"
    name = "Beta-recall"
    verdicts = Verdicts(
        0.85,
        0.7,
        "the synthetic rows cover the real patients' diversity",
        "part of the real patients' diversity is missing",
        "much of the real patients' diversity is missing",
    )
    synthetic_in_real = False
