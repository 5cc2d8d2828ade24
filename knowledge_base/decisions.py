"""What the bot does with a classified message: the one decision path the actions and `make eval` share.

Intent names come from knowledge_base.names (plain strings: knowledge_base does not import Rasa).
The NLU's intent picks a task, a canned reply, or the FAQ path; the FAQ path asks the knowledge base
and applies its thresholds, stricter for messages the NLU thinks are out of scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from knowledge_base import safety
from knowledge_base.faq.answering import FaqDecision, KnowledgeBase
from knowledge_base.names import (
    INTENT_AFFIRM,
    INTENT_BOOK,
    INTENT_BOT_CHALLENGE,
    INTENT_CANCEL,
    INTENT_CHOOSE_TIME,
    INTENT_COMPLAIN,
    INTENT_CRISIS,
    INTENT_DENY,
    INTENT_FAQ,
    INTENT_INFORM_CONTACT,
    INTENT_LIST,
    INTENT_NLU_FALLBACK,
    INTENT_OUT_OF_SCOPE,
    INTENT_REQUEST_HUMAN,
    INTENT_RESCHEDULE,
    INTENT_SERVICE_INFO,
    INTENT_UPDATE_CONTACT,
)
from knowledge_base.scope import off_campus, other_university

# Intents whose message goes to FAQ retrieval.
FAQ_PATH_INTENTS = frozenset({INTENT_FAQ, INTENT_NLU_FALLBACK, INTENT_OUT_OF_SCOPE})
# Intents whose examples share words with campus questions: answers to the appointment form's questions
# (a time, contact details) and "修改联系方式". A message the classifier puts here is often a campus
# question with a time, a number or 手机号 in it (校医院下午几点上班, 之前绑的手机号也注销了): a confident FAQ
# answer wins; otherwise a time starts a booking, contact details get a short reply, 修改联系方式 its task.
FAQ_FIRST_INTENTS = frozenset({INTENT_CHOOSE_TIME, INTENT_INFORM_CONTACT, INTENT_UPDATE_CONTACT})
# Intents that start a task (for the benchmark: an out-of-scope message must start none of them).
TASK_INTENTS = frozenset(
    {
        INTENT_BOOK,
        INTENT_CANCEL,
        INTENT_LIST,
        INTENT_RESCHEDULE,
        INTENT_UPDATE_CONTACT,
        INTENT_REQUEST_HUMAN,
        INTENT_COMPLAIN,
        INTENT_CRISIS,
    }
)
# Short campus words ("奖学金", "饭卡") are often classified as affirm or deny (the short-text classes), and
# a worried question can look like "are you a bot" ("…被叫去谈话 是不是我有问题啊"):
# such a message still gets FAQ answers when retrieval scores it above every small-talk training
# example (the highest of the 331 in bot/data/nlu/chitchat.yml scores 0.517 on the sample KB).
# Greetings, thanks and goodbyes stay plain responses, so they work even when the action server is down.
SMALL_TALK_INTENTS = frozenset({INTENT_AFFIRM, INTENT_DENY, INTENT_BOT_CHALLENGE})
SMALL_TALK_RESCUE_SCORE = 0.52
# The NLU's `crisis` intent this sure asks the check-in question (never the urgent path by itself) when the
# crisis detector gives the message at least NLU_CRISIS_DETECTOR_MIN (its CV: 85 % of crisis examples, 1.6 %
# of negatives): the intent alone took "我想听…" requests for a crisis.
NLU_CRISIS_CONFIDENCE = 0.8
NLU_CRISIS_DETECTOR_MIN = 0.5


def faq_decision(kb: KnowledgeBase, text: str, intent: str | None) -> FaqDecision:
    """The FAQ decision for a message on the FAQ path.

    A message the NLU finds out of scope still goes through retrieval with the same calibrated
    thresholds (the classifier is often unsure of rare campus topics); when retrieval finds nothing
    close, the bot declines politely instead of saying it could not find an answer.
    """
    return kb.decide(text)


@dataclass(frozen=True)
class Outcome:
    """What the bot does.

    `kind`: crisis | task | faq_answer | faq_suggest | faq_none | decline (out of scope) | service | reply.
    """

    kind: str
    intent: str | None = None
    faq_ids: list[str] = field(default_factory=list)
    service: str | None = None
    # a complaint the knowledge base can also answer: the answer at once, and the complaint still
    # goes to staff (reason "complaint")
    handoff: bool = False
    # a weaker crisis signal: the gentle check-in (hotline named, counsellor offered) before the answer
    check_in: bool = False
    # a question about another university (named): the decline says which university the bot serves
    other_university: str | None = None

    @property
    def answered_from_kb(self) -> bool:
        return self.kind in ("faq_answer", "service")

    @property
    def started_task(self) -> bool:
        return self.kind in ("crisis", "task")


def _faq_outcome(kb: KnowledgeBase, text: str, intent: str | None, decision: FaqDecision | None = None) -> Outcome:
    decision = decision or faq_decision(kb, text, intent)
    ids = [m.faq_id for m in decision.matches]
    if decision.kind == "answer":
        return Outcome("faq_answer", intent, ids)
    if decision.kind == "suggest" and (
        intent != INTENT_OUT_OF_SCOPE or decision.top_score >= kb.thresholds.suggest_out_of_scope
    ):
        # the classifier's "not a campus question" needs a closer resemblance before "你是想问…"
        # buttons (calibrated: at most 5% of the out-of-scope examples get them; 今天天气怎么样 does not)
        return Outcome("faq_suggest", intent, ids)
    return Outcome("decline" if intent == INTENT_OUT_OF_SCOPE else "faq_none", intent, ids)


def route(
    kb: KnowledgeBase,
    text: str,
    intent: str | None,
    confidence: float,
    service: str | None,
) -> Outcome:
    """The outcome of one message: the crisis decision first, then the rules of bot/data/rules.

    - crisis: `safety.assess`, the gateway's pre-filter's decision (lexicon and crisis detector): urgent
      is the crisis outcome; the check-in tier and the NLU's `crisis` intent (one class among nineteen,
      which took anxious ordinary messages for a crisis; with a detector score >= 0.5) take the normal
      path with `check_in` set (the gentle question first, then the answer: a sad-toned campus question
      is still answered);
    - a question naming another university: a polite decline that names ours; a campus-like question
      about an off-campus place (杭州图书馆, 房东): the plain decline (knowledge_base/scope.py);
    - a complaint: handed to staff, after the FAQ answer when the knowledge base has a confident one
      (报修两天了还没人来修 gets the repair answer at once, and staff still see the complaint);
    - service questions: the service card, after a confident FAQ answer when there is one (the
      answer is more specific to the question, the card is the standard 一次性告知);
    - campus questions, low-confidence and out-of-scope messages: FAQ retrieval and its thresholds.
    """
    signal = safety.assess(text)
    if signal.urgent:
        return Outcome("crisis", INTENT_CRISIS)
    outcome = _route(kb, text, intent, confidence, service)
    nlu_says_crisis = intent == INTENT_CRISIS and confidence >= NLU_CRISIS_CONFIDENCE
    if signal.check_in or (nlu_says_crisis and signal.score >= NLU_CRISIS_DETECTOR_MIN):
        return replace(outcome, check_in=True)
    return outcome


def _route(kb: KnowledgeBase, text: str, intent: str | None, confidence: float, service: str | None) -> Outcome:
    other = other_university(text, kb.university_name)
    if other is not None and intent not in TASK_INTENTS - {INTENT_CRISIS}:
        return Outcome("decline", INTENT_OUT_OF_SCOPE, other_university=other)
    if intent in FAQ_PATH_INTENTS | {INTENT_SERVICE_INFO} | SMALL_TALK_INTENTS and off_campus(text) is not None:
        return Outcome("decline", INTENT_OUT_OF_SCOPE)
    if intent == INTENT_CRISIS:
        return _faq_outcome(kb, text, INTENT_NLU_FALLBACK)
    if intent == INTENT_COMPLAIN or intent in FAQ_FIRST_INTENTS:
        decision = kb.decide(text)
        if decision.kind == "answer":
            ids = [m.faq_id for m in decision.matches]
            return Outcome("faq_answer", intent, ids, service=service, handoff=intent == INTENT_COMPLAIN)
        if intent == INTENT_INFORM_CONTACT:
            return Outcome("reply", intent)
        return Outcome("task", intent, service=service)
    if intent in TASK_INTENTS:
        return Outcome("task", intent, service=service)
    if intent == INTENT_SERVICE_INFO:
        outcome = _faq_outcome(kb, text, intent)
        found = service or next(iter(kb.find_services(text)), None)
        if outcome.kind == "faq_answer":  # the specific answer, then the service's card
            return Outcome("faq_answer", intent, outcome.faq_ids, service=found)
        return Outcome("service", intent, faq_ids=outcome.faq_ids, service=found)
    if intent in FAQ_PATH_INTENTS or intent is None:
        return _faq_outcome(kb, text, intent)
    if intent in SMALL_TALK_INTENTS:
        decision = kb.decide(text)  # once: the dense query embedding is the costly part
        if decision.top_score >= SMALL_TALK_RESCUE_SCORE:
            return _faq_outcome(kb, text, INTENT_NLU_FALLBACK, decision)
    return Outcome("reply", intent)
