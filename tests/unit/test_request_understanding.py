"""Requests that account for every word (issue 17): the key cases of
``benchmarks/check_clinician_requests.py``, fast (one small cohort drawn)."""

from __future__ import annotations

import re

import pytest

from synthpatient.errors import KnowledgeBaseError
from synthpatient.knowledge import load_knowledge_base
from synthpatient.knowledge._vocabulary import load_vocabulary, load_vocabulary_file
from synthpatient.knowledge.conversation import Conversation
from synthpatient.knowledge.request import Clarification, parse_request
from synthpatient.knowledge.sampler import CohortSampler

KB = load_knowledge_base()


@pytest.mark.parametrize(
    "text",
    [
        "CKD stage 3 patients on SGLT2 inhibitors",
        "type 2 diabetes patients over 65",
        "diabetic women with HbA1c above 9",
        "heart failure patients NYHA class 3",
    ],
)
def test_numbers_attached_to_clinical_words_are_never_counts(text):
    with pytest.raises(Clarification, match="How many patients"):
        parse_request(text, KB, partial=True)


@pytest.mark.parametrize(
    "text, count",
    [
        ("two thousand diabetic men", 2000),
        ("a thousand T2D patients", 1000),
        ("5k type 2 diabetics", 5000),
        ("generate two hundred and fifty COPD patients", 250),
        ("a cohort of 300 CKD patients", 300),
    ],
)
def test_counts_in_words(text, count):
    assert parse_request(text, KB).count == count


def test_stage_and_drug_class_plurals_become_filters_and_the_data_honours_them():
    request = parse_request("500 CKD stage 3 patients on SGLT2 inhibitors", KB)
    assert request.count == 500 and request.condition == "chronic_kidney_disease"
    assert {f.describe() for f in request.filters} == {"egfr 30-59", "on sglt2i"}
    spec = request.model_copy(update={"count": 200, "seed": 3}).to_spec(KB)
    wide = CohortSampler(KB).sample(spec).wide
    assert len(wide) == 200 and wide["on_sglt2i"].all()
    assert wide["egfr"].between(30, 59).all()


def test_words_defined_by_a_value_become_filters_said_back():
    request = parse_request("100 HFrEF patients on sacubitril/valsartan", KB)
    assert request.condition == "heart_failure"
    assert {f.describe() for f in request.filters} == {"lvef <= 40", "on arni"}
    elderly = parse_request("300 elderly T2D patients", KB)
    assert (elderly.age_min, elderly.age_max) == (65, 90)
    assert "'elderly' read as aged 65-90" in elderly.describe(KB)


@pytest.mark.parametrize(
    "text, condition, comorbidity",
    [
        ("500 hypertensive diabetics", "type2_diabetes", "hypertension"),
        ("500 diabetic hypertensive patients", "hypertension", "type2_diabetes"),
        ("300 diabetic kidney disease patients", "chronic_kidney_disease", "type2_diabetes"),
    ],
)
def test_an_adjective_before_a_condition_is_its_comorbidity(text, condition, comorbidity):
    request = parse_request(text, KB)
    assert request.condition == condition
    assert [f.describe() for f in request.filters] == [f"with {comorbidity}"]


def test_every_word_is_accounted_for():
    request = parse_request("two thousand diabetic men over 65 not on insulin", KB)
    meanings = dict(request.understood)
    assert meanings["two thousand"] == "count 2,000"
    assert meanings["not on insulin"] == "filter: not on insulin"
    assert meanings["over 65"] == "over 65: aged 65 or more"
    assert request.not_understood == []
    assert any("'diabetic' read as Type 2" in a for a in request.assumptions)


@pytest.mark.parametrize(
    "text, named",
    [
        ("300 COPD patients who smoke", "smoking status"),
        ("500 T2D patients with depression", "'depression'"),
        ("300 T2D patients on aspirin", "'on aspirin' not understood"),
        ("200 T2D patients with HbA1c 9", "a value without a comparison"),
        ("500 COPD patients with HbA1c over 8", "not recorded for Chronic obstructive"),
        ("700 T2D patients on metformin or insulin", "on either one cannot be drawn"),
        ("500 T2D patients who are not obese", "'not obese' not understood"),
        ("500 T2D patients who have never been on insulin", "a negation I cannot place"),
        ("500 T2D patients not over 60", "a negated age"),
    ],
)
def test_what_cannot_be_honoured_is_named_never_dropped(text, named):
    request = parse_request(text, KB, partial=True)
    assert any(named in part for part in request.not_understood), request.not_understood
    with pytest.raises(Clarification, match="Not everything in the request") as info:
        parse_request(text, KB)  # without partial: refused, naming it
    assert named in str(info.value)


