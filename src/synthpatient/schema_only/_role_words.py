"""The words that give a described column its role (and so its kind): shared by the schema
reader, which reads a missing kind from them, and the role matcher."""

from __future__ import annotations

#: role -> (pattern on "name. description", kinds it can fill); order matters (first wins).
ROLE_PATTERNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "record_id",
        r"^(?:patient|subject|person|record|encounter|admission|visit|stay|case)?[ _-]?"
        r"(?:id|identifier|number|no|nr|key)$|^mrn$|unique (?:\w+ )?identifier",
        ("text", "integer"),
    ),
    ("admission_type", r"admission type|type of admission|admission kind", ("categorical",)),
    ("admission_date", r"admission|admit|admitted", ("date",)),
    ("discharge_date", r"discharge", ("date",)),
    ("person_name", r"^(patient\s*)?(full\s*)?name\b|patient'?s? name", ("text",)),
    ("age", r"^age\b|\bage in years|patient age", ("integer", "numeric")),
    ("sex", r"\b(gender|sex)\b", ("categorical",)),
    ("blood_type", r"blood (type|group)|\babo\b", ("categorical",)),
    ("condition", r"condition|diagnosis|disease", ("categorical", "text")),
    ("doctor", r"doctor|physician|attending|clinician", ("text", "categorical")),
    ("hospital", r"hospital|facility", ("text", "categorical")),
    ("insurer", r"insur|payer|payor", ("text", "categorical")),
    ("billing", r"billing|charge|cost|bill\b|amount", ("numeric", "integer")),
    ("room", r"\broom\b", ("integer", "text", "categorical")),
    ("medication", r"medication|\bdrugs?\b|prescri|medicine", ("categorical", "text")),
    ("test_result", r"test|lab(oratory)? result", ("text",)),
)
