"""The full HTML report of a knowledge-driven cohort: one offline page, plots inline, no script.

(A table generated from an upload gets the evaluation suite's own report instead.)
"""

from __future__ import annotations

import base64
import json
from html import escape
from typing import Any

from synthpatient.web.results import Result

_CSS = """body{font:15px/1.5 system-ui,sans-serif;
max-width:70rem;margin:auto;padding:1rem;color:#1b1b1b}
table{border-collapse:collapse;margin:.5rem 0;font-size:13px}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
th{background:#f1f3f5}.no{color:#a40000;font-weight:bold}img{max-width:100%;height:auto}
pre{background:#f6f8fa;padding:.5rem;overflow:auto;font-size:12px}"""


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th scope=col>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def _verdict_html(verdict: dict[str, Any] | None) -> str:
    """The verdict the page opens with, first in the report too (light written in words)."""
    if not verdict:
        return ""
    items = "".join(
        f"<li><strong>{escape(c['label'])}: {escape(c['status'])}</strong>. {escape(c['text'])}"
        + (f" <em>What to do:</em> {escape(c['advice'])}" if c.get("advice") else "")
        + "</li>"
        for c in verdict["checks"]
    )
    return (
        f"<h2>Verdict</h2><p>{escape(verdict['made'])}</p>"
        f"<p><strong>{escape(verdict['headline'])}</strong></p><ul>{items}</ul>"
    )


def cohort_report_html(result: Result) -> str:
    """Realism (sourced targets, clinical rules), plots, preview and provenance on one page."""
    prov = result.provenance
    met = sum(1 for t in result.targets if t["ok"])
    broken = [r for r in result.rules if r["violations"]]
    sources = "".join(
        f"<li>{escape(s['citation'])}"
        + ("" if s.get("verified") else " <em>(not verified in the source)</em>")
        + "</li>"
        for s in prov.get("sources", [])
    )
    plots = "".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode(p.png).decode()}" '
        f'alt="{escape(p.alt)}"><figcaption>{escape(p.title)}</figcaption></figure>'
        for p in result.plots
    )
    parts = [
        f"<h1>{escape(result.title)}</h1>",
        _verdict_html(result.verdict),
        "<p>Every patient here is synthetic, drawn from a cited knowledge base; none is a real "
        "person. No real patient record was used, so there is nothing to leak and no privacy "
        "test applies.</p>",
        "<h2>Summary</h2>",
        f"<p>{escape(result.summary or f'{result.n_rows:,} patients')}; {met} of "
        f"{len(result.targets)} sourced targets met; "
        f"{len(result.rules) - len(broken)} of {len(result.rules)} clinical rules hold; seed "
        f"{escape(str(prov.get('seed')))}.</p>",
        "<h2>Sourced targets</h2>",
        _table(
            result.targets, ["what", "target", "measured", "tolerance", "kind", "ok", "sources"]
        ),
        "<h2>Clinical rules</h2>",
        _table(result.rules, ["rule", "description", "applicable", "violations"]),
        "<h2>Plots</h2>",
        plots or "<p>No plots.</p>",
        "<h2>Preview (first rows)</h2>",
        _table(result.preview, result.columns),
        *(
            ["<h2>Patient histories</h2>", _table(result.tables, ["name", "what", "n_rows"])]
            if result.tables
            else []
        ),
        "<h2>Sources</h2>",
        f"<ol>{sources}</ol>",
        "<h2>Provenance</h2>",
        f"<pre>{escape(json.dumps(prov, indent=2, default=str))}</pre>",
    ]
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        f'content="width=device-width,initial-scale=1"><title>{escape(result.title)}</title>'
        f"<style>{_CSS}</style></head><body><main>{''.join(parts)}</main></body></html>"
    )
