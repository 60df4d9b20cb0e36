"""The explicit registry of synthesizers: key -> class, imported only when asked for.

The key is also the module name and the CLI name. A backend whose extra is not installed is
still listed, and asking for it raises an error with the pip command that installs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from synthpatient.errors import UnknownSynthesizerError

if TYPE_CHECKING:
    from synthpatient.synthesizers.base import Synthesizer

#: key -> "module:Class" (lazy, so listing keys imports no heavy dependency)
_REGISTRY: dict[str, str] = {
    "copula": "synthpatient.synthesizers.copula:GaussianCopulaSynthesizer",
    "cart": "synthpatient.synthesizers.cart:CARTSynthesizer",
    "hybrid": "synthpatient.synthesizers.hybrid:HybridSynthesizer",
    "ctgan": "synthpatient.synthesizers.ctgan:CTGANSynthesizer",
    "tvae": "synthpatient.synthesizers.tvae:TVAESynthesizer",
    "mst": "synthpatient.synthesizers.mst:MSTSynthesizer",
    "aim": "synthpatient.synthesizers.aim:AIMSynthesizer",
    "auto": "synthpatient.synthesizers.auto:AutoSynthesizer",
    "llm": "synthpatient.synthesizers.llm:LLMSynthesizer",
    "tabular_lm": "synthpatient.synthesizers.tabular_lm:TabularLMSynthesizer",
    "sequential": "synthpatient.synthesizers.sequential:SequentialSynthesizer",
}


def available_synthesizers() -> list[str]:
    """Registered keys, sorted."""
    return sorted(_REGISTRY)


def get_synthesizer_class(key: str) -> type[Synthesizer]:
    """The class registered under ``key``; an unknown key lists the known ones."""
    if key not in _REGISTRY:
        raise UnknownSynthesizerError(
            f"Unknown synthesizer '{key}'. Known synthesizers: "
            f"{', '.join(available_synthesizers())}. Run `synthpatient synthesizers list`."
        )
    module_name, class_name = _REGISTRY[key].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_synthesizer(key: str, **params: Any) -> Synthesizer:
    """Build the synthesizer registered under ``key`` with keyword parameters."""
    return get_synthesizer_class(key)(**params)
