"""The HTML pages: plain files from ``static/``, no template engine, no CDN, no build step.

Each page file holds its own main content; ``layout.html`` is the shell they share (head,
menu, footer). The few numbers a page shows before its script runs (the upload limit) are
filled in here.
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from synthpatient.web.api import ensure_session
from synthpatient.web.settings import Settings

# viewing a page is the explicit start of a browser's session (an API call never starts one)
router = APIRouter(include_in_schema=False, dependencies=[Depends(ensure_session)])


@cache
def _page(name: str) -> str:
    return resources.files("synthpatient.web").joinpath("static", name).read_text(encoding="utf-8")


#: file -> (title, menu label, script, path) of each page, in the order of the menu
PAGES = {
    "chat.html": ("Ask for a cohort", "Ask for a cohort", "chat.js", "/"),
    "data.html": ("Use your table", "Use your table", "data.js", "/data"),
    "results.html": ("Results", "Results", "results.js", "/results"),
    "api.html": ("JSON API", "API", "api.js", "/api-docs"),
}


def _nav(current: str) -> str:
    return "".join(
        f'        <li><a href="{path}"'
        + (' aria-current="page"' if name == current else "")
        + f">{label}</a></li>\n"
        for name, (_, label, _, path) in PAGES.items()
    )


#: what a request may contain, for the home page (the parser reads each of these)
REQUEST_PARTS = (
    ("How many", "500 patients, two thousand"),
    ("Ages", "adults over 65, aged 40 to 60"),
    ("Sex", "only women, men, 60% male"),
    ("Observations", "with eGFR and HbA1c, 20 observations"),
    ("Filters", "HbA1c above 9, CKD stage 3, with diabetes, not on ACE inhibitors"),
    ("Exclusions", "without CKD, exclude those with diabetes, no history of heart failure"),
    ("Population", "based on the US population"),
    ("History", "5 years of follow-up (visits, lab values over time, treatment)"),
    ("Same rows again", "seed 42"),
)


@cache
def conditions_html() -> str:
    """The conditions the knowledge base can make, each with an example request (a button
    that puts it in the box), and what a request may contain."""
    from synthpatient.knowledge import load_knowledge_base

    kb = load_knowledge_base()
    rows = []
    for condition in kb.conditions.values():
        # the condition's own name, which the parser reads (a short synonym such as 't1d' is
        # jargon to someone learning what the app makes)
        example = f"300 {condition.name.lower()} patients"
        history = "yes" if condition.timeline is not None else "no"
        rows.append(
            f"<tr><th scope=row>{escape(condition.name)}</th>"
            f"<td>{len(condition.observations)}</td><td>{history}</td>"
            f'<td><button type="button" class="secondary example">{escape(example)}</button>'
            "</td></tr>"
        )
    parts = "".join(
        f"<li><strong>{escape(what)}</strong>: {escape(how)}</li>" for what, how in REQUEST_PARTS
    )
    return (
        '<div class="table-wrap" role="region" aria-labelledby="what-title" tabindex="0">'
        "<table><caption>Conditions (from the cited knowledge base)</caption><thead><tr>"
        '<th scope="col">Condition</th><th scope="col">Observation types</th>'
        '<th scope="col">Histories over years</th><th scope="col">Example (puts it in the box)'
        f"</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        f'<p>A request may contain:</p><ul class="parts">{parts}</ul>'
    )


def not_found_page() -> str:
    """An unknown address, answered as a page with the way back (API paths keep JSON)."""
    return _plain_page(
        "page not found",
        '<h2>Page not found</h2><p>There is no page at this address.</p><ul><li><a href="/">'
        'Ask for a cohort</a></li><li><a href="/data">Use your table</a></li><li><a href='
        '"/results">Results</a></li></ul>',
    )


def render(name: str, settings: Settings) -> HTMLResponse:
    """A page: its own main content inside the shared shell (head, menu, footer)."""
    title, _, script, _ = PAGES[name]
    page = (
        _page("layout.html")
        .replace("{{TITLE}}", title)
        .replace("{{SCRIPT}}", script)
        .replace("{{NAV}}", _nav(name))
        .replace("{{CONTENT}}", _page(name))
    )
    text = (
        page.replace("{{MAX_UPLOAD_MB}}", f"{settings.max_upload_mb:g}")
        .replace("{{MAX_UPLOAD_ROWS}}", f"{settings.max_upload_rows:,}")
        .replace("{{MIN_ROWS}}", str(settings.min_rows))
        .replace("{{MAX_ROWS}}", str(settings.max_rows))
        .replace("{{MAX_ROWS_TEXT}}", f"{settings.max_rows:,}")
        .replace("{{IDLE_MINUTES}}", f"{settings.idle_timeout_s / 60:g}")
    )
    if "{{CONDITIONS}}" in text:
        text = text.replace("{{CONDITIONS}}", conditions_html())
    return HTMLResponse(text)


@router.get("/")
def chat_page(request: Request) -> HTMLResponse:
    return render("chat.html", request.app.state.settings)


@router.get("/data")
def data_page(request: Request) -> HTMLResponse:
    return render("data.html", request.app.state.settings)


@router.get("/results")
@router.get("/results/{result_id}")
def results_page(request: Request, result_id: str | None = None) -> HTMLResponse:
    return render("results.html", request.app.state.settings)


@router.get("/api-docs")
def api_page(request: Request) -> HTMLResponse:
    return render("api.html", request.app.state.settings)


def _plain_page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        "content='width=device-width,initial-scale=1'>"
        f"<title>synthpatient: {escape(title)}</title>"
        "<link rel=stylesheet href=/static/app.css><link rel=icon href=/static/favicon.svg>"
        "</head><body><main id=main class=narrow>"
        f"<h1>synthpatient</h1>{body}</main></body></html>"
    )


def busy_page(message: str) -> str:
    """Shown instead of a page when the server is full and would have to erase someone's work."""
    return _plain_page(
        "server full",
        f'<p class="error" role="alert">{escape(message)}</p><p><a href=/>Try again</a></p>',
    )


def login_page(message: str = "") -> str:
    """Asked for when the server needs a token and the browser has none."""
    note = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    return _plain_page(
        "sign in",
        "<p>This server needs the token it printed when it started.</p>"
        f"{note}<form method=get action=/><label for=token>Token</label>"
        "<input id=token name=token type=password autocomplete=off required>"
        "<button type=submit>Sign in</button></form>",
    )
