"""Hostile cohort requests: terminal escape codes, control characters, absurd counts, random
unicode. The parser answers with a request or a one-line clarification, never a traceback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthpatient.errors import SynthPatientError
from synthpatient.knowledge import load_knowledge_base
from synthpatient.knowledge.conversation import Conversation
from synthpatient.knowledge.request import (
    Clarification,
    CohortRequest,
    clean_request_text,
    parse_request,
)

KB = load_knowledge_base()


@pytest.mark.parametrize(
    "text, count",
    [
        ("generate \x1b[31m500 diabetes patients", 500),
        ("\x1b[2J2000 patients with T2D", 2000),
        ("generate 500\x1b[0m diabetes patients", 500),  # read as "0m" (zero million) before
        ("generate \x1b[1;31m500\x1b[0m diabetes patients", 500),
        ("\x1b]0;my terminal\x07generate 300 diabetes patients", 300),
        ("generate 300 dia\u200bbetes patients\u202e", 300),
        # the C1 escape takes the next letter with it: "atients" is then named, not dropped
        ("generate\x00300\x7fdiabetes\x9bpatients", 300),
    ],
)
def test_escape_codes_and_control_characters_are_removed_and_said(text, count):
    request = parse_request(text, KB, partial=True)
    assert request.not_understood == (["'atients' not understood"] if "\x9b" in text else [])
    assert request.count == count and request.condition == "type2_diabetes"
    assert request.notes and "removed from the request" in request.notes[0]
    assert "removed from the request" in request.describe(KB)


def test_a_clean_request_has_no_notes_and_the_notes_stay_out_of_the_schema():
    request = parse_request("generate 500 diabetes patients\n\tas csv", KB)
    assert request.notes == [] and "note:" not in request.describe(KB)
    assert "notes" not in CohortRequest.model_json_schema()["properties"]  # the LLM's tool
    assert "notes" not in request.model_dump()


def test_clean_request_text_keeps_ordinary_whitespace():
    assert clean_request_text("a\tb\nc\r\nd e") == ("a\tb\nc\r\nd e", 0)
    assert clean_request_text("\x1b[1mbold\x1b[0m") == (" bold ", 2)
    assert clean_request_text("\x1b") == (" ", 1)  # a lone escape character


def test_a_clarification_says_what_was_removed():
    with pytest.raises(Clarification, match=r"How many patients.*\(Note: 1 terminal escape"):
        parse_request("\x1b[31mdiabetes patients please", KB)


@pytest.mark.parametrize(
    "text, match",
    [
        ("generate 0 diabetes patients", "at least 1 \\(got 0\\)"),
        ("generate -3 diabetes patients", "at least 1 \\(got -3\\)"),
        ("generate 10**30 diabetes patients", "10\\*\\*30 is far too large"),
        ("generate 10^30 diabetes patients", "10\\^30 is far too large"),
        ("generate 1e30 diabetes patients", "far too large"),
        ("generate 1e400 diabetes patients", "far too large"),
        ("generate 1e999999999 diabetes patients", "far too large"),
        ("generate " + "9" * 400 + " diabetes patients", "far too large"),
        ("generate 1000000000000000000000000000000 diabetes patients", "far too large"),
        ("diabetes " + "hundred " * 200 + "patients", "far too large"),
        ("diabetes 1" + ",1" * 600 + " patients", "far too large"),
        ("generate 2e9 diabetes patients", "limit of 1,000,000,000"),
        ("generate 1e-5 diabetes patients", "whole number"),
        ("generate 2**-3 diabetes patients", "whole number"),
        ("generate 500 diabetes patients seed " + "9" * 40, "up to 18 digits"),
    ],
)
def test_zero_negative_and_absurd_counts_get_a_clear_answer(text, match):
    with pytest.raises(Clarification, match=match) as info:
        parse_request(text, KB)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_a_power_within_the_limit_is_read_whole():
    assert parse_request("generate 10^3 diabetes patients", KB).count == 1000
    assert parse_request("generate 10**4 diabetes patients", KB).count == 10_000


def test_the_conversation_shows_the_note_before_generating(tmp_path):
    chat = Conversation(out_dir=tmp_path / "cohort")
    reply = chat.send("generate \x1b[31m300 type 2 diabetes patients\x1b[0m")
    assert reply.kind == "confirm" and "300 adults" in reply.text
    assert "2 terminal escape codes or control characters removed" in reply.text
    assert not (tmp_path / "cohort").exists()


# --- random text -------------------------------------------------------------------------

_SNIPPETS = st.sampled_from(
    [
        "generate ",
        "500 ",
        "two thousand ",
        "diabetes ",
        "diabetic ",
        "patients ",
        "women ",
        "aged 40 to 65 ",
        "over 65 ",
        "with hypertension ",
        "on insulin ",
        "hba1c above 9 ",
        "seed 3 ",
        "as fhir ",
        "10**30 ",
        "10^9 ",
        "1e400 ",
        "1e-5 ",
        "-7 ",
        "0 ",
        "1,,, ",
        "\x1b[31m",
        "\x1b[0m",
        "\x1b]0;t\x07",
        "\x1b",
        "\x00",
        "\x7f",
        "\x9b",
        "\u200b",
        "\u202e",
        "\ufeff",
        "\n",
        "\t",
        "٥٠٠ ",
        "５００ ",
        "İ",
        "ß",
        "hundred ",
        "and ",
    ]
)
_NOISE = st.one_of(_SNIPPETS, st.text(max_size=4), st.just(" "), st.just(" "))
_TEMPLATES = st.sampled_from(
    [
        "generate 500 diabetes patients",
        "two thousand diabetic women aged 40 to 65",
        "300 T2D patients on insulin with hba1c above 9 seed 3 as fhir",
        "1,000 COPD patients over 50",
        "make 200 heart failure patients without hypertension",
        "generate 10**30 diabetes patients",
        "50 hypertensive men under 40 with ckd stage 3",
    ]
)


@st.composite
def _noisy_template(draw: st.DrawFn) -> str:
    """A real request with random pieces (escapes, controls, unicode) between its words."""
    words = draw(_TEMPLATES).split(" ")
    pieces = draw(st.lists(_NOISE, min_size=len(words) + 1, max_size=len(words) + 1))
    return pieces[0] + "".join(w + p for w, p in zip(words, pieces[1:], strict=True))


REQUESTS = st.one_of(
    _noisy_template(), st.lists(st.one_of(_SNIPPETS, st.text(max_size=8)), max_size=30).map("".join)
)


@pytest.mark.timeout(120)  # a hang fails the test instead of stalling the suite
@settings(
    max_examples=200, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow]
)
@given(REQUESTS)
def test_random_text_gives_a_request_or_a_one_line_answer(text):
    try:
        request = parse_request(text, KB)
    except SynthPatientError as exc:
        assert "\n" not in str(exc) and "\x1b" not in str(exc)
        return
    assert 1 <= request.count <= 10_000_000
    described = request.describe(KB)
    assert "\n" not in described and "\x1b" not in described
    try:
        request.to_spec(KB)
    except SynthPatientError as exc:  # a filter the knowledge base cannot honour
        assert "\n" not in str(exc)


def test_follow_ups_read_counts_like_first_requests(tmp_path):
    chat = Conversation(out_dir=tmp_path / "cohort")
    assert chat.send("generate 200 type 2 diabetes patients").kind == "confirm"
    absurd = chat.send("now make them 10**30 patients")
    assert absurd.kind == "clarify" and "far too large" in absurd.text
    escaped = chat.send("now make them \x1b[31m300\x1b[0m patients")
    assert escaped.kind == "confirm" and "300 adults" in escaped.text
