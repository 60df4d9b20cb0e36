"""US Core race and ethnicity extensions on a FHIR Patient, from a cohort's race/ethnicity.

The knowledge base's groups (NHANES-style "non-Hispanic White", "Mexican American", ...) are
written as the US Core extensions: an OMB race category and an OMB ethnicity category (CDC
Race & Ethnicity code system, urn:oid:2.16.840.1.113883.6.238), each with the required text.
A group that names no race (Hispanic, Mexican American) gets the race text only ("Unknown"
with the null flavor UNK); "other" (other or several races) gets text without a category.
"""

from __future__ import annotations

from typing import Any

US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
CDC_RACE_ETHNICITY = "urn:oid:2.16.840.1.113883.6.238"
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"

WHITE = ("2106-3", "White")
BLACK = ("2054-5", "Black or African American")
ASIAN = ("2028-9", "Asian")
HISPANIC = ("2135-2", "Hispanic or Latino")
NOT_HISPANIC = ("2186-5", "Not Hispanic or Latino")
MEXICAN = ("2148-5", "Mexican")

#: group -> (OMB race (code, display) or None, race text, ethnicity, detailed ethnicity or None)
GROUPS: dict[str, tuple[tuple[str, str] | None, str, tuple[str, str], tuple[str, str] | None]] = {
    "non_hispanic_white": (WHITE, "White", NOT_HISPANIC, None),
    "non_hispanic_black": (BLACK, "Black or African American", NOT_HISPANIC, None),
    "non_hispanic_asian": (ASIAN, "Asian", NOT_HISPANIC, None),
    "hispanic": (None, "Unknown", HISPANIC, None),
    "mexican_american": (None, "Unknown", HISPANIC, MEXICAN),
    "other": (None, "Other race or more than one race", NOT_HISPANIC, None),
}


def _coding(url: str, item: tuple[str, str]) -> dict[str, Any]:
    return {
        "url": url,
        "valueCoding": {"system": CDC_RACE_ETHNICITY, "code": item[0], "display": item[1]},
    }


def race_ethnicity_extensions(group: str) -> list[dict[str, Any]]:
    """The US Core race and ethnicity extensions for a knowledge-base group; [] if unknown."""
    if group not in GROUPS:
        return []
    race, race_text, ethnicity, detailed = GROUPS[group]
    race_parts: list[dict[str, Any]] = []
    if race is not None:
        race_parts.append(_coding("ombCategory", race))
    elif race_text == "Unknown":
        race_parts.append(
            {
                "url": "ombCategory",
                "valueCoding": {"system": NULL_FLAVOR, "code": "UNK", "display": "Unknown"},
            }
        )
    race_parts.append({"url": "text", "valueString": race_text})
    ethnicity_parts = [_coding("ombCategory", ethnicity)]
    if detailed is not None:
        ethnicity_parts.append(_coding("detailed", detailed))
    ethnicity_parts.append({"url": "text", "valueString": (detailed or ethnicity)[1]})
    return [
        {"url": US_CORE_RACE, "extension": race_parts},
        {"url": US_CORE_ETHNICITY, "extension": ethnicity_parts},
    ]
