"""Column codes and UCUM units in words, for every figure and page that shows them.

``egfr`` -> ``eGFR``, ``type2_diabetes`` -> ``Type 2 diabetes``, ``mL/min/{1.73_m2}`` ->
``mL/min/1.73 m²``: the web app's pages and the report's matplotlib figures use the same
words (a shared internal, like ``_atomic``).
"""

from __future__ import annotations

import re
from typing import Any

#: words kept as written when a code is turned into words
KEEP = {
    "us": "US",
    "uk": "UK",
    "ldl": "LDL",
    "hdl": "HDL",
    "bmi": "BMI",
    "egfr": "eGFR",
    "hba1c": "HbA1c",
    "copd": "COPD",
    "ckd": "CKD",
    "nafld": "NAFLD",
    "uacr": "uACR",
    "bp": "BP",
    "alt": "ALT",
    "ast": "AST",
    "bun": "BUN",
    "id": "ID",
}


def humanize(code: Any, *, title: bool = False) -> str:
    """``type2_diabetes`` -> ``Type 2 diabetes``; with ``title`` (names of groups of people),
    ``non_hispanic_black`` -> ``Non-Hispanic Black``. Text that is already words (has a
    space or capitals) is kept."""
    text = str(code)
    if not text or " " in text or text != text.lower():
        return text
    text = text.replace("non_hispanic", "non-hispanic")
    text = re.sub(r"(?<=[a-z])(?=\d)", " ", text)  # type2 -> type 2
    words = [w for w in re.split(r"[_.\s]+", text) if w]
    out = []
    for i, word in enumerate(words):
        parts = word.split("-")
        upper = title or i == 0 or "-" in word
        parts = [KEEP.get(p, p.capitalize() if upper else p) for p in parts]
        out.append("-".join(parts))
    result = " ".join(out)
    if words and words[0] in KEEP:  # eGFR and uACR keep their small first letter
        return result
    return result[:1].upper() + result[1:]


def unit_words(unit: str | None) -> str:
    """A UCUM unit as people write it: ``mL/min/{1.73_m2}`` -> ``mL/min/1.73 m²``."""
    if not unit:
        return ""
    # UCUM's brackets and annotations: mm[Hg] -> mmHg, 10*3/uL -> 10³/µL
    text = re.sub(r"[{}\[\]]", "", unit).replace("_", " ")
    text = text.replace("10*3", "10³").replace("uL", "µL")
    text = re.sub(r"(?<=[a-zA-Z])2\b", "²", text)
    return "" if text in ("1", "{count}", "count") else text


def column_title(name: Any, unit: str | None = None) -> str:
    """A column's name in words with its unit: ``egfr``, ``mL/min/{1.73_m2}`` ->
    ``eGFR (mL/min/1.73 m²)``."""
    words, unit_text = humanize(name), unit_words(unit)
    return f"{words} ({unit_text})" if unit_text else words
