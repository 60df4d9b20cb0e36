"""The Gaussian copula's building blocks, for fits that gather their statistics elsewhere.

``synthpatient.scale`` fits a copula from a dataset larger than memory: it computes the
marginals and the correlation of normal scores in passes over partitions, then assembles them
with these pieces into an ordinary :class:`GaussianCopulaSynthesizer` state. They are the same
objects the in-memory fit uses, so both fits save and sample alike.
"""

from synthpatient.synthesizers._gaussian import repair_correlation
from synthpatient.synthesizers._marginals import (
    EPS,
    CategoricalMarginal,
    NumericMarginal,
    group_score_variance,
    to_numbers,
)
from synthpatient.synthesizers._missingness import fit_missingness

__all__ = [
    "EPS",
    "CategoricalMarginal",
    "NumericMarginal",
    "fit_missingness",
    "group_score_variance",
    "repair_correlation",
    "to_numbers",
]
