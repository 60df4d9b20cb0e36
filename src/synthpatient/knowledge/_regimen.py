"""Treatment as a regimen: drug classes, combinations never given together, comorbidities'
own treatment, all read from ``drug_classes.yaml``.

Loading merges the file into each condition before it is validated: the drugs a comorbidity
brings (antihypertensives for the hypertension of a diabetes cohort) are added as medications
that require it, at their sourced share among the patients with it, and the conflicts that
concern the condition's classes are copied in. The sampler then draws each group of
mutually exclusive drugs (:func:`exclusive_groups`) as one choice, and the realism report
checks every pair of :func:`conflicting_pairs` as a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from synthpatient.knowledge._model import Condition, DrugConflict, Medication

DRUG_CLASSES_FILE = "drug_classes.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DrugClass(_Frozen):
    name: str


class ComorbidityTreatment(_Frozen):
    """Drugs for one comorbidity; ``share`` of each is among the patients who have it."""

    any_share: float = Field(ge=0, le=1)
    any_sources: tuple[str, ...] = Field(min_length=1)
    drugs: tuple[Medication, ...] = Field(min_length=1)


class DrugClasses(_Frozen):
    """The validated contents of ``drug_classes.yaml``."""

    classes: dict[str, DrugClass]
    conflicts: tuple[DrugConflict, ...] = ()
    comorbidity_treatment: dict[str, ComorbidityTreatment] = Field(default_factory=dict)

    def problems(self) -> list[str]:
        """Classes named by conflicts or comorbidity drugs but not defined."""
        named = [c for x in self.conflicts for c in (x.a, x.b)]
        named += [d.drug_class or "" for t in self.comorbidity_treatment.values() for d in t.drugs]
        return sorted({c for c in named if c not in self.classes})

    def cited_sources(self) -> list[str]:
        ids = [s for x in self.conflicts for s in x.sources]
        for t in self.comorbidity_treatment.values():
            ids += [*t.any_sources, *(s for d in t.drugs for s in d.sources)]
        return list(dict.fromkeys(ids))


def with_regimens(data: dict[str, Any], classes: DrugClasses) -> dict[str, Any]:
    """A condition's raw data with its comorbidities' treatment and its drug conflicts added.

    A comorbidity's drugs are added only when the condition lists none of their classes
    (a heart-failure file already treats hypertension with its own drugs and shares). A drug's
    contraindication is kept only where the condition records the values it reads.
    """
    meds = [dict(m) for m in data.get("medications", [])]
    observed = {o.get("key") for o in data.get("observations", [])}
    regimens = []
    for comorbidity in data.get("comorbidities", []):
        treatment = classes.comorbidity_treatment.get(comorbidity.get("key"))
        if treatment is None:
            continue
        have = {m.get("drug_class") for m in meds}
        if have & {d.drug_class for d in treatment.drugs}:
            continue
        taken = {m.get("key") for m in meds}
        added = []
        for drug in treatment.drugs:
            item = drug.model_dump(exclude_none=True, exclude_defaults=True)
            item["key"] = drug.key if drug.key not in taken else f"{drug.key}_{comorbidity['key']}"
            item["share"] = round(drug.share * float(comorbidity["prevalence"]), 6)
            item["requires"] = comorbidity["key"]
            if drug.contraindication and not _reads_only(drug.contraindication, observed):
                item.pop("contraindication")
            meds.append(item)
            added.append(item["key"])
        regimens.append(
            {
                "comorbidity": comorbidity["key"],
                "medications": added,
                "any_share": treatment.any_share,
                "sources": list(treatment.any_sources),
            }
        )
    present = {m.get("drug_class") for m in meds}
    conflicts = [c.model_dump() for c in classes.conflicts if c.a in present and c.b in present]
    return {**data, "medications": meds, "conflicts": conflicts, "regimens": regimens}


def _reads_only(expression: str, observed: set[Any]) -> bool:
    from synthpatient.rules import parse_expression, referenced_columns

    return set(referenced_columns(parse_expression(expression))) <= observed


@dataclass(frozen=True)
class Pair:
    """Two of a condition's medications that are never given together, and why."""

    a: Medication
    b: Medication
    kind: str
    why: str
    sources: tuple[str, ...]


def conflicting_pairs(condition: Condition) -> list[Pair]:
    """Every pair of ``condition``'s medications that must not be taken together: two of one
    class (a duplicate) or two classes the knowledge base lists as conflicting."""
    listed = {frozenset((c.a, c.b)): c for c in condition.conflicts}
    meds = condition.medications
    pairs = []
    for i, a in enumerate(meds):
        for b in meds[i + 1 :]:
            if a.drug_class is None or b.drug_class is None:
                continue
            if a.drug_class == b.drug_class:
                why = f"two drugs of one class ({a.drug_class})"
                pairs.append(Pair(a, b, "duplicate", why, (*a.sources, *b.sources)))
            elif (c := listed.get(frozenset((a.drug_class, b.drug_class)))) is not None:
                pairs.append(Pair(a, b, c.kind, c.why, c.sources))
    return pairs


def group_key(members: tuple[Medication, ...]) -> str:
    """The name of an exclusive group's liability."""
    return "group:" + "+".join(m.key for m in members)


def exclusive_groups(condition: Condition) -> list[tuple[Medication, ...]]:
    """Groups of medications of which a patient takes at most one: the connected parts of the
    conflict graph (in the condition's order). A group's drugs are drawn as one choice."""
    parent = {m.key: m.key for m in condition.medications}

    def root(key: str) -> str:
        while parent[key] != key:
            key = parent[key]
        return key

    for pair in conflicting_pairs(condition):
        parent[root(pair.a.key)] = root(pair.b.key)
    groups: dict[str, list[Medication]] = {}
    for med in condition.medications:
        groups.setdefault(root(med.key), []).append(med)
    return [tuple(g) for g in groups.values() if len(g) > 1]
