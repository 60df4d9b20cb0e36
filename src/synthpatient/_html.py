"""The report as one self-contained HTML page: inline CSS and images, no script, no CDN."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2733;
background:#f6f8fa}
header{background:#0b3d5c;color:#fff;padding:1.2rem 2rem}
header h1{margin:0;font-size:1.5rem} header p{margin:.3rem 0 0;opacity:.9}
main{max-width:1200px;margin:0 auto;padding:1rem 2rem 3rem}
nav a{color:#fff;margin-right:1rem;font-size:.9rem}
section{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:1rem 1.4rem;
margin:1.2rem 0}
h2{margin-top:.2rem;color:#0b3d5c} h3{color:#33475b;font-size:1.05rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{flex:1 1 200px;border-radius:8px;padding:.8rem 1rem;border:1px solid #d8dee4}
.card .value{font-size:1.8rem;font-weight:700} .card .name{font-size:.85rem;color:#57606a}
.good{background:#e6f4ea;border-color:#9ad0a8} .fair{background:#fff8e1;border-color:#f2d27b}
.poor{background:#fdecea;border-color:#f1a7a0} .info{background:#eef2f6}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;display:block;overflow-x:auto}
th,td{border:1px solid #d8dee4;padding:.3rem .55rem;text-align:right} th{background:#eef2f6}
td:first-child,th:first-child,td.text{text-align:left}
img{max-width:100%;height:auto} .note{color:#57606a;font-size:.85rem}
@media (max-width:700px){main{padding:.5rem} .card .value{font-size:1.4rem}}
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.{digits}f}"
    return esc(value)


def table(frame: pd.DataFrame, *, digits: int = 3, max_rows: int = 500) -> str:
    if frame.empty:
        return '<p class="note">Nothing to show.</p>'
    head = "".join(f"<th scope=col>{esc(c)}</th>" for c in frame.columns)

    def cell(value: Any) -> str:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if numeric:
            return f"<td>{fmt(value, digits)}</td>"
        return f'<td class="text">{fmt(value, digits)}</td>'

    body = "".join(
        "<tr>" + "".join(cell(v) for v in row) + "</tr>"
        for row in frame.head(max_rows).itertuples(index=False)
    )
    more = (
        f'<p class="note">{len(frame) - max_rows} more rows in the JSON.</p>'
        if len(frame) > max_rows
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def image(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">'


def card(name: str, value: str, verdict: str, level: str) -> str:
    return (
        f'<div class="card {level}"><div class="name">{esc(name)}</div>'
        f'<div class="value">{esc(value)}</div><div>{esc(verdict)}</div></div>'
    )


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """``sections``: (anchor, heading, inner HTML)."""
    nav = "".join(f'<a href="#{a}">{esc(h)}</a>' for a, h, _ in sections)
    body = "".join(
        f'<section id="{a}" aria-labelledby="{a}-h"><h2 id="{a}-h">{esc(h)}</h2>{inner}</section>'
        for a, h, inner in sections
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p><nav>{nav}</nav></header>"
        f"<main>{body}</main></body></html>"
    )
