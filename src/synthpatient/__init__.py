"""synthpatient: realistic synthetic patient data you can share, test on and teach with.

Importing the package is light: heavy dependencies (torch, LLM clients, FHIR, web) load only
when a feature that needs them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from synthpatient import errors
from synthpatient.schema import ColumnSpec, Schema
from synthpatient.synthesizers import (
    Capabilities,
    Synthesizer,
    available_synthesizers,
    get_synthesizer_class,
    make_synthesizer,
)

if TYPE_CHECKING:
    from synthpatient import datasets
    from synthpatient.synthesizers.copula import GaussianCopulaSynthesizer

_LAZY = {
    "GaussianCopulaSynthesizer": ("synthpatient.synthesizers.copula", "GaussianCopulaSynthesizer"),
    "datasets": ("synthpatient.datasets", None),
    "from_schema": ("synthpatient.api", "from_schema"),
    "generate": ("synthpatient.api", "generate"),
    "quality_summary": ("synthpatient.api", "quality_summary"),
    "read_table": ("synthpatient._io", "read_table"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name)
        return module if attr is None else getattr(module, attr)
    raise AttributeError(f"module 'synthpatient' has no attribute {name!r}")


__all__ = [
    "Capabilities",
    "ColumnSpec",
    "GaussianCopulaSynthesizer",
    "Schema",
    "Synthesizer",
    "__version__",
    "available_synthesizers",
    "datasets",
    "errors",
    "from_schema",
    "generate",
    "get_synthesizer_class",
    "make_synthesizer",
    "quality_summary",
    "read_table",
]
