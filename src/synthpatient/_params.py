"""Keyword-only constructor parameters, stored unchanged (scikit-learn's estimator contract).

Shared by synthesizers and metrics: both take keyword-only parameters, store them under the same
names and report them with ``get_params()`` (saved in model manifests, shown in reports).
"""

from __future__ import annotations

import inspect
from typing import Any


class KeywordParams:
    """``get_params()`` and a ``repr`` from the keyword-only parameters of ``__init__``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"
