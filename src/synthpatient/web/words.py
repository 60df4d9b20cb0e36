"""Human words for the codes the library uses: generators, conditions, races, formats, dates.

The pages show ``Gaussian copula`` rather than ``GaussianCopulaSynthesizer``, and
``Non-Hispanic Black`` rather than ``non_hispanic_black`` (dates are shown as dates by the
pages' script). The list of generators still comes from the registry: a key this module does
not know gets its class's own ``display_name``/``description`` when it declares
them, else the first line of its docstring, so a newly registered backend is never hidden.
"""

from __future__ import annotations

from typing import Any

from synthpatient._labels import humanize

__all__ = ["FORMATS", "GENERATORS", "generator_words", "humanize"]

#: key -> (display name, one line: what it is and when to choose it)
GENERATORS: dict[str, tuple[str, str]] = {
    "auto": (
        "Automatic choice",
        "Tries the generators that suit the table and keeps the one that scores best; "
        "choose it when unsure.",
    ),
    "copula": (
        "Gaussian copula",
        "Fast and dependable: keeps each column's distribution and the pairwise relations; "
        "a good first choice for most tables.",
    ),
    "cart": (
        "Decision trees (CART)",
        "Draws each column from trees grown on the columns before it; keeps exact "
        "relations and rare combinations better than the copula.",
    ),
    "aim": (
        "AIM (differentially private)",
        "Private by construction with a budget epsilon; choose it when the data must be "
        "shared outside the team.",
    ),
    "mst": (
        "MST (differentially private)",
        "Private by construction with a budget epsilon, over binned columns; for sharing "
        "with a formal guarantee.",
    ),
    "ctgan": (
        "CTGAN (neural network)",
        "A generative adversarial network; for large tables with complex, many-peaked "
        "columns. Slower; needs the deep extra.",
    ),
    "tvae": (
        "TVAE (neural network)",
        "A variational autoencoder; like CTGAN, for large tables, often steadier on small "
        "ones. Needs the deep extra.",
    ),
    "tabular_lm": (
        "Tabular language model",
        "A small transformer trained on the rows as text; captures detailed relations on "
        "medium tables. Slow on a laptop.",
    ),
    "llm": (
        "Chat model (LLM)",
        "Rows written by a configured chat model from a description; needs an LLM server.",
    ),
    "hybrid": (
        "Copula with written notes",
        "Structured columns by the copula, free-text notes written per row by a chat model.",
    ),
    "sequential": (
        "Patient histories (sequential)",
        "For tables with several rows per patient: makes whole patients, each with their "
        "visits in time order.",
    ),
}

FORMATS: dict[str, str] = {
    "csv": "CSV table",
    "tsv": "TSV table",
    "parquet": "Parquet table",
    "jsonl": "JSON Lines",
    "fhir": "FHIR R4 bundles",
    "fhir-ndjson": "FHIR R4 (NDJSON)",
    "fhir_ndjson": "FHIR R4 (NDJSON)",
    "fhir-bundles": "FHIR R4 bundles",
    "fhir_bundles": "FHIR R4 bundles",
    "html": "HTML report",
    "datacard": "Data card",
}


def generator_words(key: str, klass: Any = None) -> tuple[str, str]:
    """(display name, one-line description) of the generator registered as ``key``."""
    if key in GENERATORS:
        return GENERATORS[key]
    name = getattr(klass, "display_name", None) or humanize(key)
    description = getattr(klass, "description", None)
    if not isinstance(description, str) or not description:
        doc = (getattr(klass, "__doc__", None) or "").strip()
        description = doc.split("\n\n")[0].replace("\n", " ").strip() or "A generator."
    return str(name), " ".join(description.split())
