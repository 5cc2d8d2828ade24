"""Calibrate the answer / suggest thresholds by cross-validation on the knowledge base itself.

Fold f holds out the f-th paraphrase ("similar") of every FAQ entry and indexes the rest; each held-out
paraphrase is a positive query whose right answer is still in the index. Negatives are messages the
help desk must not answer: the out-of-scope training examples in bot/data/nlu/out_of_scope.yml. No
dev-set line is used. The answer threshold and the margin over the runner-up maximise
(right answers - `wrong_cost` x wrong answers) on the positives while answering at most
`max_false_answer` of the negatives; the suggest threshold lets at most `max_suggest_negatives` of
the negatives through (below it the bot says it does not know), and `suggest_out_of_scope` at most
`max_suggest_out_of_scope` of them for messages the classifier calls out of scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge_base.faq.retrieval import FaqDoc, FaqMatch
from knowledge_base.kbfile import KbFileIn


@dataclass(frozen=True)
class CalibrationResult:
    answer: float
    suggest: float
    margin: float
    suggest_out_of_scope: float
    answer_precision: float
    answer_rate: float
    top1: float
    top3: float
    negatives_answered: float
    negatives_suggested: float
    n_positive: int
    n_negative: int


def negatives_from_nlu(path: Path) -> list[str]:
    """The out_of_scope examples of a Rasa NLU file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for entry in data.get("nlu", []):
        if entry.get("intent") == "out_of_scope":
            out += [line[2:].strip() for line in entry["examples"].splitlines() if line.strip().startswith("- ")]
    return out


Search = Callable[[str], list[FaqMatch]]


def calibrate(
    kb: KbFileIn,
    negatives: list[str],
    build: Callable[[list[FaqDoc], dict[str, str]], Search],
    wrong_cost: float = 2.0,
    max_false_answer: float = 0.02,
    max_suggest_negatives: float = 0.2,
    max_suggest_out_of_scope: float = 0.05,
) -> CalibrationResult:
    """Choose thresholds for the retriever that `build(docs, synonyms)` makes."""
    synonyms = {v: c for c, vs in kb.synonyms.items() for v in vs}
    folds = max((len(f.similar) for f in kb.faqs), default=0)
    positives: list[tuple[list[FaqMatch], str]] = []
    for fold in range(folds):
        docs, held = [], []
        for f in kb.faqs:
            similar = list(f.similar)
            if fold < len(similar):
                held.append((similar.pop(fold), f.id))
            docs.append(FaqDoc(f.id, f.question, tuple(similar), f.answer, tuple(f.tags), f.department, f.service))
        search = build(docs, synonyms)
        positives += [(search(q), faq_id) for q, faq_id in held]
    full = [
        FaqDoc(f.id, f.question, tuple(f.similar), f.answer, tuple(f.tags), f.department, f.service) for f in kb.faqs
    ]
    search = build(full, synonyms)
    neg_top = [(search(q) or [FaqMatch("", "", 0.0, "")])[0].score for q in negatives]

    def answered(matches: list[FaqMatch], t: float, m: float) -> bool:
        if not matches or matches[0].score < t:
            return False
        runner_up = matches[1].score if len(matches) > 1 else 0.0
        return matches[0].score - runner_up >= m

    def utility(t: float, m: float) -> float:
        right = wrong = 0
        for matches, gold in positives:
            if answered(matches, t, m):
                right += matches[0].faq_id == gold
                wrong += matches[0].faq_id != gold
        neg_rate = sum(s >= t for s in neg_top) / max(len(neg_top), 1)
        if neg_rate > max_false_answer:
            return float("-inf")
        return right - wrong_cost * wrong

    grid = [(round(t / 100, 2), round(mm / 100, 2)) for t in range(30, 96) for mm in range(0, 21, 2)]
    answer_t, margin = max(grid, key=lambda tm: (utility(*tm), tm[0]))
    suggest_t = answer_t
    for t in (round(x / 100, 2) for x in range(10, 100)):
        if sum(s >= t for s in neg_top) / max(len(neg_top), 1) <= max_suggest_negatives:
            suggest_t = min(t, answer_t)
            break
    # when the classifier itself says "out of scope", buttons need more: at most 5% of the negatives
    suggest_oos = answer_t
    for t in (round(x / 100, 2) for x in range(int(suggest_t * 100), 100)):
        if sum(s >= t for s in neg_top) / max(len(neg_top), 1) <= max_suggest_out_of_scope:
            suggest_oos = min(t, answer_t)
            break
    answered_pos = [(mt, gold) for mt, gold in positives if answered(mt, answer_t, margin)]
    return CalibrationResult(
        answer=answer_t,
        suggest=suggest_t,
        margin=margin,
        suggest_out_of_scope=suggest_oos,
        answer_precision=round(sum(m[0].faq_id == g for m, g in answered_pos) / max(len(answered_pos), 1), 4),
        answer_rate=round(len(answered_pos) / max(len(positives), 1), 4),
        top1=round(sum(bool(m) and m[0].faq_id == g for m, g in positives) / max(len(positives), 1), 4),
        top3=round(sum(any(x.faq_id == g for x in m[:3]) for m, g in positives) / max(len(positives), 1), 4),
        negatives_answered=round(sum(s >= answer_t for s in neg_top) / max(len(neg_top), 1), 4),
        negatives_suggested=round(sum(s >= suggest_t for s in neg_top) / max(len(neg_top), 1), 4),
        n_positive=len(positives),
        n_negative=len(neg_top),
    )
