"""Render an :class:`EvaluationReport` as one offline HTML page: summary first, then details."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthpatient.evaluation import _plots
from synthpatient.evaluation._html import card, esc, fmt, image, page, table

if TYPE_CHECKING:
    from synthpatient.evaluation.evaluate import EvaluationReport

NAMES = {"quality": "Quality (SDMetrics)", "column_shapes": "Column shapes",
         "column_pair_trends": "Column pair trends", "detection": "Detection",
         "ml_utility": "ML utility (TSTR / TRTR)", "dcr": "Distance to closest record",
         "membership_inference": "Membership inference", "nndr": "Nearest-neighbour ratio",
         "exact_copies": "Exact copies", "attribute_inference": "Attribute inference",
         "copied_from_examples": "Copied from prompt examples",
         "rule_violations": "Clinical rules", "subgroup_shares": "Subgroup shares"}


def _summary(report: EvaluationReport) -> str:
    cards = []
    for row in report.summary.itertuples(index=False):
        value = fmt(row.score) + (f" ± {row.sd:.3f}" if row.sd and not np.isnan(row.sd) else "")
        cards.append(card(NAMES.get(row.metric, row.metric), value, row.verdict, row.level))
    meta = report.meta
    facts = (f"{meta['n_real']:,} real (training) rows, {meta['n_synthetic']:,} synthetic rows"
             + (f", {meta['n_holdout']:,} holdout rows" if meta["n_holdout"] else ", no holdout")
             + f"; {len(meta['columns'])} columns compared; {meta['seeds']} seed(s). "
             "Scores are in [0, 1], higher is better.")
    ignored = (f"<p class=note>Not compared (identifiers or free text): {esc(', '.join(meta['ignored_columns']))}</p>"
               if meta["ignored_columns"] else "")
    notices = "".join(f"<li>{esc(n)}</li>" for n in meta["notices"])
    notices = f"<h3>Notices</h3><ul>{notices}</ul>" if notices else ""
    return f"<p>{esc(facts)}</p><div class=cards>{''.join(cards)}</div>{ignored}{notices}"


def _fidelity(report: EvaluationReport) -> str:
    s, real, synthetic = report.sections, report._real, report._synthetic
    quality = s["quality"]
    sdtypes = {c: t for c, t in zip(quality.column_details["column"],
                                     _sdtypes(quality), strict=True)}
    columns = quality.column_details.merge(s["columns"], on="column")
    pairs = quality.pair_details.sort_values("similarity").head(15)
    parts = [
        f"<p>Column shapes {fmt(quality.column_shapes)}, column pair trends "
        f"{fmt(quality.column_pair_trends)} (pairs scored where the real data shows a relation: "
        "|r| &gt; 0.5 or Cramér's V &gt; 0.3, as SDMetrics 0.32 does). Detection: gradient "
        f"boosting separates real from synthetic rows with ROC-AUC {fmt(s['detection']['auc'])}.</p>",
        "<h3>Distributions, real and synthetic</h3>",
        image(_plots.distributions(real, synthetic, sdtypes), "Histograms of every column, real and synthetic overlaid"),
        "<h3>Per column</h3>", table(columns),
        "<h3>Associations: real, synthetic, difference</h3>",
        "<p class=note>|Pearson r| for two numbers, Cramér's V for two categories, the "
        "correlation ratio for a number and a category.</p>",
        image(_plots.heatmaps(s["association"]["real"], s["association"]["synthetic"]),
              "Association heatmaps of the real and synthetic tables and their difference"),
        "<h3>Least similar pairs</h3>", table(pairs),
    ]
    return "".join(parts)


def _sdtypes(quality: Any) -> list[str]:
    return ["numerical" if m == "KSComplement" else "categorical" for m in quality.column_details["metric"]]


def _utility(report: EvaluationReport) -> str:
    s = report.sections
    if "utility" not in s:
        return "<p>No target column was given, so ML utility was not measured (use --target).</p>"
    utility = s["utility"]
    rows = [{"model": model, "metric": metric, "trtr": v["trtr"], "tstr": v["tstr"], "ratio": v["ratio"]}
            for model, metrics in utility.metrics.items() for metric, v in metrics.items()]
    frame = pd.DataFrame(rows)
    parts = [f"<p>Target <b>{esc(utility.target)}</b> ({esc(utility.task)}). Models trained on "
             "synthetic rows (TSTR) and on real rows (TRTR), both tested on the same real rows.</p>",
             image(_plots.utility_bars(frame[frame.metric != "mae"]), "Bars of TSTR and TRTR per model and metric"),
             table(frame)]
    curve = s.get("size_curve")
    if curve is not None:
        curve_rows = [{"model": model, "multiplier": m, "rows": n, "tstr": t, "trtr": curve.trtr[model]}
                      for model, values in curve.tstr.items()
                      for m, n, t in zip(curve.multipliers, curve.n_rows, values, strict=True)]
        curve_frame = pd.DataFrame(curve_rows)
        parts += ["<h3>Size curve: more synthetic rows than real ones?</h3>",
                  image(_plots.size_curve(curve_frame, curve.primary_metric), "TSTR against synthetic table size"),
                  table(curve_frame)]
    subgroup = s.get("subgroup_utility")
    if subgroup is not None and not subgroup.empty:
        parts += ["<h3>Utility per subgroup of the test rows</h3>", table(subgroup)]
    return "".join(parts)


def _privacy(report: EvaluationReport) -> str:
    s = report.sections
    copies = s["copies"]
    parts = [f"<p>Exact copies of training rows: {fmt(copies.share_training)} of synthetic rows"
             + (f" (chance baseline, copies of unseen holdout rows: {fmt(copies.share_holdout)})"
                if copies.share_holdout is not None else "") + ".</p>"]
    if "dcr" in s:
        dcr, mia, nndr = s["dcr"], s["mia"], s["nndr"]
        parts += [
            f"<p>Distance to closest record: {fmt(dcr.share_closer_to_training)} of synthetic rows "
            f"are closer to a training row than to a holdout row (ideal {fmt(dcr.ideal_share)}). "
            f"Membership inference ROC-AUC {fmt(mia.auc)} (0.5 = chance). Mean nearest-neighbour "
            f"distance ratio {fmt(nndr.nndr_mean)} (holdout baseline {fmt(nndr.baseline_mean)}).</p>",
            image(_plots.distance_histograms(np.asarray(dcr.details["distances_to_training"]),
                                             np.asarray(dcr.details["distances_to_holdout"])),
                  "Histograms of distances from synthetic rows to training and holdout rows"),
        ]
    if "attribute" in s:
        a = s["attribute"]
        parts.append(f"<p>Attribute inference on <b>{esc(a.sensitive)}</b>: {fmt(a.training)} for "
                     f"training patients vs {fmt(a.holdout)} for unseen ones (gain {fmt(a.gain)}).</p>")
    if "example_copies" in s:
        parts.append(f"<p>Rows copied from prompt examples: {fmt(s['example_copies'].share_copied)}.</p>")
    parts.append("<p class=note>Why not the small-group 'violation rate' some papers report: it is "
                 "computed on the synthetic table alone and is best for duplicated rows, so it "
                 "rewards copying. Every test here compares training with unseen holdout rows.</p>")
    return "".join(parts)


def _rules(report: EvaluationReport) -> str:
    rules = report.sections.get("rules")
    if rules is None:
        return "<p>No rules were given (use --rules FILE, or a shipped pack such as diabetes).</p>"
    return (f"<p>Rule pack <b>{esc(report.meta['rules'])}</b>: violation rate per rule in the real "
            "and the synthetic table. A row missing a value a rule reads is not checked.</p>" + table(rules))


def _representation(report: EvaluationReport) -> str:
    shares = report.sections["representation"]
    if not shares.columns:
        return "<p>No subgroup column (sex, gender, race, ethnicity, age) was found.</p>"
    return ("<p>Share of each subgroup in the real and the synthetic table.</p>" + table(shares.table))


def render(report: EvaluationReport) -> str:
    sections = [("summary", "Summary", _summary(report)), ("fidelity", "Fidelity", _fidelity(report)),
                ("utility", "ML utility", _utility(report)), ("privacy", "Privacy", _privacy(report)),
                ("rules", "Clinical consistency", _rules(report)),
                ("representation", "Representation", _representation(report))]
    return page("synthpatient evaluation report",
                "Synthetic versus real patients: fidelity, utility, privacy, clinical consistency",
                sections)
