"""End to end in real headless Chromium (Debian's, driven by Playwright) against a real server.

The two flows the issue asks to be shown: the diabetes request typed in the chat, confirmed,
previewed, plotted, downloaded as FHIR and CSV; the bundled diabetes table uploaded, 1,000
rows generated, the report downloaded. A screenshot of every page is saved.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from synthpatient import datasets

DIABETES_REQUEST = (
    "generate 2000 Type 2 diabetes patients EHR data with 20 important diabetes "
    "observations based on the US population"
)
OBSERVATIONS = [
    "hba1c",
    "fasting_glucose",
    "bmi",
    "systolic_bp",
    "diastolic_bp",
    "ldl",
    "hdl",
    "triglycerides",
    "total_cholesterol",
    "egfr",
    "creatinine",
    "uacr",
    "non_hdl",
    "weight",
    "height",
    "heart_rate",
    "potassium",
    "bun",
    "alt",
    "waist",
]
LONG = 180_000  # ms: generation and evaluation on a busy 2-core machine


@pytest.fixture
def page(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=live_server, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith((live_server, "data:", "blob:"))
            else None
        ),
    )
    yield page
    context.close()
    assert not errors, errors
    assert not outside, f"resources from outside the server: {outside}"


def snap(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    """A full-page screenshot, then back to the top: after a full-page capture Chromium's
    hit-testing can lag the scroll position, and the next click lands beside its target."""
    page.screenshot(path=path, full_page=True)
    page.evaluate("window.scrollTo(0, 0)")


# what an accessibility audit would flag first, checked in the page itself: every form control
# and image named, one h1, headings that do not skip a level, a language, a main landmark
A11Y_PROBLEMS = """() => {
  const problems = [];
  const named = (el) => (el.labels && el.labels.length) || el.getAttribute("aria-label")
    || el.getAttribute("aria-labelledby") || el.getAttribute("title");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (!named(el)) problems.push(`unlabelled ${el.tagName.toLowerCase()}#${el.id}`);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    const label = el.textContent.trim() || el.getAttribute("aria-label");
    if (!label) problems.push(`unnamed ${el.tagName}`);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.getAttribute("alt")) problems.push(`image without alt: ${img.src}`);
  }
  const levels = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")]
    .filter((h) => h.offsetParent !== null).map((h) => Number(h.tagName[1]));
  const h1s = levels.filter((l) => l === 1).length;
  if (h1s !== 1) problems.push(`h1 count ${h1s}`);
  levels.forEach((l, i) => {
    if (i && l > levels[i - 1] + 1) problems.push(`heading h${levels[i - 1]} -> h${l}`);
  });
  if (!document.documentElement.lang) problems.push("no lang");
  if (!document.querySelector("main")) problems.push("no main landmark");
  return problems;
}"""


def accessible(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.evaluate(A11Y_PROBLEMS)


def plots_loaded(page) -> int:  # type: ignore[no-untyped-def]
    """How many plots show, once each has loaded (wait_for_function is not used: its polling
    evaluates a string, which the app's Content-Security-Policy rightly forbids)."""
    images = page.locator("#result figure img")
    for image in images.all():
        image.scroll_into_view_if_needed()  # they load lazily
        expect(image).to_have_js_property("complete", True, timeout=LONG)
        assert image.evaluate("img => img.naturalWidth") > 0
    return images.count()


def download(page, fmt: str, folder: Path) -> Path:  # type: ignore[no-untyped-def]
    with page.expect_download(timeout=LONG) as info:
        page.locator(f"#result a[data-format='{fmt}']").click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_chat_diabetes_request_to_fhir_and_csv(page, screenshots, tmp_path):
    page.goto("/")
    page.get_by_role("heading", name="Ask for a cohort").wait_for()
    snap(page, screenshots / "01-chat-empty.png")

    page.get_by_label("Your request or question").fill(DIABETES_REQUEST)
    page.get_by_role("button", name="Send").click()
    proposal = page.locator("#proposal")
    proposal.wait_for(state="visible", timeout=LONG)
    assert "2,000 adults with Type 2 diabetes mellitus" in proposal.inner_text()
    # "20 observations" means 20 observation types unless visits or years are asked for
    assert "population: US" in proposal.inner_text()
    assert "20 observation types" in proposal.inner_text()
    snap(page, screenshots / "02-chat-confirm.png")

    page.get_by_role("button", name="Generate it").click()
    page.locator("#progress").wait_for(state="visible", timeout=LONG)
    status = page.locator("#status").inner_text()
    assert any(stage in status for stage in ("Drawing", "Writing the files", "Checking")), status
    assert "% done" in status and "so far" in status
    page.screenshot(path=screenshots / "03-chat-progress.png")
    page.locator("#result h2").wait_for(timeout=LONG)
    assert "2,000 synthetic patients" in page.locator("#result h2").inner_text()
    assert page.locator("#result table").first.locator("tbody tr").count() == 20
    assert plots_loaded(page) == 3
    assert "Sourced targets" in page.locator("#result").inner_text()
    assert "Clinical rules" in page.locator("#result").inner_text()
    assert "Provenance" in page.locator("#result aside").inner_text()
    snap(page, screenshots / "04-chat-results.png")
    assert accessible(page) == []

    fhir = download(page, "fhir", tmp_path)
    with zipfile.ZipFile(fhir) as archive:
        names = set(archive.namelist())
        assert {"Patient.ndjson", "Observation.ndjson"} <= names
        from fhir.resources.R4B import get_fhir_model_class

        patients = [json.loads(line) for line in archive.read("Patient.ndjson").splitlines()]
        observations = [
            json.loads(line) for line in archive.read("Observation.ndjson").splitlines()
        ]
    # one Observation per value the cohort has (a value can be missing, e.g. LDL that the
    # Friedewald formula cannot give): compared with the CSV's values below
    assert len(patients) == 2000 and 2000 * 19 < len(observations) <= 2000 * 20
    for resource in patients[:50] + observations[:200]:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert {p["id"] for p in patients} >= {
        o["subject"]["reference"].split("/")[1] for o in observations
    }
    assert {c["system"] for o in observations[:20] for c in o["code"]["coding"]} == {
        "http://loinc.org"
    }

    table = pd.read_csv(download(page, "csv", tmp_path))
    assert len(table) == 2000 and set(OBSERVATIONS) <= set(table.columns)
    assert table["hba1c"].notna().all() and table["patient_id"].is_unique
    assert len(observations) == int(table[OBSERVATIONS].notna().sum().sum())

    page.get_by_label("Your request or question").fill("which sources did you use?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator("#log li.assistant.answer").last
    answer.wait_for(timeout=LONG)
    assert "[ndsr_2022]" in answer.inner_text()
    page.get_by_label("Your request or question").fill("now only women")
    page.get_by_role("button", name="Send").click()
    page.locator("#proposal").wait_for(state="visible", timeout=LONG)
    assert "2,000 women" in page.locator("#proposal").inner_text()
    snap(page, screenshots / "05-chat-follow-up.png")


def test_upload_diabetes_table_generate_1000_rows_and_report(page, screenshots, tmp_path):
    real = tmp_path / "diabetes.csv"
    datasets.load("diabetes").to_csv(real, index=False)
    page.goto("/data")
    assert "Size limit: 50 MB" in page.locator("#file-hint").inner_text()
    snap(page, screenshots / "06-data-empty.png")

    page.get_by_label("CSV, TSV or Parquet file").set_input_files(str(real))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.locator("#columns-section").wait_for(state="visible", timeout=LONG)
    assert "diabetes.csv: 442 rows, 11 columns." in page.locator("#upload-summary").inner_text()
    assert page.locator("#synthesizer").input_value() == "copula"
    page.get_by_label("Number of rows").fill("1000")
    snap(page, screenshots / "07-data-columns.png")

    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#result h2").wait_for(timeout=LONG)
    assert "1,000 synthetic rows like diabetes.csv" in page.locator("#result h2").inner_text()
    assert page.locator("#result table").first.locator("tbody tr").count() == 20
    assert plots_loaded(page) == 3
    captions = page.locator("#result figcaption").all_inner_texts()
    assert any("Distributions" in c for c in captions) and any("Privacy" in c for c in captions)
    assert "Rule violations" in page.locator("#result").inner_text()
    snap(page, screenshots / "08-data-results.png")
    assert accessible(page) == []

    report = download(page, "report", tmp_path).read_text(encoding="utf-8")
    assert report.lstrip().lower().startswith("<!doctype html") and "</html>" in report
    assert "Privacy" in report and "data:image/png;base64," in report
    synthetic = pd.read_csv(download(page, "csv", tmp_path))
    assert len(synthetic) == 1000 and list(synthetic.columns) == list(
        datasets.load("diabetes").columns
    )

    result_url = page.locator(
        "#result a", has_text="Open these results on their own page"
    ).get_attribute("href")
    page.goto(result_url)
    page.locator("#result h2").wait_for(timeout=LONG)
    snap(page, screenshots / "09-results-page.png")
    assert accessible(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=screenshots / "10-results-narrow.png")


def test_bad_upload_shows_a_clear_message_on_the_page(page, screenshots, tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"this is not parquet")
    page.goto("/data")
    page.get_by_label("CSV, TSV or Parquet file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload", exact=True).click()
    alert = page.get_by_role("alert")
    expect(page.locator("#error")).not_to_have_text("", timeout=LONG)
    text = alert.inner_text()
    assert "broken.parquet" in text and "Traceback" not in text and "/tmp" not in text
    snap(page, screenshots / "11-data-error.png")
    page.goto("/api-docs")
    page.locator("#operations tbody tr").first.wait_for(timeout=LONG)
    snap(page, screenshots / "12-api-docs.png")
    assert accessible(page) == []


def test_the_accessibility_probe_finds_what_it_looks_for(browser):
    page = browser.new_page()
    try:
        page.set_content(
            "<html><body><h1>One</h1><h3>Skipped</h3><input id=age>"
            "<img src=data:,><button></button></body></html>"
        )
        found = accessible(page)
    finally:
        page.close()
    assert {
        "unlabelled input#age",
        "unnamed BUTTON",
        "heading h1 -> h3",
        "no lang",
        "no main landmark",
    } <= set(found)
    assert any(p.startswith("image without alt") for p in found)


def test_hostile_text_is_shown_as_text_never_run(page):
    hostile = "<img src=x onerror=\"document.title='owned'\"> generate 5 lupus patients"
    page.goto("/")
    page.get_by_label("Your request or question").fill(hostile)
    page.get_by_role("button", name="Send").click()
    page.locator("#log li.assistant").last.wait_for(timeout=LONG)
    assert page.locator("#log img").count() == 0 and page.title() != "owned"
    assert hostile in page.locator("#log li.user").last.inner_text()
    assert "no knowledge base for 'lupus'" in page.locator("#log li.assistant").last.inner_text()


def test_a_page_whose_session_ended_starts_a_new_one_by_itself(page):
    """The session of an open page can end (idle, a restart, or recycled while it held nothing):
    the API answers 401 and the page starts a new session and carries on, with no error shown."""
    page.goto("/data")
    page.locator("#synthesizer option").first.wait_for(state="attached", timeout=LONG)
    page.context.clear_cookies()  # as if the server had forgotten this browser's session
    page.get_by_role("button", name="Or try the bundled diabetes table").click()
    page.locator("#columns-section").wait_for(state="visible", timeout=LONG)
    assert "442 rows, 11 columns" in page.locator("#upload-summary").inner_text()
    assert page.locator("#error").inner_text() == ""
    assert any(c["name"] == "synthpatient_session" for c in page.context.cookies())


def test_bundled_visits_table_is_generated_as_whole_patients(page, screenshots):
    page.goto("/data")
    page.locator("#synthesizer option").first.wait_for(state="attached", timeout=LONG)
    page.get_by_role("button", name="Or try the bundled PBC visits table").click()
    page.locator("#timeline").wait_for(state="visible", timeout=LONG)
    assert "312 patients with 1,945 visits" in page.locator("#timeline-summary").inner_text()
    assert "'day'" in page.locator("#timeline-time").inner_text()
    expect(page.locator("#synthesizer")).to_have_value("sequential", timeout=LONG)  # once listed
    expect(page.locator("#synthesizer-warning")).to_be_hidden()
    page.locator("#synthesizer").select_option("copula")
    expect(page.locator("#synthesizer-warning")).to_contain_text("separate patient")
    expect(page.locator("#rows-label")).to_have_text("Number of rows")
    page.locator("#synthesizer").select_option("sequential")
    page.get_by_label("How many patients?").fill("20")
    assert "quarter of the patients" in page.locator("#holdout-text").inner_text()
    snap(page, screenshots / "13-data-visits.png")
    assert accessible(page) == []

    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#result h2").wait_for(timeout=LONG)
    assert "20 synthetic patients" in page.locator("#result h2").inner_text()
    assert page.locator("#result p.summary").inner_text().startswith("20 patients, ")
    captions = page.locator("#result figcaption").all_inner_texts()
    assert "Visits per patient: real and synthetic" in captions
    # histories over time: real patients only as quartiles per period, never one by one
    over_time = page.get_by_role("region", name="Patient histories over time")
    assert "Real: median" in over_time.locator("p.legend").inner_text()
    assert "Days since the first visit" in over_time.locator("svg").text_content()
    dots = over_time.locator("svg circle title").all_text_contents()
    assert dots and all(d.startswith(("Real, ", "Synthetic")) for d in dots)
    assert not any(d.startswith("Real patient") for d in dots)
    heatmap = page.get_by_role("region", name="Correlations between columns")
    labels = heatmap.locator("svg text").all_text_contents()
    assert "Bili" in labels and "Day" not in labels  # the time is not a measurement
    snap(page, screenshots / "14-data-visits-results.png")
    assert accessible(page) == []


def test_a_follow_up_request_shows_the_history_tables(page, screenshots, tmp_path):
    page.goto("/")
    page.get_by_role("button", name="with 5 years of follow-up").wait_for()
    page.get_by_label("Your request or question").fill(
        "30 type 2 diabetes patients with 2 years of follow-up"
    )
    page.get_by_role("button", name="Send").click()
    page.locator("#proposal").wait_for(state="visible", timeout=LONG)
    assert "Follow-up (years)" in page.locator("#proposal").inner_text()
    page.get_by_role("button", name="Generate it").click()
    page.locator("#result h2").wait_for(timeout=LONG)
    assert page.locator("#result p.summary").inner_text().startswith("30 patients, ")
    histories = page.get_by_role("region", name="History tables")
    assert histories.locator("tbody tr").count() == 4
    encounters = pd.read_csv(download(page, "encounters_csv", tmp_path))
    assert encounters["patient_id"].nunique() == 30
    over_time = page.get_by_role("region", name="Patient histories over time")
    caption = over_time.locator("figcaption")
    assert caption.inner_text() == "Hemoglobin A1c (%) over time, synthetic patients"
    over_time.locator("select").focus()  # another measurement, chosen with the keyboard
    page.keyboard.press("ArrowDown")
    expect(caption).not_to_have_text("Hemoglobin A1c (%) over time, synthetic patients")
    assert "Years since the first visit" in over_time.locator("svg").text_content()
    point = over_time.locator("svg circle title").first.text_content()
    assert point.startswith("Synthetic") and "(years since the first visit): " in point, point
    heatmap = page.get_by_role("region", name="Correlations between columns")
    assert heatmap.locator("svg text", has_text="Synthetic rows").count() == 1
    assert heatmap.locator("svg text", has_text="Real rows").count() == 0  # a cohort: none
    snap(page, screenshots / "15-chat-histories.png")
    assert accessible(page) == []
