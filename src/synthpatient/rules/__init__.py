"""Clinical-consistency rules as data (YAML), checked against real and synthetic tables."""

from __future__ import annotations

from importlib import resources

from synthpatient.errors import UnknownDatasetError
from synthpatient.rules._expressions import evaluate as evaluate_expression
from synthpatient.rules._expressions import parse_expression, referenced_columns
from synthpatient.rules._rules import DEFAULT_TIME_BUDGET_S, Rule, RuleResult, RuleSet

__all__ = [
    "DEFAULT_TIME_BUDGET_S",
    "Rule",
    "RuleResult",
    "RuleSet",
    "evaluate_expression",
    "list_rule_packs",
    "load_rule_pack",
    "parse_expression",
    "referenced_columns",
]


def list_rule_packs() -> list[str]:
    """Names of the rule packs shipped with synthpatient."""
    packs = resources.files(__package__).joinpath("packs").iterdir()
    return sorted(p.name.removesuffix(".yaml") for p in packs if p.name.endswith(".yaml"))


def load_rule_pack(name: str) -> RuleSet:
    """A shipped rule pack, e.g. ``load_rule_pack("diabetes")`` for the bundled diabetes table."""
    if name not in list_rule_packs():
        raise UnknownDatasetError(
            f"Unknown rule pack '{name}'. Known: {', '.join(list_rule_packs())}."
        )
    pack = resources.files(__package__).joinpath("packs", f"{name}.yaml")
    text = pack.read_text(encoding="utf-8")
    return RuleSet.from_yaml(text)
