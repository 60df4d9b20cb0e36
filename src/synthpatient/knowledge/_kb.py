"""Loading the knowledge base from the package's YAML files, once, with every check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from synthpatient.errors import KnowledgeBaseError
from synthpatient.knowledge._codes import CODES_FILE, read_code_table, undisplayed
from synthpatient.knowledge._model import Condition, Observation, Source
from synthpatient.knowledge._regimen import DRUG_CLASSES_FILE, DrugClasses, with_regimens

ModelT = TypeVar("ModelT", bound=BaseModel)

#: libyaml's safe loader where installed (about ten times faster: the knowledge base is read
#: at the first request of every process); the pure-Python one otherwise
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SOURCES_FILE = "sources.yaml"
#: The request vocabulary (read by ``_vocabulary``), not a condition.
VOCABULARY_FILE = "vocabulary.yaml"
#: ``<condition>_timeline.yaml`` holds the follow-up of ``<condition>.yaml``.
TIMELINE_SUFFIX = "_timeline"


@dataclass(frozen=True)
class KnowledgeBase:
    """Sources and condition specifications, validated together.

    Examples:
        >>> kb = load_knowledge_base()
        >>> kb.conditions["type2_diabetes"].ranked_observations[0].loinc
        '4548-4'
        >>> kb.sources["adag_2008"].citation()
    """

    version: str
    sources: dict[str, Source]
    conditions: dict[str, Condition]

    def find_condition(self, text: str) -> Condition | None:
        """The condition whose key, name or a synonym appears in ``text`` (longest match)."""
        lowered = f" {_words(text)} "
        best: tuple[int, Condition] | None = None
        for condition in self.conditions.values():
            for phrase in (condition.key.replace("_", " "), condition.name, *condition.synonyms):
                phrase = _words(phrase)
                if phrase and f" {phrase} " in lowered and (best is None or len(phrase) > best[0]):
                    best = (len(phrase), condition)
        return best[1] if best else None

    def find_observation(self, text_or_loinc: str) -> tuple[str, Observation] | None:
        """(condition key, observation) for a LOINC code, an observation key, name or synonym."""
        wanted = _words(text_or_loinc)
        for condition in self.conditions.values():
            for obs in condition.observations:
                names = {
                    obs.loinc,
                    obs.key.replace("_", " "),
                    _words(obs.name),
                    *(_words(s) for s in obs.synonyms),
                }
                if text_or_loinc.strip() == obs.loinc or wanted in names:
                    return condition.key, obs
        return None


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9.\-]+", text.lower()))


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise KnowledgeBaseError(
            f"{path.name}{where}: not valid YAML ({getattr(exc, 'problem', exc)})."
        ) from None
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{path.name}: expected a mapping at the top level.")
    return data


def _validated(model: type[ModelT], data: dict[str, Any], where: str) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(p) for p in first["loc"])
        raise KnowledgeBaseError(
            f"{where}: {location}: {first['msg']} ({exc.error_count()} problem(s) in all)."
        ) from None


def load_from_folder(folder: Path) -> KnowledgeBase:
    """Load and cross-check every YAML file of ``folder`` (``sources.yaml`` plus conditions)."""
    raw = _read_yaml(folder / SOURCES_FILE)
    sources = {}
    for item in raw.get("sources", []):
        source = _validated(Source, item, f"{SOURCES_FILE} source {item.get('id')!r}")
        if source.id in sources:
            raise KnowledgeBaseError(f"{SOURCES_FILE}: source '{source.id}' is defined twice.")
        sources[source.id] = source
    classes = _drug_classes(folder, sources)
    codes = read_code_table(folder / CODES_FILE) if (folder / CODES_FILE).exists() else None
    conditions = {}
    for path in sorted(folder.glob("*.yaml")):
        shared = (SOURCES_FILE, VOCABULARY_FILE, DRUG_CLASSES_FILE, CODES_FILE)
        if path.name in shared or path.stem.endswith(TIMELINE_SUFFIX):
            continue
        # the drugs its comorbidities bring and the drug conflicts it must respect
        data = with_regimens(_read_yaml(path), classes)
        timeline = path.with_name(f"{path.stem}{TIMELINE_SUFFIX}.yaml")
        where = path.name
        if timeline.exists():  # how the condition's patients are followed over time
            data = {**data, "timeline": _read_yaml(timeline)}
            where = f"{path.name} (with {timeline.name})"
        condition = _validated(Condition, data, where)
        missing = [s for s in condition.cited_sources() if s not in sources]
        if missing:
            raise KnowledgeBaseError(
                f"{where}: cites undefined source(s) "
                f"{', '.join(missing)}; add them to {SOURCES_FILE}."
            )
        unknown = sorted(
            {m.drug_class or "(none)" for m in condition.medications} - set(classes.classes)
        )
        if unknown:
            raise KnowledgeBaseError(
                f"{where}: medications name unknown drug classes {', '.join(unknown)}; every "
                f"medication needs a drug_class defined in {DRUG_CLASSES_FILE}."
            )
        no_display = undisplayed(condition, codes) if codes is not None else []
        if no_display:
            raise KnowledgeBaseError(
                f"{where}: codes without a preferred display in {CODES_FILE}: "
                f"{', '.join(no_display)}."
            )
        conditions[condition.key] = condition
    return KnowledgeBase(
        version=str(raw.get("version", "unversioned")), sources=sources, conditions=conditions
    )


def _drug_classes(folder: Path, sources: dict[str, Source]) -> DrugClasses:
    """``drug_classes.yaml``, validated: classes defined, sources cited exist."""
    classes = _validated(DrugClasses, _read_yaml(folder / DRUG_CLASSES_FILE), DRUG_CLASSES_FILE)
    undefined = classes.problems()
    if undefined:
        raise KnowledgeBaseError(f"{DRUG_CLASSES_FILE}: undefined classes {', '.join(undefined)}.")
    missing = [s for s in classes.cited_sources() if s not in sources]
    if missing:
        raise KnowledgeBaseError(
            f"{DRUG_CLASSES_FILE}: cites undefined source(s) {', '.join(missing)}."
        )
    return classes


@cache
def load_knowledge_base() -> KnowledgeBase:
    """The knowledge base shipped with the package (loaded once per process)."""
    folder = Path(str(resources.files("synthpatient.knowledge") / "data"))
    return load_from_folder(folder)
