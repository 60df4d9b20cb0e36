"""The cited clinical knowledge base and cohorts made from it without input data.

- :func:`load_knowledge_base`: sources and condition specifications (YAML in ``data/``).
- :class:`CohortSampler` / :class:`CohortSpec`: draw a cohort; :func:`check_cohort`: its
  realism against the sourced targets and clinical rules.
- :class:`Conversation`: plain-English requests and questions (``synthpatient ask``/``chat``).
- :mod:`synthpatient.knowledge.fhir`: FHIR R4 output (the ``fhir`` extra).
"""

from typing import Any

from synthpatient.knowledge._kb import KnowledgeBase, load_from_folder, load_knowledge_base
from synthpatient.knowledge._model import Comorbidity, Condition, Medication, Observation, Source

__all__ = [
    "CohortSampler",
    "CohortSpec",
    "Comorbidity",
    "Condition",
    "Conversation",
    "Filter",
    "KnowledgeBase",
    "Medication",
    "Observation",
    "Reply",
    "Source",
    "check_cohort",
    "load_from_folder",
    "load_knowledge_base",
    "marginal_quantile",
    "preferred_display",
]

_LAZY = {
    "CohortSampler": "sampler",
    "CohortSpec": "sampler",
    "Filter": "sampler",
    "Conversation": "conversation",
    "Reply": "conversation",
    "check_cohort": "realism",
    "marginal_quantile": "_latent",
    "preferred_display": "_codes",
}


def __getattr__(name: str) -> Any:
    """The sampler, conversation and realism checks, imported when first used (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"synthpatient.knowledge.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'synthpatient.knowledge' has no attribute {name!r}")
