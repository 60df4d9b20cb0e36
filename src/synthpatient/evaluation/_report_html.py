"""Render an :class:`EvaluationReport` as one offline HTML page: summary first, then details.

Sections are read by metric key (each the first seed's ``MetricResult.details``); any part a
run did not measure is said to be missing, not drawn. A metric without a dedicated block (a
newly registered one) is shown in its family's section with its scalar details.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthpatient._html import card, esc, fmt, image, page, table
from synthpatient.evaluation import _plots
from synthpatient.evaluation._report_timeline import DRAWN as _TIMELINE_DRAWN
from synthpatient.evaluation._report_timeline import privacy_lines, render_timeline
from synthpatient.evaluation.advice import readings

if TYPE_CHECKING:
    from synthpatient.evaluation.report import EvaluationReport

#: Metrics drawn by a dedicated block below; the others of a family get the generic one.
_DRAWN = {
    "quality",
    "column_shapes",
    "column_pair_trends",
    "detection",
    "ml_utility",
    "dcr",
    "membership_inference",
    "nndr",
    "exact_copies",
    "attribute_inference",
    "copied_from_examples",
    "rule_violations",
    "subgroup_shares",
    "patient_dcr",
    "patient_membership_inference",
    *_TIMELINE_DRAWN,
}


def _label(report: EvaluationReport, key: str) -> str:
    return str(report.meta.get("labels", {}).get(key, key))


def _not_computed(report: EvaluationReport, key: str, *needed: str) -> str | None:
    """The line shown instead of a metric's block when it ran but could not compute what the
    block draws (its ``error``, or details it did not record); None when the block can be
    drawn."""
    details = report.sections.get(key)
    details = details if isinstance(details, dict) else {}
    reason = details.get("error")
    if reason is None and all(k in details for k in needed):
        return None
    reason = reason or "its details were not recorded"
    return f"<p>{esc(_label(report, key))}: not computed ({esc(reason)}).</p>"


def _summary(report: EvaluationReport) -> str:
    behind = readings(report)  # the raw figure a rescaled score (detection, utility) comes from
    cards = []
    for row in report.summary.itertuples(index=False):
        value = fmt(row.score) + (f" ± {row.sd:.3f}" if row.sd and not np.isnan(row.sd) else "")
        verdict = f"{row.verdict}: {behind[row.metric]}" if row.metric in behind else row.verdict
        cards.append(card(_label(report, row.metric), value, verdict, row.level))
    meta = report.meta
    facts = (
        f"{meta['n_real']:,} real (training) rows, {meta['n_synthetic']:,} synthetic rows"
        + (f", {meta['n_holdout']:,} holdout rows" if meta["n_holdout"] else ", no holdout")
        + f"; {len(meta['columns'])} columns compared; {meta['seeds']} seed(s). "
        "Scores are in [0, 1], higher is better."
    )
    timeline = meta.get("timeline")
    if timeline:
        facts += (
            f" The rows are events of {timeline['n_real_patients']:,} real and "
            f"{timeline['n_synthetic_patients']:,} synthetic patients (patient key "
            f"'{timeline['patient_key']}'): see Patient timelines."
        )
    ignored = (
        "<p class=note>Not compared (identifiers or free text): "
        f"{esc(', '.join(meta['ignored_columns']))}</p>"
        if meta["ignored_columns"]
        else ""
    )
    notices = "".join(f"<li>{esc(n)}</li>" for n in meta["notices"])
    notices = f"<h3>Notices</h3><ul>{notices}</ul>" if notices else ""
    return f"<p>{esc(facts)}</p><div class=cards>{''.join(cards)}</div>{ignored}{notices}"


def _others(report: EvaluationReport, family: str) -> str:
    """Every metric of ``family`` without a dedicated block: its score and scalar details."""
    parts = []
    for row in report.summary.itertuples(index=False):
        if row.family != family or row.metric in _DRAWN:
            continue
        details = report.sections.get(row.metric, {})
        scalars = [
            {"detail": k, "value": v}
            for k, v in details.items()
            if isinstance(v, int | float | str) and not isinstance(v, bool)
        ]
        parts += [
            f"<h3>{esc(_label(report, row.metric))}</h3>",
            f"<p>Score {fmt(row.score)}: {esc(row.verdict)}.</p>",
            table(pd.DataFrame(scalars)) if scalars else "",
        ]
    return "".join(parts)


def _fidelity(report: EvaluationReport) -> str:
    s, real, synthetic = report.sections, report._real, report._synthetic
    parts = []
    if "quality" in s:
        parts.append(
            _not_computed(report, "quality", "column_shapes", "column_pair_trends")
            or f"<p>Column shapes {fmt(s['quality']['column_shapes'])}, column pair trends "
            f"{fmt(s['quality']['column_pair_trends'])} (pairs scored where the real "
            "data shows a relation: |r| &gt; 0.5 or Cramér's V &gt; 0.3, as SDMetrics "
            "0.32 does).</p>"
        )
    if "detection" in s:
        parts.append(
            _not_computed(report, "detection", "auc")
            or "<p>Detection: gradient boosting separates real from synthetic rows with "
            f"ROC-AUC {fmt(s['detection']['auc'])} (0.5 = chance, 1 = always told apart). "
            "The card's score is 1 - 2 &times; (max(AUC, 0.5) - 0.5): every AUC up to 0.5 "
            "scores 1.</p>"
        )
    sdtypes = report.meta.get("sdtypes", {})
    if sdtypes and not real.empty:
        parts += [
            "<h3>Distributions, real and synthetic</h3>",
            image(
                _plots.distributions(real, synthetic, sdtypes, _plots.column_labels(report.meta)),
                "Histograms of every column, real and synthetic overlaid",
            ),
        ]
    shapes = s.get("column_shapes", {})
    if "column_details" in shapes:
        columns = shapes["column_details"]
        if shapes.get("columns") is not None:
            columns = columns.merge(shapes["columns"], on="column")
        parts += ["<h3>Per column</h3>", table(columns)]
    trends = s.get("column_pair_trends", {})
    if trends.get("association") is not None:
        parts += [
            "<h3>Associations: real, synthetic, difference</h3>",
            "<p class=note>|Pearson r| for two numbers, Cramér's V for two categories, the "
            "correlation ratio for a number and a category.</p>",
            image(
                _plots.heatmaps(
                    trends["association"]["real"],
                    trends["association"]["synthetic"],
                    _plots.column_labels(report.meta),
                ),
                "Association heatmaps of the real and synthetic tables and their difference",
            ),
        ]
    if "pair_details" in trends:
        parts += [
            "<h3>Least similar pairs</h3>",
            table(trends["pair_details"].sort_values("similarity").head(15)),
        ]
    parts.append(_others(report, "fidelity"))
    return "".join(parts) or "<p>No fidelity metric was run.</p>"


def _utility(report: EvaluationReport) -> str:
    s = report.sections
    if "ml_utility" not in s:
        return (
            "<p>No target column was given, so ML utility was not measured (use --target)."
            "</p>" + _others(report, "utility")
        )
    missing = _not_computed(report, "ml_utility", "metrics", "target", "task")
    if missing:
        return missing + _others(report, "utility")
    utility = s["ml_utility"]
    rows = [
        {
            "model": model,
            "metric": metric,
            "trtr": v["trtr"],
            "tstr": v["tstr"],
            "ratio": v["ratio"],
        }
        for model, metrics in utility["metrics"].items()
        for metric, v in metrics.items()
    ]
    frame = pd.DataFrame(rows)
    parts = [
        f"<p>Target <b>{esc(utility['target'])}</b> ({esc(utility['task'])}). Models "
        "trained on synthetic rows (TSTR) and on real rows (TRTR), both tested on the same "
        f"real rows. The card's score is the {esc(utility.get('score_formula', 'TSTR / TRTR'))}"
        ": a synthetic table as useful as the real one scores 1, even where its TSTR is "
        "higher.</p>",
        image(
            _plots.utility_bars(frame[frame.metric != "mae"]),
            "Bars of TSTR and TRTR per model and metric",
        ),
        table(frame),
    ]
    curve = utility.get("size_curve")
    if curve is not None:
        curve_rows = [
            {"model": model, "multiplier": m, "rows": n, "tstr": t, "trtr": curve["trtr"][model]}
            for model, values in curve["tstr"].items()
            for m, n, t in zip(curve["multipliers"], curve["n_rows"], values, strict=True)
        ]
        curve_frame = pd.DataFrame(curve_rows)
        parts += [
            "<h3>Size curve: more synthetic rows than real ones?</h3>",
            image(
                _plots.size_curve(curve_frame, curve["primary_metric"]),
                "TSTR against synthetic table size",
            ),
            table(curve_frame),
        ]
    subgroup = utility.get("subgroup_utility")
    if subgroup is not None and not subgroup.empty:
        parts += ["<h3>Utility per subgroup of the test rows</h3>", table(subgroup)]
    parts.append(_others(report, "utility"))
    return "".join(parts)


def _privacy(report: EvaluationReport) -> str:
    s = report.sections
    parts = []
    if "exact_copies" in s:
        copies = s["exact_copies"]
        parts.append(
            _not_computed(report, "exact_copies", "share_training", "share_holdout")
            or f"<p>Exact copies of training rows: {fmt(copies['share_training'])} of "
            "synthetic rows"
            + (
                f" (chance baseline, copies of unseen holdout rows: {fmt(copies['share_holdout'])})"
                if copies["share_holdout"] is not None
                else ""
            )
            + ".</p>"
        )
    missing = _not_computed(
        report,
        "dcr",
        "share_closer_to_training",
        "ideal_share",
        "distances_to_training",
        "distances_to_holdout",
    )
    if "dcr" in s and missing:
        parts.append(missing)
    elif "dcr" in s:
        dcr = s["dcr"]
        parts += [
            f"<p>Distance to closest record: {fmt(dcr['share_closer_to_training'])} of "
            "synthetic rows are closer to a training row than to a holdout row (ideal "
            f"{fmt(dcr['ideal_share'])}).</p>",
            image(
                _plots.distance_histograms(
                    np.asarray(dcr["distances_to_training"]),
                    np.asarray(dcr["distances_to_holdout"]),
                ),
                "Histograms of distances from synthetic rows to training and holdout rows",
            ),
        ]
    if "membership_inference" in s:
        parts.append(
            _not_computed(report, "membership_inference", "auc")
            or f"<p>Membership inference ROC-AUC {fmt(s['membership_inference']['auc'])} "
            "(0.5 = chance).</p>"
        )
    if "nndr" in s:
        parts.append(
            _not_computed(report, "nndr", "nndr_mean", "baseline_mean")
            or f"<p>Mean nearest-neighbour distance ratio {fmt(s['nndr']['nndr_mean'])} "
            f"(holdout baseline {fmt(s['nndr']['baseline_mean'])}).</p>"
        )
    if "attribute_inference" in s:
        a = s["attribute_inference"]
        parts.append(
            _not_computed(report, "attribute_inference", "sensitive", "training", "holdout", "gain")
            or f"<p>Attribute inference on <b>{esc(a['sensitive'])}</b>: "
            f"{fmt(a['training'])} for training patients vs {fmt(a['holdout'])} for "
            f"unseen ones (gain {fmt(a['gain'])}).</p>"
        )
    if "copied_from_examples" in s:
        parts.append(
            _not_computed(report, "copied_from_examples", "share_copied")
            or "<p>Rows copied from prompt examples: "
            f"{fmt(s['copied_from_examples']['share_copied'])}.</p>"
        )
    parts.append(privacy_lines(report))
    parts.append(_others(report, "privacy"))
    parts.append(
        "<p class=note>Why not the small-group 'violation rate' some papers report: it "
        "is computed on the synthetic table alone and is best for duplicated rows, so "
        "it rewards copying. Every test here compares training with unseen holdout "
        "rows.</p>"
    )
    return "".join(parts)


def _rules(report: EvaluationReport) -> str:
    rules = report.sections.get("rules")
    if rules is None:
        return (
            "<p>No rules were given (use --rules FILE, or a shipped pack such as diabetes)."
            "</p>" + _others(report, "consistency")
        )
    return (
        f"<p>Rule pack <b>{esc(report.meta['rules'])}</b>: violation rate per rule in the "
        "real and the synthetic table. A row missing a value a rule reads is not checked."
        "</p>" + table(rules) + _others(report, "consistency")
    )


def _representation(report: EvaluationReport) -> str:
    shares: dict[str, Any] | None = report.sections.get("subgroup_shares")
    if shares is None:
        return "<p>No subgroup column (sex, gender, race, ethnicity, age) was found.</p>" + _others(
            report, "representation"
        )
    missing = _not_computed(report, "subgroup_shares", "table")
    if missing:
        return missing + _others(report, "representation")
    return (
        "<p>Share of each subgroup in the real and the synthetic table.</p>"
        + table(shares["table"])
        + _others(report, "representation")
    )


def render(report: EvaluationReport) -> str:
    sections = [
        ("summary", "Summary", _summary(report)),
        ("fidelity", "Fidelity", _fidelity(report)),
        ("timeline", "Patient timelines", render_timeline(report)),
        ("utility", "ML utility", _utility(report)),
        ("privacy", "Privacy", _privacy(report)),
        ("rules", "Clinical consistency", _rules(report)),
        ("representation", "Representation", _representation(report)),
    ]
    return page(
        "synthpatient evaluation report",
        "Synthetic versus real patients: fidelity, utility, privacy, clinical consistency",
        sections,
    )
