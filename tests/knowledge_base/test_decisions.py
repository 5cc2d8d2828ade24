"""The shared decision path (actions and `make eval`): crisis, tasks, service questions, FAQ, small talk."""

from __future__ import annotations

from knowledge_base.answering import KnowledgeBase
from knowledge_base.decisions import CRISIS_MIN_CONFIDENCE, route


def test_the_lexicon_starts_the_crisis_flow_whatever_the_classifier_says(kb: KnowledgeBase) -> None:
    assert route(kb, "我不想活了", "greet", 0.99, None, crisis=True).kind == "crisis"


def test_an_unsure_crisis_classification_takes_the_faq_path(kb: KnowledgeBase) -> None:
    unsure = route(kb, "有没有校内的兼职可以做", "crisis", CRISIS_MIN_CONFIDENCE - 0.1, None, crisis=False)
    assert unsure.kind.startswith("faq_")
    assert "work_study" in unsure.faq_ids
    sure = route(kb, "活着好累", "crisis", 0.99, None, crisis=False)
    assert sure.kind == "crisis"


def test_tasks_keep_their_intent_and_service(kb: KnowledgeBase) -> None:
    outcome = route(kb, "想约心理咨询", "book_appointment", 0.9, "counseling", crisis=False)
    assert (outcome.kind, outcome.intent, outcome.service) == ("task", "book_appointment", "counseling")
    assert outcome.started_task


def test_service_question_answers_then_names_the_service(kb: KnowledgeBase) -> None:
    outcome = route(kb, "医保报销需要哪些材料", "service_info", 0.9, None, crisis=False)
    assert outcome.kind == "faq_answer" and outcome.service == "insurance_claim"
    vague = route(kb, "开在读证明", "service_info", 0.9, None, crisis=False)
    assert vague.service == "certificate_issuing"


def test_small_talk_is_declined_and_campus_questions_are_answered(kb: KnowledgeBase) -> None:
    small_talk = route(kb, "你喜欢什么电影", "out_of_scope", 0.9, None, crisis=False)
    assert small_talk.kind == "decline"
    assert not small_talk.answered_from_kb and not small_talk.started_task
    answered = route(kb, "校园卡丢了怎么办", "faq", 0.9, None, crisis=False)
    assert answered.kind == "faq_answer" and answered.faq_ids[0] == "card_report_loss"
