"""The verdict a results page opens with: what was made, then three traffic lights.

A clinician should not have to read a table of metric names to learn that 909 of 1,000 rows
break a clinical rule. The verdict answers three questions in plain words, each with a light
(green, amber, red, or grey when it could not be judged) and, when it is not green, one
sentence of advice that names something the user can do in this app:

- faithful: the fidelity family of the evaluation (a table) or the sourced targets met (a
  cohort made from the knowledge base);
- private: the privacy family against the rows kept aside (a table); a cohort used no real
  patient, so it is green by construction;
- clinically consistent: the clinical rules, judged against the real table's own violation
  rate (a rule the real data breaks too is not the generator's fault).

The light of a question is the worst level among its checks: one poor check is enough to ask
the user to look. Built from the same dicts the page's tables show, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

Light = Literal["green", "amber", "red", "grey"]
_LIGHT_OF_LEVEL: dict[str, Light] = {"good": "green", "fair": "amber", "poor": "red"}
_ORDER: dict[Light, int] = {"grey": 0, "green": 1, "amber": 2, "red": 3}
#: a rule is the generator's doing only when the synthetic rows break it clearly more often
#: than the real ones: 2 points above the real rate is amber, 10 points red
AMBER_EXCESS, RED_EXCESS = 0.02, 0.10
#: fidelity checks named in the sentence (the others still set the light)
_FIDELITY_MAIN = ("quality", "column_shapes", "column_pair_trends", "detection")


def _check(
    key: str, label: str, light: Light, text: str, advice: str | None = None
) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "light": light,
        "status": {"green": "good", "amber": "check", "red": "poor", "grey": "not judged"}[light],
        "text": text,
        "advice": advice if light != "green" else None,
    }


def _worst(scores: Iterable[dict[str, Any]]) -> tuple[Light, dict[str, Any] | None]:
    light: Light = "grey"
    worst = None
    for score in scores:
        this = _LIGHT_OF_LEVEL.get(str(score.get("level")))
        if this is not None and _ORDER[this] > _ORDER[light]:
            light, worst = this, score
        elif this is not None and worst is None:
            worst = score
    return light, worst


#: generators suggested for a closer fit, best first (any other that runs here comes after)
_CLOSER_FIT = ("auto", "cart", "tabular_lm", "ctgan", "tvae", "copula")


def _other_generators(current: str | None, choices: Sequence[dict[str, Any]]) -> str:
    """'the auto generator' when the registry has one that runs here, else two others that
    learn rows without a privacy budget (a private one fits less closely, by design)."""
    usable = [
        c
        for c in choices
        if c.get("available")
        and c.get("key") != current
        and not c.get("longitudinal")
        and not c.get("differentially_private")
    ]
    rank = {key: i for i, key in enumerate(_CLOSER_FIT)}
    usable.sort(key=lambda c: (rank.get(c["key"], len(rank)), c["key"]))
    if usable and usable[0]["key"] == "auto":
        return "the auto generator"
    names = [str(c.get("label") or c["key"]) for c in usable[:2]]
    return " or ".join(names) if names else "another generator"


def _faithful(scores: list[dict[str, Any]], others: str) -> dict[str, Any]:
    fidelity = [s for s in scores if s.get("family") == "fidelity"]
    light, worst = _worst(fidelity)
    if worst is None:
        return _check("faithful", "Faithful", "grey", "Fidelity was not measured.")
    main = {s["metric"]: s for s in fidelity if s["metric"] in _FIDELITY_MAIN}
    quality = main.get("quality")
    lead = (
        f"Overall closeness {quality['score']:.2f} of 1: {quality['verdict']}."
        if quality and isinstance(quality.get("score"), (int, float))
        else f"{str(worst['verdict']).capitalize()}."
    )
    if light != "green" and worst is not quality:
        lead += f" Weakest: {worst['verdict']} ({worst['metric'].replace('_', ' ')})."
    advice = (
        f"Compare the plots below column by column; {others} may follow the real table "
        "more closely, and more training rows help every generator."
    )
    return _check("faithful", "Faithful", light, lead, advice)


def _private(
    scores: list[dict[str, Any]], holdout_rows: int | None, privacy_spent: Any
) -> dict[str, Any]:
    privacy = [s for s in scores if s.get("family") == "privacy"]
    budget = ""
    if isinstance(privacy_spent, dict) and privacy_spent.get("epsilon") is not None:
        budget = f" Differentially private with epsilon {privacy_spent['epsilon']:g}."
    light, worst = _worst(privacy)
    if worst is None:
        return _check(
            "private",
            "Private",
            "grey",
            "Privacy was not measured: no real rows were kept aside to compare with." + budget,
            "Generate again with 'Keep a quarter aside' ticked (it needs at least 40 rows).",
        )
    if light == "green":
        text = "No sign that a synthetic row reveals a real patient: " + "; ".join(
            str(s["verdict"]) for s in privacy if s["metric"] in ("dcr", "membership_inference")
        )
        return _check("private", "Private", light, text.rstrip(": ") + "." + budget)
    advice = (
        "Before sharing, generate with a privacy budget (a generator that takes epsilon), "
        "or flag rare identifying columns as identifiers so they are made up, not learned."
    )
    return _check(
        "private",
        "Private",
        light,
        f"{str(worst['verdict']).capitalize()}." + budget,
        advice,
    )


def _rate(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _short(description: Any) -> str:
    """A rule's description as a clause: its first sentence, without a trailing note."""
    text = " ".join(str(description or "").split())
    return text.split(";")[0].rstrip(". ")


