"""Synthesizers: the base contract, the registry, and one backend per module."""

from synthpatient.synthesizers._conditions import Condition, parse_condition_text
from synthpatient.synthesizers.base import Capabilities, SampleReport, Synthesizer
from synthpatient.synthesizers.registry import (
    available_synthesizers,
    get_synthesizer_class,
    make_synthesizer,
)

__all__ = [
    "Capabilities",
    "Condition",
    "SampleReport",
    "Synthesizer",
    "available_synthesizers",
    "get_synthesizer_class",
    "make_synthesizer",
    "parse_condition_text",
]
