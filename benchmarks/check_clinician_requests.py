"""Issue 17, first must-show: varied clinician requests, what was understood, what was drawn,
and whether the data honours every part of each request.

Run: python benchmarks/check_clinician_requests.py [--n 200] [--seed 1]

Each request goes through the conversation engine (the one behind ``ask``, ``chat`` and the
web app). A request that is shown back for confirmation is generated at ``--n`` patients (a
small cohort; the count parsed is checked against the count asked for) and its frame is
checked: the condition and its SNOMED code, sex, ages, every filter on every row, drug
classes, histories. Every part each request is annotated with must be either honoured by the
data or named in the reply; a part that is neither is a *silently dropped part*, and a cohort
of another condition than the one asked for (or any cohort for a condition that must be
refused) is a *wrong-disease cohort*. The last line gives both counts as measured.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthpatient.knowledge import load_knowledge_base
from synthpatient.knowledge.conversation import Conversation, Reply
from synthpatient.knowledge.sampler import Cohort, CohortSampler

KB = load_knowledge_base()


@dataclass(frozen=True)
class Part:
    """One thing a request asks for: ``kind`` and its arguments.

    kinds: count (n), no_count, condition (key), refuse (word, wrong_disease), named (word),
    sex (value), ages (lo, hi), obs (key, lo, hi), comorbidity (key, present),
    drug (key, present), any_drug (phrase, present), history (years), snapshot (no history
    asked), female_share (share of women asked).
    """

    kind: str
    args: tuple[Any, ...] = ()


def P(kind: str, *args: Any) -> Part:  # noqa: N802 - short constructor for the table
    return Part(kind, args)


@dataclass(frozen=True)
class Case:
    text: str
    what: str  # the kind of request, for the table
    parts: tuple[Part, ...] = field(default_factory=tuple)


T1D = "type1_diabetes"
CASES = [
    Case(
        "generate 2000 Type 2 diabetes patients EHR data with 20 important diabetes "
        "observations based on the US population",
        "seed request",
        (P("count", 2000), P("condition", "type2_diabetes")),
    ),
    Case(
        "two thousand diabetic men over 65 with HbA1c and BMI",
        "count in words",
        (P("count", 2000), P("condition", "type2_diabetes"), P("sex", "male"), P("ages", 65, 90)),
    ),
    Case(
        "make a thousand type II diabetes patients aged 50-70",
        "count in words, range",
        (P("count", 1000), P("condition", "type2_diabetes"), P("ages", 50, 70)),
    ),
    Case(
        "5k T2DM women aged 40 to 65 with hypertension",
        "5k, comorbidity",
        (
            P("count", 5000),
            P("sex", "female"),
            P("ages", 40, 65),
            P("comorbidity", "hypertension", True),
        ),
    ),
    Case(
        "500 CKD stage 3 patients on SGLT2 inhibitors",
        "stage number, drug-class plural",
        (
            P("count", 500),
            P("condition", "chronic_kidney_disease"),
            P("obs", "egfr", 30, 59),
            P("any_drug", "sglt2 inhibitors", True),
        ),
    ),
    Case(
        "CKD stage 3 patients on SGLT2 inhibitors",
        "stage number, no count",
        (P("no_count"),),
    ),
    Case("type 2 diabetes patients over 65", "type number, no count", (P("no_count"),)),
    Case(
        "diabetic women over 65 with HbA1c above 9",
        "value filter, no count",
        (P("no_count"),),
    ),
    Case(
        "300 heart failure patients on ACE inhibitors",
        "drug-class plural",
        (
            P("count", 300),
            P("condition", "heart_failure"),
            P("any_drug", "ace inhibitors", True),
        ),
    ),
    Case(
        "400 hypertensive patients not on ARBs",
        "negated drug class",
        (P("count", 400), P("condition", "hypertension"), P("any_drug", "arbs", False)),
    ),
    Case(
        "250 COPD patients on tiotropium",
        "drug name",
        (P("count", 250), P("condition", "copd"), P("any_drug", "tiotropium", True)),
    ),
    Case(
        "600 diabetics with HbA1c above 9",
        "plural condition, value filter",
        (P("count", 600), P("condition", "type2_diabetes"), P("obs", "hba1c", 9.1, None)),
    ),
    Case(
        "800 T2D patients with eGFR between 30 and 59 not on metformin",
        "range filter, negation",
        (P("count", 800), P("obs", "egfr", 30, 59), P("drug", "metformin", False)),
    ),
    Case(
        "1,000 type 2 diabetes patients without hypertension",
        "negated comorbidity",
        (P("count", 1000), P("comorbidity", "hypertension", False)),
    ),
    Case(
        "200 obese T2D patients",
        "defined word",
        (P("count", 200), P("obs", "bmi", 30, None)),
    ),
    Case(
        "500 T2D patients excluding those on insulin",
        "negation by 'excluding'",
        (P("count", 500), P("drug", "insulin", False)),
    ),
    Case(
        "400 T2D patients not on metformin or insulin",
        "negated list",
        (P("count", 400), P("drug", "metformin", False), P("drug", "insulin", False)),
    ),
    Case(
        "700 T2D patients on metformin or insulin",
        "either/or (not drawable)",
        (P("named", "metformin or insulin"),),
    ),
    Case(
        "1500 women with heart failure aged 70 and older",
        "sex, age floor",
        (P("count", 1500), P("condition", "heart_failure"), P("sex", "female"), P("ages", 70, 90)),
    ),
    Case(
        "400 CKD patients with diabetes",
        "condition as comorbidity",
        (
            P("count", 400),
            P("condition", "chronic_kidney_disease"),
            P("comorbidity", "type2_diabetes", True),
        ),
    ),
    Case(
        "350 heart failure patients with atrial fibrillation, on furosemide",
        "comorbidity and drug",
        (
            P("count", 350),
            P("comorbidity", "atrial_fibrillation", True),
            P("any_drug", "furosemide", True),
        ),
    ),
    Case(
        "generate 10^3 COPD patients under 60",
        "power, age ceiling",
        (P("count", 1000), P("condition", "copd"), P("ages", 18, 59)),
    ),
    Case(
        "300 T2D patients on dapagliflozin",
        "class member",
        (P("count", 300), P("any_drug", "dapagliflozin", True), P("named", "dapagliflozin")),
    ),
    Case(
        "500 COPD patients with asthma",
        "related condition as comorbidity",
        (P("count", 500), P("condition", "copd"), P("comorbidity", "asthma", True)),
    ),
    Case(
        "300 T2D patients with 3 years of follow-up",
        "history",
        (P("count", 300), P("history", 3.0)),
    ),
    Case(
        "500 hypertensive diabetics",
        "adjective and noun conditions",
        (
            P("count", 500),
            P("condition", "type2_diabetes"),
            P("comorbidity", "hypertension", True),
        ),
    ),
    Case(
        "100 HFrEF patients on sacubitril/valsartan",
        "condition subtype defined by a value",
        (
            P("condition", "heart_failure"),
            P("obs", "lvef", None, 40),
            P("any_drug", "sacubitril/valsartan", True),
        ),
    ),
    Case(
        "300 elderly T2D patients",
        "age group word",
        (P("count", 300), P("ages", 65, 90), P("named", "elderly")),
    ),
    Case(
        "500 patients with type 1 diabetes",
        "related: type 1",
        (P("condition_or_refuse", T1D, "type 1"),),
    ),
    Case(
        "200 T1DM adults aged 18 to 40",
        "related: type 1 abbreviation",
        (P("condition_or_refuse", T1D, "type 1"), P("ages", 18, 40)),
    ),
    Case(
        "400 patients with juvenile diabetes",
        "related: type 1 synonym",
        (P("condition_or_refuse", T1D, "type 1"),),
    ),
    Case(
        "women with gestational diabetes, 300 of them",
        "related: gestational",
        (P("refuse", "gestational", True),),
    ),
    Case(
        "200 patients with diabetes insipidus",
        "related: insipidus",
        (P("refuse", "insipidus", True),),
    ),
    Case("1000 prediabetic adults", "related: prediabetes", (P("refuse", "prediabetes", True),)),
    Case("300 MODY patients", "related: MODY", (P("refuse", "mody", True),)),
    Case("400 patients with LADA", "related: LADA", (P("refuse", "lada", True),)),
    Case(
        "250 patients with steroid-induced diabetes",
        "related: steroid-induced",
        (P("refuse", "steroid-induced", True),),
    ),
    Case("500 asthma patients", "related: asthma", (P("refuse", "asthma", True),)),
    Case("200 patients with lupus", "no knowledge base", (P("refuse", "lupus", True),)),
    Case(
        "300 COPD patients who smoke",
        "unknown variable (smoking)",
        (P("condition", "copd"), P("named", "smok")),
    ),
    Case(
        "500 T2D patients with depression",
        "unknown comorbidity",
        (P("named", "depression"),),
    ),
    Case(
        "400 HF patients on beta-blockers",
        "class of two drugs",
        (P("any_drug_or_named", "beta-blockers", True),),
    ),
    Case(
        "200 T2D patients with HbA1c 9",
        "value without comparison",
        (P("named", "hba1c 9"),),
    ),
    Case(
        "500 COPD patients with HbA1c over 8",
        "variable of another condition",
        (P("named", "hba1c"),),
    ),
    Case("300 T2D patients on aspirin", "unknown drug", (P("named", "aspirin"),)),
    Case(
        "1000 T2D patients living in rural areas",
        "unknown words",
        (P("named", "rural areas"),),
    ),
    Case(
        "400 heart failure patients NYHA class III",
        "unsupported class",
        (P("named", "nyha class iii"),),
    ),
    Case("500 T2D patients who are not obese", "negation not drawable", (P("named", "not obese"),)),
    Case(
        "500 T2D patients who have never been on insulin",
        "negation not placed",
        (P("named", "never been on insulin"),),
    ),
    Case("500 T2D patients not over 60", "negated age", (P("named", "not over 60"),)),
    Case(
        "Genera 500 pacientes con diabetes tipo 2",
        "Spanish",
        (P("refuse", "only understand requests in english", False),),
    ),
    Case(
        "Erzeuge 500 Patienten mit Typ-2-Diabetes",
        "German",
        (P("refuse", "only understand requests in english", False),),
    ),
    Case(
        "Générer 500 patients avec un diabète de type 2",
        "French",
        (P("refuse", "only understand requests in english", False),),
    ),
    Case(
        "生成500名2型糖尿病患者",
        "Chinese",
        (P("refuse", "only understand requests in english", False),),
    ),
    Case("500 T2D patients from the UK", "other population", (P("refuse", "uk", False),)),
    Case(
        "300 children with type 2 diabetes",
        "unsupported population",
        (P("refuse", "children", False),),
    ),
    Case(
        "500 T2D patients with HbA1c over 25",
        "absurd value",
        (P("refuse", "plausible range", False),),
    ),
    Case(
        "500 heart failure patients with LVEF above 95",
        "absurd value",
        (P("refuse", "plausible range", False),),
    ),
    Case("1e9 diabetic patients", "absurd count", (P("refuse", "limit", False),)),
    Case(
        "100 men who are pregnant with diabetes",
        "contradiction",
        (P("refuse", "cannot be pregnant", False),),
    ),
    Case(
        "500 hypertension patients over 70, exclude those with diabetes",
        "exclusion",
        (
            P("count", 500),
            P("condition", "hypertension"),
            P("ages", 70, 90),
            P("comorbidity", "type2_diabetes", False),
        ),
    ),
    Case(
        "300 hypertensive patients, no history of heart failure",
        "'history of' is the past",
        (
            P("count", 300),
            P("condition", "hypertension"),
            P("comorbidity", "heart_failure", False),
            P("snapshot"),
        ),
    ),
    Case(
        "500 heart failure patients aged 65 and over, 60% male",
        "sex mix",
        (
            P("count", 500),
            P("condition", "heart_failure"),
            P("ages", 65, 90),
            P("female_share", 0.4),
        ),
    ),
    Case(
        "200 T2D patients with eGFR less than 60 or UACR over 30",
        "either of two values",
        (P("refuse", "either condition", False),),
    ),
    Case(
        "500 type 2 diabetes patients, mostly women",
        "vague sex mix",
        (P("count", 500), P("named", "mostly women")),
    ),
    Case(
        "300 T2D patients on metformin only",
        "monotherapy",
        (P("count", 300), P("drug", "metformin", True), P("named", "metformin only")),
    ),
    Case(
        "800 hypertensive African American patients",
        "race filter",
        (P("count", 800), P("condition", "hypertension"), P("named", "african american")),
    ),
    Case(
        "300 patients with poorly controlled diabetes",
        "defined by a threshold",
        (
            P("count", 300),
            P("condition", "type2_diabetes"),
            P("obs", "hba1c", 9.1, None),
        ),
    ),
    Case(
        "500 hypertension patients over 2 years",
        "length of time, not an age",
        (P("count", 500), P("condition", "hypertension"), P("ages", 18, 90), P("history", 2.0)),
    ),
    Case(
        "300 T2D patients, 30% on insulin",
        "a share on a drug",
        (P("count", 300), P("named", "30% on insulin")),
    ),
    Case(
        "10k T2DM pts w/ HTN",
        "abbreviations",
        (
            P("count", 10000),
            P("condition", "type2_diabetes"),
            P("comorbidity", "hypertension", True),
        ),
    ),
]


# -- running a case -------------------------------------------------------------------------
@dataclass
class Outcome:
    reply: Reply
    cohort: Cohort | None = None
    seconds: float = 0.0


def run(case: Case, out: Path, n: int, seed: int) -> Outcome:
    chat = Conversation(out_dir=out)
    reply = chat.send(case.text)
    outcome = Outcome(reply)
    if reply.kind == "confirm" and reply.request is not None:
        request = reply.request.model_copy(update={"count": min(reply.request.count, n)})
        spec = request.model_copy(update={"seed": seed}).to_spec(KB)
        start = time.perf_counter()
        outcome.cohort = CohortSampler(KB).sample(spec)
        outcome.seconds = time.perf_counter() - start
    return outcome


def _drug_keys(phrase: str, condition_key: str) -> list[str]:
    from synthpatient.knowledge._kb import _words
    from synthpatient.knowledge._vocabulary import load_vocabulary

    def norm(text: str) -> str:  # the vocabulary's own normal form, hyphens as spaces
        return " ".join(_words(text).replace("-", " ").split())

    vocab = load_vocabulary()
    condition = KB.conditions[condition_key]
    return [
        m.key
        for m in condition.medications
        if any(norm(p) == norm(phrase) for p in vocab.item_phrases(m))
    ]


def judge(part: Part, outcome: Outcome) -> str:
    """'honoured', 'named', 'DROPPED' (neither) or 'WRONG DISEASE'."""
    reply, cohort = outcome.reply, outcome.cohort
    text = reply.text.lower()
    request = reply.request
    kind, args = part.kind, part.args
    if kind == "named":  # said back, in a confirmation or a clarifying answer
        return "named" if args[0].lower() in text else "DROPPED"
    if kind in ("refuse", "no_count"):
        word = "how many patients" if kind == "no_count" else args[0].lower()
        if cohort is not None:
            return "WRONG DISEASE" if kind == "refuse" and args[1] else "DROPPED"
        return "named" if word in text else "DROPPED"
    if kind == "condition_or_refuse":
        if args[0] in KB.conditions:
            return judge(P("condition", args[0]), outcome)
        return judge(P("refuse", args[1], True), outcome)
    if cohort is None or request is None:
        return "named" if reply.kind == "clarify" else "DROPPED"
    wide = cohort.wide
    if kind == "condition":
        ok = cohort.condition.key == args[0]
        ok = ok and cohort.condition.snomed == KB.conditions[args[0]].snomed
        return "honoured" if ok else "WRONG DISEASE"
    checks = {
        "count": lambda: request.count == args[0] and len(wide) == min(args[0], len(wide)),
        "sex": lambda: bool((wide["sex"] == args[0]).all()),
        "ages": lambda: (
            bool(wide["age"].between(args[0], args[1]).all())
            and (request.age_min, request.age_max) == (args[0], args[1])
        ),
        "obs": lambda: _within(wide[args[0]], args[1], args[2]),
        "comorbidity": lambda: bool((wide[args[0]] == args[1]).all()),
        "drug": lambda: bool((wide[f"on_{args[0]}"] == args[1]).all()),
        "history": lambda: cohort.timeline is not None and request.follow_up_years == args[0],
        "snapshot": lambda: cohort.timeline is None and request.follow_up_years is None,
        # within 4 standard errors of the asked share at the drawn size
        "female_share": lambda: (
            request.female_share == args[0]
            and abs((wide["sex"] == "female").mean() - args[0])
            <= 4 * np.sqrt(args[0] * (1 - args[0]) / len(wide))
        ),
    }
    if kind in ("any_drug", "any_drug_or_named"):
        keys = _drug_keys(args[0], cohort.condition.key)
        if not keys:
            return "DROPPED"
        on = np.column_stack([wide[f"on_{k}"].to_numpy(bool) for k in keys]).any(axis=1)
        return "honoured" if (on.all() if args[1] else not on.any()) else "DROPPED"
    return "honoured" if checks[kind]() else "DROPPED"


def _within(values: Any, lo: float | None, hi: float | None) -> bool:
    ok = np.ones(len(values), bool)
    if lo is not None:
        ok &= values.to_numpy(float) >= lo - 1e-9
    if hi is not None:
        ok &= values.to_numpy(float) <= hi + 1e-9
    return bool(ok.all())


def honours_request(outcome: Outcome) -> list[str]:
    """Every part of the parsed request checked on the frame (beyond the annotations)."""
    cohort, request = outcome.cohort, outcome.reply.request
    if cohort is None or request is None:
        return []
    wide, bad = cohort.wide, []
    if request.sex and not (wide["sex"] == request.sex).all():
        bad.append("sex")
    if request.female_share is not None:
        share = (wide["sex"] == "female").mean()
        if abs(share - request.female_share) > 4 * np.sqrt(0.25 / len(wide)):
            bad.append("sex mix")
    if not wide["age"].between(request.age_min, request.age_max).all():
        bad.append("ages")
    for f in request.filters:
        column = f.key if f.kind != "medication" else f"on_{f.key}"
        if f.kind == "observation":
            ok = _within(wide[column], f.min, f.max)
        else:
            ok = bool((wide[column] == f.present).all())
        if not ok:
            bad.append(f.describe())
    if cohort.condition.key != request.condition:
        bad.append("condition")
    return bad


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="patients drawn per accepted request")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    dropped = wrong = unhonoured = generated = 0
    start = time.perf_counter()
    print(f"{len(CASES)} clinician requests; accepted ones drawn at {args.n} patients\n")
    print(f"{'#':>2} | {'request':<44} | {'kind':<30} | {'reply':<9} | parts")
    with tempfile.TemporaryDirectory() as folder:
        for i, case in enumerate(CASES, 1):
            outcome = run(case, Path(folder) / f"c{i}", args.n, args.seed)
            verdicts = [judge(p, outcome) for p in case.parts]
            bad = honours_request(outcome)
            dropped += verdicts.count("DROPPED")
            wrong += verdicts.count("WRONG DISEASE")
            unhonoured += len(bad)
            generated += outcome.cohort is not None
            kind = "generated" if outcome.cohort is not None else outcome.reply.kind
            shown = ", ".join(
                f"{p.kind}({','.join(map(str, p.args))})={v}"
                for p, v in zip(case.parts, verdicts, strict=True)
            )
            print(
                f"{i:>2} | {_short(case.text, 44):<44} | {_short(case.what, 30):<30} | "
                f"{kind:<9} | {shown}" + (f"; NOT IN DATA: {bad}" if bad else "")
            )
            print(f"   | understood: {_short(outcome.reply.text, 150)}")
    print(
        f"\n{generated} of {len(CASES)} requests generated; {unhonoured} parsed parts not "
        f"honoured by the data; {time.perf_counter() - start:.1f} s in all"
    )
    print(f"{dropped} silently dropped parts, {wrong} wrong-disease cohorts")


if __name__ == "__main__":
    main()
