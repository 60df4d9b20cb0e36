"""The patient key of a table with several rows per patient, and each column's patient profile.

In a visit-level table an identifier repeats on every row of its patient, so row-level
uniqueness misses it. Here the table is read at the patient level instead: a *patient key* is a
column whose values repeat and group the rows, and a column that is constant within each group
and different between groups (one-to-one with the key) identifies the patient as surely as the
key itself. Shares of distinct values are taken over patients, not rows.

A key is accepted when its name says so (``patient_id``, ``mrn``...) or when its values look
like identifiers (codes, names, phone numbers, large or consecutive integers) *and* some
attribute that is shared between patients (sex, birth year) stays constant within its groups
far more often than chance allows: the mark of rows that belong to one person.
Grouping is vectorised (factorised codes, ``np.unique`` on code pairs), so a 100,000-row table
takes milliseconds per column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Names that mark a patient key without further evidence.
_KEY_NAME = re.compile(
    r"^(patient|subject|person|participant|member|client|resident|pt|pat)s?"
    r"(_?(id|no|nr|num|number|key|code|ref|identifier|uid|uuid))?$"
    r"|^(mrn|mrno|pid|upi|nhs_?(number|no)?|hospital_?(number|no|id)|medical_record_?(number|no)?"
    r"|chart_?(number|no)|(medical_)?record_?(number|no|id))$"
    r"|^(patient|subject|person|participant)_.*_?(id|number|no|key)$"
)
#: Names that mark a patient key or record number with no room for another reading: the
#: bare words above ('patient', 'member', 'pt' - prothrombin time) are left out, and so are
#: counters such as 'patient_visit_number'.
_STRICT_KEY_NAME = re.compile(
    r"^(patient|subject|person|participant|member|client|resident|pt|pat)s?"
    r"_?(id|no|nr|num|number|key|code|ref|identifier|uid|uuid)$"
    r"|^(mrn|mrno|pid|upi|nhs_?(number|no)?|hospital_?(number|no|id)|medical_record_?(number|no)?"
    r"|chart_?(number|no)|(medical_)?record_?(number|no|id))$"
    r"|^(patient|subject|person|participant)_.*_(id|key|identifier|uid|uuid)$"
)
#: A column constant within at least this share of multi-row patients is "constant".
CONSTANT_SHARE = 0.95
#: Distinct between at least this share of patients: one-to-one with the key.
ONE_TO_ONE_SHARE = 0.9
#: Constancy by chance must be at most this for a shared attribute to count as evidence.
MAX_CHANCE = 0.7
#: Candidate keys scored per table (the most distinct first); each costs one pass per column.
MAX_CANDIDATES = 8


def is_key_name(normalised: str) -> bool:
    """Whether a (normalised) column name says it holds the patient key."""
    return bool(_KEY_NAME.search(normalised))


def names_patient_key(normalised: str) -> bool:
    """Whether a (normalised) column name leaves no doubt that it holds a patient key or record
    number, so the column is never learned, however few patients the table has."""
    return bool(_STRICT_KEY_NAME.search(normalised))


def codes_of(values: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of a full-length column (-1 where missing) and the number of values."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), len(uniques)


@dataclass(frozen=True)
class GroupProfile:
    """How one column behaves within and between the key's patients.

    Attributes:
        constant: share of patients with several rows over which the column never changes.
        n_patients: patients with a value in the column.
        n_distinct: distinct values among the patients' first values.
        chance: the share ``constant`` would have if the column's values were shuffled between
            rows (the same group sizes): low for sex, high for a column that is nearly constant.
        n_multi: patients with several rows where the column has a value.
    """

    constant: float
    n_patients: int
    n_distinct: int
    chance: float
    n_multi: int

    @property
    def distinct_share(self) -> float:
        """Distinct values per patient: 1.0 when every patient has their own value."""
        return self.n_distinct / max(self.n_patients, 1)

    @property
    def is_constant(self) -> bool:
        return self.constant >= CONSTANT_SHARE

    @property
    def one_to_one(self) -> bool:
        return self.is_constant and self.distinct_share >= ONE_TO_ONE_SHARE

    @property
    def is_shared_attribute(self) -> bool:
        """Constant within patients, shared between them, and not so by chance: sex, birth year."""
        return (
            self.is_constant
            and not self.one_to_one
            and self.n_distinct >= 2
            and self.n_multi >= 5
            and self.chance <= MAX_CHANCE
        )


def _distinct(array: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a plain sort: several times faster than ``np.unique`` here)."""
    ordered = np.sort(array)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def group_profile(key_codes: np.ndarray, n_groups: int, codes: np.ndarray) -> GroupProfile:
    """The :class:`GroupProfile` of a column (its codes) under a key (its codes)."""
    mask = (key_codes >= 0) & (codes >= 0)
    keys, values = key_codes[mask], codes[mask]
    if not len(values):
        return GroupProfile(1.0, 0, 0, 1.0, 0)
    width = int(values.max()) + 1
    per_group = np.bincount(_distinct(keys * width + values) // width, minlength=n_groups)
    rows = np.bincount(keys, minlength=n_groups)
    multi = rows >= 2
    n_multi = int(multi.sum())
    constant = float((per_group[multi] == 1).mean()) if n_multi else 1.0
    # one value per patient (any of theirs: only constant columns use it)
    first = np.full(n_groups, -1, dtype=np.int64)
    first[keys] = values
    first = first[first >= 0]
    n_distinct = len(_distinct(first))
    chance = 1.0
    if n_multi and constant >= CONSTANT_SHARE and n_distinct < ONE_TO_ONE_SHARE * len(first):
        # only a shared attribute needs it: sum over values of p**size, averaged over patients
        p = np.bincount(values) / len(values)
        p = p[p > 0]
        sizes, counts = np.unique(np.minimum(rows[multi], 64), return_counts=True)
        chance = float(sum(c * np.sum(p**s) for s, c in zip(sizes, counts, strict=True)) / n_multi)
    return GroupProfile(constant, len(first), n_distinct, chance, n_multi)


@dataclass(frozen=True)
class PatientKey:
    """The column that groups a table's rows into patients.

    Attributes:
        name: the key column.
        codes: each row's patient (-1 where the key is missing).
        n_patients: distinct patients.
        named: whether the column's name says it is a patient key.
        evidence: shared attributes constant within its patients (column names).
    """

    name: str
    codes: np.ndarray = field(repr=False)
    n_patients: int
    named: bool
    evidence: tuple[str, ...]

    def profile(self, codes: np.ndarray) -> GroupProfile:
        return group_profile(self.codes, self.n_patients, codes)


@dataclass(frozen=True)
class KeyCandidate:
    """A column that could be the patient key: it repeats, and looks like an identifier."""

    name: str
    codes: np.ndarray = field(repr=False)
    n_distinct: int
    named: bool
    declared: bool = False


def is_candidate(codes: np.ndarray, n_distinct: int) -> bool:
    """Values repeat (at least 5% of rows share one) and there are enough of them to be people."""
    n_present = int((codes >= 0).sum())
    return 5 <= n_distinct <= 0.95 * n_present


def find_patient_key(
    candidates: list[KeyCandidate], columns: Mapping[str, tuple[np.ndarray, int]]
) -> PatientKey | None:
    """The best-supported patient key among ``candidates``, or None.

    Args:
        candidates: columns that repeat and look like identifiers (see :func:`is_candidate`).
        columns: every column's codes and number of distinct values, by name.

    A candidate named as a patient key, or declared an identifier by the user, needs no
    evidence; any other needs at least one shared attribute constant within its groups. Among
    those accepted, a named one wins over a declared one (declaring ``hba1c`` an identifier
    must not displace the MRN), then the one with the most evidence; columns one-to-one with
    each other are equivalent, so ties do not matter.
    """
    ranked = sorted(candidates, key=lambda c: (not c.named, not c.declared, -c.n_distinct))[
        :MAX_CANDIDATES
    ]
    best: tuple[tuple[bool, bool, int], PatientKey] | None = None
    for candidate in ranked:
        evidence = tuple(
            other
            for other, (codes, n_distinct) in columns.items()
            if other != candidate.name
            and n_distinct >= 2
            and group_profile(candidate.codes, candidate.n_distinct, codes).is_shared_attribute
        )
        if not candidate.named and not candidate.declared and not evidence:
            continue
        score = (candidate.named, candidate.declared, len(evidence))
        if best is None or score > best[0]:
            best = (
                score,
                PatientKey(
                    candidate.name, candidate.codes, candidate.n_distinct, candidate.named, evidence
                ),
            )
    return None if best is None else best[1]