@pytest.mark.parametrize(
    "text, named",
    [
        ("women with gestational diabetes, 300 of them", "gestational diabetes"),
        ("200 patients with diabetes insipidus", "diabetes insipidus"),
        ("1000 prediabetic adults", "prediabetes"),
        ("300 MODY patients", "MODY"),
        ("400 patients with LADA", "LADA"),
        ("250 patients with steroid-induced diabetes", "steroid-induced diabetes"),
    ],
)
def test_related_conditions_are_refused_never_read_as_type_2(text, named):
    with pytest.raises(Clarification, match="never replaced by a related condition") as info:
        parse_request(text, KB)
    assert named in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["500 patients with type 1 diabetes", "200 T1DM adults", "400 juvenile diabetes patients"],
)
def test_type_1_diabetes_is_served_by_its_own_knowledge_base_or_refused(text):
    if "type1_diabetes" in KB.conditions:
        assert parse_request(text, KB).condition == "type1_diabetes"
    else:
        with pytest.raises(Clarification, match="type 1 diabetes"):
            parse_request(text, KB)


@pytest.mark.parametrize(
    "text, why",
    [
        ("Genera 500 pacientes con diabetes tipo 2", "Spanish"),
        ("Erzeuge 500 Patienten mit Typ-2-Diabetes", "German"),
        ("Générer 500 patients avec un diabète de type 2", "French"),
        ("生成500名2型糖尿病患者", "another script"),
    ],
)
def test_other_languages_are_said_plainly(text, why):
    with pytest.raises(Clarification, match=f"only understand requests in English.*{why}"):
        parse_request(text, KB)


@pytest.mark.parametrize(
    "text, match",
    [
        ("500 T2D patients with HbA1c over 25", "outside the plausible range"),
        ("500 heart failure patients with LVEF above 95", "outside the plausible range"),
        ("300 children with type 2 diabetes", "Only adults"),
        ("500 T2D patients from the UK", "only have data for the US"),
    ],
)
def test_absurd_values_and_populations_are_refused(text, match):
    with pytest.raises(Clarification, match=match):
        parse_request(text, KB)


def test_the_conversation_names_what_it_left_out_and_waits_for_a_yes(tmp_path):
    chat = Conversation(out_dir=tmp_path / "cohort")
    reply = chat.send("300 COPD patients who smoke")
    assert reply.kind == "clarify" and "smoking status" in reply.text
    assert "say 'yes' to generate it without those parts" in reply.text
    assert chat.pending is not None and chat.confirms("yes")
    assert not (tmp_path / "cohort").exists()  # nothing generated before the yes


def test_a_follow_up_for_an_observation_already_there_is_answered(tmp_path):
    chat = Conversation(out_dir=tmp_path / "cohort")
    assert chat.send("200 T2D patients with 20 observations").kind == "confirm"
    reply = chat.send("add eGFR")
    assert reply.kind == "answer" and "already in the request" in reply.text


def test_vocabulary_keys_name_knowledge_base_items():
    vocab = load_vocabulary()
    for section, attribute in (
        (vocab.observations, "observations"),
        (vocab.comorbidities, "comorbidities"),
        (vocab.medications, "medications"),
    ):
        items = [item for c in KB.conditions.values() for item in getattr(c, attribute)]
        keys = {i.key for i in items} | {getattr(i, "drug_class", None) for i in items}
        assert set(section) <= keys, sorted(set(section) - keys)  # a renamed key is noticed


