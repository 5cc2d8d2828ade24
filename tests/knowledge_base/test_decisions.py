"""The shared decision path (actions and `make eval`): crisis, tasks, service questions, FAQ, small talk."""

from __future__ import annotations

from knowledge_base.decisions import route
from knowledge_base.faq.answering import KnowledgeBase


def test_the_lexicon_starts_the_crisis_flow_whatever_the_classifier_says(kb: KnowledgeBase) -> None:
    assert route(kb, "我不想活了", "greet", 0.99, None).kind == "crisis"


def test_the_crisis_intent_is_never_urgent_by_itself(kb: KnowledgeBase) -> None:
    unsure = route(kb, "有没有校内的兼职可以做", "crisis", 0.5, None)
    assert unsure.kind.startswith("faq_") and not unsure.check_in
    assert "work_study" in unsure.faq_ids
    # a sure classifier on an ordinary question the detector finds ordinary: just the answer
    sure = route(kb, "有没有校内的兼职可以做", "crisis", 0.99, None)
    assert sure.kind.startswith("faq_") and not sure.check_in and "work_study" in sure.faq_ids
    # a sure classifier the detector half agrees with: the check-in question (no urgent path)
    doubt = route(kb, "不知道活着为了什么", "crisis", 0.99, None)
    assert doubt.kind != "crisis" and doubt.check_in
    assert route(kb, "活着好累", "crisis", 0.99, None).kind == "crisis"  # the lexicon


def test_a_sad_toned_campus_question_is_answered(kb: KnowledgeBase) -> None:
    outcome = route(kb, "最近压力好大，好焦虑，有没有校内的兼职可以做", "faq", 0.9, None)
    assert outcome.kind == "faq_answer" and outcome.faq_ids[0] == "work_study" and not outcome.check_in


def test_a_question_about_another_university_is_declined_with_ours_named(kb: KnowledgeBase) -> None:
    outcome = route(kb, "浙大的兼职怎么申请", "faq", 0.9, None)
    assert (outcome.kind, outcome.other_university, outcome.faq_ids) == ("decline", "浙大", [])
    assert not outcome.answered_from_kb and not outcome.started_task
    off = route(kb, "杭州图书馆几点开门", "faq", 0.9, None)
    assert off.kind == "decline" and off.other_university is None


def test_tasks_keep_their_intent_and_service(kb: KnowledgeBase) -> None:
    outcome = route(kb, "想约心理咨询", "book_appointment", 0.9, "counseling")
    assert (outcome.kind, outcome.intent, outcome.service) == ("task", "book_appointment", "counseling")
    assert outcome.started_task


def test_service_question_answers_then_names_the_service(kb: KnowledgeBase) -> None:
    outcome = route(kb, "医保报销需要哪些材料", "service_info", 0.9, None)
    assert outcome.kind == "faq_answer" and outcome.service == "insurance_claim"
    vague = route(kb, "开在读证明", "service_info", 0.9, None)
    assert vague.service == "certificate_issuing"


def test_small_talk_is_declined_and_campus_questions_are_answered(kb: KnowledgeBase) -> None:
    small_talk = route(kb, "你喜欢什么电影", "out_of_scope", 0.9, None)
    assert small_talk.kind == "decline"
    assert not small_talk.answered_from_kb and not small_talk.started_task
    answered = route(kb, "校园卡丢了怎么办", "faq", 0.9, None)
    assert answered.kind == "faq_answer" and answered.faq_ids[0] == "card_report_loss"


def test_a_complaint_is_handed_over_after_the_answer_when_the_kb_has_one(kb: KnowledgeBase) -> None:
    answered = route(kb, "宿舍报修三天了还没人来修 太过分了", "complain", 0.9, None)
    assert (answered.kind, answered.handoff) == ("faq_answer", True)
    assert answered.faq_ids[0] == "dorm_repair"
    plain = route(kb, "窗口老师态度太差了 我要投诉", "complain", 0.9, None)
    assert (plain.kind, plain.intent, plain.handoff) == ("task", "complain", False)


def test_form_answers_outside_the_form_prefer_a_confident_faq_answer(kb: KnowledgeBase) -> None:
    question = route(kb, "图书馆晚上几点关门", "choose_time", 0.9, None)
    assert question.kind == "faq_answer" and question.faq_ids[0] == "library_hours"
    time = route(kb, "下周三下午两点", "choose_time", 0.9, None)
    assert (time.kind, time.intent) == ("task", "choose_time")
    contact = route(kb, "我叫李华 学号2023010123", "inform_contact", 0.9, None)
    assert contact.kind == "reply"


def test_an_out_of_scope_message_needs_a_close_match_for_suggestions(kb: KnowledgeBase) -> None:
    weather = route(kb, "今天天气怎么样", "out_of_scope", 0.84, None)
    assert weather.kind == "decline"