def _broken(rule: dict[str, Any]) -> tuple[int, int, float]:
    """(rows breaking, rows checked, how much more often than the real rows) of one rule:
    a cohort's rules count ``violations``, a table's ``synthetic_violations`` beside the
    real table's ``real_rate``."""
    broken = int(rule.get("violations", rule.get("synthetic_violations")) or 0)
    checked = int(rule.get("applicable", rule.get("synthetic_applicable")) or 0)
    rate = (
        _rate(rule["synthetic_rate"])
        if "synthetic_rate" in rule
        else (broken / checked if checked else 0.0)
    )
    return broken, checked, rate - _rate(rule.get("real_rate"))


def _consistent(rules: list[dict[str, Any]], others: str, kind: str) -> dict[str, Any]:
    label = "Clinically consistent"
    if not rules:
        return _check(
            "consistent",
            label,
            "grey",
            "No clinical rule pack applies to these columns, so nothing was checked.",
            "Name columns as the rule packs do (for example ldl, hdl, total_cholesterol) "
            "to have them checked.",
        )
    counted = [(rule, *_broken(rule)) for rule in rules]
    rule, broken, checked, excess = max(counted, key=lambda item: item[3])
    light: Light = "red" if excess > RED_EXCESS else "amber" if excess > AMBER_EXCESS else "green"
    with_violations = sum(1 for item in counted if item[1] > 0)
    if not broken or light == "green":
        text = (
            f"All {len(rules)} clinical rules hold in every row."
            if not with_violations
            else f"{len(rules) - with_violations} of {len(rules)} clinical rules hold in every "
            "row; the others break no more often than in the real data."
        )
        return _check("consistent", label, "green", text)
    unit = "patients" if kind == "cohort" else "rows"
    real = f" (real rows: {_rate(rule['real_rate']):.0%})" if "real_rate" in rule else ""
    text = (
        f"{broken:,} of {checked:,} {unit} break the rule "
        f"'{_short(rule.get('description')) or rule.get('rule')}'{real}."
    )
    if with_violations > 1:
        text += f" {with_violations} of {len(rules)} rules have violations."
    advice = (
        f"Many {unit} break this relation: try {others}, or recompute a derived column "
        "from the others after generating; the rows that break it are counted below."
        if kind == "table"
        else "This is a fault of the knowledge base or the sampler: report it, and filter "
        "these patients out before use."
    )
    return _check("consistent", label, light, text, advice)


def table_verdict(
    *,
    title: str,
    generator: str,
    scores: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    holdout_rows: int | None,
    privacy_spent: Any,
    choices: Sequence[dict[str, Any]],
    synthesizer: str | None = None,
) -> dict[str, Any]:
    """The verdict of a table learned from real rows (see the module's docstring)."""
    others = _other_generators(synthesizer, choices)
    checks = [
        _faithful(scores, others),
        _private(scores, holdout_rows, privacy_spent),
        _consistent(rules, others, "table"),
    ]
    return _verdict(f"{title}, made by {generator}.", checks)


#: below this many patients, a figure off its target is as likely chance as a fault
SMALL_COHORT = 1000


def cohort_verdict(
    *,
    title: str,
    targets: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    n_patients: int | None = None,
) -> dict[str, Any]:
    """The verdict of a cohort drawn from the knowledge base (no real patient used)."""
    met = sum(1 for t in targets if t.get("ok"))
    if not targets:
        faithful = _check(
            "faithful", "Faithful", "grey", "No sourced target applies to this cohort."
        )
    else:
        missed = [str(t.get("what")) for t in targets if not t.get("ok")]
        share = met / len(targets)
        light: Light = "green" if not missed else "amber" if share >= 0.7 else "red"
        text = f"{met} of {len(targets)} published figures are met within their tolerance."
        if missed:
            text += f" Off target: {', '.join(missed[:3])}{' and more' if len(missed) > 3 else ''}."
        faithful = _check(
            "faithful",
            "Faithful to the sources",
            light,
            text,
            (
                f"A cohort of {n_patients:,} patients varies by chance: ask for more patients "
                f"(at least {SMALL_COHORT:,}) to come closer to the published figures; "
                if n_patients is not None and n_patients < SMALL_COHORT
                else ""
            )
            + "a narrow request (one sex, an age band) also moves some figures away from the "
            "whole population's; check the off-target rows below before relying on them.",
        )
    private = _check(
        "private",
        "Private",
        "green",
        "No real patient was used: every value comes from published figures, so there is "
        "nothing to leak.",
    )
    checks = [faithful, private, _consistent(rules, "", "cohort")]
    return _verdict(f"{title}, drawn from the cited knowledge base.", checks)


def _verdict(made: str, checks: list[dict[str, Any]]) -> dict[str, Any]:
    worst = max((c["light"] for c in checks), key=lambda light: _ORDER[light])
    unjudged = [c["label"].lower() for c in checks if c["light"] == "grey"]
    if worst == "green" and unjudged:
        headline = f"The checks that could be run pass; not judged: {', '.join(unjudged)}."
        return {"made": made, "light": worst, "headline": headline, "checks": checks}
    headline = {
        "green": "Ready to use for testing and teaching: all three checks pass.",
        "amber": "Usable, with care: look at the checks marked 'check' before relying on it.",
        "red": "Not ready as it is: at least one check failed; the advice says what to try.",
        "grey": "Not judged: nothing could be measured.",
    }[worst]
    return {"made": made, "light": worst, "headline": headline, "checks": checks}