def test_a_broken_vocabulary_file_is_one_line(tmp_path):
    path = tmp_path / "vocabulary.yaml"
    path.write_text("version: 1\nconditions: {}\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="vocabulary.yaml: .*Field required"):
        load_vocabulary_file(path)


def _llm_parser(arguments: dict):  # type: ignore[no-untyped-def]
    """An LLM request parser whose server answers one tool call with ``arguments``."""
    import json

    import httpx

    from synthpatient.knowledge.llm_parser import LLMRequestParser
    from synthpatient.llm.client import LLMClient

    sent: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        call = {"name": "cohort_request", "arguments": json.dumps(arguments)}
        message = {"role": "assistant", "tool_calls": [{"id": "1", "function": call}]}
        return httpx.Response(200, json={"choices": [{"message": message}]})

    client = LLMClient(
        "http://llm.test/v1", model="m", api_key="k", transport=httpx.MockTransport(answer)
    )
    return LLMRequestParser(client), sent


def test_the_llm_parser_is_held_to_the_same_condition_and_language_checks():
    parser, sent = _llm_parser({"count": 300, "condition": "type2_diabetes"})
    with pytest.raises(Clarification, match="gestational diabetes"):
        parser("300 women with gestational diabetes", KB)
    with pytest.raises(Clarification, match="only understand requests in English"):
        parser("Genera 300 pacientes con diabetes tipo 2", KB)
    assert sent == []  # refused before anything was sent
    with pytest.raises(Clarification, match="read the request as 'type2_diabetes'"):
        parser("300 COPD patients", KB)  # the model changed the disease: refused


def test_the_llm_parser_names_what_the_model_could_not_express():
    parser, sent = _llm_parser({"count": 300, "condition": "copd", "not_understood": ["who smoke"]})
    request = parser("300 COPD patients who smoke", KB)
    assert request.condition == "copd" and request.not_understood == ["'who smoke' not understood"]
    assert "not_understood" in sent[0]["tools"][0]["function"]["parameters"]["properties"]


def test_a_request_phrased_as_a_question_is_a_request(tmp_path):
    chat = Conversation(out_dir=tmp_path / "cohort")
    reply = chat.send("Can you generate 500 T2D patients aged 40-60?")
    assert reply.kind == "confirm" and reply.request is not None and reply.request.count == 500
    chat.pending = None
    assert chat.send("can you tell me which sources you used?").kind == "answer"


def test_a_long_paste_of_unknown_words_gives_a_bounded_answer():
    text = "500 T2D patients " + " ".join(f"zork{i} blorp{i}," for i in range(60))
    request = parse_request(text, KB, partial=True)
    assert len(request.not_understood) == 9 and request.not_understood[-1].startswith("and 52")
    assert all(len(part) < 60 for part in request.not_understood)


@pytest.mark.parametrize(
    "text, wanted",
    [
        ("500 hypertension patients, exclude those with diabetes", "without type2_diabetes"),
        ("500 hypertension patients, exclude diabetics", "without type2_diabetes"),
        ("500 hypertension patients who do not have diabetes", "without type2_diabetes"),
        ("500 hypertension patients who don't have diabetes", "without type2_diabetes"),
        ("500 hypertension patients, no history of heart failure", "without heart_failure"),
        ("500 hypertension patients, no known CKD", "without chronic_kidney_disease"),
        ("500 hypertension patients other than those on ACE inhibitors", "not on acei"),
        ("10k T2DM pts w/o HTN", "without hypertension"),
        ("10k T2DM pts w/ HTN", "with hypertension"),
        ("500 hypertension patients with a history of heart failure", "with heart_failure"),
    ],
)
def test_exclusions_are_read_as_exclusions_never_as_their_opposite(text, wanted):
    # "exclude those with diabetes" was once read as "with type2_diabetes"
    request = parse_request(text, KB)
    assert [f.describe() for f in request.filters] == [wanted]
    assert request.follow_up_years is None  # "a history of" is the past, not visits over time


def test_a_negation_that_cannot_be_placed_is_named_with_the_right_wording():
    request = parse_request(
        "500 hypertension patients who have never been on ACE inhibitors", KB, partial=True
    )
    assert request.filters == [] and "say e.g. 'not on" in request.not_understood[0]


@pytest.mark.parametrize(
    "text, share",
    [
        ("500 HFrEF patients aged 65 and over, 60% male", 0.4),
        ("500 T2D patients, 70 percent of them women", 0.7),
        ("500 T2D patients, half women", 0.5),
        ("500 T2D patients with HbA1c above 9%, 40% women", 0.4),
    ],
)
def test_a_sex_mix_is_a_share_never_one_sex(text, share):
    # "60% male" was once read as men only, with the 60 named as not understood
    request = parse_request(text, KB)
    assert request.sex is None and request.female_share == pytest.approx(share)
    assert f"{share:.0%} women" in request.describe(KB)


def test_the_drawn_cohort_has_the_asked_sex_mix_and_contradictions_are_refused():
    request = parse_request("2000 COPD patients, 70% male", KB)
    spec = request.model_copy(update={"seed": 1}).to_spec(KB)
    wide = CohortSampler(KB).sample(spec).wide
    assert abs((wide["sex"] == "female").mean() - 0.3) < 0.03  # the source says 0.56
    with pytest.raises(Clarification, match="women only and for a mix"):
        parse_request("500 T2D women, 60% male", KB)
    with pytest.raises(Clarification, match="two different sex mixes"):
        parse_request("500 T2D patients, 60% male and 50% female", KB)
    with pytest.raises(Clarification, match="between 0% and 100%"):
        parse_request("500 T2D patients, 150% male", KB)


def test_the_data_card_targets_what_was_asked():
    from synthpatient.exporters._card_facts import cohort_targets

    condition = KB.conditions["heart_failure"]
    mix = parse_request("500 heart failure patients aged 65 and over, 60% male", KB)
    targets = cohort_targets(condition, mix.to_spec(KB))
    assert targets["sex"] == {"female": 0.4, "male": 0.6}
    assert "age_bands" not in targets  # the sources' bands are for all adults with HF
    assert cohort_targets(condition)["sex"]["female"] == 0.45
    assert "age_bands" in cohort_targets(condition)


@pytest.mark.parametrize(
    "text",
    [
        "200 T2D patients with eGFR less than 60 or UACR over 30",
        "500 T2D patients with systolic BP above 140 or diastolic above 90",
    ],
)
def test_either_of_two_values_is_refused_never_read_as_both(text):
    with pytest.raises(Clarification, match="either condition cannot be drawn"):
        parse_request(text, KB)


@pytest.mark.parametrize(
    "text, named",
    [
        ("500 type 2 diabetes patients, mostly women", "give the mix as a share"),
        ("300 T2D patients on metformin only", "'only' (no other drug) cannot be honoured"),
        ("300 T2D patients on metformin monotherapy", "'only' (no other drug)"),
        ("800 hypertensive African American patients", "race or ethnicity"),
    ],
)
def test_what_a_word_narrows_is_named_not_widened(text, named):
    request = parse_request(text, KB, partial=True)
    assert request.sex is None and request.female_share is None
    assert any(named in n for n in request.not_understood)


@pytest.mark.parametrize(
    "text",
    [
        "500 hypertension patients over 2 years",  # once refused as an age of 2
        "500 hypertension patients with blood pressure over 2 years",  # once systolic >= 3
    ],
)
def test_a_length_of_time_is_a_follow_up_never_an_age_or_a_value(text):
    request = parse_request(text, KB)
    assert request.follow_up_years == 2.0 and request.filters == []
    assert (request.age_min, request.age_max) == (18, 90)
    # said back with the condition's own schedule, not type 2 diabetes's
    assert "every month while Systolic blood pressure is above 130" in request.describe(KB)


def test_an_adult_age_in_years_stays_an_age():
    request = parse_request("300 women over 60 years with T2D", KB)
    assert request.age_min == 60 and request.follow_up_years is None


def test_filters_are_said_back_in_clinical_names_and_units():
    request = parse_request(
        "500 diabetic patients with hypertension, not on metformin, HbA1c above 9, "
        "systolic over 140",
        KB,
    )
    said = request.describe(KB)
    for words in (
        "Hemoglobin A1c >= 9.1 %",
        "Systolic blood pressure >= 141 mmHg",
        "with Essential hypertension",
        "not on Metformin",
    ):
        assert words in said
    assert "hba1c" not in said and "type2_diabetes" not in said


def test_chat_follow_ups_change_the_mix_the_history_the_count_and_exclusions(tmp_path):
    chat = Conversation(out_dir=tmp_path)
    chat.send("500 hypertension patients aged 50-80")
    steps = [
        ("make it 60% male", lambda r: r.female_share == 0.4 and r.sex is None),
        ("exclude those with diabetes", lambda r: "without type2_diabetes" in _keys(r)),
        ("add 3 years of follow-up", lambda r: r.follow_up_years == 3.0),
        ("change the count to 800", lambda r: r.count == 800),
        ("no one on ACE inhibitors", lambda r: "not on acei" in _keys(r)),
        ("never on beta blockers", lambda r: "not on beta_blocker" in _keys(r)),
        ("none with heart failure", lambda r: "without heart_failure" in _keys(r)),
        ("now only men", lambda r: r.sex == "male" and r.female_share is None),
    ]
    for text, holds in steps:
        reply = chat.send(text)
        assert reply.kind == "confirm", (text, reply.text)
        assert holds(reply.request), (text, reply.request)
    assert "on acei" not in _keys(reply.request)  # an exclusion never turns into its opposite


def _keys(request):
    return [f.describe() for f in request.filters]


@pytest.mark.parametrize(
    "text, wanted",
    [
        ("500 patients with poorly controlled diabetes", "hba1c >= 9.1"),  # HEDIS > 9.0 %
        ("500 T2D patients with poor glycemic control", "hba1c >= 9.1"),
        ("200 patients with well controlled diabetes", "hba1c <= 6.9"),  # ADA target < 7 %
    ],
)
def test_control_of_diabetes_is_read_by_its_published_threshold(text, wanted):
    request = parse_request(text, KB)
    assert [f.describe() for f in request.filters] == [wanted]
    assert request.condition == "type2_diabetes"


def test_every_example_the_web_page_gives_is_understood():
    from synthpatient.web.pages import REQUEST_PARTS

    for part, examples in REQUEST_PARTS:
        # "(visits, lab values over time, treatment)" explains; it is not an example
        for example in re.sub(r"\s*\(.*?\)", "", examples).split(", "):
            text = f"500 hypertension patients {example}"
            if part == "How many":
                text = f"{example} hypertension patients"
            request = parse_request(text, KB, partial=True)
            assert request.not_understood == [], (part, example, request.not_understood)


def test_a_request_with_one_sex_and_a_mix_is_one_line_never_a_validation_dump():
    # an LLM filling the request model may set both
    from synthpatient.knowledge.request import CohortRequest

    request = CohortRequest(count=10, condition="type2_diabetes", sex="female", female_share=0.4)
    with pytest.raises(Clarification, match=r"^Sex 'female' and a female_share of 0.4"):
        request.to_spec(KB)


@pytest.mark.parametrize(
    "text, ages",
    [
        ("1.5k T2D patients aged ≥65", (65, 90)),
        ("300 T2D patients age>64", (65, 90)),  # whole years: older than 64 is 65 and over
        ("300 T2D patients aged <= 40", (18, 40)),
        ("300 T2D patients age < 40", (18, 39)),
    ],
)
def test_ages_written_with_comparison_signs(text, ages):
    request = parse_request(text, KB)
    assert (request.age_min, request.age_max) == ages


def test_a_bare_stage_in_a_ckd_cohort_is_the_ckd_stage():
    request = parse_request("300 CKD patients with eGFR 15-29 (stage 4)", KB)
    assert [f.describe() for f in request.filters] == ["egfr 15-29"]
    assert [f.describe() for f in parse_request("300 CKD patients, stage 3a", KB).filters] == [
        "egfr 45-59"
    ]
    # elsewhere a bare stage is named, never taken for a CKD stage
    other = parse_request("300 hypertension patients stage 2", KB, partial=True)
    assert other.filters == [] and "'stage 2' not understood" in other.not_understood


@pytest.mark.parametrize(
    "text",
    [
        "300 T2D patients, 30% on insulin",
        "300 T2D patients, half on insulin",
        "300 T2D patients, 40% of them with hypertension",
    ],
)
def test_a_share_on_a_drug_or_with_a_comorbidity_is_never_all_of_them(text):
    # "30% on insulin" was drawn as everyone on insulin, with the 30 named
    request = parse_request(text, KB, partial=True)
    assert request.filters == []
    assert any("a share of the patients cannot be asked" in n for n in request.not_understood)


def test_a_value_with_a_percent_before_a_drug_stays_the_values():
    request = parse_request("300 T2D patients with HbA1c above 8% on insulin", KB)
    assert [f.describe() for f in request.filters] == ["hba1c >= 8.1", "on insulin"]


def test_an_event_in_the_past_year_is_read_whole():
    request = parse_request(
        "300 T1D patients with no severe hypoglycemia in the past year", KB, partial=True
    )
    assert [f.describe() for f in request.filters] == ["without severe_hypoglycemia_past_year"]
    assert request.not_understood == []  # "past" was once left over


def test_a_follow_up_where_lower_is_worse_is_said_back_as_such():
    said = parse_request("500 CKD stage 3 patients with 3 years of follow-up", KB).describe(KB)
    assert "is below 60" in said and "every 3.5 months below 30" in said
    assert "every 12 months at 60 or above" in said and "above 60" not in said
