"""Both flows with the keyboard only, in Debian's headless Chromium, with axe-core (bundled in
the package's static files, never from the internet) finding no serious or critical problem
on any page; a screenshot of every page is saved.

Small requests keep it quick: the long flows (2,000 patients, downloads) are in test_e2e.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

LONG = 180_000  # ms: generation and evaluation on a busy 2-core machine
AXE = "/static/vendor/axe.min.js"

# axe's serious and critical findings, as "rule: how many nodes: what to fix (first node)"
AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.length} x ${v.help} (${v.nodes[0].target.join(" ")})`);
}"""


@pytest.fixture
def page(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors


def axe_findings(page) -> list[str]:  # type: ignore[no-untyped-def]
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(url=AXE)  # same origin: the strict Content-Security-Policy allows it
    return page.evaluate(AXE_RUN)


def snap(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=path, full_page=True)
    page.evaluate("window.scrollTo(0, 0)")


def tab_to(page, element_id: str, limit: int = 40) -> None:  # type: ignore[no-untyped-def]
    """Press Tab until the element has the focus, as a keyboard user would."""
    for _ in range(limit):
        if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def focused(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate("() => document.activeElement && document.activeElement.id")


def test_the_axe_check_finds_what_it_looks_for(page):
    page.goto("/api-docs")  # a page of the app, so axe loads under its policy
    page.evaluate(
        """() => { const img = document.createElement("img"); img.src = "/static/favicon.svg";
        document.querySelector("main").append(img); }"""
    )
    assert any(f.startswith("image-alt") for f in axe_findings(page))


def test_the_chat_flow_with_the_keyboard_only(page, screenshots):
    page.goto("/")
    page.get_by_role("heading", name="Ask for a cohort").wait_for()
    assert axe_findings(page) == []
    assert "Type 2 diabetes" in page.locator("#what-it-makes").inner_text()
    assert page.get_by_role("button", name="300 chronic kidney disease patients").is_visible()
    tab_to(page, "message")
    page.keyboard.type("40 type 2 diabetes patients with 5 observations, seed 7")
    page.keyboard.press("Enter")
    page.locator("#proposal").wait_for(state="visible", timeout=LONG)
    expect(page.locator("#confirm")).to_be_focused(timeout=LONG)  # focus moves once enabled
    proposal = page.locator("#proposal").inner_text()
    assert "type2_diabetes" not in proposal and "fhir-ndjson" not in proposal, proposal
    box = page.locator("#confirm").bounding_box()
    assert box is not None and box["y"] + box["height"] < 900 - 40  # not at the screen's edge
    snap(page, screenshots / "k1-chat-proposal.png")
    assert axe_findings(page) == []

    page.keyboard.press("Enter")  # "Generate it"
    verdict = page.locator("#result section.verdict")
    verdict.wait_for(timeout=LONG)
    # the verdict is the first thing under the title, on the first screen of the results
    first = page.locator("#result h2 + *")
    assert first.evaluate("n => n.classList.contains('verdict')")
    assert page.locator("#result li.check").count() == 3
    assert "drawn from the cited knowledge base" in verdict.inner_text()
    snap(page, screenshots / "k2-chat-results.png")
    assert axe_findings(page) == []
    # a second Enter in the empty box sends nothing
    tab_to(page, "message")
    count = page.locator("#log li").count()
    page.keyboard.press("Enter")
    assert page.locator("#log li").count() == count and page.locator("#error").inner_text() == ""


def test_the_table_flow_with_the_keyboard_only(page, screenshots):
    page.goto("/data")
    page.locator("#synthesizer option").first.wait_for(state="attached", timeout=LONG)
    assert axe_findings(page) == []
    tab_to(page, "bundled")
    page.keyboard.press("Enter")
    page.locator("#columns-section").wait_for(state="visible", timeout=LONG)
    assert page.locator("#synthesizer option:checked").inner_text() == "Gaussian copula"
    assert "first choice" in page.locator("#synthesizer-hint").inner_text()
    tab_to(page, "rows")
    page.keyboard.press("Control+A")
    page.keyboard.type("120")
    snap(page, screenshots / "k3-data-columns.png")
    assert axe_findings(page) == []
    tab_to(page, "generate")
    page.keyboard.press("Enter")
    expect(page.locator("#cancel-job")).to_be_focused(timeout=LONG)  # the one action meanwhile
    status = page.locator("#status")
    expect(status).to_contain_text("% done", timeout=LONG)
    page.screenshot(path=screenshots / "k4-data-progress.png")
    verdict = page.locator("#result section.verdict")
    verdict.wait_for(timeout=LONG)
    expect(page.locator("#cancel-job")).to_be_hidden()
    assert "made by Gaussian copula" in verdict.inner_text()
    assert {c.get_attribute("data-check") for c in page.locator("#result li.check").all()} == {
        "faithful",
        "private",
        "consistent",
    }
    assert focused(page).startswith("result-title-")  # the results take the focus
    # the data card is shown with the result (and offered as Markdown and JSON)
    assert "Privacy guarantee: none. Measured" in page.locator("#result").inner_text()
    assert page.get_by_role("region", name="Representation: share of each group").is_visible()
    assert page.locator("#result a[data-format='datacard_json']").count() == 1
    # the interactive chart: one column at a time, chosen with the keyboard, values on hover
    chart = page.get_by_role("region", name="Distributions, one column at a time")
    caption = chart.locator("figcaption")
    first = caption.inner_text()
    assert first.startswith("Age (years): real and synthetic")  # the unit, from the dataset
    chart.locator("select").focus()
    page.keyboard.press("ArrowDown")
    expect(caption).not_to_have_text(first)
    bars = chart.locator("svg rect")
    assert bars.count() >= 4 and "%" in bars.first.locator("title").text_content()
    # the correlation heatmap: reached with Tab, read cell by cell with the arrow keys
    heatmap = page.get_by_role("region", name="Correlations between columns")
    assert heatmap.locator("svg text", has_text="Real rows").count() == 1
    tab_to(page, heatmap.locator(".heatmap-box").get_attribute("id"), limit=80)
    readout = heatmap.locator(".heatmap-value")
    page.keyboard.press("ArrowDown")
    expect(readout).to_contain_text(" and ")
    text = readout.inner_text()
    assert "real " in text and "synthetic " in text and "_" not in text, text
    page.keyboard.press("ArrowRight")
    expect(readout).not_to_have_text(text)
    snap(page, screenshots / "k5-data-results.png")
    assert axe_findings(page) == []

    page.goto(page.locator("#result a", has_text="Open these results").get_attribute("href"))
    page.locator("#result section.verdict").wait_for(timeout=LONG)
    assert axe_findings(page) == []
    page.goto("/results")
    page.locator("#results li").first.wait_for(timeout=LONG)
    snap(page, screenshots / "k6-results-list.png")
    assert axe_findings(page) == []
    page.goto("/api-docs")
    page.locator("#operations tbody tr").first.wait_for(timeout=LONG)
    assert axe_findings(page) == []
    page.goto("/no/such/page")
    assert page.get_by_role("heading", name="Page not found").is_visible()
    snap(page, screenshots / "k7-not-found.png")
    assert axe_findings(page) == []
